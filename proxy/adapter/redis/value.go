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

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
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

// ---------------------------------------------------------------------------
// msgpack -> JSON

// valueReader is what the decoder's reader must provide: the number of
// bytes left, so that no length header is trusted beyond the input, and
// single bytes (bytes.Reader, bytes.Buffer and strings.Reader have both).
type valueReader interface {
	Len() int
	io.ByteReader
}

// valueDecoder holds one decodeJSON call's state; it lives on the stack.
type valueDecoder struct {
	dec  *msgpack.Decoder
	r    valueReader
	atts *[][]byte
}

// decodeJSON reads one msgpack value from dec and appends it to dst as JSON,
// as a Node server would print it for its clients:
//   - bin (and notepack's legacy ext 0 ArrayBuffer) becomes a placeholder
//     {"_placeholder":true,"num":N}, N = len(*attachments); the bytes are
//     copied and appended to *attachments;
//   - the Timestamp ext -1 (4, 8 or 12 bytes, in any ext format) becomes
//     Date.toJSON(): "2000-06-13T00:00:00.123Z", always in UTC with three
//     millisecond digits, truncated to the millisecond as JS does (toward
//     zero, so 1 ns before 1970 is ".000Z" of 1970); years beyond 0..9999
//     print as "+010000"/"-000001", and a time JS cannot hold
//     (|ms| > 8.64e15) prints null, as an Invalid Date does. Any ext -1 of
//     4, 8 or 12 bytes is a timestamp, as the msgpack spec and
//     @msgpack/msgpack have it; notepack reads only d6, d7 and c7 so, and
//     misreads c7 of another length;
//   - NaN and ±Inf become null, -0 prints 0, other floats print as JS
//     numbers (0.1, 1e-7, 1e+21); integers print exactly;
//   - map keys that are not strings print as JS String(key) would: 1 -> "1",
//     1.5 -> "1.5", NaN -> "NaN", true -> "true", nil -> "null", bin -> its
//     bytes as UTF-8; array, map and ext keys are errValueKey;
//   - any other ext decodes as notepack does: [type, <bin>], the data a
//     placeholder. notepack's legacy ext 0 forms (notepack 2, before adapter
//     8 / emitter 5) decode too: fixext1 0 is undefined (null in an array
//     and at the top, and the member is left out of an object), fixext8 0 a
//     Date in ms, ext8/16/32 0 an ArrayBuffer (binary);
//   - strings are escaped as JSON.stringify does (only '"', '\\' and
//     control characters; <, >, & and U+2028 stay literal); invalid UTF-8 is
//     replaced by U+FFFD per maximal invalid subsequence, as Node's UTF-8
//     decoder (and WHATWG's) does.
//
// dec must read from a bytes.Reader (or another reader with Len and
// ReadByte methods, else errValueReader):
// every length header is checked against the bytes left before anything is
// read or allocated, so a hostile header cannot make decodeJSON allocate
// more than the input's size. Truncated input, unknown codes and nesting
// deeper than maxDepth are errors; then dst holds a partial value and
// *attachments may have grown. dec must not use a string dictionary or
// interned strings. On success dec stands just past the value.
func decodeJSON(dec *msgpack.Decoder, dst []byte, attachments *[][]byte) ([]byte, error) {
	r, ok := dec.Buffered().(valueReader)
	if !ok {
		return dst, errValueReader
	}
	d := valueDecoder{dec: dec, r: r, atts: attachments}
	dst, _, err := d.value(dst, 0)
	return dst, err
}

// mpEOF maps the reader's end-of-input errors to errValueTruncated.
func mpEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errValueTruncated
	}
	return err
}

// readRaw reads len(b) payload bytes of an ext value. It reads the
// decoder's reader directly (the decoder does not buffer a reader that is an
// io.ByteScanner): Decoder.ReadFull would make b escape to the heap.
func (d *valueDecoder) readRaw(b []byte) error {
	for i := range b {
		c, err := d.r.ReadByte()
		if err != nil {
			return errValueTruncated
		}
		b[i] = c
	}
	return nil
}

