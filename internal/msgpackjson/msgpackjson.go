// Package msgpackjson converts Socket.IO values between msgpack with binary
// inline and JSON with binary placeholders. Event arguments travel through
// iobridge as JSON with placeholders (socketio.Packet.Data plus Attachments);
// they travel as msgpack through Node's Redis adapters (notepack.io 3 for the
// classic and sharded adapters and the emitter, @msgpack/msgpack 2.8 for the
// streams adapter) and through socket.io-msgpack-parser (notepack.io 2), the
// wire format of Socket.IO servers and clients that use it. EncodeJSON and
// DecodeJSON convert one value each way without building Go values: they
// stream tokens from one side to the other, so object key order survives (a
// Go map would lose it) and a typical event costs no allocation beyond the
// output.
//
// DecodeJSON prints what a Node server would send its clients after
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
// The transcoder is split by direction: decode.go reads msgpack and prints
// JSON (DecodeJSON), encode.go reads JSON and writes msgpack (EncodeJSON),
// jstext.go holds the JSON text rules both follow (how JSON.stringify
// escapes and prints numbers and dates, how JSON.parse unescapes, how
// invalid UTF-8 is repaired). This file holds what they share (the depth
// bound, the errors) and the whole-message helpers (ToJSON, FromJSON).
//
// Why hand-written rather than vmihailenco/msgpack's DecodeInterface and
// Marshal around encoding/json: BenchmarkMsgpackToJSON and
// BenchmarkJSONToMsgpack (bench_test.go) compare the two on the same
// payloads (on a typical event the library path takes 2x the time to
// encode, 5x to decode, and 10x the allocations both ways; with 1 KiB of
// binary 1.6-3x the time), and it is also wrong for a Node peer:
// Go maps lose key order, float32 prints with 32-bit digits, invalid UTF-8
// is repaired per byte, unknown ext types are errors, and DecodeInterface
// preallocates an array by its header, so a 5-byte message can ask for
// 64 GiB. FuzzDifferentialDecode (diff_test.go) holds DecodeJSON to the
// library's decoding on every input both accept.
package msgpackjson

import (
	"bytes"
	"errors"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// MaxDepth is how deeply arrays and objects may nest in a value, both ways;
// the top-level value is depth 0, so MaxDepth nested containers are accepted
// and one more is an error. Both transcoders recurse once per level, so this
// bounds their stack (a few hundred KB at most). Real payloads nest a handful
// of levels; 1000 stays well under encoding/json's own limit (10000), so
// anything json.Valid accepts at depth <= 1000 converts. A smaller bound
// (256) was rejected: it would refuse values a Node peer handles.
const MaxDepth = 1000

// Value transcoding errors. Callers wrap them with the message at hand.
var (
	ErrDepth       = errors.New("msgpackjson: value nested too deeply")
	ErrTruncated   = errors.New("msgpackjson: msgpack value truncated")
	ErrCode        = errors.New("msgpackjson: invalid msgpack code")
	ErrKey         = errors.New("msgpackjson: unsupported msgpack map key")
	ErrTrailing    = errors.New("msgpackjson: trailing bytes after msgpack value")
	ErrReader      = errors.New("msgpackjson: msgpack decoder must read from a bytes.Reader")
	ErrInvalidJSON = errors.New("msgpackjson: invalid JSON value")
	ErrPlaceholder = errors.New("msgpackjson: placeholder num out of range")
)

// msgpackCodec is a pooled reader and decoder for ToJSON.
type msgpackCodec struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

var msgpackCodecPool = sync.Pool{New: func() any {
	c := new(msgpackCodec)
	c.dec = msgpack.NewDecoder(&c.r)
	return c
}}

// ToJSON converts b, exactly one msgpack value, to JSON and its
// attachments (see DecodeJSON). Trailing bytes are ErrTrailing, as
// notepack rejects them. The result does not alias b.
func ToJSON(b []byte) ([]byte, [][]byte, error) {
	var attachments [][]byte
	data, err := AppendJSON(make([]byte, 0, len(b)+len(b)/4+16), b, &attachments)
	if err != nil {
		return nil, nil, err
	}
	return data, attachments, nil
}

// AppendJSON appends b, exactly one msgpack value, to dst as JSON (see
// DecodeJSON: with attachments nil, binary becomes {"_binary":…} in
// place). Trailing bytes are ErrTrailing. On error dst may hold part of
// the value. The attachments are copies: they do not alias b.
func AppendJSON(dst, b []byte, attachments *[][]byte) ([]byte, error) {
	return appendJSON(dst, b, attachments, false)
}

// AppendJSONShared is AppendJSON whose attachments alias b instead of
// being copies, for a caller that keeps b as long as the attachments (a
// received message whose binary is handed on): large binary is not copied.
func AppendJSONShared(dst, b []byte, attachments *[][]byte) ([]byte, error) {
	return appendJSON(dst, b, attachments, true)
}

func appendJSON(dst, b []byte, attachments *[][]byte, shared bool) ([]byte, error) {
	c := msgpackCodecPool.Get().(*msgpackCodec)
	c.r.Reset(b)
	c.dec.Reset(&c.r)
	d := valueDecoder{dec: c.dec, r: &c.r, atts: attachments}
	if shared {
		d.src = b
	}
	dst, _, err := d.value(dst, 0)
	if err == nil && c.r.Len() != 0 {
		err = ErrTrailing
	}
	c.r.Reset(nil)
	msgpackCodecPool.Put(c)
	return dst, err
}

// FromJSON converts the JSON value data and its attachments to msgpack
// (see EncodeJSON).
func FromJSON(data []byte, attachments [][]byte) ([]byte, error) {
	size := len(data)
	for _, a := range attachments {
		size += len(a)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+16))
	enc := msgpack.GetEncoder()
	enc.Reset(buf)
	err := EncodeJSON(enc, data, attachments)
	enc.Reset(nil)
	msgpack.PutEncoder(enc)
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
