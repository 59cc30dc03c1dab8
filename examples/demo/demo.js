// The iobridge demo page: a plain socket.io-client 4 user. Nothing here
// knows that a sidecar and an HTTP backend stand behind the server.
"use strict";

const cfg = document.body.dataset; // path and namespace, from the sidecar
const $ = (sel) => document.querySelector(sel);
const ACK_TIMEOUT = 20000; // ms; the sidecar answers failures well before

let socket = null;
let room = null; // the chat room joined

// ---------------------------------------------------------------------------
// The event log: every event in and out, as it flows.

function short(args) {
  const s = JSON.stringify(args);
  return s.length > 160 ? s.slice(0, 157) + "…" : s;
}

function log(dir, event, args) {
  const li = document.createElement("li");
  const time = new Date().toLocaleTimeString([], { hour12: false });
  const arrow = { out: "→", in: "←", sys: "·" }[dir];
  li.innerHTML = `<span class="t"></span><span class="${dir}"></span><span class="ev"></span><span class="args"></span>`;
  li.querySelector(".t").textContent = time;
  li.querySelector("." + dir).textContent = arrow;
  li.querySelector(".ev").textContent = event;
  li.querySelector(".args").textContent = args === undefined ? "" : short(args);
  const list = $("#log");
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

function setStatus(kind, text) {
  const s = $("#status");
  s.className = "pill " + kind;
  s.textContent = text;
}

// call emits an event and waits for its ack. The sidecar answers a failed
// delivery (backend down, refused, too slow) with {error: {status, message}}
// as the ack's argument.
async function call(event, ...args) {
  if (!socket || !socket.connected) throw new Error("not connected");
  const res = await socket.timeout(ACK_TIMEOUT).emitWithAck(event, ...args);
  if (res && res.error) throw new Error(`${res.error.message} (${res.error.status})`);
  return res;
}

// ---------------------------------------------------------------------------
// Connection. The backend's connect webhook accepts a socket that gives a
// name (auth), joins it to the room user:<id> and greets it.

function connect(name) {
  if (socket) {
    socket.disconnect();
    socket.removeAllListeners();
  }
  localStorage.setItem("iobridge-demo-name", name);
  setStatus("off", "connecting…");
  room = null;
  socket = io(cfg.namespace, { path: cfg.path, auth: { name } });

  socket.on("connect", () => {
    setStatus("on", `connected as ${name} · ${socket.id}`);
    log("sys", "connect", { id: socket.id });
    joinRoom($("#room").value);
  });
  socket.on("connect_error", (err) => {
    setStatus("error", "connect_error: " + err.message);
    log("sys", "connect_error", { message: err.message, data: err.data });
  });
  socket.on("disconnect", (reason) => {
    setStatus("off", "disconnected: " + reason);
    log("sys", "disconnect", { reason });
  });
  socket.onAny((event, ...args) => log("in", event, args));
  socket.onAnyOutgoing((event, ...args) => log("out", event, args));

  // The namespace's error_event: an event sent without an ack failed.
  socket.on("error", (e) => addMessage("error", `${e.event}: ${e.message}`));

  socket.on("chat.system", (m) => addMessage("system", m.text));
  socket.on("chat.message", (m) => addMessage("", m.text, m.name, m.room));
  socket.on("file.progress", (p) => jobRow(p.job, p.name).progress(p.percent));
  socket.on("file.complete", (p) => jobRow(p.job, p.name).complete(p.bytes));
  socket.on("assistant.token", (token) => {
    const span = document.createElement("span");
    span.className = "token";
    span.textContent = token;
    $("#answer").append(span);
  });
  socket.on("ticker.tick", showTick);

  connectLegacy();
}

$("#who").addEventListener("submit", (e) => {
  e.preventDefault();
  connect($("#name").value.trim());
});

// ---------------------------------------------------------------------------
// Chat: chat.join answers with join + ack; chat.message with an emit to
// the room (a broadcast the sender gets too) + ack.

function addMessage(kind, text, who, inRoom) {
  const li = document.createElement("li");
  if (kind) li.className = kind;
  if (inRoom) {
    const r = document.createElement("span");
    r.className = "room";
    r.textContent = "#" + inRoom;
    li.append(r);
  }
  if (who) {
    const w = document.createElement("span");
    w.className = "who";
    w.textContent = who;
    li.append(w);
  }
  li.append(document.createTextNode(text));
  const list = $("#messages");
  list.append(li);
  list.scrollTop = list.scrollHeight;
  return li;
}

async function joinRoom(name) {
  try {
    if (room && room !== name) await call("chat.leave", room);
    const res = await call("chat.join", name);
    room = res.room;
    addMessage("system", `you are in #${room}`);
  } catch (err) {
    addMessage("error", err.message);
  }
}

$("#room-form").addEventListener("submit", (e) => {
  e.preventDefault();
  joinRoom($("#room").value.trim());
});

$("#message-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("#message");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  try {
    await call("chat.message", { room, text });
  } catch (err) {
    addMessage("error", err.message);
  }
});

// ---------------------------------------------------------------------------
// File copy: the ack carries the job id; progress arrives later, pushed by
// the backend through the control API (possibly before the ack).

const jobs = new Map();