// need reports errValueTruncated unless n more bytes are left.
func (d *valueDecoder) need(n int) error {
	if n < 0 || n > d.r.Len() {
		return errValueTruncated
	}
	return nil
}

// value appends the next value. undef reports notepack's legacy undefined,
// which value prints as null and an object leaves out.
func (d *valueDecoder) value(dst []byte, depth int) (out []byte, undef bool, err error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return dst, false, mpEOF(err)
	}
	switch {
	case c <= msgpcode.PosFixedNumHigh, c >= msgpcode.Uint8 && c <= msgpcode.Uint64:
		n, err := d.dec.DecodeUint64()
		if err != nil {
			return dst, false, mpEOF(err)
		}
		return strconv.AppendUint(dst, n, 10), false, nil
	case c >= msgpcode.NegFixedNumLow, c >= msgpcode.Int8 && c <= msgpcode.Int64:
		n, err := d.dec.DecodeInt64()
		if err != nil {
			return dst, false, mpEOF(err)
		}
		return strconv.AppendInt(dst, n, 10), false, nil
	case c == msgpcode.Float, c == msgpcode.Double:
		f, err := d.dec.DecodeFloat64()
		if err != nil {
			return dst, false, mpEOF(err)
		}
		return appendJSNumber(dst, f, "null"), false, nil
	case c == msgpcode.Nil:
		if err := d.dec.DecodeNil(); err != nil {
			return dst, false, mpEOF(err)
		}
		return append(dst, "null"...), false, nil
	case c == msgpcode.False, c == msgpcode.True:
		b, err := d.dec.DecodeBool()
		if err != nil {
			return dst, false, mpEOF(err)
		}
		return strconv.AppendBool(dst, b), false, nil
	case msgpcode.IsString(c):
		n, err := d.dec.DecodeBytesLen()
		if err != nil {
			return dst, false, mpEOF(err)
		}
		dst, err = d.appendString(dst, n)
		return dst, false, err
	case msgpcode.IsBin(c):
		n, err := d.dec.DecodeBytesLen()
		if err != nil {
			return dst, false, mpEOF(err)
		}
		dst, err = d.appendBin(dst, n)
		return dst, false, err
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		if depth >= maxDepth {
			return dst, false, errValueDepth
		}
		n, err := d.dec.DecodeArrayLen()
		if err != nil {
			return dst, false, mpEOF(err)
		}
		if err := d.need(n); err != nil {
			return dst, false, err
		}
		dst = append(dst, '[')
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, _, err = d.value(dst, depth+1); err != nil {
				return dst, false, err
			}
		}
		return append(dst, ']'), false, nil
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		if depth >= maxDepth {
			return dst, false, errValueDepth
		}
		n, err := d.dec.DecodeMapLen()
		if err != nil {
			return dst, false, mpEOF(err)
		}
		if err := d.need(2 * n); err != nil {
			return dst, false, err
		}
		dst = append(dst, '{')
		members := 0
		for range n {
			mark := len(dst)
			if members > 0 {
				dst = append(dst, ',')
			}
			if dst, err = d.key(dst); err != nil {
				return dst, false, err
			}
			dst = append(dst, ':')
			var undef bool
			if dst, undef, err = d.value(dst, depth+1); err != nil {
				return dst, false, err
			}
			if undef {
				// JSON.stringify leaves out a member whose value is undefined.
				dst = dst[:mark]
				continue
			}
			members++
		}
		return append(dst, '}'), false, nil
	case msgpcode.IsExt(c):
		return d.ext(dst, c)
	}
	return dst, false, errValueCode
}

