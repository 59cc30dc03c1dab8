#!/usr/bin/env node
// Load client of bench/options.sh: echo and fanout against one server (iobridge
// or the reference) with the real socket.io-client 4.8.4 (and
// socket.io-msgpack-parser 3.0.2), both from interop/node_modules.
//
//   node bench/options/options.js run       one server, both scenarios: forks
//                                           WORKERS processes that hold the
//                                           sockets; appends JSON lines to OUT
//   node bench/options/options.js report FILE
//                                           the Markdown table of FILE's lines
//                                           (the median of repeated runs)
//
// Scenarios:
//   echo    ECHO_CLIENTS sockets, each with one ack in flight (closed loop):
//           socket.timeout(10s).emit("echo", payload, cb); WARMUP_MS, then
//           ECHO_S seconds measured (acks/s, ack latency)
//   fanout  FANOUT_CLIENTS sockets in namespace "/"; the coordinator posts
//           BROADCASTS instructions one after another (each after the
//           previous answer) to EMIT_URL (iobridge's POST /v1/emit, or the
//           reference's copy of it), event "news", args [{seq, t, ...payload}];
//           delivered/s from the first POST to the last delivery, latency =
//           arrival - t (the POST's start); then, on the same sockets,
//           PACED_BROADCASTS (60) at PACED_RATE (20) a second ("fanout-paced"),
//           whose latency is not the burst's queue
// Each payload is about PAYLOAD_BYTES (2048) of JSON records with fresh
// random values (deflate takes one to about a third), made anew for every emit.
//
// Measured besides: the server's CPU (utime+stime of SERVER_PID from
// /proc/PID/stat), BACKEND_PID's when given and the client workers', over the
// measured window;
// bytes on the wire, the TCP payload both ways of every socket the client
// processes open (HTTP heads, WebSocket frames, compressed or not), over the
// same window.
//
// Verified per run (the "verify" object): the transport each socket ended on;
// WebSocket sockets that negotiated permessage-deflate (ws's extensions);
// polling answers that came with a Content-Encoding, and without; Socket.IO
// messages that arrived as binary frames (msgpack) or text (JSON).
//
// Polling uses engine.io-client's Fetch transport (its name is "polling"):
// Node's fetch sends Accept-Encoding: gzip, deflate and inflates the answer, as
// a browser does. The default Node polling transport (xmlhttprequest-ssl)
// sends no Accept-Encoding, so no server would compress for it.
//
// Env: URL, EMIT_URL, TOKEN (bearer for EMIT_URL), TRANSPORT (websocket |
// polling), PARSER (json | msgpack), SERVER (name), ROWS (comma list of the
// table rows the run stands for, e.g. "per_message_deflate=false,parser=json"),
// SERVER_PID, BACKEND_PID, CLK_TCK (100), WORKERS (2), ECHO_CLIENTS (50),
// ECHO_S (8), WARMUP_MS (1000), FANOUT_CLIENTS (500), BROADCASTS (200),
// PACED_BROADCASTS (60), PACED_RATE (20), FANOUT_WAIT_MS (20000: after the
// last POST's answer, deliveries still missing count as undelivered),
// PAYLOAD_BYTES (2048), SCENARIOS ("echo fanout"),
// OUT (JSON lines file; stdout too), COMMIT.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const net = require('node:net');
const { fork } = require('node:child_process');

const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const mod = (name) => require(path.join(__dirname, '../../interop/node_modules', name));
const clock = () => performance.timeOrigin + performance.now(); // wall ms, comparable across processes

// payloads(bytes) returns a function making payloads of about bytes of JSON:
// records as an API would return them, each payload with fresh values (the
// same payload again and again would flatter compression with context
// takeover, which finds the previous message in its window).
function payloads(bytes) {
  const rnd = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo));
  const words = ['red', 'green', 'blue', 'new', 'sale', 'eu', 'us', 'bulk', 'gift', 'promo', 'spare', 'tool'];
  const record = () => ({
    id: rnd(100000, 1000000), sku: `SKU-${rnd(10000, 100000)}-${words[rnd(0, words.length)]}`,
    price: rnd(1000, 10000) / 100, qty: rnd(10, 100), tags: [words[rnd(0, words.length)], words[rnd(0, words.length)]],
    active: Math.random() < 0.5, updated: new Date(Date.UTC(2026, 0, 1) + rnd(0, 3e10)).toISOString(),
  });
  const n = Math.max(1, Math.round(bytes / JSON.stringify(record()).length));
  return () => ({ items: Array.from({ length: n }, record) });
}

