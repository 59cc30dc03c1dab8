#!/usr/bin/env node
// Soak load client for bench/soak.sh (not run in CI): holds SOCKETS
// socket.io-client connections to iobridge for DURATION_S seconds with churn,
// broadcasts and echo acks, and counts what is lost.
//
//   node bench/soak/soak.js run      the coordinator (env below): forks WORKERS
//                                    (4) worker processes, each holding its
//                                    share of SOCKETS and of ACK_RATE and doing
//                                    its own churn; sends the broadcasts itself
//                                    and tells the workers (IPC) when each seq
//                                    was posted and answered; writes SUMMARY
//                                    (JSON, the workers' counters summed)
//   node bench/soak/soak.js report SAMPLES SUMMARY
//                                    the Markdown report; exit 1 on a loss or
//                                    an upward trend
//
// Load:
//   - SOCKETS connections opened at CONNECT_RATE/s with at most
//     MAX_CONNECTING handshakes under way at once, even-numbered ones with
//     transports ["polling","websocket"] (polling, then the upgrade), the
//     others WebSocket only; reconnection off, so a dropped connection shows
//     as an unexpected disconnect;
//   - every CHURN_EVERY_S seconds (the first after half of it) CHURN (a fraction) of the connected sockets
//     leave (disconnect) and as many new connections are opened, half of them
//     polling-then-upgrade;
//   - every second one broadcast, POST /v1/emit {"namespace":"/","event":
//     "tick","args":[{"seq":n}]}, posted one after another;
//   - ACK_RATE echo acks a second, each from a random connected socket:
//     socket.timeout(ACK_TIMEOUT_MS).emit("echo", payload, cb); the backend
//     answers with the args, so a lost ack is a timeout, an error or another
//     value.
//
// One Node process cannot hold 10,000 sockets on a busy machine: its event
// loop stalls for seconds, broadcasts go out late and acks pile up, and the
// losses are the client's. Hence the workers; the coordinator holds no socket.
//
// A broadcast is expected on a socket when its POST started after the
// socket's connect event and its 202 came before the socket began to leave
// (a leaving socket stays connected LEAVE_GRACE_MS and until its acks are
// answered before it disconnects). Each socket keeps a bitmap of the seqs it
// got; a missing expected seq is a lost delivery.
'use strict';
const path = require('path');
const fs = require('fs');

const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);

if (process.argv[2] === 'report') {
  process.exit(report(process.argv[3], process.argv[4]));
} else if (process.argv[2] === 'run') {
  coordinate().catch((err) => {
    console.error('soak: ' + (err && err.stack ? err.stack : err));
    process.exit(2);
  });
} else if (process.argv[2] === 'worker') {
  run().catch((err) => {
    console.error('soak: ' + (err && err.stack ? err.stack : err));
    process.exit(2);
  });
} else {
  console.error('usage: soak.js run | soak.js report SAMPLES SUMMARY');
  process.exit(2);
}

// clock is wall time in ms (sub-ms), comparable across the processes.
function clock() { return performance.timeOrigin + performance.now(); }

// ipc routes the coordinator's messages: seq/done by callback, the others
// (start, end) to whoever waits for them.
function ipc(onMsg) {
  const waiting = {};
  const got = {};
  process.on('message', (m) => {
    if (onMsg(m)) return;
    got[m.type] = m;
    if (waiting[m.type]) waiting[m.type](m);
  });
  process.on('disconnect', () => process.exit(3)); // the coordinator is gone
  return (type) => new Promise((r) => (got[type] ? r(got[type]) : (waiting[type] = r)));
}