// key appends a map key as a JSON string.
func (d *valueDecoder) key(dst []byte) ([]byte, error) {
	c, err := d.dec.PeekCode()
	if err != nil {
		return dst, mpEOF(err)
	}
	switch {
	case msgpcode.IsString(c), msgpcode.IsBin(c):
		// String(buffer) is buffer.toString(): its bytes as UTF-8.
		n, err := d.dec.DecodeBytesLen()
		if err != nil {
			return dst, mpEOF(err)
		}
		return d.appendString(dst, n)
	case c == msgpcode.Float, c == msgpcode.Double:
		f, err := d.dec.DecodeFloat64()
		if err != nil {
			return dst, mpEOF(err)
		}
		dst = append(dst, '"')
		switch {
		case math.IsNaN(f):
			dst = append(dst, "NaN"...)
		case math.IsInf(f, 1):
			dst = append(dst, "Infinity"...)
		case math.IsInf(f, -1):
			dst = append(dst, "-Infinity"...)
		default:
			dst = appendJSNumber(dst, f, "")
		}
		return append(dst, '"'), nil
	case c <= msgpcode.PosFixedNumHigh, c >= msgpcode.NegFixedNumLow,
		c >= msgpcode.Uint8 && c <= msgpcode.Int64,
		c == msgpcode.Nil, c == msgpcode.False, c == msgpcode.True:
		// Numbers, booleans and nil print the same inside quotes.
		dst = append(dst, '"')
		dst, _, err = d.value(dst, 0)
		if err != nil {
			return dst, err
		}
		return append(dst, '"'), nil
	}
	return dst, errValueKey
}

// appendString reads an n-byte str (or bin) payload and appends it as a JSON
// string. The raw bytes are read straight into dst's spare capacity; most
// strings need no escaping and are done then. Otherwise the escaped form is
// built after the raw bytes and moved over them.
func (d *valueDecoder) appendString(dst []byte, n int) ([]byte, error) {
	if err := d.need(n); err != nil {
		return dst, err
	}
	dst = append(dst, '"')
	start := len(dst)
	dst = extendBytes(dst, n)
	if n > 0 {
		if err := d.dec.ReadFull(dst[start:]); err != nil {
			return dst[:start], mpEOF(err)
		}
	}
	raw := dst[start:]
	i := jsonPlainPrefix(raw)
	if i == len(raw) {
		return append(dst, '"'), nil
	}
	end := len(dst)
	dst = appendJSONEscaped(dst, raw[i:])
	// dst may have moved; the escaped text is dst[end:].
	m := copy(dst[start+i:], dst[end:])
	dst = dst[:start+i+m]
	return append(dst, '"'), nil
}

// appendBin reads an n-byte binary payload into a new attachment and
// appends its placeholder.
func (d *valueDecoder) appendBin(dst []byte, n int) ([]byte, error) {
	if err := d.need(n); err != nil {
		return dst, err
	}
	b := make([]byte, n)
	if n > 0 {
		if err := d.dec.ReadFull(b); err != nil {
			return dst, mpEOF(err)
		}
	}
	*d.atts = append(*d.atts, b)
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(len(*d.atts)-1), 10)
	return append(dst, '}'), nil
}

