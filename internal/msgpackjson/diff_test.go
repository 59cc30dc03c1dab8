package msgpackjson

// The differential test of DecodeJSON against the library it replaces,
// vmihailenco/msgpack's DecodeInterface (default, non-loose). On every input
// the library decodes whole and that lies in the shared ground (no ext type
// but the timestamp, only str or bin map keys, no key twice in a map, nesting
// within MaxDepth), ToJSON must succeed and print the same value:
// compared token by token in order (so key order is checked too), numbers as
// exact integers or as floats, the library's float32 widened as JS widens
// it, NaN/±Inf as null, []byte as placeholders numbered in wire order,
// time.Time as Date.toJSON() (notepack's double arithmetic, truncated toward
// zero, null beyond ±8.64e15 ms), strings with invalid UTF-8 repaired by the
// WHATWG rule (one U+FFFD per maximal invalid subsequence, computed here
// with utf8.FullRune, independently of value_json.go).
//
// Where ToJSON accepts an input the library rejects, the input must
// hold one of these classes (diffScan finds them); anything else fails:
//   - ext types other than a timestamp, and ext -1 of a length other than
//     4, 8 or 12: the library knows only registered ext ids ("unknown ext
//     id") and timestamps of those lengths; notepack decodes any other ext as
//     [type, <buffer>] and notepack 2's ext 0 forms as undefined, Date and
//     ArrayBuffer, so a Node server prints them;
//   - map keys that are numbers, booleans or floats: the library's
//     DecodeMap reads keys with DecodeString; a JS object takes String(key)
//     ("1", "true", "1.5"), and notepack accepts any key.
//
// Where both accept but print differently, the input is left out of the
// comparison, deliberately:
//   - a nil map key: the library reads it as "" (DecodeString of nil); JS
//     String(null) is "null", which is what we print;
//   - duplicate keys (after UTF-8 repair): the library keeps the last in a
//     Go map; we keep every entry in wire order (see DecodeJSON);
//   - nesting beyond MaxDepth: the library has no bound; we return
//     ErrDepth (checked here).
//
// DecodeInterface itself is called only on inputs whose length headers
// diffScan has checked against the input: it preallocates an array by its
// header (decode_slice.go: make([]any, 0, n)), so a 5-byte array32 header
// asks for 64 GiB and the fuzzer's process dies of it (the first crasher,
// testdata/fuzz/FuzzDifferentialDecode/42440346c6701f89). Inputs the scan
// rejects, we must reject too.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// diffInfo is what diffScan learns of an input, in the pre-order the
// library's tree is walked in.
type diffInfo struct {
	extClass   bool       // an ext the library does not decode
	keyClass   bool       // a number, bool or float map key
	nilKey     bool       // a nil map key
	dupKey     bool       // a key twice in one map (after UTF-8 repair)
	depth      int        // deepest nesting, the top level 0
	keys       [][]string // each map's keys in wire order, maps in pre-order
	timestamps [][2]int64 // each timestamp's raw seconds and nanoseconds
	err        error      // the scan failed (truncated, bad code, trailing bytes)
}

// diffScan walks in with the library's low-level calls, independently of
// DecodeJSON.
func diffScan(in []byte) *diffInfo {
	r := bytes.NewReader(in)
	dec := msgpack.NewDecoder(r)
	info := &diffInfo{}
	if err := info.value(dec, r, 0); err != nil {
		info.err = err
	} else if r.Len() != 0 {
		info.err = ErrTrailing
	}
	return info
}

