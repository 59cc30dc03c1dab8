// gen-notepack-vectors.js writes internal/msgpackjson/testdata/notepack/vectors.json,
// the golden vectors of the msgpack <-> JSON value transcoder
// (internal/msgpackjson).
//
//   cd interop && node gen-notepack-vectors.js
//
// Each case is {name, encoder, hex, json, attachments, [exact], [note]}:
//   hex          the msgpack bytes: a JS value encoded by notepack.io 3.0.1 (what
//                @socket.io/redis-adapter 8 and redis-emitter 5 publish) or by
//                @msgpack/msgpack 2.8.0 (the streams adapter), or, for encoder
//                "raw", hand-made bytes only other producers write;
//   json         what a Node server sends its clients for those bytes: notepack
//                decodes them (as the receiving adapter does), socket.io-parser
//                4.2.7's deconstructPacket swaps binary for placeholders, and
//                JSON.stringify prints the result (Date.toJSON, NaN -> null);
//   attachments  the hex of the binary parts, in placeholder order;
//   exact        when set, the JSON the Go transcoder gives instead: it keeps
//                64-bit integers exact where JS rounds them to a double.
// The Go tests read the committed file; they do not run node.
'use strict';

const fs = require('fs');
const path = require('path');
const notepack = require('notepack.io');
const msgpack = require('@msgpack/msgpack');
const { deconstructPacket } = require(path.join(__dirname, 'node_modules', 'socket.io-parser', 'build', 'cjs', 'binary.js'));

const big = (n) => Buffer.alloc(n, 0).map((_, i) => (i * 7 + 3) & 0xff);
const str = (n) => Array.from({ length: n }, (_, i) => 'abcdefghijklmnopqrstuvwxyz0123456789'[i % 36]).join('');