function jobRow(id, name) {
  let row = jobs.get(id);
  if (row) return row;
  const li = document.createElement("li");
  li.dataset.job = id;
  li.innerHTML = `<div class="label"><span class="name"></span><span class="state">waiting</span></div><div class="bar"><span></span></div>`;
  li.querySelector(".name").textContent = `${name} (${id})`;
  $("#jobs").prepend(li);
  const state = li.querySelector(".state");
  const bar = li.querySelector(".bar span");
  row = {
    progress(percent) {
      if (li.classList.contains("complete")) return;
      bar.style.width = percent + "%";
      state.textContent = percent + "%";
    },
    complete(bytes) {
      bar.style.width = "100%";
      li.classList.add("complete");
      state.textContent = `complete · ${(bytes / 1048576).toFixed(1)} MiB`;
    },
    fail(message) {
      li.classList.add("failed");
      state.textContent = message;
    },
  };
  jobs.set(id, row);
  return row;
}

$("#copy-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const name = $("#file").value.trim();
  try {
    const res = await call("file.copy", { name, size: 48 * 1048576 });
    jobRow(res.job, res.name);
  } catch (err) {
    const li = document.createElement("li");
    li.className = "failed";
    li.textContent = `${name}: ${err.message}`;
    $("#jobs").prepend(li);
  }
});

// ---------------------------------------------------------------------------
// Assistant: the backend answers with a text/event-stream; each SSE
// message arrives as an assistant.token event, and the SSE "ack" message
// resolves the ack.

$("#ask-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const btn = $("#ask-btn");
  const status = $("#answer-status");
  btn.disabled = true;
  $("#answer").textContent = "";
  status.textContent = "streaming…";
  try {
    const res = await call("assistant.ask", { question: $("#question").value });
    status.textContent = `done · ${res.tokens} tokens`;
  } catch (err) {
    status.textContent = "failed: " + err.message;
  } finally {
    btn.disabled = false;
  }
});

// ---------------------------------------------------------------------------
// Ticker: the backend's SSE feed, which the sidecar subscribes to; each
// message is a ticker.tick instruction to every socket of the namespace.

const prices = [];
let ticks = 0;

function showTick(t) {
  ticks++;
  const panel = $("#ticker");
  const prev = prices.length ? prices[prices.length - 1] : t.price;
  prices.push(t.price);
  if (prices.length > 60) prices.shift();
  panel.querySelector(".symbol").textContent = t.symbol;
  panel.querySelector(".price").textContent = t.price.toFixed(2);
  const change = panel.querySelector(".change");
  const d = t.price - prev;
  change.textContent = (d >= 0 ? "▲ " : "▼ ") + Math.abs(d).toFixed(2);
  change.className = "change " + (d >= 0 ? "up" : "down");
  panel.querySelector(".seq").textContent = t.seq;
  panel.querySelector(".count").textContent = ticks;
  const lo = Math.min(...prices), hi = Math.max(...prices), span = hi - lo || 1;
  const step = 300 / Math.max(prices.length - 1, 1);
  const pts = prices.map((p, i) => `${i * step},${56 - ((p - lo) / span) * 52}`);
  panel.querySelector("polyline").setAttribute("points", pts.join(" "));
}

// ---------------------------------------------------------------------------
// Legacy chat: a second socket, on the bridged namespace, over the same
// connection. The backend behind it is a plain WebSocket server.

const legacyNamespace = $("#legacy").dataset.namespace;
let legacy = null;

function legacyLine(kind, text, who) {
  const li = document.createElement("li");
  if (kind) li.className = kind;
  if (who) {
    const w = document.createElement("span");
    w.className = "who";
    w.textContent = who;
    li.append(w);
  }
  li.append(document.createTextNode(text));
  const list = $("#legacy-messages");
  list.append(li);
  list.scrollTop = list.scrollHeight;
  return li;
}

function connectLegacy() {
  if (legacy) {
    legacy.disconnect();
    legacy.removeAllListeners();
  }
  const status = $("#legacy-status");
  status.textContent = "connecting…";
  legacy = io(legacyNamespace, { path: cfg.path });
  legacy.on("connect", () => {
    status.textContent = `bridged · ${legacy.id}`;
    status.className = "hint on";
    log("sys", "connect " + legacyNamespace, { id: legacy.id });
  });
  legacy.on("connect_error", (err) => {
    status.textContent = "connect_error: " + err.message;
    status.className = "hint error";
    log("sys", "connect_error " + legacyNamespace, { message: err.message, data: err.data });
  });
  legacy.on("disconnect", (reason) => {
    status.textContent = "disconnected: " + reason;
    status.className = "hint";
  });
  legacy.onAny((event, ...args) => log("in", legacyNamespace + " " + event, args));
  legacy.onAnyOutgoing((event, ...args) => log("out", legacyNamespace + " " + event, args));
  legacy.on("legacy.welcome", (w) => legacyLine("system", `welcome, ${w.user} · ${w.online} online`));
  legacy.on("legacy.message", (m) => legacyLine("", m.text, m.user));
}

$("#legacy-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("#legacy-text");
  const text = input.value.trim();
  if (!text || !legacy || !legacy.connected) return;
  input.value = "";
  try {
    const res = await legacy.timeout(ACK_TIMEOUT).emitWithAck("legacy.say", { text });
    if (res && res.error) throw new Error(`${res.error.message} (${res.error.status})`);
    if (!res.ok) throw new Error(res.error);
    legacyLine("acked", `ack frame: message #${res.n} delivered`);
  } catch (err) {
    legacyLine("error", err.message);
  }
});

// ---------------------------------------------------------------------------

const params = new URLSearchParams(location.search);
const initial = params.get("name") || localStorage.getItem("iobridge-demo-name") ||
  "guest-" + Math.floor(1000 + Math.random() * 9000);
$("#name").value = initial;
connect(initial);
