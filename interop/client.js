// client.js drives real socket.io-client sockets for the Go interop tests.
//
// Protocol: JSON lines both ways. The test writes commands on stdin, one per
// line ({"cmd":"connect",...}); this process writes what the sockets observe
// on stdout, one event per line ({"type":"connect","socket":"a",...}).
// Binary values travel as {"_binary":"<base64>"} in both directions.
//
// Commands:
//   connect       {socket, url, nsp, v2, manager, opts}
//                 opens a socket; sockets naming the same manager share one
//                 Engine.IO connection (multiplexing). opts go to the Manager
//                 (transports, reconnection, query, ...; parser "msgpack" is
//                 socket.io-msgpack-parser) and auth to the socket.
//   emit          {socket, event, args, ack, timeout, volatile, req}
//                 with ack, the answer comes back as {"type":"ack",req,args}
//                 or {"type":"ack_error",req,message}.
//   ack           {socket, ack, args}  answers an event the server sent with an ack.
//   disconnect    {socket}             socket.disconnect()
//   reconnect     {socket}             socket.connect() after a disconnect
//   close_engine  {socket}             socket.io.engine.close(): drops the transport
//   freeze        {socket}             stops answering pings (the server must time out)
//   state         {socket, req}        reports connected, id, transport, recovered,
//                                      the WebSocket's extensions
//                                      and the Engine.IO handshake values
//   exit          {}                   ends the process
//
// Events: ready, connect, connect_error, error (2.x namespace errors),
// disconnect, event, ack, ack_error, upgrade, reconnect, reconnect_attempt,
// state, fatal.
"use strict";

const readline = require("node:readline");

const sockets = new Map(); // name -> socket
const managers = new Map(); // name -> Manager
const pendingAcks = new Map(); // id -> ack function
let nextAck = 1;

const { out, encode, decode } = require("./values");

function errInfo(err) {
  if (err === undefined || err === null) return { message: null };
  if (typeof err !== "object") return { message: String(err) };
  return {
    message: err.message === undefined ? null : err.message,
    data: encode(err.data),
    description: err.description === undefined ? undefined : String(err.description),
  };
}

function transportOf(manager) {
  const engine = manager.engine;
  return engine && engine.transport ? engine.transport.name : null;
}

// onIncoming reports one event the server sent; an ack function, if any,
// is kept until the test answers it with the "ack" command.
function onIncoming(name, event, args, ackFn) {
  const ev = { type: "event", socket: name, event, args: encode(args) };
  if (ackFn) {
    const id = nextAck++;
    pendingAcks.set(id, ackFn);
    ev.ack = id;
  }
  out(ev);
}

function watchManager(mname, manager) {
  const attach = () => {
    const engine = manager.engine;
    if (!engine || engine.__watched) return;
    engine.__watched = true;
    engine.on("upgrade", (t) => {
      out({ type: "upgrade", manager: mname, transport: t && t.name ? t.name : String(t) });
    });
  };
  manager.on("open", attach);
  manager.on("reconnect_attempt", (n) => out({ type: "reconnect_attempt", manager: mname, attempt: n }));
  manager.on("reconnect", (n) => out({ type: "reconnect", manager: mname, attempt: n }));
  manager.on("error", (err) => out({ type: "manager_error", manager: mname, ...errInfo(err) }));
}

// withTransportClasses lets transports name "fetch": polling over Node's
// fetch, which (unlike the default XHR polling) sends Accept-Encoding and
// decompresses answers. A list naming it is given as classes, as
// engine.io-client takes them.
function withTransportClasses(opts) {
  if (!Array.isArray(opts.transports) || !opts.transports.includes("fetch")) return opts;
  const { Fetch, NodeXHR, NodeWebSocket } = require("engine.io-client");
  const classes = { fetch: Fetch, polling: NodeXHR, websocket: NodeWebSocket };
  return { ...opts, transports: opts.transports.map((t) => classes[t]) };
}

// withParser turns parser "msgpack" into socket.io-msgpack-parser, as a page
// using it passes the module.
function withParser(opts) {
  if (opts.parser !== "msgpack") return opts;
  return { ...opts, parser: require("socket.io-msgpack-parser") };
}

function connectV4(c) {
  const { Manager } = require("socket.io-client");
  const mname = c.manager || c.socket;
  let manager = managers.get(mname);
  if (!manager) {
    manager = new Manager(c.url, withParser(withTransportClasses(c.opts || {})));
    managers.set(mname, manager);
    watchManager(mname, manager);
  }
  const socket = manager.socket(c.nsp || "/", { auth: c.auth });
  const name = c.socket;
  sockets.set(name, socket);
  socket.on("connect", () => {
    out({
      type: "connect",
      socket: name,
      id: socket.id,
      recovered: socket.recovered,
      transport: transportOf(manager),
    });
  });
  socket.on("connect_error", (err) => {
    out({ type: "connect_error", socket: name, active: socket.active, ...errInfo(err) });
  });
  socket.on("disconnect", (reason, details) => {
    out({
      type: "disconnect",
      socket: name,
      reason,
      active: socket.active,
      description: details && details.description ? String(details.description) : undefined,
    });
  });
  socket.onAny((event, ...args) => {
    let ackFn = null;
    if (args.length && typeof args[args.length - 1] === "function") {
      ackFn = args.pop();
    }
    onIncoming(name, event, args, ackFn);
  });
}

