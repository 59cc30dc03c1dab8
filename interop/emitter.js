// emitter.js drives @socket.io/redis-emitter 5.1 over a node-redis 4
// client, for the Go cluster tests (cluster_test.go): the emitter speaks
// the classic adapter's protocol (PUBLISH), so it reaches the nodes of a
// classic cluster.
//
// Usage: node emitter.js '<config JSON>' ['<command JSON>' ...]
//   config: {url: "redis://127.0.0.1:PORT/0"} (key "socket.io")
// Commands given as arguments run first, in order; then commands are read
// from stdin, one JSON object a line. Each answers
//   {"type":"result","id","data":true,"error":null|"message"}
// once Redis has processed what it published (a PING behind it on the same
// connection has been answered). It prints {"type":"ready"} once connected.
//
// Commands (a selector is {nsp, rooms, except}; every socket of nsp when
// rooms is absent):
//   emit              selector + {event, args, volatile}
//   socketsJoin       selector + {join: [rooms]}
//   socketsLeave      selector + {leave: [rooms]}
//   disconnectSockets selector + {close}
//   serverSideEmit    {nsp, event, args}
// Values in args that JSON cannot carry:
//   {"_binary":"<base64>"}  a Buffer
//   {"_date":"<ISO 8601>"}  a Date
//   {"_nan":true}           NaN
"use strict";

const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

const cfg = JSON.parse(process.argv[2] || "{}");
const url = cfg.url || process.env.REDIS_URL || "redis://127.0.0.1:6379/0";

const { out, decode } = require("./values");

async function main() {
  const client = createClient({ url });
  client.on("error", (err) => out({ type: "redis", reason: "error", message: String(err && err.message) }));
  await client.connect();
  const emitter = new Emitter(client, { key: "socket.io" });

  function select(c) {
    let op = emitter.of(c.nsp || "/");
    if (c.rooms && c.rooms.length) op = op.to(c.rooms);
    if (c.except && c.except.length) op = op.except(c.except);
    return op;
  }

  async function run(c) {
    switch (c.cmd) {
      case "emit": {
        let op = select(c);
        if (c.volatile) op = op.volatile;
        op.emit(c.event, ...decode(c.args || []));
        break;
      }
      case "socketsJoin":
        select(c).socketsJoin(c.join);
        break;
      case "socketsLeave":
        select(c).socketsLeave(c.leave);
        break;
      case "disconnectSockets":
        select(c).disconnectSockets(!!c.close);
        break;
      case "serverSideEmit":
        emitter.of(c.nsp || "/").serverSideEmit(c.event, ...decode(c.args || []));
        break;
      default:
        throw new Error(`unknown command ${JSON.stringify(c.cmd)}`);
    }
    // The emitter does not wait for its PUBLISH; commands on one
    // connection are answered in order.
    await client.ping();
  }

  // Commands run one at a time, in order.
  let chain = Promise.resolve();
  function enqueue(c) {
    chain = chain
      .then(() => run(c))
      .then(
        () => out({ type: "result", id: c.id, data: true, error: null }),
        (err) => out({ type: "result", id: c.id, error: String(err && err.message ? err.message : err) }),
      );
  }

  out({ type: "ready" });
  for (const arg of process.argv.slice(3)) enqueue(JSON.parse(arg));

  const readline = require("node:readline");
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    try {
      enqueue(JSON.parse(line));
    } catch (err) {
      out({ type: "fatal", message: String(err) });
    }
  });
  rl.on("close", () => {
    chain.finally(() => client.quit().finally(() => process.exit(0)));
  });
}

main().catch((err) => {
  out({ type: "fatal", message: String(err && err.stack ? err.stack : err) });
  process.exit(1);
});
