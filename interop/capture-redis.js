// capture-redis.js records what Node's Socket.IO scale-out packages publish
// on Redis, for the Go adapter's tests (proxy/adapter/redis: golden_test.go
// compares shapes with it, receive_fuzz_test.go feeds every message to the Go
// adapters and seeds FuzzReceive). The Go tests read the recording; they do
// not run node.
//
// Regenerate (from the repository root, with redis-server 7 installed):
//
//   redis-server --port 6390 --save '' --appendonly no &
//   node interop/capture-redis.js redis://127.0.0.1:6390/0 \
//     > proxy/adapter/redis/testdata/node-messages/messages.json
//   kill %1
//   go test ./proxy/adapter/redis/ -run 'NodeMessages|Golden' -update
//
// (-update rewrites the FuzzReceive seed corpus from the new recording, as
// well as the goldens.) Use an empty Redis: the recorder sees every message.
// An optional second argument is the output path (stdout when absent).
//
// What runs: two socket.io 4.8 servers (127.0.0.1, port 0) with
// @socket.io/redis-adapter 8.3 createAdapter (key "socket.io"), then two with
// createShardedAdapter (subscriptionMode "dynamic"); socket.io-client
// clients on both servers in namespaces "/" and "/chat"; in the classic
// phase, @socket.io/redis-emitter 5.1. A recorder (its own node-redis
// client) PSUBSCRIBEs "*" and SSUBSCRIBEs the sharded adapters' channels;
// each message becomes {mode, op, channel, hex} in arrival order, op naming
// the operation that was running. Note: the recorder's SSUBSCRIBE to
// socket.io#/# counts as a server in SHARDNUMSUB, so in the sharded phase
// the requests waiting for every server (fetchSockets, emitWithAck,
// serverSideEmitWithAck) time out after their answers came: expected.
//
// The script exits by itself within 20 s (exit status 1 past the deadline).
"use strict";

const http = require("http");
const fs = require("fs");
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { createClient } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");

const url = process.argv[2] || "redis://127.0.0.1:6379/0";
const outPath = process.argv[3];

setTimeout(() => {
  console.error("capture-redis: deadline of 20s reached");
  process.exit(1);
}, 20000).unref();

const DATE = new Date("2000-06-13T00:00:00.123Z");
const messages = [];
let mode = "";
let op = "setup";
let lastArrival = Date.now();

function record(m, channel, msg) {
  messages.push({ mode: m, op, channel: channel.toString(), hex: Buffer.from(msg).toString("hex") });
  lastArrival = Date.now();
}

// settle waits until no message arrived for quiet ms.
async function settle(quiet = 150) {
  await sleep(quiet);
  while (Date.now() - lastArrival < quiet) await sleep(20);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

const closers = [];

async function redisClient() {
  const c = createClient({ url });
  c.on("error", (e) => console.error("redis:", e.message));
  await c.connect();
  closers.push(() => c.disconnect().catch(() => {}));
  return c;
}

async function startServer(adapterFor) {
  const pub = await redisClient();
  const sub = pub.duplicate();
  sub.on("error", (e) => console.error("redis:", e.message));
  await sub.connect();
  closers.push(() => sub.disconnect().catch(() => {}));
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: adapterFor(pub, sub) });
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  closers.unshift(() => new Promise((r) => io.close(() => r())));
  return { io, port: httpServer.address().port };
}

// setupServer joins each new socket to the rooms its client asks for and
// sets socket.data.
function setupServer(io, name) {
  for (const nsp of ["/", "/chat"]) {
    io.of(nsp).on("connection", (socket) => {
      const rooms = socket.handshake.auth.rooms || [];
      socket.join(rooms);
      socket.data = { user: socket.handshake.auth.user, server: name, n: 1 };
    });
  }
}