// ext appends an ext value as notepack 3 decodes it.
func (d *valueDecoder) ext(dst []byte, c byte) ([]byte, bool, error) {
	id, n, err := d.dec.DecodeExtHeader()
	if err != nil {
		return dst, false, mpEOF(err)
	}
	if err := d.need(n); err != nil {
		return dst, false, err
	}
	var buf [12]byte
	switch {
	case id == -1 && (n == 4 || n == 8 || n == 12):
		// The Timestamp extension. Its payload layout is the msgpack spec's;
		// the msgpack library's own decoder is unexported and returns local
		// time without JS's millisecond truncation, so it is read here.
		b := buf[:n]
		if err := d.readRaw(b); err != nil {
			return dst, false, err
		}
		// The float arithmetic is notepack's (decode.js), so the same
		// rounding happens; the conversions stop the compiler fusing it.
		var ms float64
		switch n {
		case 4:
			ms = float64(binary.BigEndian.Uint32(b)) * 1e3
		case 8:
			v := binary.BigEndian.Uint64(b)
			ms = float64(float64(v&(1<<34-1))*1e3) + float64(v>>34)/1e6
		default:
			hi := float64(int32(binary.BigEndian.Uint32(b[4:])))
			s := float64(hi*0x100000000 + float64(binary.BigEndian.Uint32(b[8:])))
			ms = float64(s*1e3) + float64(binary.BigEndian.Uint32(b))/1e6
		}
		return appendJSDate(dst, ms), false, nil
	case id == 0 && c == msgpcode.FixExt1:
		// notepack 2's undefined: d4 00 00.
		if err := d.readRaw(buf[:1]); err != nil {
			return dst, false, err
		}
		return append(dst, "null"...), true, nil
	case id == 0 && c == msgpcode.FixExt8:
		// notepack 2's Date: d7 00 and the ms as a signed 64-bit integer,
		// read as notepack does (hi * 2^32 + lo in doubles).
		b := buf[:8]
		if err := d.readRaw(b); err != nil {
			return dst, false, err
		}
		hi := float64(int32(binary.BigEndian.Uint32(b))) * 0x100000000
		return appendJSDate(dst, hi+float64(binary.BigEndian.Uint32(b[4:]))), false, nil
	case id == 0 && (c == msgpcode.Ext8 || c == msgpcode.Ext16 || c == msgpcode.Ext32):
		// notepack 2's ArrayBuffer: binary.
		dst, err = d.appendBin(dst, n)
		return dst, false, err
	}
	dst = append(dst, '[')
	dst = strconv.AppendInt(dst, int64(id), 10)
	dst = append(dst, ',')
	dst, err = d.appendBin(dst, n)
	if err != nil {
		return dst, false, err
	}
	return append(dst, ']'), false, nil
}

// extendBytes extends b by n bytes, reallocating at most once.
func extendBytes(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// jsonPlainPrefix returns the length of s's leading run that JSON.stringify
// copies as is: valid UTF-8 without '"', '\\' or control characters.
func jsonPlainPrefix(s []byte) int {
	i := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return i
}

const jsonHexDigits = "0123456789abcdef"

// appendJSONEscaped appends s's characters escaped as JSON.stringify escapes
// them, replacing each maximal invalid UTF-8 subsequence by U+FFFD.
func appendJSONEscaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c >= 0x20:
				dst = append(dst, c)
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', jsonHexDigits[c>>4], jsonHexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
			i += utf8InvalidRun(s[i:])
			continue
		}
		dst = append(dst, s[i:i+size]...)
		i += size
	}
	return dst
}

// utf8InvalidRun returns the length of the maximal subpart of an ill-formed
// UTF-8 sequence at the start of s (Unicode §3.9, the WHATWG decoder's
// rule): a lead byte and the continuation bytes that could still have
// completed it. It is at least 1.
func utf8InvalidRun(s []byte) int {
	lo, hi, need := byte(0x80), byte(0xbf), 0
	switch c := s[0]; {
	case c >= 0xc2 && c <= 0xdf:
		need = 1
	case c == 0xe0:
		lo, need = 0xa0, 2
	case c == 0xed:
		hi, need = 0x9f, 2
	case c >= 0xe1 && c <= 0xef:
		need = 2
	case c == 0xf0:
		lo, need = 0x90, 3
	case c >= 0xf1 && c <= 0xf3:
		need = 3
	case c == 0xf4:
		hi, need = 0x8f, 3
	default:
		return 1
	}
	k := 1
	for ; k <= need && k < len(s); k++ {
		if s[k] < lo || s[k] > hi {
			break
		}
		lo, hi = 0x80, 0xbf
	}
	return k
}

