// reference.js runs the reference socket.io server with the interop
// scenario application, so every interop scenario can be played against the
// reference first and against iobridge second, with the same expectations.
//
// Usage: node reference.js '<config JSON>'
//   config: {pingInterval, pingTimeout, maxHttpBufferSize, allowEIO3, recovery,
//            corsOrigins, corsCredentials, httpCompression, perMessageDeflate}
//   (durations in milliseconds; recovery 0 disables connection state recovery;
//   corsOrigins ["*"] is cors {origin: "*"}, other lists cors {origin: [...]},
//   none no cors option; httpCompression false turns socket.io's default
//   compression off; perMessageDeflate true turns it on, threshold 1024;
//   parser "msgpack" is socket.io-msgpack-parser)
//   transports, allowUpgrades, upgradeTimeout, cookie, serveClient,
//   cleanupEmptyChildNamespaces: the
//   options of those names (transports and cookie null: the defaults, no
//   cookie; serveClient off unless true)
//
// It prints {"type":"listening","port":N} once bound to 127.0.0.1, then one
// JSON line per server-side observation:
//   {"type":"connection","nsp","id","auth","recovered"}
//   {"type":"event","nsp","id","event","args"}
//   {"type":"disconnect","nsp","id","reason"}
// Binary values are written as {"_binary":"<base64>"}.
//
// The scenario application (mirrored in Go by app_test.go):
//   namespaces "/", "/chat", "/admin" (auth.token must be "secret", otherwise
//   CONNECT_ERROR "unauthorized" with data {code:4001, reason:"bad token"}),
//   and /^\/dyn-\d+$/; events on every namespace:
//   echo        acks with its args, or emits "echo" back with them
//   join, leave [room], then acks
//   broadcast   [{room, except, event, args, volatile}], then acks
//   ask         [{event, args, timeout}]: emits event with an ack (and a
//               timeout if given), then acks {error, args} with the outcome
//   ask-all     [{event, args, timeout}]: emits to the whole namespace with
//               acks and a timeout, then acks {error, responses} (sorted)
//   disconnect-me [close]: socket.disconnect(close)
//   close-conn  closes the underlying connection
//   shutdown    shuts the whole server down
//   bin         emits "bin" with Buffer [1,2,3] and {nested: Buffer "hi"}
//   namespaces  acks with the names of the namespaces that exist, sorted
//               (children of /^\/dyn-\d+$/ included)
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const cfg = JSON.parse(process.argv[2] || "{}");

const { out, encode } = require("./values");

const opts = {
  pingInterval: cfg.pingInterval || 25000,
  pingTimeout: cfg.pingTimeout || 20000,
  maxHttpBufferSize: cfg.maxHttpBufferSize || 1e6,
  allowEIO3: !!cfg.allowEIO3,
};
if (cfg.recovery) {
  opts.connectionStateRecovery = { maxDisconnectionDuration: cfg.recovery };
}
if (Array.isArray(cfg.corsOrigins) && cfg.corsOrigins.length > 0) {
  const star = cfg.corsOrigins.length === 1 && cfg.corsOrigins[0] === "*";
  opts.cors = {
    origin: star ? "*" : cfg.corsOrigins,
    credentials: !!cfg.corsCredentials,
  };
}

if (cfg.httpCompression === false) {
  opts.httpCompression = false;
}
if (cfg.perMessageDeflate) {
  opts.perMessageDeflate = true;
}
if (cfg.parser === "msgpack") opts.parser = require("socket.io-msgpack-parser");

opts.serveClient = !!cfg.serveClient;
if (Array.isArray(cfg.transports) && cfg.transports.length > 0) opts.transports = cfg.transports;
if (cfg.allowUpgrades === false) opts.allowUpgrades = false;
if (cfg.upgradeTimeout) opts.upgradeTimeout = cfg.upgradeTimeout;
if (cfg.cookie) opts.cookie = cfg.cookie;
if (cfg.cleanupEmptyChildNamespaces) opts.cleanupEmptyChildNamespaces = true;

const httpServer = http.createServer();
const io = new Server(httpServer, opts);

function setup(nsp) {
  nsp.on("connection", (socket) => {
    const name = socket.nsp.name;
    out({
      type: "connection",
      nsp: name,
      id: socket.id,
      auth: socket.handshake.auth,
      recovered: socket.recovered,
    });
    socket.on("disconnect", (reason) => {
      out({ type: "disconnect", nsp: name, id: socket.id, reason });
    });
    socket.onAny((event, ...args) => {
      let ack = null;
      if (args.length && typeof args[args.length - 1] === "function") ack = args.pop();
      out({ type: "event", nsp: name, id: socket.id, event, args: encode(args) });
      const reply = (...a) => {
        if (ack) ack(...a);
      };
      switch (event) {
        case "echo":
          if (ack) ack(...args);
          else socket.emit("echo", ...args);
          break;
        case "join":
          socket.join(args[0]);
          reply();
          break;
        case "leave":
          socket.leave(args[0]);
          reply();
          break;
        case "broadcast": {
          const b = args[0] || {};
          let op = socket.nsp;
          if (b.room) op = op.to(b.room);
          if (b.except) op = op.except(b.except);
          if (b.volatile) op = op.volatile;
          op.emit(b.event, ...(b.args || []));
          reply();
          break;
        }
        case "ask": {
          const a = args[0] || {};
          const target = a.timeout ? socket.timeout(a.timeout) : socket;
          target.emit(a.event, ...(a.args || []), (...res) => {
            if (a.timeout) {
              const err = res.shift();
              reply({ error: err ? err.message : null, args: res });
            } else {
              reply({ error: null, args: res });
            }
          });
          break;
        }
        case "ask-all": {
          // Every socket of the namespace, with a timeout; acks
          // {error, responses} with the responses sorted by their JSON.
          const a = args[0] || {};
          socket.nsp.timeout(a.timeout).emit(a.event, ...(a.args || []), (err, responses) => {
            const sorted = (responses || []).map(encode).sort((x, y) =>
              JSON.stringify(x) < JSON.stringify(y) ? -1 : 1,
            );
            reply({ error: err ? err.message : null, responses: sorted });
          });
          break;
        }
        case "disconnect-me":
          socket.disconnect(!!args[0]);
          break;
        case "close-conn":
          socket.conn.close();
          break;
        case "shutdown":
          io.close();
          break;
        case "bin":
          socket.emit("bin", Buffer.from([1, 2, 3]), { nested: Buffer.from("hi") });
          reply();
          break;
        case "namespaces":
          reply([...io._nsps.keys()].sort());
          break;
      }
    });
  });
}

setup(io.of("/"));
setup(io.of("/chat"));
const admin = io.of("/admin");
admin.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") return next();
  const err = new Error("unauthorized");
  err.data = { code: 4001, reason: "bad token" };
  next(err);
});
setup(admin);
setup(io.of(/^\/dyn-\d+$/));

httpServer.listen(0, "127.0.0.1", () => {
  out({ type: "listening", port: httpServer.address().port });
});

process.stdin.on("data", () => {});
process.stdin.on("end", () => {
  io.close();
  process.exit(0);
});