func (s *diffInfo) value(dec *msgpack.Decoder, r *bytes.Reader, depth int) error {
	s.depth = max(s.depth, depth)
	c, err := dec.PeekCode()
	if err != nil {
		return err
	}
	switch {
	case msgpcode.IsFixedArray(c), c == msgpcode.Array16, c == msgpcode.Array32:
		n, err := dec.DecodeArrayLen()
		if err != nil {
			return err
		}
		if n > r.Len() {
			return io.ErrUnexpectedEOF
		}
		for range n {
			if err := s.value(dec, r, depth+1); err != nil {
				return err
			}
		}
		return nil
	case msgpcode.IsFixedMap(c), c == msgpcode.Map16, c == msgpcode.Map32:
		n, err := dec.DecodeMapLen()
		if err != nil {
			return err
		}
		if 2*n > r.Len() {
			return io.ErrUnexpectedEOF
		}
		k := len(s.keys)
		s.keys = append(s.keys, make([]string, 0, n))
		seen := make(map[string]bool, n)
		for range n {
			c, err := dec.PeekCode()
			if err != nil {
				return err
			}
			switch {
			case msgpcode.IsString(c), msgpcode.IsBin(c):
				key, err := dec.DecodeString()
				if err != nil {
					return err
				}
				if seen[whatwgString(key)] {
					s.dupKey = true
				}
				seen[whatwgString(key)] = true
				s.keys[k] = append(s.keys[k], key)
			case c == msgpcode.Nil:
				s.nilKey = true
				if err := dec.Skip(); err != nil {
					return err
				}
				s.keys[k] = append(s.keys[k], "")
			default:
				s.keyClass = true
				// Containers as keys are rejected by both: walk them to find
				// where the value starts.
				if err := s.value(dec, r, depth+1); err != nil {
					return err
				}
				s.keys[k] = append(s.keys[k], "")
			}
			if err := s.value(dec, r, depth+1); err != nil {
				return err
			}
		}
		return nil
	case msgpcode.IsExt(c):
		id, n, err := dec.DecodeExtHeader()
		if err != nil {
			return err
		}
		if n > r.Len() {
			return io.ErrUnexpectedEOF
		}
		b := make([]byte, n)
		if err := dec.ReadFull(b); err != nil {
			return err
		}
		var sec, nsec int64
		switch {
		case id == -1 && n == 4:
			sec = int64(binary.BigEndian.Uint32(b))
		case id == -1 && n == 8:
			v := binary.BigEndian.Uint64(b)
			sec, nsec = int64(v&(1<<34-1)), int64(v>>34)
		case id == -1 && n == 12:
			nsec, sec = int64(binary.BigEndian.Uint32(b)), int64(binary.BigEndian.Uint64(b[4:]))
		default:
			s.extClass = true
			return nil
		}
		s.timestamps = append(s.timestamps, [2]int64{sec, nsec})
		return nil
	}
	return dec.Skip()
}

// whatwgString repairs invalid UTF-8 as Node's decoder does: one U+FFFD for
// each maximal subpart of an ill-formed sequence, the longest prefix that a
// valid sequence could still begin with (utf8.FullRune is false for those).
func whatwgString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != utf8.RuneError || size > 1 {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		k := 1
		for n := 2; n <= 3 && i+n <= len(s) && !utf8.FullRuneInString(s[i:i+n]); n++ {
			k = n
		}
		b.WriteString("\uFFFD")
		i += k
	}
	return b.String()
}

// diffJSON prints the library's value as a Node server would, walking maps
// in wire order (info.keys), so placeholders are numbered as on the wire.
type diffJSON struct {
	info  *diffInfo
	maps  int
	times int
	atts  [][]byte
	buf   bytes.Buffer
}

func (p *diffJSON) str(s string) {
	b, _ := json.Marshal(whatwgString(s))
	p.buf.Write(b)
}

func (p *diffJSON) float(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		p.buf.WriteString("null")
		return
	}
	p.buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
}