// appendJSNumber appends f as JS prints a number (ECMAScript
// Number::toString, which encoding/json's float format also follows), or
// nonFinite for NaN and ±Inf.
func appendJSNumber(dst []byte, f float64, nonFinite string) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, nonFinite...)
	}
	if f == 0 {
		return append(dst, '0') // -0 prints 0
	}
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7, as JS prints it.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendJSDate appends new Date(ms).toJSON() as JSON: the ISO string, or
// null for an Invalid Date.
func appendJSDate(dst []byte, ms float64) []byte {
	// TimeClip (ECMAScript 21.4.1.31).
	if math.IsNaN(ms) || math.Abs(ms) > 8.64e15 {
		return append(dst, "null"...)
	}
	t := time.UnixMilli(int64(math.Trunc(ms))).UTC()
	dst = append(dst, '"')
	switch y := t.Year(); {
	case y >= 0 && y <= 9999:
		dst = appendZeroPadded(dst, y, 4)
	case y < 0:
		dst = append(dst, '-')
		dst = appendZeroPadded(dst, -y, 6)
	default:
		dst = append(dst, '+')
		dst = appendZeroPadded(dst, y, 6)
	}
	dst = append(dst, '-')
	dst = appendZeroPadded(dst, int(t.Month()), 2)
	dst = append(dst, '-')
	dst = appendZeroPadded(dst, t.Day(), 2)
	dst = append(dst, 'T')
	dst = appendZeroPadded(dst, t.Hour(), 2)
	dst = append(dst, ':')
	dst = appendZeroPadded(dst, t.Minute(), 2)
	dst = append(dst, ':')
	dst = appendZeroPadded(dst, t.Second(), 2)
	dst = append(dst, '.')
	dst = appendZeroPadded(dst, t.Nanosecond()/1e6, 3)
	return append(dst, 'Z', '"')
}

// appendZeroPadded appends the non-negative v in decimal, zero-padded to width.
func appendZeroPadded(dst []byte, v, width int) []byte {
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], int64(v), 10)
	for i := len(b); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, b...)
}

// ---------------------------------------------------------------------------
// JSON -> msgpack

// jsonEncoder holds one encodeJSON call's state. It lives on the stack, as
// does the node table of a value with up to 32 arrays and objects. A
// sync.Pool of states was rejected: it costs about as much for small values
// and drops its items under the race detector.
type jsonEncoder struct {
	enc  *msgpack.Encoder
	data []byte
	atts [][]byte
	next int // the entry of nodes the next container encode meets
	// scratch holds a string being unescaped; it is allocated on the first
	// string with escapes (the msgpack encoder's io.Writer call makes
	// anything passed to it escape to the heap).
	scratch []byte
}

// encodeJSON writes the JSON value data (one JSON value: array, object,
// string, number, bool or null, surrounding white space allowed) to enc as
// msgpack, as notepack.io encodes the value JSON.parse gives:
//   - every placeholder object, an object whose "_placeholder" member is
//     true (socket.io-parser's test; other members are ignored), becomes
//     attachments[num] as msgpack bin; a num that is not an integer in
//     [0, len(attachments)) is errValuePlaceholder;
//   - object members keep their order, duplicates included;
//   - a number whose value is an integer that fits int64 or uint64 is a
//     compact msgpack int (1.0, 1e3 and -0 too, as notepack does); any other
//     number is a float64 (notepack writes integral doubles of 2^64 and
//     beyond as wrapped garbage ints; this writes them as floats);
//   - strings are unescaped; unpaired surrogate escapes and invalid UTF-8
//     become U+FFFD.
//
// Invalid JSON is errValueInvalidJSON and nesting beyond maxDepth
// errValueDepth; then enc may have written part of the value. Neither data
// nor the attachments are retained. enc must not use a string dictionary or
// interned strings.
func encodeJSON(enc *msgpack.Encoder, data []byte, attachments [][]byte) error {
	if !json.Valid(data) {
		return errValueInvalidJSON
	}
	var small [32]int
	e := jsonEncoder{enc: enc, data: data, atts: attachments}
	start := jsonSkipSpace(data, 0)
	nodes, _, err := e.scan(small[:0], start, 0)
	if err != nil {
		return err
	}
	_, err = e.encode(nodes, start)
	return err
}