const mode = process.argv[2];
const fail = (err) => {
  console.error('options: ' + (err && err.stack ? err.stack : err));
  process.exit(2);
};
if (mode === 'run') coordinate().catch(fail);
else if (mode === 'worker') work().catch(fail);
else if (mode === 'report') process.exit(report(process.argv[3]));
else {
  console.error('usage: options.js run | options.js report FILE');
  process.exit(2);
}

// ---- coordinator ----

// cpu PID: utime + stime of the process, in seconds (0 without a pid).
function cpu(pid) {
  if (!pid) return 0;
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (+f[11] + +f[12]) / +env('CLK_TCK', 100); // fields 14 and 15
}

function pct(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// problems lists how verify (the clients' counts) contradicts the rows'
// settings; none when every option took effect.
function problems(rows, transport, v) {
  const out = [];
  const n = (k) => v[k] || 0;
  const compressed = Object.keys(v).filter((k) => k.startsWith('polling_answers_') && k !== 'polling_answers_plain').reduce((a, k) => a + v[k], 0);
  if (n(`transport_${transport}`) === 0 || Object.keys(v).some((k) => k.startsWith('transport_') && k !== `transport_${transport}`)) {
    out.push(`sockets not all on ${transport}: ${JSON.stringify(v)}`);
  }
  for (const row of rows) {
    const [opt, val] = row.split('=');
    if (opt === 'http_compression' && val === 'true' && compressed === 0) out.push('no polling answer was compressed');
    if (opt === 'http_compression' && val === 'false' && compressed > 0) out.push(`${compressed} polling answers were compressed`);
    if (opt === 'per_message_deflate' && val === 'true' && n('websocket_plain') > 0) out.push(`${n('websocket_plain')} WebSockets without permessage-deflate`);
    if (opt === 'per_message_deflate' && val === 'false' && n('websocket_deflate') > 0) out.push(`${n('websocket_deflate')} WebSockets negotiated permessage-deflate`);
    if (opt === 'parser' && val === 'msgpack' && n('messages_text') > 0) out.push(`${n('messages_text')} text messages with the msgpack parser`);
    if (opt === 'parser' && val === 'json' && n('messages_binary') > 0) out.push(`${n('messages_binary')} binary messages with the JSON parser`);
  }
  for (const k of Object.keys(v)) if (k.startsWith('unexpected_disconnect_')) out.push(`${v[k]} ${k.replace(/_/g, ' ')}`);
  return out;
}

async function coordinate() {
  const W = +env('WORKERS', 2);
  const SERVER_PID = +env('SERVER_PID', 0);
  const BACKEND_PID = +env('BACKEND_PID', 0);
  const scenarios = env('SCENARIOS', 'echo fanout').split(/\s+/).filter(Boolean);
  const base = {
    server: env('SERVER', 'server'), rows: env('ROWS', '').split(',').filter(Boolean),
    transport: env('TRANSPORT', 'websocket'), parser: env('PARSER', 'json'),
    payload_bytes: JSON.stringify(payloads(+env('PAYLOAD_BYTES', 2048))()).length,
    commit: env('COMMIT', ''),
  };

  const workers = [];
  for (let i = 0; i < W; i++) {
    const w = fork(__filename, ['worker'], { env: { ...process.env, WORKER: String(i) } });
    w.inbox = [];
    w.waiters = [];
    w.on('message', (m) => (w.waiters.length ? w.waiters.shift()(m) : w.inbox.push(m)));
    w.on('exit', (code) => { if (code) fail(new Error(`worker ${i} exited ${code}`)); });
    workers.push(w);
  }
  const next = (w) => new Promise((r) => (w.inbox.length ? r(w.inbox.shift()) : w.waiters.push(r)));
  // all sends each worker its message (fn(i) or the object), then waits for one
  // answer from each; an answer of type "error" fails the run.
  const all = async (msg) => {
    workers.forEach((w, i) => w.send(typeof msg === 'function' ? msg(i) : msg));
    const res = await Promise.all(workers.map(next));
    for (const r of res) if (r.type === 'error') throw new Error(r.message);
    return res;
  };
  const share = (n, i) => Math.floor(n / W) + (i < n % W ? 1 : 0);
  const sumBytes = (res) => res.reduce((a, r) => ({ read: a.read + r.bytes.read, written: a.written + r.bytes.written }), { read: 0, written: 0 });
  const sumVerify = (res) => {
    const v = {};
    for (const r of res) for (const [k, n] of Object.entries(r.verify)) v[k] = (v[k] || 0) + n;
    return v;
  };
  // emit writes the line with "problems": what the clients saw that the
  // rows' settings contradict (an option that did not take effect).
  const emit = (line) => {
    line.problems = problems(line.rows, line.transport, line.verify);
    for (const p of line.problems) console.error(`options: ${line.server} ${line.rows.join(',')} ${line.scenario}: ${p}`);
    const s = JSON.stringify(line);
    console.log(s);
    if (env('OUT', '')) fs.appendFileSync(env('OUT', ''), s + '\n');
  };
  const clientCPU = () => workers.reduce((a, w) => a + cpu(w.pid), 0);
  const sleepUntil = (t) => new Promise((r) => setTimeout(r, Math.max(0, t - clock())));

  if (scenarios.includes('echo')) {
    const C = +env('ECHO_CLIENTS', 50);
    const ECHO_S = +env('ECHO_S', 8);
    await all((i) => ({ type: 'connect', clients: share(C, i), fanout: false }));
    const start = clock() + 200;
    const from = start + +env('WARMUP_MS', 1000);
    const to = from + ECHO_S * 1000;
    const pending = all({ type: 'echo', start, from, to });
    await sleepUntil(from);
    const c0 = [cpu(SERVER_PID), cpu(BACKEND_PID), clientCPU()];
    await sleepUntil(to);
    const c1 = [cpu(SERVER_PID), cpu(BACKEND_PID), clientCPU()];
    const res = await pending;
    const lat = [].concat(...res.map((r) => r.lat)).sort((a, b) => a - b);
    const acks = res.reduce((a, r) => a + r.acks, 0);
    const bytes = sumBytes(res);
    const verify = sumVerify(await all({ type: 'close' }));
    emit({
      ...base, scenario: 'echo', clients: C, seconds: ECHO_S, acks,
      errors: res.reduce((a, r) => a + r.errors, 0), wrong: res.reduce((a, r) => a + r.wrong, 0),
      rate: acks / ECHO_S, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99),
      server_cpu_s: c1[0] - c0[0], server_cpu_pct: (100 * (c1[0] - c0[0])) / ECHO_S,
      backend_cpu_s: BACKEND_PID ? c1[1] - c0[1] : null,
      client_cpu_pct: (100 * (c1[2] - c0[2])) / ECHO_S,
      cpu_us_per_op: acks ? ((c1[0] - c0[0]) * 1e6) / acks : null,
      bytes_read: bytes.read, bytes_written: bytes.written,
      bytes_per_op: acks ? (bytes.read + bytes.written) / acks : null, verify,
    });
  }

  if (scenarios.includes('fanout')) {
    const N = +env('FANOUT_CLIENTS', 500);
    const EMIT_URL = env('EMIT_URL', 'http://127.0.0.1:3034/v1/emit');
    const WAIT = +env('FANOUT_WAIT_MS', 20000);
    const headers = { 'content-type': 'application/json' };
    if (env('TOKEN', '')) headers.authorization = 'Bearer ' + env('TOKEN', '');
    const payload = payloads(+env('PAYLOAD_BYTES', 2048));
    let seq = 0; // across both phases: each socket checks the order
    // phase posts M broadcasts, each after the previous answer and, with a
    // rate, not before its slot; then waits for the deliveries (WAIT at most
    // after the last answer) and writes the line.
    const phase = async (scenario, M, rate) => {
      await all({ type: 'mark', broadcasts: M, from: seq + 1 });
      const c0 = [cpu(SERVER_PID), cpu(BACKEND_PID), clientCPU()];
      const t0 = clock();
      let refused = 0;
      let short = 0;
      for (let i = 0; i < M; i++) {
        if (rate) await sleepUntil(t0 + (i * 1000) / rate);
        seq++;
        const r = await fetch(EMIT_URL, {
          method: 'POST', headers,
          body: JSON.stringify({ namespace: '/', event: 'news', args: [{ seq, t: clock(), ...payload() }] }),
        });
        const text = await r.text();
        if (r.status !== 202) {
          refused++;
          if (refused === 1) console.error(`options: emit answered ${r.status} ${text}`);
        } else if (JSON.parse(text).recipients !== N) short++;
      }
      const posted = clock();
      const res = await all({ type: 'drain', deadline: posted + WAIT });
      const c1 = [cpu(SERVER_PID), cpu(BACKEND_PID), clientCPU()];
      const lat = [].concat(...res.map((r) => r.lat)).sort((a, b) => a - b);
      const got = res.reduce((a, r) => a + r.got, 0);
      const last = Math.max(...res.map((r) => r.last));
      const secs = (last - t0) / 1000;
      const bytes = sumBytes(res);
      return {
        ...base, scenario, clients: N, broadcasts: M, rate_offered: rate || null, refused, short_recipients: short,
        expected: N * M, delivered: got, lost: N * M - got, wait_ms: WAIT,
        out_of_order: res.reduce((a, r) => a + r.outOfOrder, 0),
        post_s: (posted - t0) / 1000, seconds: secs, rate: secs > 0 ? got / secs : 0,
        p50_ms: pct(lat, 50), p99_ms: pct(lat, 99),
        server_cpu_s: c1[0] - c0[0], server_cpu_pct: secs > 0 ? (100 * (c1[0] - c0[0])) / secs : null,
        backend_cpu_s: BACKEND_PID ? c1[1] - c0[1] : null,
        client_cpu_pct: secs > 0 ? (100 * (c1[2] - c0[2])) / secs : null,
        cpu_us_per_op: got ? ((c1[0] - c0[0]) * 1e6) / got : null,
        bytes_read: bytes.read, bytes_written: bytes.written,
        bytes_per_op: got ? (bytes.read + bytes.written) / got : null,
      };
    };
    await all((i) => ({ type: 'connect', clients: share(N, i), fanout: true }));
    const lines = [await phase('fanout', +env('BROADCASTS', 200), 0)];
    if (+env('PACED_BROADCASTS', 60) > 0) lines.push(await phase('fanout-paced', +env('PACED_BROADCASTS', 60), +env('PACED_RATE', 20)));
    const verify = sumVerify(await all({ type: 'close' }));
    for (const l of lines) emit({ ...l, verify });
  }
  for (const w of workers) w.disconnect();
}

