// admin-browser.js drives the @socket.io/admin-ui static build in headless
// Chromium (the system's /usr/bin/chromium, through playwright-core; no
// browser is downloaded) for the Go test in adminui_test.go: it logs in
// through the UI's connection form, finds a socket and its room, and
// clicks the socket's "disconnect" button.
//
// Usage: node admin-browser.js '<JSON>'
//   {ui, server, username, password, socket, room, screenshot}
//   ui: the page of the UI's build; server: the Socket.IO server's URL;
//   socket and room: the test socket's id and the room it is in.
//
// It writes JSON lines on stdout: {"type":"step","name":…} as each check
// passes, then {"type":"done"}, or {"type":"fatal","message":…} (and
// exits 1) when a check fails. Requests to other hosts than the test's
// (the UI's web fonts) are refused: the test runs offline.
"use strict";

const { openPage } = require("./browser");

const cfg = JSON.parse(process.argv[2]);

function out(ev) {
  process.stdout.write(JSON.stringify(ev) + "\n");
}

async function main() {
  const { browser, page, console: console_ } = await openPage();
  try {
    await page.route("**/*", (route) => {
      const host = new URL(route.request().url()).hostname;
      return host === "127.0.0.1" || host === "localhost" ? route.continue() : route.abort();
    });

    await page.goto(cfg.ui);
    out({ type: "step", name: "loaded", title: await page.title() });

    // The connection form opens by itself on a first visit.
    await page.getByLabel("Server URL").fill(cfg.server);
    await page.getByLabel("Username").fill(cfg.username);
    await page.getByLabel("Password").fill(cfg.password);
    await page.getByText("Advanced options").click();
    await page.getByText("WebSocket only?").click();
    await page.getByLabel("Admin namespace").fill("/admin");
    await page.getByLabel("Path").fill("/socket.io");
    await page.getByRole("button", { name: "Connect" }).click();
    await page.getByRole("button", { name: "Connect" }).waitFor({ state: "hidden" });
    out({ type: "step", name: "logged in" });

    // The sockets of "/", the namespace the UI selects first.
    await page.evaluate(() => (location.hash = "#/sockets/"));
    const row = page.locator("tr", { hasText: cfg.socket });
    await row.waitFor();
    out({ type: "step", name: "socket shown" });

    await page.evaluate(() => (location.hash = "#/rooms/"));
    await page.locator("td", { hasText: new RegExp("^\\s*" + cfg.room + "\\s*$") }).first().waitFor();
    out({ type: "step", name: "room shown" });

    await page.evaluate(() => (location.hash = "#/sockets/"));
    await row.waitFor();
    await row.locator("button").click();
    out({ type: "step", name: "clicked disconnect" });
    // The click also reaches the row, which opens the socket's page: the
    // list is looked at again once the server reported the disconnect.
    await page.evaluate(() => (location.hash = "#/sockets/"));
    await page.waitForFunction(
      (id) => document.querySelector("tbody") && ![...document.querySelectorAll("tbody tr")].some((tr) => tr.textContent.includes(id)),
      cfg.socket,
    );
    out({ type: "step", name: "socket gone" });

    if (cfg.screenshot) await page.screenshot({ path: cfg.screenshot, fullPage: true });
    out({ type: "done", console: console_ });
  } catch (err) {
    if (cfg.screenshot) await page.screenshot({ path: cfg.screenshot, fullPage: true }).catch(() => {});
    out({ type: "fatal", message: String(err && err.stack ? err.stack : err), console: console_ });
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

main();
