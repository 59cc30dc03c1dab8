package socketio

import (
	"fmt"

	"github.com/iobridge/iobridge/internal/msgpackjson"
)

// mpReader walks the top of a msgpack packet in place: the map header, the
// keys and the extent of each value. Values are not built; the data value
// is converted once its extent is known (msgpackjson). Skipping is
// iterative, so a deeply nested value cannot grow the stack, and every
// length is checked against the bytes left before it is trusted.
type mpReader struct {
	b []byte
	i int
	// bins and binBytes count the bin and ext values skipped and their
	// payload bytes, to size the JSON they convert to.
	bins, binBytes int
}

var errMsgpackTruncated = fmt.Errorf("%w: %w", ErrInvalidMsgpack, msgpackjson.ErrTruncated)

// mapLen reads a map header; false (nothing read) if the next value is not
// a map.
func (r *mpReader) mapLen() (int, bool) {
	if r.i >= len(r.b) {
		return 0, false
	}
	switch c := r.b[r.i]; {
	case c >= 0x80 && c <= 0x8f:
		r.i++
		return int(c & 0x0f), true
	case c == 0xde, c == 0xdf:
		n, ok := r.length(1 + int(c-0xde)) // 2 or 4 bytes
		return n, ok
	}
	return 0, false
}

// length reads the big-endian length of 2^(k) bytes after the code byte
// (k = 0, 1, 2 for 1, 2, 4 bytes); false if the input is too short.
func (r *mpReader) length(k int) (int, bool) {
	size := 1 << k
	if r.i+1+size > len(r.b) {
		return 0, false
	}
	n := 0
	for _, x := range r.b[r.i+1 : r.i+1+size] {
		n = n<<8 | int(x)
	}
	r.i += 1 + size
	return n, true
}

// key reads a map key: the bytes of a str (or of a bin, which notepack's
// object key turns into the same string), or skips any other key.
func (r *mpReader) key() ([]byte, bool, error) {
	if r.i >= len(r.b) {
		return nil, false, errMsgpackTruncated
	}
	var n int
	ok := true
	switch c := r.b[r.i]; {
	case c >= 0xa0 && c <= 0xbf:
		r.i++
		n = int(c & 0x1f)
	case c == 0xd9, c == 0xc4:
		n, ok = r.length(0)
	case c == 0xda, c == 0xc5:
		n, ok = r.length(1)
	case c == 0xdb, c == 0xc6:
		n, ok = r.length(2)
	default:
		return nil, false, r.skip()
	}
	if !ok || n > len(r.b)-r.i {
		return nil, false, errMsgpackTruncated
	}
	k := r.b[r.i : r.i+n]
	r.i += n
	return k, true, nil
}

// skip moves past one complete value.
func (r *mpReader) skip() error {
	pending := 1 // values still to skip
	for pending > 0 {
		pending--
		if r.i >= len(r.b) {
			return errMsgpackTruncated
		}
		c := r.b[r.i]
		var body, items int // bytes to skip after the header, values to add
		ok := true
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
			r.i++
		case c <= 0x8f:
			r.i++
			items = 2 * int(c&0x0f)
		case c <= 0x9f:
			r.i++
			items = int(c & 0x0f)
		case c <= 0xbf:
			r.i++
			body = int(c & 0x1f)
		case c == 0xd9:
			body, ok = r.length(0)
		case c == 0xda:
			body, ok = r.length(1)
		case c == 0xdb:
			body, ok = r.length(2)
		case c >= 0xc4 && c <= 0xc6:
			body, ok = r.length(int(c - 0xc4))
			r.bins, r.binBytes = r.bins+1, r.binBytes+body
		case c >= 0xc7 && c <= 0xc9:
			body, ok = r.length(int(c - 0xc7))
			r.bins, r.binBytes = r.bins+1, r.binBytes+body
			body++ // the ext type
		case c == 0xca:
			r.i, body = r.i+1, 4
		case c == 0xcb:
			r.i, body = r.i+1, 8
		case c >= 0xcc && c <= 0xcf:
			r.i, body = r.i+1, 1<<(c-0xcc)
		case c >= 0xd0 && c <= 0xd3:
			r.i, body = r.i+1, 1<<(c-0xd0)
		case c >= 0xd4 && c <= 0xd8:
			r.i, body = r.i+1, 1+1<<(c-0xd4) // type and data
		case c == 0xdc:
			items, ok = r.length(1)
		case c == 0xdd:
			items, ok = r.length(2)
		case c == 0xde:
			items, ok = r.length(1)
			items *= 2
		case c == 0xdf:
			items, ok = r.length(2)
			items *= 2
		default: // 0xc1, never used
			return fmt.Errorf("%w: %w", ErrInvalidMsgpack, msgpackjson.ErrCode)
		}
		if !ok || body > len(r.b)-r.i {
			return errMsgpackTruncated
		}
		r.i += body
		// Each value takes at least one byte: more pending values than
		// bytes left is a truncated message, whatever its headers claim.
		pending += items
		if pending > len(r.b)-r.i {
			return errMsgpackTruncated
		}
	}
	return nil
}