async function client(port, nsp, user, rooms) {
  const c = ioc(`http://127.0.0.1:${port}${nsp}`, {
    transports: ["websocket"],
    auth: { user, rooms },
    reconnection: false,
  });
  c.on("ask", (x, cb) => cb({ ok: true, from: user, n: x }));
  c.on("ask-bin", (x, cb) => cb(Buffer.from([7, 8, 9])));
  c.on("ask-date", (x, cb) => cb({ at: DATE, nan: NaN, buf: Buffer.from([1, 2]) }));
  await new Promise((resolve, reject) => {
    c.on("connect", resolve);
    c.on("connect_error", reject);
  });
  closers.unshift(() => c.disconnect());
  return c;
}

const t0 = Date.now();
async function step(name, fn, quiet) {
  op = name;
  if (process.env.CAPTURE_DEBUG) console.error(`${Date.now() - t0}ms ${mode} ${name}`);
  try {
    const p = Promise.resolve(fn());
    // Operations that complete (or fail) quickly are awaited; those waiting
    // for a timeout go on in the background once their messages are in (the
    // script does not wait for them).
    await Promise.race([p.catch(() => {}), sleep(300)]);
  } catch (e) {
    // A synchronous throw: recorded as no message.
    console.error(`capture-redis: ${mode} ${name}: ${e.message}`);
  }
  await settle(quiet);
}

// common runs the operations both modes support, from a (node 1) towards
// the clients of both nodes.
async function common(a, b) {
  const io1 = a.io;
  await step("emit-all", () => io1.emit("ev", 1, "x", { a: { b: [1, 2] } }));
  await step("emit-one-room", () => io1.to("room1").emit("ev", "one-room"));
  await step("emit-socket-room", () => io1.to(b.sid).emit("ev", "to-one-socket"));
  await step("emit-two-rooms-except", () => io1.to("room1").to("room2").except("room3").emit("ev", "two-rooms"));
  await step("emit-except", () => io1.except("room3").emit("ev", "except"));
  await step("emit-volatile", () => io1.volatile.emit("ev", "volatile"));
  await step("emit-compress", () => io1.compress(false).emit("ev", "compress"));
  await step("emit-buffer", () => io1.emit("bin", Buffer.from([1, 2, 3]), { nested: Buffer.from([4]) }));
  await step("emit-buffer-one-room", () => io1.to("room1").emit("bin", Buffer.from([5, 6])));
  await step("emit-date", () => io1.emit("date", DATE, { at: DATE }));
  await step("emit-nan", () => io1.emit("nan", NaN, { x: NaN, inf: Infinity }, 1.5));
  await step("emit-nested", () =>
    io1.emit("nested", { a: { b: { c: [1, { d: null, e: true }], s: "é\u2028" } }, arr: [[1], [2, [3]]], empty: {}, list: [] }),
  );
  await step("emit-chat", () => io1.of("/chat").emit("chat", "hi"));
  await step("emit-chat-room", () => io1.of("/chat").to("room1").emit("chat", "room"));
  await step("emit-with-ack", () => io1.timeout(1500).emitWithAck("ask", 1));
  await step("emit-with-ack-buffer", () => io1.timeout(1500).emitWithAck("ask-bin", 2));
  await step("emit-with-ack-date", () => io1.to("room1").timeout(1500).emitWithAck("ask-date", 3));
  await step("fetch-sockets", () => io1.timeout(1500).fetchSockets());
  await step("fetch-sockets-room", () => io1.in("room1").timeout(1500).fetchSockets());
  await step("sockets-join", () => io1.in(b.sid).socketsJoin(["room9", "room10"]));
  await step("sockets-leave", () => io1.in("room9").socketsLeave("room9"));
  await step("server-side-emit", () => io1.serverSideEmit("hello", 1, { a: "b" }, DATE));
  await step("server-side-emit-with-ack", () => io1.serverSideEmitWithAck("ping-ss", 42));
  await step("disconnect-sockets", () => io1.in("doomed").disconnectSockets(true));
  await step("disconnect-sockets-noclose", () => io1.of("/chat").in("doomed").disconnectSockets());
}

