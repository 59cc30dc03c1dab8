package msgpackjson

// The benchmark that shows why the transcoder is hand-written: the same job
// (one broadcast's arguments, msgpack <-> JSON with binary placeholders) done
// by ToJSON / FromJSON and by a library-only baseline built from
// vmihailenco/msgpack and encoding/json. Run:
//
//	go test -run x -bench 'MsgpackToJSON|JSONToMsgpack' -benchmem ./internal/msgpackjson/
//
// Besides costing more, the baseline is not a correct replacement: a Go map
// loses object key order both ways (and with it the order placeholders are
// numbered in), json.Marshal escapes <, > and & and repairs invalid UTF-8
// per byte where JSON.stringify after Node's decoder does neither, float32
// prints with 32-bit digits (0.1, where JS prints 0.10000000149011612),
// json.Unmarshal rounds integers beyond 2^53, and unknown ext types (notepack's
// [type, buffer]) are an error.

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// valueBenchPayloads are the typical event and one carrying 1 KiB of binary.
var valueBenchPayloads = []struct {
	name string
	json string
	atts [][]byte
}{
	{"event", benchEventJSON, nil},
	{"binary1k", `["news",{"id":123,"file":{"_placeholder":true,"num":0}}]`, [][]byte{bytes.Repeat([]byte{1}, 1024)}},
}

// libMsgpackToJSON is ToJSON done with the libraries only: the
// library's default interface decoding, a walk for what JSON cannot carry,
// json.Marshal. The decoder is pooled (msgpack.GetDecoder, the pooled
// msgpack.NewDecoder) since ToJSON pools its own.
func libMsgpackToJSON(b []byte) ([]byte, [][]byte, error) {
	r := bytes.NewReader(b)
	dec := msgpack.GetDecoder()
	dec.Reset(r)
	v, err := dec.DecodeInterface()
	msgpack.PutDecoder(dec)
	if err != nil {
		return nil, nil, err
	}
	if r.Len() != 0 {
		return nil, nil, ErrTrailing
	}
	var atts [][]byte
	v = libToJSONValue(v, &atts)
	out, err := json.Marshal(v)
	return out, atts, err
}

// libToJSONValue replaces, in place, bin with placeholders (numbered in Go's
// map iteration order, not the wire's), time.Time with Date.toJSON's string
// and NaN/Inf with nil.
func libToJSONValue(v any, atts *[][]byte) any {
	switch x := v.(type) {
	case []byte:
		*atts = append(*atts, x)
		return map[string]any{"_placeholder": true, "num": len(*atts) - 1}
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil
		}
	case []any:
		for i, e := range x {
			x[i] = libToJSONValue(e, atts)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = libToJSONValue(e, atts)
		}
	}
	return v
}

// libJSONToMsgpack is FromJSON done with the libraries only:
// json.Unmarshal into any, a walk replacing placeholders by their
// attachments, then the library's encoder (msgpack.Marshal's pooled encoder,
// with compact ints and floats so that 123 is written as notepack writes
// it, not as a float64).
func libJSONToMsgpack(data []byte, atts [][]byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	v, err := libFromJSONValue(v, atts)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := msgpack.GetEncoder()
	enc.Reset(&buf)
	enc.UseCompactInts(true)
	enc.UseCompactFloats(true)
	err = enc.Encode(v)
	enc.Reset(nil)
	msgpack.PutEncoder(enc)
	return buf.Bytes(), err
}

// libFromJSONValue replaces, in place, placeholder objects by their
// attachments.
func libFromJSONValue(v any, atts [][]byte) (any, error) {
	var err error
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			if x[i], err = libFromJSONValue(e, atts); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		if x["_placeholder"] == true {
			num, ok := x["num"].(float64)
			if !ok || num < 0 || num != math.Trunc(num) || int(num) >= len(atts) {
				return nil, errors.New("bad placeholder")
			}
			return atts[int(num)], nil
		}
		for k, e := range x {
			if x[k], err = libFromJSONValue(e, atts); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// TestValueBenchBaselines checks that both implementations do the job on the
// benchmark payloads, so the comparison is of like with like.
func TestValueBenchBaselines(t *testing.T) {
	for _, p := range valueBenchPayloads {
		mp, err := FromJSON([]byte(p.json), p.atts)
		if err != nil {
			t.Fatal(err)
		}
		libMP, err := libJSONToMsgpack([]byte(p.json), p.atts)
		if err != nil {
			t.Fatal(err)
		}
		out, atts, err := ToJSON(libMP)
		if err != nil {
			t.Fatalf("%s: ToJSON(libJSONToMsgpack) error: %v", p.name, err)
		}
		libOut, libAtts, err := libMsgpackToJSON(mp)
		if err != nil {
			t.Fatalf("%s: libMsgpackToJSON error: %v", p.name, err)
		}
		var a, b any
		if err := json.Unmarshal(out, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(libOut, &b); err != nil {
			t.Fatal(err)
		}
		if ja, _ := json.Marshal(a); !bytes.Equal(ja, mustMarshal(t, b)) {
			t.Errorf("%s: %s, library %s", p.name, out, libOut)
		}
		if len(atts) != len(p.atts) || len(libAtts) != len(p.atts) {
			t.Errorf("%s: %d and %d attachments, want %d", p.name, len(atts), len(libAtts), len(p.atts))
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkMsgpackToJSON is the receiving side of a broadcast: one message's
// arguments from msgpack to JSON and attachments.
func BenchmarkMsgpackToJSON(b *testing.B) {
	for _, p := range valueBenchPayloads {
		in, err := FromJSON([]byte(p.json), p.atts)
		if err != nil {
			b.Fatal(err)
		}
		for _, impl := range []struct {
			name string
			fn   func([]byte) ([]byte, [][]byte, error)
		}{{"iobridge", ToJSON}, {"library", libMsgpackToJSON}} {
			b.Run(p.name+"/"+impl.name, func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := impl.fn(in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkJSONToMsgpack is the publishing side: one message's JSON
// arguments and attachments to msgpack.
func BenchmarkJSONToMsgpack(b *testing.B) {
	for _, p := range valueBenchPayloads {
		data := []byte(p.json)
		for _, impl := range []struct {
			name string
			fn   func([]byte, [][]byte) ([]byte, error)
		}{{"iobridge", FromJSON}, {"library", libJSONToMsgpack}} {
			b.Run(p.name+"/"+impl.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := impl.fn(data, p.atts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
