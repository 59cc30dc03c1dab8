package msgpackjson

// msgpack -> JSON: DecodeJSON streams one msgpack value (as notepack.io or
// @msgpack/msgpack wrote it) into JSON text with binary placeholders, the
// form a Node server would send its clients. It is the receiving half of the
// transcoder (see value.go); it reads msgpack through the library's
// low-level Decoder calls and prints through value_json.go's helpers.

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strconv"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// valueReader is what the decoder's reader must provide: the number of
// bytes left, so that no length header is trusted beyond the input, and
// single bytes (bytes.Reader, bytes.Buffer and strings.Reader have both).
type valueReader interface {
	Len() int
	io.ByteReader
}

// valueDecoder holds one DecodeJSON call's state; it lives on the stack.
type valueDecoder struct {
	dec  *msgpack.Decoder
	r    valueReader
	atts *[][]byte
	// src, when set, is the whole input r reads: attachments alias it
	// (AppendJSONShared) instead of being copied.
	src []byte
}

// DecodeJSON reads one msgpack value from dec and appends it to dst as JSON,
// as a Node server would print it for its clients:
//   - bin (and notepack's legacy ext 0 ArrayBuffer) becomes a placeholder
//     {"_placeholder":true,"num":N}, N = len(*attachments); the bytes are
//     copied and appended to *attachments. With attachments nil it becomes
//     {"_binary":"<standard base64>"} in place instead, as backends are
//     handed binary (for values that carry no attachments, such as a
//     CONNECT's auth);
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
//     bytes as UTF-8; array, map and ext keys are ErrKey;
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
// ReadByte methods, else ErrReader):
// every length header is checked against the bytes left before anything is
// read or allocated, so a hostile header cannot make DecodeJSON allocate
// more than the input's size. Truncated input, unknown codes and nesting
// deeper than MaxDepth are errors; then dst holds a partial value and
// *attachments may have grown. dec must not use a string dictionary or
// interned strings. On success dec stands just past the value.
func DecodeJSON(dec *msgpack.Decoder, dst []byte, attachments *[][]byte) ([]byte, error) {
	r, ok := dec.Buffered().(valueReader)
	if !ok {
		return dst, ErrReader
	}
	d := valueDecoder{dec: dec, r: r, atts: attachments}
	dst, _, err := d.value(dst, 0)
	return dst, err
}

// mpEOF maps the reader's end-of-input errors to ErrTruncated.
func mpEOF(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
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
			return ErrTruncated
		}
		b[i] = c
	}
	return nil
}

// skipRaw moves the reader n bytes on (n already checked by need).
func (d *valueDecoder) skipRaw(n int) error {
	if sk, ok := d.r.(io.Seeker); ok {
		if _, err := sk.Seek(int64(n), io.SeekCurrent); err != nil {
			return ErrTruncated
		}
		return nil
	}
	for range n {
		if _, err := d.r.ReadByte(); err != nil {
			return ErrTruncated
		}
	}
	return nil
}

// need reports ErrTruncated unless n more bytes are left.
func (d *valueDecoder) need(n int) error {
	if n < 0 || n > d.r.Len() {
		return ErrTruncated
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
		if depth >= MaxDepth {
			return dst, false, ErrDepth
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
		if depth >= MaxDepth {
			return dst, false, ErrDepth
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
	return dst, false, ErrCode
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
	return dst, ErrKey
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
	if d.atts == nil {
		return d.appendBase64(dst, n)
	}
	var b []byte
	if d.src != nil {
		// The reader is a bytes.Reader over src, which the decoder does
		// not buffer: the payload is the next n bytes of src.
		pos := len(d.src) - d.r.Len()
		b = d.src[pos : pos+n : pos+n]
		if err := d.skipRaw(n); err != nil {
			return dst, err
		}
	} else {
		b = make([]byte, n)
		if n > 0 {
			if err := d.dec.ReadFull(b); err != nil {
				return dst, mpEOF(err)
			}
		}
	}
	*d.atts = append(*d.atts, b)
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(len(*d.atts)-1), 10)
	return append(dst, '}'), nil
}

// appendBase64 reads an n-byte binary payload and appends it as
// {"_binary":"<standard base64>"}, the form backends see binary in, for a
// value that has no attachments to refer to (DecodeJSON with nil
// attachments). The bytes are read into dst's spare capacity and encoded
// after them, then moved over them.
func (d *valueDecoder) appendBase64(dst []byte, n int) ([]byte, error) {
	dst = append(dst, `{"_binary":"`...)
	start := len(dst)
	dst = extendBytes(dst, n)
	if n > 0 {
		if err := d.dec.ReadFull(dst[start:]); err != nil {
			return dst[:start], mpEOF(err)
		}
	}
	end := len(dst)
	dst = base64.StdEncoding.AppendEncode(dst, dst[start:end])
	m := copy(dst[start:], dst[end:])
	dst = dst[:start+m]
	return append(dst, '"', '}'), nil
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
