#!/usr/bin/env node
// The reference side of bench/options.sh: a socket.io 4.8.4 server (from
// interop/node_modules) with the option under test set as iobridge's config
// sets it, doing the least work the scenarios allow.
//
//   PORT=3035 EMIT_PORT=3036 TRANSPORTS=polling HTTP_COMPRESSION=1 \
//     PER_MESSAGE_DEFLATE=0 PARSER=json node bench/options/server.js
//
// - event "echo" with an ack: acked with its args (no backend);
// - POST /v1/emit on EMIT_PORT, the body an instruction as iobridge's control
//   API takes it ({"event","args"}, namespace "/", no rooms): io.emit(event,
//   ...args), then 202 {"recipients":N}, as iobridge answers.
//
// Options, each as the socket.io Server option of the same meaning:
//   TRANSPORTS           comma list (transports), default "polling,websocket"
//   HTTP_COMPRESSION     1/0 (httpCompression; socket.io's default is on,
//                        threshold 1 KiB)
//   PER_MESSAGE_DEFLATE  1/0 (perMessageDeflate; on is {threshold: 1024},
//                        socket.io's value for true)
//   PARSER               json | msgpack (parser: socket.io-msgpack-parser)
'use strict';
const http = require('node:http');
const path = require('node:path');

const mod = (name) => require(path.join(__dirname, '../../interop/node_modules', name));
const { Server } = mod('socket.io');

const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const on = (k, d) => env(k, d) === '1' || env(k, d) === 'true';

const opts = {
  transports: env('TRANSPORTS', 'polling,websocket').split(','),
  httpCompression: on('HTTP_COMPRESSION', '1'),
  perMessageDeflate: on('PER_MESSAGE_DEFLATE', '0'),
};
if (env('PARSER', 'json') === 'msgpack') opts.parser = mod('socket.io-msgpack-parser');

const httpServer = http.createServer();
const io = new Server(httpServer, opts);
io.on('connection', (socket) => {
  socket.on('echo', (...args) => {
    const ack = args.pop();
    if (typeof ack === 'function') ack(...args);
  });
});

const control = http.createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/emit') {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let ins;
    try {
      ins = JSON.parse(Buffer.concat(chunks).toString());
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"code":"bad_request","message":"invalid JSON"}}');
      return;
    }
    const n = io.of('/').sockets.size;
    io.emit(ins.event, ...(ins.args || []));
    res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ recipients: n }));
  });
});

const host = env('HOST', '127.0.0.1');
httpServer.listen(+env('PORT', 3035), host, () => {
  control.listen(+env('EMIT_PORT', 3036), host, () => {
    console.error(`options reference: socket.io ${mod('socket.io/package.json').version} ${JSON.stringify({
      transports: opts.transports, httpCompression: opts.httpCompression,
      perMessageDeflate: opts.perMessageDeflate, parser: opts.parser ? 'msgpack' : 'json',
    })} pid ${process.pid}`);
  });
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    io.close();
    control.close();
    process.exit(0);
  });
}