// scan walks the value at data[i] (valid JSON), appending an entry to nodes
// for each array or object in document order (its member count, or -1-num
// for a placeholder object), and returns nodes and the index just past the
// value. nodes is passed rather than kept in e so that a small table can
// live on encodeJSON's stack.
func (e *jsonEncoder) scan(nodes []int, i, depth int) ([]int, int, error) {
	d := e.data
	var err error
	switch d[i] {
	case '[':
		if depth >= maxDepth {
			return nodes, i, errValueDepth
		}
		k := len(nodes)
		nodes = append(nodes, 0)
		i = jsonSkipSpace(d, i+1)
		n := 0
		for d[i] != ']' {
			if nodes, i, err = e.scan(nodes, i, depth+1); err != nil {
				return nodes, i, err
			}
			n++
			i = jsonSkipSpace(d, i)
			if d[i] == ',' {
				i = jsonSkipSpace(d, i+1)
			}
		}
		nodes[k] = n
		return nodes, i + 1, nil
	case '{':
		if depth >= maxDepth {
			return nodes, i, errValueDepth
		}
		k := len(nodes)
		nodes = append(nodes, 0)
		i = jsonSkipSpace(d, i+1)
		n := 0
		placeholder := false
		numStart, numEnd := -1, -1
		for d[i] != '}' {
			keyStart := i
			i = jsonSkipString(d, i)
			key := d[keyStart:i]
			i = jsonSkipSpace(d, i)
			i = jsonSkipSpace(d, i+1) // ':'
			valStart := i
			if nodes, i, err = e.scan(nodes, i, depth+1); err != nil {
				return nodes, i, err
			}
			// JSON.parse keeps the last of duplicate members.
			switch {
			case jsonKeyIs(key, "_placeholder"):
				placeholder = d[valStart] == 't'
			case jsonKeyIs(key, "num"):
				numStart, numEnd = valStart, i
			}
			n++
			i = jsonSkipSpace(d, i)
			if d[i] == ',' {
				i = jsonSkipSpace(d, i+1)
			}
		}
		nodes[k] = n
		if placeholder {
			num, ok := -1, false
			if numStart >= 0 {
				num, ok = placeholderNum(d[numStart:numEnd])
			}
			if !ok || num >= len(e.atts) {
				return nodes, i, errValuePlaceholder
			}
			nodes[k] = -1 - num
		}
		return nodes, i + 1, nil
	case '"':
		return nodes, jsonSkipString(d, i), nil
	}
	return nodes, jsonSkipScalar(d, i), nil
}

// encode writes the value at data[i] and returns the index just past it.
func (e *jsonEncoder) encode(nodes []int, i int) (int, error) {
	d := e.data
	switch d[i] {
	case '[':
		n := nodes[e.next]
		e.next++
		if err := e.enc.EncodeArrayLen(n); err != nil {
			return i, err
		}
		i = jsonSkipSpace(d, i+1)
		for range n {
			var err error
			if i, err = e.encode(nodes, i); err != nil {
				return i, err
			}
			i = jsonSkipSpace(d, i)
			if d[i] == ',' {
				i = jsonSkipSpace(d, i+1)
			}
		}
		return i + 1, nil // ']'
	case '{':
		n := nodes[e.next]
		e.next++
		if n < 0 {
			b := e.atts[-1-n]
			if b == nil {
				b = []byte{} // EncodeBytes writes nil for a nil slice
			}
			end, containers := jsonSkipContainer(d, i)
			e.next += containers - 1
			return end, e.enc.EncodeBytes(b)
		}
		if err := e.enc.EncodeMapLen(n); err != nil {
			return i, err
		}
		i = jsonSkipSpace(d, i+1)
		for range n {
			var err error
			if i, err = e.encode(nodes, i); err != nil { // the key
				return i, err
			}
			i = jsonSkipSpace(d, i)
			i = jsonSkipSpace(d, i+1) // ':'
			if i, err = e.encode(nodes, i); err != nil {
				return i, err
			}
			i = jsonSkipSpace(d, i)
			if d[i] == ',' {
				i = jsonSkipSpace(d, i+1)
			}
		}
		return i + 1, nil // '}'
	case '"':
		end := jsonSkipString(d, i)
		raw := d[i+1 : end-1]
		if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
			return end, e.enc.EncodeString(unsafeString(raw))
		}
		e.scratch = jsonUnquote(e.scratch[:0], raw)
		return end, e.enc.EncodeString(unsafeString(e.scratch))
	case 't':
		return i + 4, e.enc.EncodeBool(true)
	case 'f':
		return i + 5, e.enc.EncodeBool(false)
	case 'n':
		return i + 4, e.enc.EncodeNil()
	}
	end := jsonSkipScalar(d, i)
	return end, e.encodeNumber(d[i:end])
}