function serverSide(io) {
  io.on("ping-ss", (x, cb) => {
    if (typeof cb === "function") cb({ pong: x, at: DATE });
  });
  io.on("hello", () => {});
}

async function phase(m, adapterFor, extra) {
  mode = m;
  op = "setup";
  const a = await startServer(adapterFor);
  const b = await startServer(adapterFor);
  setupServer(a.io, "a");
  setupServer(b.io, "b");
  serverSide(a.io);
  serverSide(b.io);
  const uids = {};
  for (const [k, s] of [["a", a], ["b", b]]) {
    uids[k] = { "/": s.io.of("/").adapter.uid, "/chat": s.io.of("/chat").adapter.uid };
  }
  if (m === "sharded") {
    const chans = ["socket.io#/#", "socket.io#/chat#"];
    for (const u of Object.values(uids)) {
      chans.push(`socket.io#/#${u["/"]}#`, `socket.io#/chat#${u["/chat"]}#`);
    }
    for (const r of ["room1", "room2", "room3", "room9", "room10", "doomed"]) {
      chans.push(`socket.io#/#${r}#`, `socket.io#/chat#${r}#`);
    }
    await recorder.sSubscribe(chans, (msg, channel) => record("sharded", channel, msg), true);
  }
  await client(a.port, "/", "alice", ["room3"]);
  const cb = await client(b.port, "/", "bob", ["room1", "room2"]);
  await client(b.port, "/", "carol", ["room2", "room3"]);
  await client(b.port, "/", "dave", ["doomed"]);
  await client(b.port, "/chat", "erin", ["room1", "doomed"]);
  await client(a.port, "/chat", "frank", []);
  await settle();
  b.sid = cb.id;
  await common(a, b);
  if (extra) await extra(a, b);
  await settle();
  return { uids, ports: [a.port, b.port] };
}

let recorder;

async function main() {
  recorder = await redisClient();
  await recorder.pSubscribe("*", (msg, channel) => record("classic", channel, msg), true);

  const classic = await phase("classic", (pub, sub) => createAdapter(pub, sub), async (a, b) => {
    await step("all-rooms", () => a.io.of("/").adapter.allRooms());
    const ec = await redisClient();
    const emitter = new Emitter(ec);
    await step("emitter-emit", () => emitter.emit("em", Buffer.from([1, 2, 3]), DATE, NaN, { n: { x: 1 } }));
    await step("emitter-emit-one-room", () => emitter.to("room1").emit("em", "room"));
    await step("emitter-emit-rooms-except", () => emitter.to(["room1", "room2"]).except("room3").volatile.emit("em", "rooms"));
    await step("emitter-emit-chat", () => emitter.of("/chat").emit("em", "chat"));
    await step("emitter-sockets-join", () => emitter.in("room1").socketsJoin("room7"));
    await step("emitter-sockets-leave", () => emitter.in("room1").socketsLeave("room7"));
    await step("emitter-server-side-emit", () => emitter.serverSideEmit("hello", "from-emitter", 2));
    await step("emitter-disconnect-sockets", () => emitter.in("room3").disconnectSockets(true));
  });
  const sharded = await phase("sharded", (pub, sub) => createShardedAdapter(pub, sub, { subscriptionMode: "dynamic" }));

  for (const close of closers.splice(0)) await close();
  const out = {
    generatedBy: "interop/capture-redis.js",
    packages: {
      "socket.io": require("socket.io/package.json").version,
      "@socket.io/redis-adapter": require("@socket.io/redis-adapter/package.json").version,
      "@socket.io/redis-emitter": require("@socket.io/redis-emitter/package.json").version,
      redis: require("redis/package.json").version,
    },
    uids: { classic: classic.uids, sharded: sharded.uids },
    date: DATE.toISOString(),
    messages,
  };
  const text = JSON.stringify(out, null, 1) + "\n";
  if (outPath) fs.writeFileSync(outPath, text);
  else process.stdout.write(text);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