// [name, value, options]; options.exact overrides the expected JSON for Go.
const cases = [
  ['zero', 0],
  ['fixint_max', 127],
  ['uint8', 128],
  ['uint8_max', 255],
  ['uint16', 256],
  ['uint16_max', 65535],
  ['uint32', 65536],
  ['uint32_max', 4294967295],
  ['uint64_2^32', 4294967296],
  ['uint64_ms_timestamp', 1700000000000],
  ['uint64_max_safe', Number.MAX_SAFE_INTEGER],
  ['uint64_2^60', 2 ** 60, { exact: '1152921504606846976' }],
  ['negfixint', -1],
  ['negfixint_min', -32],
  ['int8', -33],
  ['int8_min', -128],
  ['int16', -129],
  ['int16_min', -32768],
  ['int32', -32769],
  ['int32_min', -2147483648],
  ['int64', -2147483649],
  ['int64_min_safe', Number.MIN_SAFE_INTEGER],
  ['int64_-2^60', -(2 ** 60), { exact: '-1152921504606846976' }],
  ['float_half', 0.5],
  ['float_0.1', 0.1],
  ['float_neg', -1.25],
  ['float_pi', Math.PI],
  ['float_1e300', 1e300], // notepack writes doubles >= 2^64 as a wrapped uint64
  ['float_tiny', 5e-324],
  ['float_1e-7', 1e-7],
  ['float_1e21', 1e21, { exact: '3875820019684212736' }], // notepack writes doubles >= 2^64 as a wrapped uint64
  ['nan', NaN],
  ['infinity', Infinity],
  ['neg_infinity', -Infinity],
  ['neg_zero', -0],
  ['true', true],
  ['false', false],
  ['null', null],
  ['str_empty', ''],
  ['str_ascii', 'hello'],
  ['str_31', str(31)],
  ['str_32', str(32)],
  ['str_300', str(300)],
  ['str_70000', str(70000)],
  ['str_unicode', 'héllo wörld ✓ 日本語 😀'],
  ['str_escapes', 'quote" backslash\\ nl\n cr\r tab\t bs\b ff\f nul\u0000 us\u001f del\u007f'],
  ['str_html', '<script>&amp;</script>'],
  ['str_line_separators', 'a\u2028b\u2029c'],
  ['array_empty', []],
  ['array_15', Array.from({ length: 15 }, (_, i) => i)],
  ['array_16', Array.from({ length: 16 }, (_, i) => i)],
  ['array_70000', Array.from({ length: 70000 }, (_, i) => i % 3)],
  ['array_undefined', [1, undefined, 2]],
  ['object_empty', {}],
  ['object_key_order', { b: 1, a: 2 }],
  ['object_nested', { z: { y: [1, { x: 'w' }], v: null }, a: [[], {}] }],
  ['object_undefined_prop', { a: 1, b: undefined, c: 3 }],
  ['object_function_prop', { a: 1, f() {}, c: 3 }],
  ['object_16_keys', Object.fromEntries(Array.from({ length: 16 }, (_, i) => ['k' + i, i]))],
  ['object_unicode_keys', { 'ключ': 1, '键': 2, 'a"b': 3 }],
  ['buffer_empty', Buffer.alloc(0)],
  ['buffer_small', Buffer.from([1, 2, 3])],
  ['buffer_300', big(300)],
  ['buffer_70000', big(70000)],
  ['uint8array', new Uint8Array([9, 8, 7])],
  ['uint16array', new Uint16Array([1, 256])],
  ['arraybuffer', new Uint8Array([5, 6]).buffer],
  ['buffers_in_order', ['ev', Buffer.from([1]), { x: Buffer.from([2]), y: [Buffer.from([3])] }]],
  ['date_epoch', new Date(0)],
  ['date_no_ms', new Date('2000-06-13T00:00:00.000Z')],
  ['date_ms', new Date('2000-06-13T00:00:00.123Z')],
  ['date_before_1970', new Date('1969-07-20T20:17:40.500Z')],
  ['date_after_2106', new Date('2200-01-01T00:00:00.001Z')],
  ['date_year_1', new Date('0001-01-01T00:00:00.000Z')],
  ['date_year_10000', new Date('+010000-01-01T00:00:00.000Z')],
  ['date_year_minus_1', new Date('-000001-06-01T12:00:00.250Z')],
  ['date_max', new Date(8.64e15)],
  ['date_min', new Date(-8.64e15)],
  ['date_in_object', { at: new Date('2024-02-29T12:34:56.789Z') }],
  ['to_json', { toJSON() { return { via: 'toJSON' }; } }],
  ['event', ['news', { id: 123, text: 'hello world', ts: 1700000000000 }]],
  ['emitter_broadcast', ['emitter', { type: 2, data: ['ev', 1, Buffer.from([0xde, 0xad])], nsp: '/' }, { rooms: ['r'], flags: {}, except: [] }]],
  ['adapter_broadcast', ['uid123', { type: 2, data: ['chat', { from: 'a', body: 'hi' }], nsp: '/chat' }, { rooms: ['room1', 'room2'], except: ['sid1'], flags: { volatile: true } }]],
];

// Values written with @msgpack/msgpack 2.8 (the streams adapter's codec).
const mpCases = [
  ['mp_object_undefined_prop', { a: 1, b: undefined }],
  ['mp_uint8array', new Uint8Array([1, 2, 3])],
  ['mp_date_ms', new Date('2000-06-13T00:00:00.123Z')],
  ['mp_date_before_1970', new Date('1969-07-20T20:17:40.500Z')],
  ['mp_float_0.1', 0.1],
  ['mp_uint64_2^60_as_float', 2 ** 60], // not a safe integer: float64
  ['mp_int64', -2147483649],
  ['mp_nested', { rooms: ['r'], flags: { timeout: 5000 }, data: ['ev', new Uint8Array([7])] }],
];