// encodeNumber writes a JSON number as notepack writes the double
// JSON.parse gives, keeping integers beyond 2^53 exact.
func (e *jsonEncoder) encodeNumber(num []byte) error {
	if u, neg, ok := parseJSONInteger(num); ok {
		if !neg {
			return e.enc.EncodeUint(u)
		}
		if u <= 1<<63 {
			return e.enc.EncodeInt(int64(-u)) // -(1<<63) wraps to MinInt64
		}
	}
	// Out of range values are ±Inf (or 0), as JSON.parse gives them.
	f, _ := strconv.ParseFloat(unsafeString(num), 64)
	if f == math.Trunc(f) {
		switch {
		case f >= -(1<<63) && f < 1<<63:
			return e.enc.EncodeInt(int64(f))
		case f >= 0 && f < 1<<64:
			return e.enc.EncodeUint(uint64(f))
		}
	}
	return e.enc.EncodeFloat64(f)
}

// parseJSONInteger parses a JSON number without fraction or exponent whose
// magnitude fits a uint64.
func parseJSONInteger(num []byte) (u uint64, neg bool, ok bool) {
	if len(num) > 0 && num[0] == '-' {
		neg, num = true, num[1:]
	}
	if len(num) == 0 || len(num) > 20 {
		return 0, false, false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		v := u*10 + uint64(c-'0')
		if u > math.MaxUint64/10 || v < u*10 {
			return 0, false, false
		}
		u = v
	}
	return u, neg, true
}

// placeholderNum reads a placeholder's num: a JSON number whose value is a
// non-negative integer (socket.io-parser indexes the buffers with it).
func placeholderNum(num []byte) (int, bool) {
	if len(num) == 0 || (num[0] != '-' && (num[0] < '0' || num[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(unsafeString(num), 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

// jsonKeyIs reports whether the quoted JSON string key decodes to s.
func jsonKeyIs(key []byte, s string) bool {
	raw := key[1 : len(key)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == s
	}
	if len(raw) > 6*len(s) {
		return false
	}
	var buf [64]byte
	return string(jsonUnquote(buf[:0], raw)) == s
}

// jsonUnquote appends the characters of a JSON string's body (valid JSON) to
// dst. Unpaired surrogates and invalid UTF-8 become U+FFFD.
func jsonUnquote(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				dst = append(dst, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
				i += utf8InvalidRun(raw[i:])
				continue
			}
			dst = append(dst, raw[i:i+size]...)
			i += size
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := jsonHex4(raw[i+2:])
			i += 6
			if r >= 0xd800 && r < 0xdc00 && i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if lo := jsonHex4(raw[i+2:]); lo >= 0xdc00 && lo < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r) // a lone surrogate appends U+FFFD
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// jsonHex4 decodes four hex digits (valid JSON guarantees them).
func jsonHex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unsafeString views b as a string without copying; the string must not
// outlive the call it is passed to.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// The scanners below walk JSON that json.Valid has accepted.

func jsonSkipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// jsonSkipString returns the index just past the string starting at d[i].
func jsonSkipString(d []byte, i int) int {
	for i++; ; i++ {
		switch d[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// jsonSkipScalar returns the index just past the number or literal at d[i].
func jsonSkipScalar(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// jsonSkipContainer returns the index just past the array or object starting at
// d[i] and how many arrays and objects it holds, itself included.
func jsonSkipContainer(d []byte, i int) (end, containers int) {
	depth := 0
	for {
		switch d[i] {
		case '"':
			i = jsonSkipString(d, i)
			continue
		case '{', '[':
			depth++
			containers++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, containers
			}
		}
		i++
	}
}

// ---------------------------------------------------------------------------
// Whole-message helpers

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
