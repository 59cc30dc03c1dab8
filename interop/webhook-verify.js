// webhook-verify.js checks webhook signatures with the Standard Webhooks
// reference library (the npm package standardwebhooks), for the Go tests.
//
// Protocol: JSON lines. The test writes one request per line:
//   {"req":"r1","secret":"whsec_…","body":"<raw body>","headers":{"webhook-id":…}}
// and this process answers each with
//   {"type":"verified","req":"r1"} or {"type":"rejected","req":"r1","message":"…"}
// It writes {"type":"ready"} first.
"use strict";

const readline = require("node:readline");
const { Webhook } = require("standardwebhooks");

function out(ev) {
  process.stdout.write(JSON.stringify(ev) + "\n");
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  if (!line.trim()) return;
  let c;
  try {
    c = JSON.parse(line);
    new Webhook(c.secret).verify(c.body, c.headers || {});
    out({ type: "verified", req: c.req });
  } catch (err) {
    out({ type: "rejected", req: c && c.req, message: String(err && err.message ? err.message : err) });
  }
});
rl.on("close", () => process.exit(0));

out({ type: "ready" });