// Bytes no JS encoder writes, decoded by notepack as the receiving adapter does.
const rawCases = [
  ['raw_float32', 'ca3dcccccd'],
  ['raw_float64_integral', 'cb3ff0000000000000'],
  ['raw_float64_neg_zero', 'cb8000000000000000'],
  ['raw_int64_positive', 'd300000000000000ff'],
  ['raw_uint64_max', 'cfffffffffffffffff', { exact: '18446744073709551615' }],
  ['raw_int64_min', 'd38000000000000000', { exact: '-9223372036854775808' }],
  ['raw_map_int_key', '8101a161'],
  ['raw_map_neg_int_key', '81ffa161'],
  ['raw_map_uint64_key', '81cf0000000100000000a161'],
  ['raw_map_float_key', '81cb3ff8000000000000a161'],
  ['raw_map_nan_key', '81cb7ff8000000000000a161'],
  ['raw_map_bool_keys', '82c3a161c2a162'],
  ['raw_map_nil_key', '81c0a161'],
  ['raw_map_bin_key', '81c4026869a161'],
  ['raw_str8_short', 'd903616263'],
  ['raw_invalid_utf8', 'a7e282416263ff80'],
  ['raw_surrogate_utf8', 'a3eda080'],
  ['raw_overlong_utf8', 'a2c0af'],
  ['raw_truncated_4byte', 'a4f09f9841'],
  ['raw_invalid_utf8_more', 'a9f4908080e080f8e180'],
  ['raw_literal_fffd', 'a3efbfbd'],
  ['raw_map_invalid_utf8_bin_key', '81c402e28201'],
  ['raw_ts32', 'd6ff39457980'],
  ['raw_ts64_ns', 'd7ff75bcd15439457980'],
  ['raw_ts96_negative_ns', 'c70cff075bcd15fffffffffffffffe'],
  ['raw_ts64_max_ns', 'd7fffffffffcffffffff'],
  ['raw_ts96_out_of_range', 'c70cff000000000001000000000000'],
  ['raw_ts64_bad_len_fixext1', 'd4ff01'],
  ['raw_ext_unknown_fixext4', 'd60501020304'],
  ['raw_ext_unknown_ext8', 'c703070a0b0c'],
  ['raw_ext_negative_type', 'd5fe0102'],
  ['raw_legacy_undefined_in_array', '93d40000d4000001'],
  ['raw_legacy_undefined_prop', '82a161d40000a16201'],
  ['raw_legacy_date', 'd700000000e8d4a51000'],
  ['raw_legacy_arraybuffer', 'c70200aabb'],
  ['raw_legacy_fixext2_type0', 'd5000102'],
  ['raw_array16_small', 'dc0002c3c2'],
  ['raw_map16_small', 'de0001a178c0'],
  ['raw_str_control', 'a3007f1b'],
];

const vectors = [];

function add(name, encoder, buf, opts = {}) {
  buf = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const decoded = notepack.decode(buf);
  const { packet, buffers } = deconstructPacket({ type: 2, nsp: '/', data: decoded });
  const json = JSON.stringify(packet.data);
  if (json === undefined) throw new Error(name + ': not representable as JSON');
  const v = {
    name,
    encoder,
    hex: Buffer.from(buf).toString('hex'),
    json,
    attachments: buffers.map((b) => Buffer.from(b).toString('hex')),
  };
  if (opts.exact !== undefined) v.exact = opts.exact;
  vectors.push(v);
}

for (const [name, value, opts] of cases) add(name, 'notepack.io@3.0.1', notepack.encode(value), opts);
for (const [name, value, opts] of mpCases) add(name, '@msgpack/msgpack@2.8.0', msgpack.encode(value), opts);
for (const [name, hex, opts] of rawCases) add(name, 'raw', Buffer.from(hex, 'hex'), opts);

const out = path.join(__dirname, '..', 'internal', 'msgpackjson', 'testdata', 'notepack', 'vectors.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(vectors, null, 1) + '\n');
console.log('wrote', vectors.length, 'vectors to', out);
