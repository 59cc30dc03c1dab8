// admin-reference.js runs the reference socket.io server with
// @socket.io/admin-ui's instrument(), for the admin UI tests in
// adminui_test.go, which run the same client calls against iobridge's
// admin UI and compare what the admin socket gets.
//
// Usage: node admin-reference.js '<config JSON>'
//   config: {username, passwordHash, readonly, mode, serverId, redis}
//   redis: a redis:// URL for @socket.io/redis-adapter (classic, key
//   "socket.io"), to join a cluster; none means the in-memory adapter.
//
// The application: on "/", a socket joins the room named by its auth's
// "room", and an "echo" event is emitted back as "echoed" with its args.
// It prints {"type":"listening","port":N} once bound to 127.0.0.1.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const { instrument } = require("@socket.io/admin-ui");

const cfg = JSON.parse(process.argv[2] || "{}");
const { out } = require("./values");

const httpServer = http.createServer();
const io = new Server(httpServer, { cors: { origin: true, credentials: true } });

io.on("connection", (socket) => {
  const room = socket.handshake.auth && socket.handshake.auth.room;
  if (room) socket.join(room);
  socket.on("echo", (...args) => socket.emit("echoed", ...args));
});

async function main() {
  if (cfg.redis) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pub = createClient({ url: cfg.redis });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub, { key: "socket.io" }));
  }
  instrument(io, {
    auth: { type: "basic", username: cfg.username, password: cfg.passwordHash },
    readonly: !!cfg.readonly,
    mode: cfg.mode || "development",
    serverId: cfg.serverId || undefined,
  });
  httpServer.listen(0, "127.0.0.1", () => {
    out({ type: "listening", port: httpServer.address().port });
  });
}

main().catch((err) => {
  out({ type: "fatal", message: String(err && err.stack ? err.stack : err) });
  process.exit(1);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
