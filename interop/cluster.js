// cluster.js runs a Node.js socket.io 4.8 server in a Redis cluster with
// @socket.io/redis-adapter 8.3 over node-redis 4, for the Go cluster tests
// (cluster_test.go): it is the Node member of a mixed cluster of Node and
// iobridge nodes.
//
// Usage: node cluster.js '<config JSON>'
//   config: {url: "redis://127.0.0.1:PORT/0", mode: "classic" | "sharded",
//            subscriptionMode: "static" | "dynamic" | "dynamic-private"}
//   (CLUSTER_MODE and CLUSTER_SUBSCRIPTION_MODE in the environment, when
//   the config has no mode / subscriptionMode)
//   classic is createAdapter(pub, sub, {key: "socket.io"}); sharded is
//   createShardedAdapter(pub, sub, {channelPrefix: "socket.io",
//   subscriptionMode}).
//
// Namespaces "/" and "/chat". Output, one JSON line each:
//   {"type":"listening","port":N}                once bound to 127.0.0.1
//   {"type":"connection","nsp","id","auth"}
//   {"type":"event","nsp","id","event","args"}    an event from a client;
//       "echo" with an ack is acked with its args
//   {"type":"disconnect","nsp","id","reason"}
//   {"type":"serverSideEmit","nsp","event","args","ack"}   a server-side
//       emit from another node (events "ping-node", "hello-node"); ack is 1
//       when the sender wants one, answered with "pong from node <nsp>"
//   {"type":"redis","manager":"pub"|"sub","reason":"ready"|"error","message"}
//   {"type":"result","id","data","error"}         the answer to a command:
//       data is the result, error null or a message
//
// Commands on stdin, one JSON object a line, each with an "id" echoed in
// its result. A selector is {nsp, rooms, except} (rooms and except are
// arrays, both optional: every socket of nsp when rooms is absent).
//   emit                  selector + {event, args, volatile}
//   emitWithAck           selector + {event, args, timeout}: result is the
//                         acks (each client's first ack argument), error the
//                         message when the operation timed out
//   fetchSockets          selector: [{id, rooms, data, handshake}] cluster-wide
//   allRooms              {nsp}: adapter.allRooms(), sorted
//   socketsJoin           selector + {join: [rooms]}
//   socketsLeave          selector + {leave: [rooms]}
//   disconnectSockets     selector + {close}
//   serverSideEmit        {nsp, event, args}
//   serverSideEmitWithAck {nsp, event, args}: responses, or error (the
//                         adapter's own timeout: 5 s)
//   serverCount           {nsp}: adapter.serverCount()
// Binary values are {"_binary":"<base64>"} both ways (Buffers in Node).
// Socket data is {"node":"node"}.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");

const cfg = JSON.parse(process.argv[2] || "{}");
const mode = cfg.mode || process.env.CLUSTER_MODE || "classic";
const subscriptionMode = cfg.subscriptionMode || process.env.CLUSTER_SUBSCRIPTION_MODE || "dynamic";
const url = cfg.url || process.env.REDIS_URL || "redis://127.0.0.1:6379/0";

const { out, encode, decode } = require("./values");

function watch(client, name) {
  client.on("ready", () => out({ type: "redis", manager: name, reason: "ready" }));
  // Without an error listener node-redis's errors would crash the process
  // when the test kills Redis; it reconnects by itself.
  client.on("error", (err) => out({ type: "redis", manager: name, reason: "error", message: String(err && err.message) }));
}

async function main() {
  const pub = createClient({ url });
  const sub = pub.duplicate();
  watch(pub, "pub");
  watch(sub, "sub");
  await Promise.all([pub.connect(), sub.connect()]);

  const adapter =
    mode === "sharded"
      ? createShardedAdapter(pub, sub, { channelPrefix: "socket.io", subscriptionMode })
      : createAdapter(pub, sub, { key: "socket.io" });

  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter });

  for (const name of ["/", "/chat"]) {
    const nsp = io.of(name);
    nsp.on("connection", (socket) => {
      socket.data = { node: "node" };
      out({ type: "connection", nsp: name, id: socket.id, auth: socket.handshake.auth });
      socket.on("disconnect", (reason) => out({ type: "disconnect", nsp: name, id: socket.id, reason }));
      socket.onAny((event, ...args) => {
        let ack = null;
        if (args.length && typeof args[args.length - 1] === "function") ack = args.pop();
        out({ type: "event", nsp: name, id: socket.id, event, args: encode(args) });
        if (ack && event === "echo") ack(...args);
      });
    });
    // Server-side emits from the other nodes (iobridge's ServerSideEmit,
    // the emitter's serverSideEmit).
    for (const ev of ["ping-node", "hello-node"]) {
      nsp.on(ev, (...args) => {
        let cb = null;
        if (args.length && typeof args[args.length - 1] === "function") cb = args.pop();
        out({ type: "serverSideEmit", nsp: name, event: ev, args: encode(args), ack: cb ? 1 : 0 });
        if (cb) cb(`pong from node ${name}`);
      });
    }
  }

  function select(c) {
    let op = io.of(c.nsp || "/");
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
        return { result: true };
      }
      case "emitWithAck":
        // The callback form keeps the acks received before a timeout.
        return new Promise((resolve) => {
          select(c)
            .timeout(c.timeout || 5000)
            .emit(c.event, ...decode(c.args || []), (err, responses) => {
              resolve({ result: encode(responses || []), error: err ? err.message : null });
            });
        });
      case "fetchSockets": {
        const sockets = await select(c).fetchSockets();
        return {
          result: sockets.map((s) => ({
            id: s.id,
            rooms: [...s.rooms],
            data: encode(s.data),
            handshake: encode(s.handshake),
          })),
        };
      }
      case "allRooms": {
        const rooms = await io.of(c.nsp || "/").adapter.allRooms();
        return { result: [...rooms].sort() };
      }
      case "socketsJoin":
        select(c).socketsJoin(c.join);
        return { result: true };
      case "socketsLeave":
        select(c).socketsLeave(c.leave);
        return { result: true };
      case "disconnectSockets":
        select(c).disconnectSockets(!!c.close);
        return { result: true };
      case "serverSideEmit":
        io.of(c.nsp || "/").serverSideEmit(c.event, ...decode(c.args || []));
        return { result: true };
      case "serverSideEmitWithAck":
        return new Promise((resolve) => {
          io.of(c.nsp || "/").serverSideEmit(c.event, ...decode(c.args || []), (err, responses) => {
            resolve({ result: encode(responses || []), error: err ? err.message : null });
          });
        });
      case "serverCount":
        return { result: await io.of(c.nsp || "/").adapter.serverCount() };
      default:
        throw new Error(`unknown command ${JSON.stringify(c.cmd)}`);
    }
  }

  const readline = require("node:readline");
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
        (r) => out({ type: "result", id: c.id, data: r.result, error: r.error === undefined ? null : r.error }),
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