function connectV2(c) {
  const io = require("socket.io-client-v2");
  const mname = c.manager || c.socket;
  let manager = managers.get(mname);
  if (!manager) {
    manager = io.Manager(c.url, c.opts || {});
    managers.set(mname, manager);
    watchManager(mname, manager);
  }
  const socket = manager.socket(c.nsp || "/", c.opts || {});
  const name = c.socket;
  sockets.set(name, socket);
  // 2.x has no onAny: wrap onevent, which receives every EVENT packet.
  const onevent = socket.onevent;
  socket.onevent = function (packet) {
    const args = (packet.data || []).slice();
    const event = args.shift();
    const ackFn = packet.id != null ? this.ack(packet.id) : null;
    onIncoming(name, event, args, ackFn);
    return onevent.call(this, { ...packet, id: null });
  };
  socket.on("connect", () => {
    out({ type: "connect", socket: name, id: socket.id, transport: transportOf(manager) });
  });
  socket.on("connect_error", (err) => {
    out({ type: "connect_error", socket: name, ...errInfo(err) });
  });
  socket.on("error", (data) => {
    out({ type: "error", socket: name, data: encode(data) });
  });
  socket.on("disconnect", (reason) => {
    out({ type: "disconnect", socket: name, reason });
  });
}

function mustSocket(c) {
  const s = sockets.get(c.socket);
  if (!s) throw new Error(`no socket named ${JSON.stringify(c.socket)}`);
  return s;
}

function emit(c) {
  const s = mustSocket(c);
  const args = decode(c.args || []);
  let target = s;
  if (c.volatile) target = target.volatile;
  if (!c.ack) {
    target.emit(c.event, ...args);
    return;
  }
  if (c.timeout) {
    target
      .timeout(c.timeout)
      .emitWithAck(c.event, ...args)
      .then(
        (res) => out({ type: "ack", socket: c.socket, req: c.req, args: encode([res]) }),
        (err) => out({ type: "ack_error", socket: c.socket, req: c.req, ...errInfo(err) }),
      );
    return;
  }
  target.emit(c.event, ...args, (...res) => {
    out({ type: "ack", socket: c.socket, req: c.req, args: encode(res) });
  });
}

function freeze(c) {
  const s = mustSocket(c);
  const engine = s.io.engine;
  const send = engine._sendPacket || engine.sendPacket;
  const patched = function (type, ...rest) {
    if (type === "pong") return;
    return send.call(this, type, ...rest);
  };
  if (engine._sendPacket) engine._sendPacket = patched;
  else engine.sendPacket = patched;
}

function handle(c) {
  switch (c.cmd) {
    case "connect":
      return c.v2 ? connectV2(c) : connectV4(c);
    case "emit":
      return emit(c);
    case "ack": {
      const fn = pendingAcks.get(c.ack);
      if (!fn) throw new Error(`no pending ack ${c.ack}`);
      pendingAcks.delete(c.ack);
      return fn(...decode(c.args || []));
    }
    case "disconnect":
      return mustSocket(c).disconnect();
    case "reconnect":
      return mustSocket(c).connect();
    case "close_engine":
      return mustSocket(c).io.engine.close();
    case "freeze":
      return freeze(c);
    case "state": {
      const s = mustSocket(c);
      const engine = s.io.engine || {};
      return out({
        type: "state",
        socket: c.socket,
        req: c.req,
        connected: s.connected,
        id: s.id === undefined ? null : s.id,
        recovered: s.recovered === undefined ? null : s.recovered,
        transport: transportOf(s.io),
        // What the Engine.IO handshake announced (4.x client only).
        sid: engine.id === undefined ? null : engine.id,
        pingInterval: engine._pingInterval,
        pingTimeout: engine._pingTimeout,
        maxPayload: engine._maxPayload,
        // The WebSocket's negotiated extensions (ws's), e.g.
        // permessage-deflate; null on polling.
        extensions: engine.transport && engine.transport.ws ? engine.transport.ws.extensions : null,
      });
    }
    case "exit":
      for (const s of sockets.values()) s.disconnect();
      return process.exit(0);
    default:
      throw new Error(`unknown command ${JSON.stringify(c.cmd)}`);
  }
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  if (!line.trim()) return;
  try {
    handle(JSON.parse(line));
  } catch (err) {
    out({ type: "fatal", message: String(err && err.stack ? err.stack : err) });
  }
});
// The test owns this process: when it closes stdin, stop.
rl.on("close", () => process.exit(0));

out({ type: "ready" });