func (p *diffJSON) value(t testing.TB, v any) {
	switch x := v.(type) {
	case nil:
		p.buf.WriteString("null")
	case bool:
		p.buf.WriteString(strconv.FormatBool(x))
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64:
		fmt.Fprint(&p.buf, x)
	case float32:
		p.float(float64(x)) // notepack reads a float32 into a double
	case float64:
		p.float(x)
	case string:
		p.str(x)
	case []byte:
		p.atts = append(p.atts, x)
		fmt.Fprintf(&p.buf, `{"_placeholder":true,"num":%d}`, len(p.atts)-1)
	case time.Time:
		raw := p.info.timestamps[p.times]
		p.times++
		if !x.Equal(time.Unix(raw[0], raw[1])) {
			t.Fatalf("library read timestamp %v as %v", raw, x)
		}
		p.buf.WriteString(jsDateJSON(raw[0], raw[1]))
	case []any:
		p.buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				p.buf.WriteByte(',')
			}
			p.value(t, e)
		}
		p.buf.WriteByte(']')
	case map[string]any:
		keys := p.info.keys[p.maps]
		p.maps++
		if len(keys) != len(x) {
			t.Fatalf("library map has %d keys, the wire %d", len(x), len(keys))
		}
		p.buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				p.buf.WriteByte(',')
			}
			p.str(k)
			p.buf.WriteByte(':')
			e, ok := x[k]
			if !ok {
				t.Fatalf("library map lacks key %q", k)
			}
			p.value(t, e)
		}
		p.buf.WriteByte('}')
	default:
		t.Fatalf("library value of unexpected type %T", v)
	}
}

// jsDateJSON is new Date(ms).toJSON() as JSON, ms computed from the raw
// timestamp fields in doubles as notepack does (so the last millisecond can
// round up, as in Node).
func jsDateJSON(sec, nsec int64) string {
	ms := float64(float64(sec)*1e3) + float64(nsec)/1e6
	if math.IsNaN(ms) || math.Abs(ms) > 8.64e15 {
		return "null"
	}
	t := time.UnixMilli(int64(math.Trunc(ms))).UTC()
	rest := t.Format("-01-02T15:04:05.000Z")
	y := t.Year()
	if y >= 0 && y <= 9999 {
		return fmt.Sprintf(`"%04d%s"`, y, rest)
	}
	return fmt.Sprintf(`"%+07d%s"`, y, rest)
}

// sameJSON compares two JSON texts token by token.
func sameJSON(a, b []byte) error {
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	for {
		ta, ea := da.Token()
		tb, eb := db.Token()
		if ea == io.EOF && eb == io.EOF {
			return nil
		}
		if ea != nil || eb != nil {
			return fmt.Errorf("tokens: %v, %v", ea, eb)
		}
		na, oka := ta.(json.Number)
		nb, okb := tb.(json.Number)
		if oka && okb {
			if !sameNumber(string(na), string(nb)) {
				return fmt.Errorf("number %s, want %s", na, nb)
			}
			continue
		}
		if ta != tb {
			return fmt.Errorf("token %#v, want %#v", ta, tb)
		}
	}
}

// sameNumber compares integers exactly and anything else as float64.
func sameNumber(a, b string) bool {
	ia, oka := new(big.Int).SetString(a, 10)
	ib, okb := new(big.Int).SetString(b, 10)
	if oka && okb {
		return ia.Cmp(ib) == 0
	}
	fa, erra := strconv.ParseFloat(a, 64)
	fb, errb := strconv.ParseFloat(b, 64)
	return erra == nil && errb == nil && fa == fb
}

// diffDecode runs the differential on one input and says what happened.
func diffDecode(t testing.TB, in []byte) string {
	out, atts, err := ToJSON(in)
	info := diffScan(in)
	if info.err != nil {
		// DecodeInterface is not called: it trusts array headers
		// (decode_slice.go: make([]any, 0, n)), so 5 bytes can ask it for
		// 64 GiB. The scan, the library's own low-level calls with every
		// length checked against the input, rejects; so must we.
		if err == nil {
			t.Fatalf("ToJSON(%x) = %s, but the library's calls reject it: %v", in, out, info.err)
		}
		return "both reject"
	}
	r := bytes.NewReader(in)
	dec := msgpack.NewDecoder(r)
	lib, libErr := dec.DecodeInterface()
	if libErr == nil && r.Len() != 0 {
		libErr = ErrTrailing
	}

	if libErr != nil {
		if err != nil {
			return "both reject"
		}
		switch {
		case info.extClass:
			return "library rejects: ext" // see the file comment
		case info.keyClass:
			return "library rejects: key"
		}
		t.Fatalf("ToJSON(%x) = %s; the library rejects it (%v) for no known reason", in, out, libErr)
	}
	switch {
	case info.extClass, info.keyClass:
		t.Fatalf("the library decodes %x, which has an ext or key it should reject", in)
	case info.depth > MaxDepth:
		if !errors.Is(err, ErrDepth) {
			t.Fatalf("ToJSON(%x) nested %d deep: error %v, want ErrDepth", in, info.depth, err)
		}
		return "too deep"
	case info.nilKey:
		return "out of scope: nil key"
	case info.dupKey:
		return "out of scope: duplicate key"
	}
	if err != nil {
		t.Fatalf("ToJSON(%x) error %v; the library decodes %#v", in, err, lib)
	}
	want := diffJSON{info: info}
	want.value(t, lib)
	if err := sameJSON(out, want.buf.Bytes()); err != nil {
		t.Fatalf("ToJSON(%x) = %s, library %s: %v", in, out, want.buf.Bytes(), err)
	}
	if len(atts) != len(want.atts) {
		t.Fatalf("ToJSON(%x): %d attachments, library %d", in, len(atts), len(want.atts))
	}
	for i := range atts {
		if !bytes.Equal(atts[i], want.atts[i]) {
			t.Fatalf("ToJSON(%x): attachment %d = %x, library %x", in, i, atts[i], want.atts[i])
		}
	}
	return "same"
}

