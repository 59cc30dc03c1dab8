package msgpackjson

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// notepackVector is one case of testdata/notepack/vectors.json, written by
// interop/gen-notepack-vectors.js from the real npm packages.
type notepackVector struct {
	Name        string   `json:"name"`
	Encoder     string   `json:"encoder"`
	Hex         string   `json:"hex"`
	JSON        string   `json:"json"`
	Attachments []string `json:"attachments"`
	// Exact, when set, is the JSON Go prints where JS rounds an integer.
	Exact string `json:"exact"`
}

func (v *notepackVector) msgpack(t testing.TB) []byte {
	b, err := hex.DecodeString(v.Hex)
	if err != nil {
		t.Fatalf("%s: hex: %v", v.Name, err)
	}
	return b
}

func (v *notepackVector) want() string {
	if v.Exact != "" {
		return v.Exact
	}
	return v.JSON
}

func (v *notepackVector) attachments(t testing.TB) [][]byte {
	var atts [][]byte
	for _, h := range v.Attachments {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("%s: attachment hex: %v", v.Name, err)
		}
		atts = append(atts, b)
	}
	return atts
}

var loadVectors = sync.OnceValues(func() ([]notepackVector, error) {
	b, err := os.ReadFile(filepath.Join("testdata", "notepack", "vectors.json"))
	if err != nil {
		return nil, err
	}
	var vs []notepackVector
	return vs, json.Unmarshal(b, &vs)
})

func readVectors(t testing.TB) []notepackVector {
	vs, err := loadVectors()
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	return vs
}

// TestValueVectors decodes every Node vector and compares the JSON byte for
// byte (key order matters) and the attachments.
func TestValueVectors(t *testing.T) {
	for _, v := range readVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			got, atts, err := ToJSON(v.msgpack(t))
			if err != nil {
				t.Fatalf("ToJSON(%.40s) error: %v", v.Hex, err)
			}
			if string(got) != v.want() {
				t.Errorf("ToJSON(%.40s) = %.200s, want %.200s", v.Hex, got, v.want())
			}
			wantAtts := v.attachments(t)
			if len(atts) != len(wantAtts) {
				t.Fatalf("ToJSON(%.40s) gave %d attachments, want %d", v.Hex, len(atts), len(wantAtts))
			}
			for i := range atts {
				if !bytes.Equal(atts[i], wantAtts[i]) {
					t.Errorf("attachment %d = %x, want %x", i, atts[i], wantAtts[i])
				}
			}
		})
	}
}

// vectorEncodeDiffers lists the vectors whose JSON form does not encode back
// to notepack's bytes, and why.
var vectorEncodeDiffers = map[string]string{
	"nan":                     "JSON has null",
	"infinity":                "JSON has null",
	"neg_infinity":            "JSON has null",
	"float_1e300":             "notepack writes integral doubles >= 2^64 as a wrapped uint64 (here 0, in 9 bytes)",
	"date_epoch":              "JSON has the ISO string",
	"date_no_ms":              "JSON has the ISO string",
	"date_ms":                 "JSON has the ISO string",
	"date_before_1970":        "JSON has the ISO string",
	"date_after_2106":         "JSON has the ISO string",
	"date_year_1":             "JSON has the ISO string",
	"date_in_object":          "JSON has the ISO string",
	"date_year_10000":         "JSON has the ISO string",
	"date_year_minus_1":       "JSON has the ISO string",
	"date_max":                "JSON has the ISO string",
	"date_min":                "JSON has the ISO string",
	"mp_date_ms":              "JSON has the ISO string",
	"mp_date_before_1970":     "JSON has the ISO string",
	"mp_uint64_2^60_as_float": "@msgpack/msgpack writes integers beyond 2^53 as float64",
}