// ---- worker ----

async function work() {
  // Bytes on the wire: every TCP socket this process connects (ws's upgrade
  // requests and fetch's pool both end in net.Socket#connect).
  const socks = new Set();
  let closedRead = 0;
  let closedWritten = 0;
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...a) {
    if (!socks.has(this)) {
      socks.add(this);
      this.once('close', () => {
        closedRead += this.bytesRead;
        closedWritten += this.bytesWritten;
        socks.delete(this);
      });
    }
    return connect.apply(this, a);
  };
  const bytesNow = () => {
    let read = closedRead;
    let written = closedWritten;
    for (const s of socks) {
      read += s.bytesRead;
      written += s.bytesWritten || 0;
    }
    return { read, written };
  };

  const verify = {};
  const count = (k) => (verify[k] = (verify[k] || 0) + 1);
  // Polling answers with and without a Content-Encoding (the Fetch transport
  // calls the global fetch).
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (...a) => {
    const r = await realFetch(...a);
    const ce = r.headers.get('content-encoding');
    count(ce ? `polling_answers_${ce}` : 'polling_answers_plain');
    return r;
  };

  const { io } = mod('socket.io-client');
  const { Fetch } = mod('engine.io-client');
  const PARSER = env('PARSER', 'json');
  const parser = PARSER === 'msgpack' ? mod('socket.io-msgpack-parser') : undefined;
  const URL = env('URL', 'http://127.0.0.1:3033');
  const polling = env('TRANSPORT', 'websocket') === 'polling';
  const payload = payloads(+env('PAYLOAD_BYTES', 2048));

  let clients = [];
  let fan = null; // fanout state while one runs

  // open n sockets, at most 50 handshakes at once.
  async function open(n, fanout) {
    let started = 0;
    const one = () => new Promise((resolve, reject) => {
      const opts = { forceNew: true, reconnection: false, timeout: 20000, transports: polling ? [Fetch] : ['websocket'] };
      if (parser) opts.parser = parser;
      const s = io(URL, opts);
      const c = { s, seq: 0 };
      s.io.on('open', () => {
        s.io.engine.on('packet', (p) => {
          if (p.type === 'message') count(typeof p.data === 'string' ? 'messages_text' : 'messages_binary');
        });
      });
      // A server that closes the connection instead of answering CONNECT (a
      // parser mismatch does) gives a disconnect, not a connect_error.
      const timer = setTimeout(() => reject(new Error('no connect within 20s')), 20000);
      s.once('connect', () => {
        clearTimeout(timer);
        c.connected = true;
        clients.push(c);
        resolve();
      });
      s.once('connect_error', (err) => reject(new Error(`connect_error: ${err.message}`)));
      s.on('disconnect', (reason) => {
        if (!c.connected) reject(new Error(`disconnected before connect: ${reason}`));
        else if (!c.closing) count(`unexpected_disconnect_${reason.replace(/ /g, '_')}`);
      });
      if (fanout) {
        s.on('news', (m) => {
          const now = clock();
          if (!fan || m.seq < fan.from) return count('news_after_its_phase');
          if (m.seq !== c.seq + 1) fan.outOfOrder++;
          c.seq = m.seq;
          fan.got++;
          fan.last = now;
          fan.lat.push(+(now - m.t).toFixed(3));
          if (fan.got === fan.expected && fan.done) fan.done();
        });
      }
    });
    const lane = async () => {
      while (started < n) {
        started++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: Math.min(50, n) }, lane));
  }

  function close() {
    for (const c of clients) {
      const t = c.s.io.engine && c.s.io.engine.transport;
      count(`transport_${t ? t.name : 'none'}`);
      if (t && t.name === 'websocket' && t.ws) count(/permessage-deflate/.test(t.ws.extensions) ? 'websocket_deflate' : 'websocket_plain');
      c.closing = true;
      c.s.disconnect();
    }
    clients = [];
  }

  function echo({ start, from, to }) {
    return new Promise((resolve) => {
      const r = { acks: 0, errors: 0, wrong: 0, lat: [] };
      let b0 = null;
      let b1 = null;
      let inflight = 0;
      let stopped = false;

      const finish = () => resolve({ type: 'echo', ...r, bytes: { read: b1.read - b0.read, written: b1.written - b0.written } });
      const loop = (c) => {
        if (stopped) {
          if (inflight === 0) finish();
          return;
        }
        const p = payload();
        const t0 = clock();
        inflight++;
        c.s.timeout(10000).emit('echo', p, (err, res) => {
          inflight--;
          const t1 = clock();
          if (err) r.errors++;
          else if (!res || !Array.isArray(res.items) || res.items.length !== p.items.length || res.items[0].sku !== p.items[0].sku) r.wrong++;
          else if (t1 >= from && t1 < to) {
            r.acks++;
            r.lat.push(+(t1 - t0).toFixed(3));
          }
          loop(c);
        });
      };
      setTimeout(() => clients.forEach(loop), Math.max(0, start - clock()));
      setTimeout(() => (b0 = bytesNow()), Math.max(0, from - clock()));
      setTimeout(() => {
        b1 = bytesNow();
        stopped = true;
        if (inflight === 0) finish();
      }, Math.max(0, to - clock()));
    });
  }

  process.on('disconnect', () => process.exit(0));
  process.on('message', async (m) => {
    try {
      if (m.type === 'connect') {
        await open(m.clients, m.fanout);
        process.send({ type: 'connected', clients: clients.length });
      } else if (m.type === 'echo') {
        process.send(await echo(m));
      } else if (m.type === 'mark') {
        const broadcasts = m.broadcasts;
        fan = { from: m.from, expected: clients.length * broadcasts, got: 0, outOfOrder: 0, last: 0, lat: [], b0: bytesNow(), done: null };
        process.send({ type: 'marked' });
      } else if (m.type === 'drain') {
        await new Promise((resolve) => {
          fan.done = resolve;
          if (fan.got >= fan.expected) resolve();
          setTimeout(resolve, Math.max(0, m.deadline - clock()));
        });
        const b1 = bytesNow();
        const f = fan;
        fan = null;
        process.send({ type: 'fanout', got: f.got, outOfOrder: f.outOfOrder, last: f.last, lat: f.lat, bytes: { read: b1.read - f.b0.read, written: b1.written - f.b0.written } });
      } else if (m.type === 'close') {
        close();
        process.send({ type: 'closed', verify: { ...verify } });
        for (const k of Object.keys(verify)) delete verify[k];
      }
    } catch (err) {
      process.send({ type: 'error', message: String(err && err.message ? err.message : err) });
    }
  });
}

