package msgpackjson

// JSON -> msgpack: EncodeJSON turns one JSON value with binary placeholders
// (socketio.Packet.Data plus Attachments) into msgpack as notepack.io would
// encode what JSON.parse gives. It is the publishing half of the transcoder
// (see value.go): a scan pass counts each container's members (msgpack
// writes lengths first), then an encode pass writes the value, both walking
// the JSON text in place.

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// jsonEncoder holds one EncodeJSON call's state. It lives on the stack, as
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

// EncodeJSON writes the JSON value data (one JSON value: array, object,
// string, number, bool or null, surrounding white space allowed) to enc as
// msgpack, as notepack.io encodes the value JSON.parse gives:
//   - every placeholder object, an object whose "_placeholder" member is
//     true (socket.io-parser's test; other members are ignored), becomes
//     attachments[num] as msgpack bin; a num that is not an integer in
//     [0, len(attachments)) is ErrPlaceholder;
//   - object members keep their order, duplicates included;
//   - a number whose value is an integer that fits int64 or uint64 is a
//     compact msgpack int (1.0, 1e3 and -0 too, as notepack does); any other
//     number is a float64 (notepack writes integral doubles of 2^64 and
//     beyond as wrapped garbage ints; this writes them as floats);
//   - strings are unescaped; unpaired surrogate escapes and invalid UTF-8
//     become U+FFFD.
//
// Invalid JSON is ErrInvalidJSON and nesting beyond MaxDepth
// ErrDepth; then enc may have written part of the value. Neither data
// nor the attachments are retained. enc must not use a string dictionary or
// interned strings.
func EncodeJSON(enc *msgpack.Encoder, data []byte, attachments [][]byte) error {
	if !json.Valid(data) {
		return ErrInvalidJSON
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
// live on EncodeJSON's stack.
func (e *jsonEncoder) scan(nodes []int, i, depth int) ([]int, int, error) {
	d := e.data
	var err error
	switch d[i] {
	case '[':
		if depth >= MaxDepth {
			return nodes, i, ErrDepth
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
		if depth >= MaxDepth {
			return nodes, i, ErrDepth
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
				return nodes, i, ErrPlaceholder
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