// TestValueVectorsEncode checks that EncodeJSON writes what notepack (and,
// where they agree, @msgpack/msgpack) writes: compact ints, str8/16/32,
// bin8/16/32, array and map headers, key order.
func TestValueVectorsEncode(t *testing.T) {
	for _, v := range readVectors(t) {
		if v.Encoder == "raw" {
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			got, err := FromJSON([]byte(v.want()), v.attachments(t))
			if err != nil {
				t.Fatalf("FromJSON(%.100s) error: %v", v.want(), err)
			}
			if why, ok := vectorEncodeDiffers[v.Name]; ok {
				if hex.EncodeToString(got) == v.Hex {
					t.Errorf("FromJSON(%.100s) now matches Node (listed as differing: %s)", v.want(), why)
				}
				return
			}
			if h := hex.EncodeToString(got); h != v.Hex {
				t.Errorf("FromJSON(%.100s) = %.200s, want %.200s", v.want(), h, v.Hex)
			}
		})
	}
}

func TestValueRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		json string
		atts [][]byte
	}{
		{"event", `["news",{"id":123,"text":"hello world","ts":1700000000000}]`, nil},
		{"key_order", `{"b":1,"a":2,"c":{"z":[],"y":{}}}`, nil},
		{"duplicate_keys", `{"a":1,"a":2}`, nil},
		{"unicode", `["héllo wörld ✓ 日本語 😀","\u0000\u001f\b\f\n\r\t\"\\"]`, nil},
		{"html_and_separators", "[\"<a href='x'>&amp;</a>\",\"a\u2028b\u2029c\",\"\x7f\"]", nil},
		{"uint64_max", `18446744073709551615`, nil},
		{"int64_min", `-9223372036854775808`, nil},
		{"uint64_beyond_int64", `[9223372036854775808,-9223372036854775807]`, nil},
		{"floats", `[1e+300,0.1,-1.25,5e-324,1e-7,1.5e+21,123456789.123,-0.000001]`, nil},
		{"big_float_integers", `[18446744073709552000,1e+21,100000000000000000000]`, nil},
		{"literals", `[true,false,null,[],{}]`, nil},
		{"empty_string", `""`, nil},
		{"placeholders", `["ev",{"_placeholder":true,"num":0},{"x":[{"_placeholder":true,"num":1}]}]`,
			[][]byte{{1, 2, 3}, {}}},
		{"emitter_message", `["emitter",{"type":2,"data":["ev",1,{"_placeholder":true,"num":0}],"nsp":"/"},{"rooms":["r"],"flags":{},"except":[]}]`,
			[][]byte{{0xde, 0xad}}},
		{"long_string", `"` + strings.Repeat("x", 70000) + `"`, nil},
		{"long_array", `[` + strings.Repeat("1,", 69999) + `1]`, nil},
		{"large_binary", `{"_placeholder":true,"num":0}`, [][]byte{bytes.Repeat([]byte{7}, 70000)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mp, err := FromJSON([]byte(tc.json), tc.atts)
			if err != nil {
				t.Fatalf("FromJSON(%.100s) error: %v", tc.json, err)
			}
			got, atts, err := ToJSON(mp)
			if err != nil {
				t.Fatalf("ToJSON(%x) error: %v", mp, err)
			}
			if string(got) != tc.json {
				t.Errorf("round trip of %.100s = %.100s", tc.json, got)
			}
			if len(atts) != len(tc.atts) {
				t.Fatalf("round trip gave %d attachments, want %d", len(atts), len(tc.atts))
			}
			for i := range atts {
				if !bytes.Equal(atts[i], tc.atts[i]) {
					t.Errorf("attachment %d = %x, want %x", i, atts[i], tc.atts[i])
				}
			}
		})
	}
}

