// ws-browser.js opens a raw WebSocket to each Socket.IO server given, in
// headless Chromium (the system's, through playwright-core; no browser is
// downloaded), for the Go test in compression_browser_test.go: it reports
// the extensions Chromium negotiated and whether a large event came back
// whole over them.
//
// Usage: node ws-browser.js <url> [<url>…]   (http://host:port of each server)
//
// It writes one JSON line per server, {"type":"result","url","extensions",
// "echoed"}, or {"type":"fatal","message"} (and exits 1).
"use strict";

const { chromium } = require("playwright-core");

const TIMEOUT = 30000; // ms for each server: the suite may run on 2 busy cores

function out(ev) {
  process.stdout.write(JSON.stringify(ev) + "\n");
}

// exchange runs in the page: the Engine.IO and Socket.IO handshakes by
// hand, then an "echo" event of 5000 characters, which the scenario
// application emits back.
function exchange(url) {
  const big = "chromium ".repeat(556);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onerror = () => reject(new Error("WebSocket error"));
    ws.onmessage = (m) => {
      const d = String(m.data);
      if (d.startsWith("0")) ws.send("40");
      else if (d.startsWith("40")) ws.send("42" + JSON.stringify(["echo", big]));
      else if (d === "2") ws.send("3");
      else if (d.startsWith("42")) {
        const args = JSON.parse(d.slice(2));
        resolve({ extensions: ws.extensions, echoed: args[0] === "echo" && args[1] === big });
        ws.close();
      }
    };
  });
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(TIMEOUT);
    for (const url of process.argv.slice(2)) {
      const ws = url.replace(/^http/, "ws") + "/socket.io/?EIO=4&transport=websocket";
      const r = await page.evaluate(exchange, ws);
      out({ type: "result", url, ...r });
    }
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  out({ type: "fatal", message: String(err && err.stack ? err.stack : err) });
  process.exit(1);
});