// run is one worker: SOCKETS (its share) connections, ACK_RATE (its share)
// acks a second, its own churn; broadcasts come from the coordinator.
async function run() {
  const { io } = require(path.join(__dirname, '../../interop/node_modules/socket.io-client'));
  const URL = env('URL', 'http://127.0.0.1:3023');
  const API = env('API', 'http://127.0.0.1:3024');
  const TOKEN = env('TOKEN', 'soak-token');
  const SOCKETS = +env('SOCKETS', 10000);
  const DURATION_S = +env('DURATION_S', 3600);
  const CONNECT_RATE = +env('CONNECT_RATE', 1000);
  const MAX_CONNECTING = +env('MAX_CONNECTING', 100); // handshakes under way at once
  const CHURN = +env('CHURN', 0.05);
  const CHURN_EVERY_S = +env('CHURN_EVERY_S', 60);
  const ACK_RATE = +env('ACK_RATE', 100);
  const ACK_TIMEOUT_MS = +env('ACK_TIMEOUT_MS', 10000);
  const LEAVE_GRACE_MS = +env('LEAVE_GRACE_MS', 3000);
  const SAMPLE_S = +env('SAMPLE_S', 60);
  const WORKER = +env('WORKER', 0);
  const SEQ_CAP = DURATION_S + 600; // bitmap size, in broadcasts

  const t = {
    opened: 0, connected: 0, connectErrors: 0, reconnectsStarted: 0, reconnectsDone: 0,
    left: 0, unexpectedDisconnects: 0, unexpectedReasons: {},
    acksSent: 0, acksSkipped: 0, acksReceived: 0, acksLost: 0, acksTimedOut: 0, acksWrong: 0,
    broadcastsSent: 0, broadcastsFailed: 0, broadcastRecipients: 0,
    deliveriesExpected: 0, deliveriesReceived: 0, deliveriesLost: 0,
    deliveriesDuplicate: 0, deliveriesOutOfOrder: 0,
    wrongAcks: [], lostOnUnexpectedDisconnect: 0, upgraded: 0, pollingFirst: 0, pollingFirstChecked: 0,
  };
  // seqStart[n], seqDone[n]: when (clock()) broadcast n's POST started and
  // got its 202, as the coordinator tells; a seq not yet told is expected on
  // no socket.
  const seqStart = new Float64Array(SEQ_CAP + 1);
  const seqDone = new Float64Array(SEQ_CAP + 1).fill(Infinity);
  let lastDone = 0; // highest seq with its 202
  const waitFor = ipc((m) => {
    if (m.type === 'seq') { seqStart[m.n] = m.start; return true; }
    if (m.type === 'done') { seqDone[m.n] = m.done; lastDone = Math.max(lastDone, m.n); return true; }
    return false;
  });

  const live = new Set(); // connected, not leaving
  const liveArr = []; // same members, for random picks (swap-remove)
  const addLive = (c) => { c.idx = liveArr.length; liveArr.push(c); live.add(c); };
  const delLive = (c) => {
    if (!live.has(c)) return;
    live.delete(c);
    const last = liveArr.pop();
    if (last !== c) { liveArr[c.idx] = last; last.idx = c.idx; }
  };
  const all = new Set(); // every client not yet finalized

  let nextId = 0;
  let connecting = 0;
  function open(pollingFirst, isReconnect) {
    const c = {
      id: nextId++, pollingFirst, isReconnect, from: Infinity, to: Infinity, bits: null,
      lastSeq: 0, pending: 0, leaving: false, finalized: false, connected: false,
    };
    t.opened++;
    if (isReconnect) t.reconnectsStarted++;
    if (pollingFirst) t.pollingFirst++;
    const s = io(URL, {
      forceNew: true, reconnection: false, timeout: 45000,
      transports: pollingFirst ? ['polling', 'websocket'] : ['websocket'],
    });
    c.s = s;
    all.add(c);
    connecting++;
    s.on('connect', () => {
      connecting--;
      c.connected = true;
      c.from = clock(); // POSTs started from now on are expected
      c.bits = new Uint8Array((SEQ_CAP >> 3) + 1);
      t.connected++;
      if (isReconnect) t.reconnectsDone++;
      addLive(c);
    });
    s.on('connect_error', (err) => {
      connecting--;
      t.connectErrors++;
      t.unexpectedReasons['connect_error: ' + err.message] = (t.unexpectedReasons['connect_error: ' + err.message] || 0) + 1;
      all.delete(c);
      s.close();
    });
    s.on('tick', (a) => {
      const n = a && a.seq;
      if (!c.bits || !(n > 0 && n <= SEQ_CAP)) return;
      const b = c.bits[n >> 3], m = 1 << (n & 7);
      if (b & m) t.deliveriesDuplicate++;
      c.bits[n >> 3] = b | m;
      if (n < c.lastSeq) t.deliveriesOutOfOrder++;
      c.lastSeq = n;
    });
    s.on('disconnect', (reason) => {
      if (c.leaving && reason === 'io client disconnect') return;
      // Unexpected: the broadcasts up to 2 s before count, later ones may
      // have been cut with the connection.
      t.unexpectedDisconnects++;
      t.unexpectedReasons[reason] = (t.unexpectedReasons[reason] || 0) + 1;
      delLive(c);
      if (!c.leaving) c.to = clock() - 2000;
      finalize(c, true);
    });
    return c;
  }

  function finalize(c, unexpected) {
    if (c.finalized) return;
    c.finalized = true;
    all.delete(c);
    if (!c.bits) return;
    if (c.pollingFirst && !unexpected) {
      t.pollingFirstChecked++;
      const e = c.s.io.engine;
      if (e && e.transport && e.transport.name === 'websocket') t.upgraded++;
    }
    for (let n = 1; n <= lastDone; n++) {
      if (!(seqStart[n] > c.from && seqDone[n] < c.to)) continue;
      t.deliveriesExpected++;
      if (c.bits[n >> 3] & (1 << (n & 7))) t.deliveriesReceived++;
      else if (unexpected) t.lostOnUnexpectedDisconnect++;
      else t.deliveriesLost++;
    }
    c.bits = null;
  }

  // leave: stop expecting broadcasts whose 202 comes from now on, wait for
  // those in flight and for the socket's acks, then disconnect.
  function leave(c) {
    delLive(c);
    c.leaving = true;
    c.to = clock();
    const since = performance.now();
    const tryClose = () => {
      if (c.finalized) return;
      if (c.pending > 0 && performance.now() - since < ACK_TIMEOUT_MS + 2000) return setTimeout(tryClose, 200);
      finalize(c, false);
      t.left++;
      c.s.disconnect();
    };
    setTimeout(tryClose, LEAVE_GRACE_MS);
  }

  // paced opening
  const openQueue = [];
  let pacer = null;
  function enqueue(n, isReconnect, startIndex) {
    for (let i = 0; i < n; i++) openQueue.push([(startIndex + i) % 2 === 0, isReconnect]);
    if (!pacer) {
      let last = performance.now();
      let credit = 0;
      pacer = setInterval(() => {
        const now = performance.now();
        credit = Math.min(credit + ((now - last) / 1000) * CONNECT_RATE, CONNECT_RATE);
        last = now;
        while (credit >= 1 && openQueue.length && connecting < MAX_CONNECTING) {
          credit--;
          const [pf, re] = openQueue.shift();
          open(pf, re);
        }
        if (!openQueue.length) { clearInterval(pacer); pacer = null; }
      }, 10);
    }
  }

  // the client's own event-loop delay: a starved client misses pings and
  // reads broadcasts late, which shows as losses that are not the sidecar's
  const { monitorEventLoopDelay } = require('perf_hooks');
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  const log = (msg) => console.error(`soak ${new Date().toISOString().slice(11, 19)} w${WORKER} ${msg}`);

  // initial connections
  log(`opening ${SOCKETS} sockets to ${URL} at ${CONNECT_RATE}/s (half polling then upgrade)`);
  enqueue(SOCKETS, false, 0);
  const t0 = performance.now();
  while (t.connected + t.connectErrors < SOCKETS) {
    await sleep(250);
    if (performance.now() - t0 > 30000 + (SOCKETS / CONNECT_RATE) * 10000) {
      log(`only ${t.connected} of ${SOCKETS} connected (connect errors ${t.connectErrors}); going on`);
      break;
    }
  }
  log(`connected ${t.connected} in ${((performance.now() - t0) / 1000).toFixed(1)}s, connect errors ${t.connectErrors}`);
  process.send({ type: 'ready', connected: t.connected });
  const { at } = await waitFor('start');
  const start = performance.now() + (at - clock());
  const end = start + DURATION_S * 1000;
  const stats = setInterval(() => {
    t.loopDelayMaxMs = Math.round(lag.max / 1e6);
    t.liveNow = live.size;
    process.send({ type: 'stats', t });
  }, SAMPLE_S * 1000);

  // acks: ACK_RATE a second from random live sockets
  let ackSeq = 0;
  const pad = 'x'.repeat(32);
  const acker = setInterval(() => {
    const due = Math.floor(((performance.now() - start) / 1000) * ACK_RATE);
    // after a stall of the client, at most a second's worth at once (a
    // burst would meet the sidecar's bound on deliveries in flight)
    if (due - ackSeq > ACK_RATE) { t.acksSkipped += due - ackSeq - ACK_RATE; ackSeq = due - ACK_RATE; }
    while (ackSeq < due && liveArr.length) {
      const c = liveArr[(Math.random() * liveArr.length) | 0];
      const v = ++ackSeq;
      c.pending++;
      t.acksSent++;
      c.s.timeout(ACK_TIMEOUT_MS).emit('echo', { v, pad }, (err, res) => {
        c.pending--;
        if (err) { t.acksLost++; t.acksTimedOut++; }
        else if (!res || res.v !== v || res.pad !== pad) {
          t.acksLost++;
          t.acksWrong++;
          if (t.wrongAcks.length < 3) t.wrongAcks.push(JSON.stringify(res === undefined ? null : res).slice(0, 200));
        }
        else t.acksReceived++;
      });
    }
  }, 20);

  // churn
  // churn, half a period off the minute so that the samples fall between
  // two churns
  let churnStart = SOCKETS;
  let churner = null;
  const churn = () => {
    const k = Math.round(live.size * CHURN);
    for (let i = 0; i < k && liveArr.length; i++) leave(liveArr[(Math.random() * liveArr.length) | 0]);
    enqueue(k, true, churnStart);
    churnStart += k;
    log(`churn: ${k} leaving, ${k} new; live ${live.size}, reconnects done ${t.reconnectsDone}, ` +
      `acks ${t.acksReceived}/${t.acksSent}, unexpected disconnects ${t.unexpectedDisconnects}, ` +
      `client loop delay max ${Math.round(lag.max / 1e6)} ms`);
  };
  const churnFirst = setTimeout(() => { churn(); churner = setInterval(churn, CHURN_EVERY_S * 1000); }, CHURN_EVERY_S * 500);

  await sleep(end - performance.now());
  clearTimeout(churnFirst);
  clearInterval(churner);
  clearInterval(acker);
  clearInterval(stats);
  await waitFor('end'); // the last broadcast is answered and told
  log('load stopped; waiting for acks and broadcasts in flight');
  const drainUntil = performance.now() + ACK_TIMEOUT_MS + 2000;
  // the last broadcasts and acks, and leaving sockets and new connections
  while (performance.now() < drainUntil) {
    let pending = 0;
    for (const c of all) pending += c.pending;
    const leaving = [...all].some((c) => c.leaving && !c.finalized);
    if (pending === 0 && !leaving && !pacer && performance.now() - end > 5000 && clock() - seqDone[lastDone] > LEAVE_GRACE_MS) break;
    await sleep(200);
  }
  for (const c of [...all]) {
    if (c.connected && !c.finalized) {
      c.leaving = true;
      c.to = Infinity;
      finalize(c, false);
    }
  }
  t.liveAtEnd = live.size;
  t.loopDelayP99Ms = Math.round(lag.percentile(99) / 1e6);
  t.loopDelayMaxMs = Math.round(lag.max / 1e6);
  t.liveNow = live.size;
  for (const c of [...live]) c.s.disconnect();
  log('done');
  process.send({ type: 'summary', t }, () => process.exit(0));
}