func TestValueEncodeJSON(t *testing.T) {
	tests := []struct {
		name string
		json string
		atts [][]byte
		want string // hex
	}{
		{"integral_float", `1.0`, nil, "01"},
		{"exponent_integer", `1e3`, nil, "cd03e8"},
		{"neg_zero", `-0`, nil, "00"},
		{"neg_zero_float", `-0.0`, nil, "00"},
		{"fraction", `0.5`, nil, "cb3fe0000000000000"},
		{"uint64_max", `18446744073709551615`, nil, "cfffffffffffffffff"},
		{"int64_min", `-9223372036854775808`, nil, "d38000000000000000"},
		{"beyond_uint64", `18446744073709551616`, nil, "cb43f0000000000000"},
		{"below_int64", `-9223372036854775809`, nil, "d38000000000000000"}, // the double is -2^63
		{"huge", `1e400`, nil, "cb7ff0000000000000"},                       // JSON.parse gives Infinity
		{"whitespace", " \t\n[ 1 , { \"a\" : null } ]\r\n", nil, "920181a161c0"},
		{"escaped_key", `{"\u0061\n":1}`, nil, "81a2610a01"},
		{"surrogate_pair", `"\ud83d\ude00"`, nil, "a4f09f9880"},
		{"lone_surrogate", `"\ud800x"`, nil, "a4efbfbd78"},
		{"invalid_utf8", "\"\xe2\x82A\"", nil, "a4efbfbd41"},
		{"placeholder_nil_attachment", `{"_placeholder":true,"num":0}`, [][]byte{nil}, "c400"},
		{"placeholder_extra_members", `{"num":1,"x":{"y":[1]},"_placeholder":true}`, [][]byte{{1}, {2}}, "c40102"},
		{"placeholder_escaped_key", `[{"\u005fplaceholder":true,"num":0},[3]]`, [][]byte{{9}}, "92c4010991" + "03"},
		{"placeholder_false", `{"_placeholder":false,"num":0}`, nil, "82ac5f706c616365686f6c646572c2a36e756d00"},
		{"placeholder_num_float", `{"_placeholder":true,"num":1.0}`, [][]byte{{1}, {2}}, "c40102"},
		{"nested_after_placeholder", `[{"_placeholder":true,"num":0,"n":[[]]},[1,2]]`, [][]byte{{5}}, "92c40105920102"},
		{"str8", `"` + strings.Repeat("a", 32) + `"`, nil, "d920" + strings.Repeat("61", 32)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromJSON([]byte(tc.json), tc.atts)
			if err != nil {
				t.Fatalf("FromJSON(%q) error: %v", tc.json, err)
			}
			if h := hex.EncodeToString(got); h != tc.want {
				t.Errorf("FromJSON(%q) = %s, want %s", tc.json, h, tc.want)
			}
		})
	}
}

func TestValueEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		json string
		atts [][]byte
		want error
	}{
		{"empty", ``, nil, ErrInvalidJSON},
		{"space", ` `, nil, ErrInvalidJSON},
		{"truncated", `[1,`, nil, ErrInvalidJSON},
		{"two_values", `1 2`, nil, ErrInvalidJSON},
		{"nan", `NaN`, nil, ErrInvalidJSON},
		{"placeholder_no_attachments", `{"_placeholder":true,"num":0}`, nil, ErrPlaceholder},
		{"placeholder_out_of_range", `{"_placeholder":true,"num":2}`, [][]byte{{1}, {2}}, ErrPlaceholder},
		{"placeholder_negative", `{"_placeholder":true,"num":-1}`, [][]byte{{1}}, ErrPlaceholder},
		{"placeholder_fraction", `{"_placeholder":true,"num":0.5}`, [][]byte{{1}}, ErrPlaceholder},
		{"placeholder_string_num", `{"_placeholder":true,"num":"0"}`, [][]byte{{1}}, ErrPlaceholder},
		{"placeholder_no_num", `{"_placeholder":true}`, [][]byte{{1}}, ErrPlaceholder},
		{"depth", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), nil, ErrDepth},
		{"depth_objects", strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1), nil, ErrDepth},
		{"depth_bomb", strings.Repeat("[", 100000) + strings.Repeat("]", 100000), nil, ErrInvalidJSON},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromJSON([]byte(tc.json), tc.atts)
			if !errors.Is(err, tc.want) {
				t.Errorf("FromJSON(%.60q) error = %v, want %v", tc.json, err, tc.want)
			}
		})
	}
	// MaxDepth levels are fine.
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	mp, err := FromJSON([]byte(deep), nil)
	if err != nil {
		t.Fatalf("FromJSON(%d nested arrays) error: %v", MaxDepth, err)
	}
	if got, _, err := ToJSON(mp); err != nil || string(got) != deep {
		t.Errorf("ToJSON(%d nested arrays) = %.20s…, %v", MaxDepth, got, err)
	}
}

func TestValueDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want error
	}{
		{"empty", "", ErrTruncated},
		{"never_used_code", "c1", ErrCode},
		{"trailing", "0000", ErrTrailing},
		{"array_key", "819001", ErrKey},
		{"map_key", "818001", ErrKey},
		{"ext_key", "81d4050101", ErrKey},
		{"timestamp_key", "81d6ff0000000001", ErrKey},
		{"bin32_huge", "c680000000" + "0102030405", ErrTruncated},
		{"str32_huge", "db80000000" + "0102030405", ErrTruncated},
		{"array32_huge", "dd80000000" + "0102030405", ErrTruncated},
		{"map32_huge", "df80000000" + "0102030405", ErrTruncated},
		{"ext32_huge", "c980000000" + "0102030405", ErrTruncated},
		{"array16_short", "dc0003c0c0", ErrTruncated},
		{"map_odd", "82a161c0a162", ErrTruncated},
		{"depth_arrays", strings.Repeat("91", 100000) + "c0", ErrDepth},
		{"depth_maps", strings.Repeat("81a0", 100000) + "c0", ErrDepth},
		{"depth_just_over", strings.Repeat("91", MaxDepth+1) + "c0", ErrDepth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = ToJSON(b)
			if !errors.Is(err, tc.want) {
				t.Errorf("ToJSON(%.40s) error = %v, want %v", tc.hex, err, tc.want)
			}
		})
	}
	if _, _, err := ToJSON(bytes.Repeat([]byte{0x91}, MaxDepth)); !errors.Is(err, ErrTruncated) {
		t.Errorf("ToJSON(%d nested arrays without end) error = %v, want truncated", MaxDepth, err)
	}
	if got, _, err := ToJSON(append(bytes.Repeat([]byte{0x91}, MaxDepth), 0xc0)); err != nil {
		t.Errorf("ToJSON(%d nested arrays) error = %v", MaxDepth, err)
	} else if len(got) != 2*MaxDepth+4 || !bytes.Contains(got, []byte("[[null]]")) {
		t.Errorf("ToJSON(%d nested arrays) = %.20s…", MaxDepth, got)
	}
}

// TestValueDecodeTruncated cuts every vector at every length (big vectors
// at sampled lengths): each prefix is an error, never a panic.
func TestValueDecodeTruncated(t *testing.T) {
	for _, v := range readVectors(t) {
		b := v.msgpack(t)
		step := 1
		if len(b) > 4096 {
			step = len(b)/512 + 1
		}
		for n := 0; n < len(b); n += step {
			prefix := bytes.Clone(b[:n]) // no spare capacity to read past
			if out, atts, err := ToJSON(prefix); err == nil {
				t.Errorf("%s: ToJSON(first %d of %d bytes) = %.60s, %d attachments, want an error",
					v.Name, n, len(b), out, len(atts))
			}
		}
	}
}

// TestValueDecodeHugeHeaderAllocs checks that length headers claiming 2 GiB
// on a 10-byte input allocate nothing in proportion.
func TestValueDecodeHugeHeaderAllocs(t *testing.T) {
	for _, h := range []string{"c680000000", "db80000000", "dd80000000", "df80000000", "c980000000", "c780000000"} {
		in, _ := hex.DecodeString(h + "0102030405")
		var r bytes.Reader
		dec := msgpack.NewDecoder(&r)
		dst := make([]byte, 0, 64)
		var atts [][]byte
		run := func() {
			r.Reset(in)
			dec.Reset(&r)
			if _, err := DecodeJSON(dec, dst[:0], &atts); !errors.Is(err, ErrTruncated) {
				t.Fatalf("DecodeJSON(%s…) error = %v, want truncated", h, err)
			}
		}
		run()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		const runs = 100
		for range runs {
			run()
		}
		runtime.ReadMemStats(&after)
		if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 1024 {
			t.Errorf("DecodeJSON(%s…) allocated %d bytes per run", h, perRun)
		}
		if len(atts) != 0 {
			t.Errorf("DecodeJSON(%s…) appended %d attachments", h, len(atts))
		}
	}
}

