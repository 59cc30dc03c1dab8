// streams.js runs a Node.js socket.io 4.8 server in a Redis cluster with
// @socket.io/redis-streams-adapter 0.3.1 over node-redis 4 and connection
// state recovery, for the Go streams tests (streams_test.go): the Node
// member of a mixed streams cluster of Node and iobridge nodes.
//
// Usage: node streams.js '<config JSON>'
//   config: {url: "redis://127.0.0.1:PORT/0", window: <ms>}
//   createAdapter(client) with the package's defaults (stream "socket.io",
//   channel prefix "socket.io", sessions "sio:session:"), and
//   connectionStateRecovery {maxDisconnectionDuration: window}.
//
// Namespace "/". Output, one JSON line each:
//   {"type":"listening","port":N}
//   {"type":"connection","nsp","id","recovered"}
//   {"type":"disconnect","nsp","id","reason"}
//   {"type":"result","id","data","error"}  the answer to a command
//
// Commands on stdin, one JSON object a line, each with an "id" echoed in
// its result:
//   emit         {rooms, except, event, args, volatile}
//   fetchSockets {rooms}: [{id, rooms}] cluster-wide
//   serverCount  {}
//   serverSideEmitWithAck {event, args}: the other nodes' answers, or error
// Binary values are {"_binary":"<base64>"} both ways (Buffers in Node).
"use strict";

const http = require("node:http");
const readline = require("node:readline");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");

const cfg = JSON.parse(process.argv[2] || "{}");

const { out, decode } = require("./values");

async function main() {
  const client = createClient({ url: cfg.url });
  client.on("error", (err) => out({ type: "redis", reason: "error", message: String(err && err.message) }));
  await client.connect();

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(client),
    connectionStateRecovery: { maxDisconnectionDuration: cfg.window || 120000 },
  });
  io.on("connection", (socket) => {
    out({ type: "connection", nsp: "/", id: socket.id, recovered: socket.recovered });
    socket.on("disconnect", (reason) => out({ type: "disconnect", nsp: "/", id: socket.id, reason }));
  });

  function select(c) {
    let op = io.of("/");
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
        return true;
      }
      case "fetchSockets": {
        const sockets = await select(c).fetchSockets();
        return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms] }));
      }
      case "serverSideEmitWithAck":
        return await io.of("/").serverSideEmitWithAck(c.event, ...decode(c.args || []));
      case "serverCount":
        return await io.of("/").adapter.serverCount();
      default:
        throw new Error(`unknown command ${JSON.stringify(c.cmd)}`);
    }
  }

  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on("line", (line) => {
    if (!line.trim()) return;
    let c;
    try {
      c = JSON.parse(line);
    } catch (err) {
      out({ type: "fatal", message: String(err) });
      return;
    }
    Promise.resolve()
      .then(() => run(c))
      .then(
        (data) => out({ type: "result", id: c.id, data, error: null }),
        (err) => out({ type: "result", id: c.id, error: String(err && err.message ? err.message : err) }),
      );
  });
  // The test owns this process: when it closes stdin, stop.
  rl.on("close", () => {
    io.close();
    process.exit(0);
  });

  httpServer.listen(0, "127.0.0.1", () => out({ type: "listening", port: httpServer.address().port }));
}

main().catch((err) => {
  out({ type: "fatal", message: String(err && err.stack ? err.stack : err) });
  process.exit(1);
});