// ---- report ----

function report(file) {
  // The rows' baselines: each option's "off" setting.
  const BASELINE = { http_compression: 'false', per_message_deflate: 'false', parser: 'json' };
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  // cell (row, scenario, server) -> lines; rows in first-seen order.
  const cells = new Map();
  const order = [];
  for (const l of lines) {
    for (const row of l.rows) {
      const k = `${row}|${l.scenario}|${l.server}`;
      if (!cells.has(k)) {
        cells.set(k, []);
        order.push({ row, scenario: l.scenario, server: l.server });
      }
      cells.get(k).push(l);
    }
  }
  const median = (xs) => {
    const v = xs.filter((x) => x !== null && x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
    if (!v.length) return null;
    const h = v.length >> 1;
    return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
  };
  const m = (k, f) => median(cells.get(k).map((l) => l[f]));
  const key = (o) => `${o.row}|${o.scenario}|${o.server}`;
  const opt = (row) => row.split('=')[0];
  const setting = (row) => row.split('=')[1];
  const servers = [...new Set(order.map((o) => o.server))];
  const options = [...new Set(order.map((o) => opt(o.row)))];
  const n0 = (x) => (x === null ? '–' : Math.round(x).toLocaleString('en-US'));
  const n1 = (x) => (x === null ? '–' : x.toFixed(1));
  const ratio = (a, b) => (a === null || b === null || !b ? '–' : `${(a / b).toFixed(2)}×`);

  const label = (k, scenario) => {
    if (scenario === 'echo') return `echo, ${m(k, 'clients')} clients (acks/s)`;
    if (scenario === 'fanout') return `fanout burst, ${m(k, 'clients')} × ${m(k, 'broadcasts')} (delivered/s)`;
    return `fanout at ${m(k, 'rate_offered')}/s, ${m(k, 'clients')} × ${m(k, 'broadcasts')} (delivered/s)`;
  };
  console.log('| option | scenario | server | setting | rate | p50 / p99 ms | server CPU µs per op | server CPU % | clients\' CPU % | wire bytes per op | failed / undelivered | rate vs off | CPU per op vs off | bytes vs off |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const o of options) {
    for (const scenario of ['echo', 'fanout', 'fanout-paced']) {
      for (const server of servers) {
        const rows = order.filter((x) => opt(x.row) === o && x.scenario === scenario && x.server === server);
        rows.sort((a, b) => (setting(a.row) === BASELINE[o] ? -1 : setting(b.row) === BASELINE[o] ? 1 : 0));
        const off = rows.find((x) => setting(x.row) === BASELINE[o]);
        for (const x of rows) {
          const k = key(x);
          const vs = (f) => (x === off || !off ? '' : ratio(m(k, f), m(key(off), f)));
          const loss = scenario === 'echo' ? m(k, 'errors') + m(k, 'wrong') : m(k, 'lost');
          console.log(`| \`${o}\` | ${label(k, scenario)} | ${server} | ${setting(x.row)} | ${n0(m(k, 'rate'))} | ${n1(m(k, 'p50_ms'))} / ${n1(m(k, 'p99_ms'))} | ${n1(m(k, 'cpu_us_per_op'))} | ${n0(m(k, 'server_cpu_pct'))} | ${n0(m(k, 'client_cpu_pct'))} | ${n0(m(k, 'bytes_per_op'))} | ${n0(loss)} | ${vs('rate')} | ${vs('cpu_us_per_op')} | ${vs('bytes_per_op')} |`);
        }
      }
    }
  }
  const bad = lines.filter((l) => l.problems && l.problems.length);
  for (const l of bad) console.log(`\n**${l.server} ${l.rows.join(', ')} ${l.scenario}: ${l.problems.join('; ')}**`);
  if (!bad.length) {
    console.log('\nVerified in every run: polling answers compressed only with http_compression on, permessage-deflate negotiated only with per_message_deflate on, msgpack frames binary and JSON ones text, every socket on its transport.');
  }
  const reps = Math.max(...[...cells.values()].map((v) => v.length));
  console.log(`\n${reps > 1 ? `Medians of ${reps} runs per cell. ` : ''}Rows sharing a run: ${[...new Set(lines.filter((l) => l.rows.length > 1).map((l) => l.rows.join(' = ')))].join('; ') || 'none'}.`);
  return 0;
}
