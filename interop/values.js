// Shared by the node scripts (client.js, reference.js, cluster.js, streams.js, emitter.js):
// one JSON line per observation on stdout, and the test's JSON values to and
// from JavaScript ones: {"_binary":"<base64>"} is a Buffer, {"_date":"…"} a
// Date and {"_nan":true} NaN.
"use strict";

function out(ev) {
  process.stdout.write(JSON.stringify(ev) + "\n");
}

function encode(v) {
  if (v === undefined) return null;
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const buf = Buffer.isBuffer(v)
      ? v
      : v instanceof ArrayBuffer
        ? Buffer.from(v)
        : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return { _binary: buf.toString("base64") };
  }
  if (v instanceof Date) return v.toJSON();
  if (v instanceof Set) return [...v].map(encode);
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = encode(v[k]);
    return o;
  }
  return v;
}

function decode(v) {
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "_binary") return Buffer.from(v._binary, "base64");
    if (keys.length === 1 && keys[0] === "_date") return new Date(v._date);
    if (keys.length === 1 && keys[0] === "_nan") return NaN;
    const o = {};
    for (const k of keys) o[k] = decode(v[k]);
    return o;
  }
  return v;
}

module.exports = { out, encode, decode };