// coordinate forks the workers, sends the broadcasts (one a second, each
// POST after the previous one's 202) and tells the workers each seq's start
// and 202, then sums the workers' counters into SUMMARY.
async function coordinate() {
  const { fork } = require('child_process');
  const API = env('API', 'http://127.0.0.1:3024');
  const TOKEN = env('TOKEN', 'soak-token');
  const SOCKETS = +env('SOCKETS', 10000);
  const ACK_RATE = +env('ACK_RATE', 100);
  const CONNECT_RATE = +env('CONNECT_RATE', 1000);
  const MAX_CONNECTING = +env('MAX_CONNECTING', 100);
  const DURATION_S = +env('DURATION_S', 3600);
  const SAMPLE_S = +env('SAMPLE_S', 60);
  const READY = env('READY', '');
  const SUMMARY = env('SUMMARY', 'soak-summary.json');
  const K = Math.max(1, Math.min(+env('WORKERS', 4), SOCKETS || 1));
  const SEQ_CAP = DURATION_S + 600;
  const share = (total, i) => Math.floor(total / K) + (i < total % K ? 1 : 0);
  if (share(SOCKETS, 0) > 19000) throw new Error(`${share(SOCKETS, 0)} sockets a worker: raise WORKERS (at most 20,000 fds a process)`);
  const log = (msg) => console.error(`soak ${new Date().toISOString().slice(11, 19)} ${msg}`);
  const { monitorEventLoopDelay } = require('perf_hooks');
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();

  log(`${K} workers, ${SOCKETS} sockets, ${ACK_RATE} acks/s in all`);
  const workers = [];
  let done = false;
  for (let i = 0; i < K; i++) {
    const w = {
      i, sockets: share(SOCKETS, i), stats: null, summary: null,
      p: fork(__filename, ['worker'], {
        // the rates and the bound on handshakes under way are shared too, so
        // the sidecar sees the load of one client
        env: {
          ...process.env, WORKER: String(i), SOCKETS: String(share(SOCKETS, i)), ACK_RATE: String(share(ACK_RATE, i)),
          CONNECT_RATE: String(CONNECT_RATE / K), MAX_CONNECTING: String(Math.max(1, share(MAX_CONNECTING, i))),
        },
      }),
    };
    w.got = new Promise((resolve) => {
      w.p.on('message', (m) => {
        if (m.type === 'ready') { w.connected = m.connected; w.onReady(); }
        else if (m.type === 'stats') w.stats = m.t;
        else if (m.type === 'summary') { w.summary = m.t; resolve(); }
      });
    });
    w.ready = new Promise((r) => { w.onReady = r; });
    w.p.on('exit', (code, sig) => {
      if (w.summary || done) return;
      log(`worker ${i} exited (${code === null ? sig : code}) before its summary`);
      for (const o of workers) if (o !== w) o.p.kill();
      process.exit(2);
    });
    workers.push(w);
  }
  const tell = (m) => { for (const w of workers) if (w.p.connected) w.p.send(m); };
  await Promise.all(workers.map((w) => w.ready));
  log(`all workers connected: ${workers.map((w) => w.connected).join(' + ')}`);
  if (READY) fs.writeFileSync(READY, String(Date.now()));
  const at = clock() + 100;
  tell({ type: 'start', at });
  const start = performance.now() + 100;
  const end = start + DURATION_S * 1000;
  let stopping = false;
  const b = { broadcastsSent: 0, broadcastsFailed: 0, broadcastRecipients: 0 };

  const broadcaster = (async () => {
    let n = 0;
    while (!stopping && n < SEQ_CAP) {
      const due = start + n * 1000;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (stopping) break;
      n++;
      tell({ type: 'seq', n, start: clock() });
      try {
        const r = await fetch(API + '/v1/emit', {
          method: 'POST',
          headers: { authorization: 'Bearer ' + TOKEN, 'content-type': 'application/json' },
          body: JSON.stringify({ namespace: '/', event: 'tick', args: [{ seq: n }] }),
        });
        const body = await r.text();
        if (r.status !== 202) throw new Error(`status ${r.status}: ${body}`);
        b.broadcastRecipients += JSON.parse(body).recipients || 0;
        b.broadcastsSent++;
      } catch (err) {
        b.broadcastsFailed++;
        log(`broadcast ${n} failed: ${err.message}`);
      }
      tell({ type: 'done', n, done: clock() });
    }
  })();

  // the workers' counters, summed, a few seconds after each of their reports
  const progress = setInterval(() => {
    const s = workers.map((w) => w.stats).filter(Boolean);
    if (!s.length) return;
    const sum = (k) => s.reduce((a, x) => a + (x[k] || 0), 0);
    log(`live ${sum('liveNow')}, reconnects done ${sum('reconnectsDone')}, acks ${sum('acksReceived')}/${sum('acksSent')} ` +
      `(lost ${sum('acksLost')}), broadcasts ${b.broadcastsSent} (failed ${b.broadcastsFailed}), ` +
      `unexpected disconnects ${sum('unexpectedDisconnects')}, worker loop delay max ${s.map((x) => x.loopDelayMaxMs).join('/')} ms, ` +
      `coordinator ${Math.round(lag.max / 1e6)} ms`);
  }, SAMPLE_S * 1000);
  setTimeout(() => progress.refresh(), 3000);

  await sleep(end - performance.now());
  stopping = true;
  await broadcaster;
  clearInterval(progress);
  tell({ type: 'end' });
  log('broadcasts stopped; waiting for the workers');
  await Promise.all(workers.map((w) => w.got));
  done = true;

  const t = {};
  for (const w of workers) {
    for (const [k, v] of Object.entries(w.summary)) {
      if (typeof v === 'number') t[k] = (t[k] || 0) + v;
      else if (Array.isArray(v)) t[k] = (t[k] || []).concat(v).slice(0, 3);
      else if (v && typeof v === 'object') { t[k] = t[k] || {}; for (const [r, x] of Object.entries(v)) t[k][r] = (t[k][r] || 0) + x; }
    }
  }
  Object.assign(t, b);
  t.loopDelayP99Ms = Math.max(...workers.map((w) => w.summary.loopDelayP99Ms));
  t.loopDelayMaxMs = Math.max(...workers.map((w) => w.summary.loopDelayMaxMs));
  t.workers = workers.map((w) => ({ sockets: w.sockets, loopDelayP99Ms: w.summary.loopDelayP99Ms, loopDelayMaxMs: w.summary.loopDelayMaxMs }));
  t.coordinatorLoopDelayMaxMs = Math.round(lag.max / 1e6);
  fs.writeFileSync(SUMMARY, JSON.stringify(t, null, 1));
  log('done');
  process.exit(0);
}

