package redis

// The value transcoder: Socket.IO event arguments travel through this
// codebase as JSON with binary placeholders (socketio.Packet.Data plus
// Attachments), and through Node's Redis adapters as msgpack with binary
// inline (notepack.io 3 for the classic and sharded adapters and the emitter,
// @msgpack/msgpack 2.8 for the streams adapter). encodeJSON and decodeJSON
// convert one value each way without building Go values: they stream tokens
// from one side to the other, so object key order survives (a Go map would
// lose it) and a typical event costs no allocation beyond the output.
//
// decodeJSON prints what a Node server would send its clients after
// receiving the same bytes: notepack's decoding, socket.io-parser's
// placeholders for binary, JSON.stringify's text. The golden vectors in
// testdata/notepack/vectors.json come from those packages
// (interop/gen-notepack-vectors.js). Deliberate differences from Node:
//   - 64-bit integers stay exact (JS rounds beyond 2^53: 2^64-1 prints as
//     18446744073709552000 there);
//   - map entries keep wire order, duplicates included (a JS object hoists
//     integer-like keys and keeps one entry per key). Node encoders write keys
//     in JS order and never twice, so their messages print the same;
//   - array, map and ext map keys are an error (JS would print
//     String(key), which for a Date depends on the time zone); no JS encoder
//     writes them.
//
// The transcoder is split by direction: value_decode.go reads msgpack and
// prints JSON (decodeJSON), value_encode.go reads JSON and writes msgpack
// (encodeJSON), value_json.go holds the JSON text rules both follow (how
// JSON.stringify escapes and prints numbers and dates, how JSON.parse
// unescapes, how invalid UTF-8 is repaired). This file holds what they share
// (the depth bound, the errors) and the whole-message helpers the adapter
// calls (msgpackToJSON, jsonToMsgpack).
//
// Why hand-written rather than vmihailenco/msgpack's DecodeInterface and
// Marshal around encoding/json: BenchmarkMsgpackToJSON and
// BenchmarkJSONToMsgpack (value_bench_test.go) compare the two on the same
// payloads (on a typical event the library path takes 2x the time to
// encode, 5x to decode, and 10x the allocations both ways; with 1 KiB of
// binary 1.6-3x the time), and it is also wrong for a Node peer:
// Go maps lose key order, float32 prints with 32-bit digits, invalid UTF-8
// is repaired per byte, unknown ext types are errors, and DecodeInterface
// preallocates an array by its header, so a 5-byte message can ask for
// 64 GiB. FuzzDifferentialDecode (value_diff_test.go) holds decodeJSON to
// the library's decoding on every input both accept.

import (
	"bytes"
	"errors"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// maxDepth is how deeply arrays and objects may nest in a value, both ways;
// the top-level value is depth 0, so maxDepth nested containers are accepted
// and one more is an error. Both transcoders recurse once per level, so this
// bounds their stack (a few hundred KB at most). Real payloads nest a handful
// of levels; 1000 stays well under encoding/json's own limit (10000), so
// anything json.Valid accepts at depth <= 1000 converts. A smaller bound
// (256) was rejected: it would refuse values a Node peer handles.
const maxDepth = 1000

// Value transcoding errors. The adapter wraps them with the channel and
// message at hand.
var (
	errValueDepth       = errors.New("redis: value nested too deeply")
	errValueTruncated   = errors.New("redis: msgpack value truncated")
	errValueCode        = errors.New("redis: invalid msgpack code")
	errValueKey         = errors.New("redis: unsupported msgpack map key")
	errValueTrailing    = errors.New("redis: trailing bytes after msgpack value")
	errValueReader      = errors.New("redis: msgpack decoder must read from a bytes.Reader")
	errValueInvalidJSON = errors.New("redis: invalid JSON value")
	errValuePlaceholder = errors.New("redis: placeholder num out of range")
)

// msgpackCodec is a pooled reader and decoder for msgpackToJSON.
type msgpackCodec struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var msgpackCodecPool = sync.Pool{New: func() any {
	c := new(msgpackCodec)
	c.dec = msgpack.NewDecoder(&c.r)
	return c
}}

// msgpackToJSON converts b, exactly one msgpack value, to JSON and its
// attachments (see decodeJSON). Trailing bytes are errValueTrailing, as
// notepack rejects them. The result does not alias b.
func msgpackToJSON(b []byte) ([]byte, [][]byte, error) {
	c := msgpackCodecPool.Get().(*msgpackCodec)
	c.r.Reset(b)
	c.dec.Reset(&c.r)
	var attachments [][]byte
	data, err := decodeJSON(c.dec, make([]byte, 0, len(b)+len(b)/4+16), &attachments)
	if err == nil && c.r.Len() != 0 {
		err = errValueTrailing
	}
	c.r.Reset(nil)
	msgpackCodecPool.Put(c)
	if err != nil {
		return nil, nil, err
	}
	return data, attachments, nil
}

// jsonToMsgpack converts the JSON value data and its attachments to msgpack
// (see encodeJSON).
func jsonToMsgpack(data []byte, attachments [][]byte) ([]byte, error) {
	size := len(data)
	for _, a := range attachments {
		size += len(a)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+16))
	enc := msgpack.GetEncoder()
	enc.Reset(buf)
	err := encodeJSON(enc, data, attachments)
	enc.Reset(nil)
	msgpack.PutEncoder(enc)
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
