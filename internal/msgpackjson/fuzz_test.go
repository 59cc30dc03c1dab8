package msgpackjson

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/Fuzz{MsgpackToJSON,JSONToMsgpack} seed files from testdata/notepack/vectors.json")

// maxSeedSize bounds the vectors used as fuzz seeds. The three over it (a
// 70000-byte string, buffer and array) stall the fuzzer: it spends its time
// minimising their mutations. TestValueVectors covers them.
const maxSeedSize = 4096

// TestValueFuzzCorpus writes the seed corpus files with -update-corpus, one
// per vector up to maxSeedSize; the fuzz targets add the same ones with
// f.Add.
func TestValueFuzzCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to rewrite the seed corpus")
	}
	for _, v := range readVectors(t) {
		if len(v.Hex)/2 > maxSeedSize {
			continue
		}
		write := func(target, body string) {
			dir := filepath.Join("testdata", "fuzz", target)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "vector-"+v.Name), []byte("go test fuzz v1\n"+body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("FuzzMsgpackToJSON", fmt.Sprintf("[]byte(%q)\n", v.msgpack(t)))
		write("FuzzJSONToMsgpack", fmt.Sprintf("[]byte(%q)\nbyte(%q)\n", v.want(), byte(len(v.Attachments))))
	}
}

// fuzzAttachments makes n small distinct attachments.
func fuzzAttachments(n byte) [][]byte {
	atts := make([][]byte, n%8)
	for i := range atts {
		atts[i] = bytes.Repeat([]byte{byte(i)}, i)
	}
	return atts
}

// userPlaceholders reports whether out (DecodeJSON's output) has
// placeholder-shaped objects that did not come from bin: a msgpack map
// {"_placeholder":true,...} is indistinguishable from a placeholder once in
// JSON (as with socket.io-parser), so such inputs do not round-trip.
func userPlaceholders(out []byte, atts [][]byte) bool {
	return bytes.Count(out, []byte(`"_placeholder":`)) != len(atts)
}

func FuzzMsgpackToJSON(f *testing.F) {
	for _, v := range readVectors(f) {
		if len(v.Hex)/2 <= maxSeedSize {
			f.Add(v.msgpack(f))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, atts, err := ToJSON(in)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("ToJSON(%x) = %q, not valid JSON", in, out)
		}
		if userPlaceholders(out, atts) {
			return
		}
		mp, err := FromJSON(out, atts)
		if err != nil {
			t.Fatalf("FromJSON(%q) error: %v", out, err)
		}
		out2, atts2, err := ToJSON(mp)
		if err != nil {
			t.Fatalf("ToJSON(FromJSON(%q)) error: %v", out, err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("round trip of %x:\n%q\n%q", in, out, out2)
		}
		if len(atts) != len(atts2) {
			t.Fatalf("round trip of %x: %d attachments, then %d", in, len(atts), len(atts2))
		}
		for i := range atts {
			if !bytes.Equal(atts[i], atts2[i]) {
				t.Fatalf("round trip of %x: attachment %d %x, then %x", in, i, atts[i], atts2[i])
			}
		}
	})
}

func FuzzJSONToMsgpack(f *testing.F) {
	for _, v := range readVectors(f) {
		if len(v.Hex)/2 <= maxSeedSize {
			f.Add([]byte(v.want()), byte(len(v.Attachments)))
		}
	}
	for _, s := range []string{
		`{"a":"\ud83d\ude00\ud800\u00e9\/","b":[1.0,-0,1e400,18446744073709551616]}`,
		`[{"_placeholder":true,"num":1},{"num":0,"_placeholder":true,"x":[{}]}]`,
		" [ 1 , \"\xff\" ] ",
	} {
		f.Add([]byte(s), byte(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, n byte) {
		atts := fuzzAttachments(n)
		mp, err := FromJSON(data, atts)
		if err != nil {
			if json.Valid(data) && !errors.Is(err, ErrDepth) && !errors.Is(err, ErrPlaceholder) {
				t.Fatalf("FromJSON(%q) error on valid JSON: %v", data, err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("FromJSON(%q) accepted invalid JSON", data)
		}
		out, atts1, err := ToJSON(mp)
		if err != nil {
			t.Fatalf("ToJSON(FromJSON(%q) = %x) error: %v", data, mp, err)
		}
		if !json.Valid(out) {
			t.Fatalf("ToJSON(FromJSON(%q)) = %q, not valid JSON", data, out)
		}
		if userPlaceholders(out, atts1) {
			return
		}
		// The first pass normalises (numbers, escapes, Infinity to null,
		// placeholder order); from then on the JSON and msgpack are stable.
		mp2, err := FromJSON(out, atts1)
		if err != nil {
			t.Fatalf("FromJSON(%q) error: %v", out, err)
		}
		out2, atts2, err := ToJSON(mp2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("round trip of %q: %q, then %q (%v)", data, out, out2, err)
		}
		mp3, err := FromJSON(out2, atts2)
		if err != nil || !bytes.Equal(mp2, mp3) {
			t.Fatalf("FromJSON not stable for %q:\n%s\n%s (%v)", out, hex.EncodeToString(mp2), hex.EncodeToString(mp3), err)
		}
	})
}