function sleep(ms) { return new Promise((r) => setTimeout(r, Math.max(0, ms))); }

// report prints the samples as a Markdown table, the totals and the trend
// check; it returns the exit code.
function report(samplesFile, summaryFile) {
  const t = JSON.parse(fs.readFileSync(summaryFile, 'utf8'));
  const rows = fs.readFileSync(samplesFile, 'utf8').trim().split('\n').filter((l) => l && !l.startsWith('#'))
    .map((l) => { const [min, sockets, gor, fds, rssKB] = l.split('\t').map(Number); return { min, sockets, gor, fds, rss: rssKB / 1024 }; });
  const WARMUP = +env('WARMUP_MIN', 5);
  const TOL = +env('TREND_TOLERANCE', 0.2);
  const out = [];
  out.push('| minute | sockets | goroutines | fds | RSS MB |', '|---:|---:|---:|---:|---:|');
  for (const r of rows) out.push(`| ${r.min} | ${r.sockets} | ${r.gor} | ${r.fds} | ${r.rss.toFixed(1)} |`);
  out.push('');
  const lost = t.acksLost + t.deliveriesLost + t.lostOnUnexpectedDisconnect + t.broadcastsFailed + t.connectErrors + t.unexpectedDisconnects;
  out.push('| total | value |', '|---|---:|');
  const line = (k, v) => out.push(`| ${k} | ${v} |`);
  line('acks sent / received / lost', `${t.acksSent} / ${t.acksReceived} / ${t.acksLost}` +
    (t.acksLost ? ` (timed out ${t.acksTimedOut}, wrong ${t.acksWrong}${t.acksWrong ? ', as ' + t.wrongAcks.join(' ') : ''})` : ''));
  line('acks not sent (the client stalled)', t.acksSkipped);
  line('broadcasts sent (failed)', `${t.broadcastsSent} (${t.broadcastsFailed})`);
  line('deliveries expected / received / lost', `${t.deliveriesExpected} / ${t.deliveriesReceived} / ${t.deliveriesLost}`);
  line('deliveries duplicated / out of order', `${t.deliveriesDuplicate} / ${t.deliveriesOutOfOrder}`);
  line('reconnects started / done', `${t.reconnectsStarted} / ${t.reconnectsDone}`);
  line('sockets opened / connected / connect errors', `${t.opened} / ${t.connected} / ${t.connectErrors}`);
  line('polling-first sockets on WebSocket when they left or at the end', `${t.upgraded} of ${t.pollingFirstChecked}`);
  line('unexpected disconnects (deliveries missed with them)', `${t.unexpectedDisconnects} (${t.lostOnUnexpectedDisconnect})` +
    (Object.keys(t.unexpectedReasons).length ? ' ' + JSON.stringify(t.unexpectedReasons) : ''));
  line('load client event-loop delay p99 / max (ms), worst worker', `${t.loopDelayP99Ms} / ${t.loopDelayMaxMs}`);
  if (t.workers) {
    line('event-loop delay max per worker (ms)', t.workers.map((w) => w.loopDelayMaxMs).join(' / ') +
      ` (${t.workers.length} workers of ${t.workers.map((w) => w.sockets).join(' / ')} sockets; coordinator ${t.coordinatorLoopDelayMaxMs})`);
  }
  out.push('');
  if (lost && t.loopDelayMaxMs > 5000) {
    out.push(`Note: the load client's event loop stalled for up to ${t.loopDelayMaxMs} ms (CPU starved?); ` +
      'ping timeouts and late reads on its side count as losses here. Rerun on a quieter machine before blaming the sidecar.', '');
  }

  // trend: baseline = the sample at WARMUP minutes (or the first after
  // minute 0 on a short run); judged once 5 samples follow it.
  let rising = false;
  const b = rows.findIndex((r) => r.min >= WARMUP);
  const base = b >= 0 && rows.length - b > 1 ? b : Math.min(1, rows.length - 1);
  const judged = rows.length - base - 1 >= 5;
  out.push(`Trend from minute ${rows[base] ? rows[base].min : '-'} (tolerance ${TOL * 100}% or the absolute slack):`, '',
    '| metric | baseline | max after | slope per hour | verdict |', '|---|---:|---:|---:|---|');
  for (const [k, name, slack] of [['gor', 'goroutines', 50], ['fds', 'fds', 50], ['rss', 'RSS MB', 16]]) {
    const xs = rows.slice(base);
    if (!xs.length) break;
    const b0 = xs[0][k];
    const mx = Math.max(...xs.slice(1).map((r) => r[k]), b0);
    const slope = lsSlope(xs.map((r) => r.min / 60), xs.map((r) => r[k]));
    const allowed = Math.max(b0 * TOL, slack);
    const up = mx - b0 > allowed || slope > allowed;
    let verdict = up ? 'RISING' : 'flat';
    if (!judged) verdict += ' (too short to judge)';
    else if (up) rising = true;
    const f = (v) => (k === 'rss' ? v.toFixed(1) : Math.round(v));
    out.push(`| ${name} | ${f(b0)} | ${f(mx)} | ${slope.toFixed(1)} | ${verdict} |`);
  }
  out.push('');
  const ok = lost === 0 && !rising;
  out.push(ok ? 'PASS: nothing lost' + (judged ? ', no upward trend' : '') :
    `FAIL: ${lost ? lost + ' lost (acks, deliveries, broadcasts, connects or unexpected disconnects)' : ''}${lost && rising ? '; ' : ''}${rising ? 'upward trend' : ''}`);
  console.log(out.join('\n'));
  return ok ? 0 : 1;
}

function lsSlope(x, y) {
  const n = x.length;
  if (n < 2) return 0;
  const mx = x.reduce((a, b) => a + b, 0) / n, my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < n; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) ** 2; }
  return sxx ? sxy / sxx : 0;
}
