// browser.js is shared by the browser scripts (demo-browser.js,
// admin-browser.js): the system's Chromium launched headless through
// playwright-core (no browser is downloaded), and a page that keeps what
// its console says.
"use strict";

const { chromium } = require("playwright-core");

const TIMEOUT = 30000; // ms for each check: the suite may run on 2 busy cores

// openPage launches Chromium and opens a page; console collects the
// page's console lines and errors. Close the browser when done.
async function openPage() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  const console = [];
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(TIMEOUT);
  page.on("console", (m) => console.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => console.push(`pageerror: ${e.message}`));
  return { browser, page, console };
}

module.exports = { openPage };