// TestDifferentialVectors runs the differential over every Node vector.
func TestDifferentialVectors(t *testing.T) {
	outcomes := map[string]int{}
	for _, v := range readVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			o := diffDecode(t, v.msgpack(t))
			outcomes[o]++
			t.Log(o)
		})
	}
	t.Logf("outcomes: %v", outcomes)
	if outcomes["same"] < len(readVectors(t))/2 {
		t.Errorf("only %d vectors compared with the library: %v", outcomes["same"], outcomes)
	}
}

// TestDifferentialCases covers each class of the file comment.
func TestDifferentialCases(t *testing.T) {
	for _, tc := range []struct {
		name, hex, want string
	}{
		{"float32", "ca3dcccccd", "same"},
		{"nan", "cb7ff8000000000000", "same"},
		{"invalid utf8", "a4e282ff41", "same"},
		{"bin key", "81c40161c0", "same"},
		{"bins in wire order", "82a17ac40101a161c40102", "same"},
		{"timestamp ns rounds up", "d7ffee6b27fc6553f100", "same"},
		{"timestamp 12 before 1970", "c70cff3b9ac9ffffffffffffffffff", "same"},
		{"timestamp nsec over 1e9", "c70cffffffffff000000006553f100", "same"},
		{"unknown ext", "d40100", "library rejects: ext"},
		{"ext -1 of 2 bytes", "d5ff0000", "library rejects: ext"},
		{"int key", "810102", "library rejects: key"},
		{"nil key", "81c001", "out of scope: nil key"},
		{"duplicate key", "82a16101a16102", "out of scope: duplicate key"},
		{"invalid utf8 keys collide", "82a1ff01a1fe02", "out of scope: duplicate key"},
		{"too deep", strings.Repeat("91", MaxDepth+1) + "c0", "too deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := hexDecode(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			if got := diffDecode(t, in); got != tc.want {
				t.Errorf("diffDecode(%s) = %q, want %q", tc.hex, got, tc.want)
			}
		})
	}
}

func hexDecode(s string) ([]byte, error) {
	b := make([]byte, len(s)/2)
	for i := range b {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, err
		}
		b[i] = byte(v)
	}
	if len(s)%2 != 0 {
		return nil, errors.New("odd hex")
	}
	return b, nil
}

// FuzzDifferentialDecode is the differential as a fuzz target, seeded with
// the Node vectors and FuzzMsgpackToJSON's corpus.
func FuzzDifferentialDecode(f *testing.F) {
	for _, v := range readVectors(f) {
		if len(v.Hex)/2 <= maxSeedSize {
			f.Add(v.msgpack(f))
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzMsgpackToJSON", "*"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// "go test fuzz v1\n[]byte(\"...\")\n"
		_, body, _ := strings.Cut(string(b), "\n")
		body = strings.TrimSpace(body)
		body = strings.TrimSuffix(strings.TrimPrefix(body, "[]byte("), ")")
		s, err := strconv.Unquote(body)
		if err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		diffDecode(t, in)
	})
}