func TestValueDecodeNeedsLenReader(t *testing.T) {
	dec := msgpack.NewDecoder(io.MultiReader(bytes.NewReader([]byte{0x01})))
	if _, err := DecodeJSON(dec, nil, new([][]byte)); !errors.Is(err, ErrReader) {
		t.Errorf("DecodeJSON over a bufio reader error = %v, want %v", err, ErrReader)
	}
}

// TestValueDecodeAppends checks DecodeJSON's contract for callers: it
// appends to dst, numbers attachments after those already there, copies
// them, and leaves the decoder just past the value.
func TestValueDecodeAppends(t *testing.T) {
	in, _ := hex.DecodeString("92c40101c4010207") // [bin 01, bin 02], then 07
	r := bytes.NewReader(in)
	dec := msgpack.NewDecoder(r)
	atts := [][]byte{{0}}
	out, err := DecodeJSON(dec, []byte("x"), &atts)
	if err != nil {
		t.Fatal(err)
	}
	want := `x[{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]`
	if string(out) != want {
		t.Errorf("DecodeJSON = %s, want %s", out, want)
	}
	if len(atts) != 3 || atts[1][0] != 1 || atts[2][0] != 2 {
		t.Errorf("attachments = %x", atts)
	}
	in[3] = 9
	if atts[1][0] != 1 {
		t.Error("attachment aliases the input")
	}
	if r.Len() != 1 {
		t.Errorf("%d bytes left, want 1", r.Len())
	}
}

// The typical broadcast payload: ["news",{"id":123,"text":"hello world","ts":1700000000000}].
const benchEventJSON = `["news",{"id":123,"text":"hello world","ts":1700000000000}]`

func TestValueDecodeAllocs(t *testing.T) {
	in, err := FromJSON([]byte(benchEventJSON), nil)
	if err != nil {
		t.Fatal(err)
	}
	var r bytes.Reader
	dec := msgpack.NewDecoder(&r)
	dst := make([]byte, 0, 256)
	var atts [][]byte
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(in)
		dec.Reset(&r)
		if dst, err = DecodeJSON(dec, dst[:0], &atts); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("DecodeJSON allocates %v times per call, want 0", allocs)
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	data := []byte(benchEventJSON)
	allocs = testing.AllocsPerRun(100, func() {
		buf.Reset()
		if err := EncodeJSON(enc, data, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("EncodeJSON allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	for _, bc := range []struct {
		name string
		json string
		atts [][]byte
	}{
		{"event", benchEventJSON, nil},
		{"binary", `["ev",1,{"_placeholder":true,"num":0}]`, [][]byte{bytes.Repeat([]byte{1}, 1024)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in, err := FromJSON([]byte(bc.json), bc.atts)
			if err != nil {
				b.Fatal(err)
			}
			var r bytes.Reader
			dec := msgpack.NewDecoder(&r)
			dst := make([]byte, 0, 256)
			atts := make([][]byte, 0, 4)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(in)
				dec.Reset(&r)
				atts = atts[:0]
				if dst, err = DecodeJSON(dec, dst[:0], &atts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeJSON(b *testing.B) {
	for _, bc := range []struct {
		name string
		json string
		atts [][]byte
	}{
		{"event", benchEventJSON, nil},
		{"binary", `["ev",1,{"_placeholder":true,"num":0}]`, [][]byte{bytes.Repeat([]byte{1}, 1024)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := []byte(bc.json)
			var buf bytes.Buffer
			enc := msgpack.NewEncoder(&buf)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := EncodeJSON(enc, data, bc.atts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
