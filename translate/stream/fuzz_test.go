package stream_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/stream"
)

// FuzzDecode: Decode never panics, and what it accepts re-encodes to JSON
// that decodes to the same instructions.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"event":"e"}`,
		`[{"namespace":"/chat","to":["a","b"],"except":"c","event":"e","args":[1,{"_binary":"AQI="}],"volatile":true,"ack":{"timeout":"5s"}}]`,
		`{"event":"e","ack":true}`,
		`{"event":"e","ack":{"timeout":250}}`,
		`[]`,
		`[null]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		ins, err := stream.Decode(msg)
		if err != nil {
			return
		}
		enc := encode(t, ins)
		again, err := stream.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(%q) = %v; it re-encodes %q from %q", enc, err, enc, msg)
		}
		if enc2 := encode(t, again); !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip: %q then %q", enc, enc2)
		}
	})
}

func encode(t *testing.T, ins []translate.Instruction) []byte {
	t.Helper()
	for i := range ins {
		if ins[i].Ack != nil && ins[i].Ack.Timeout <= 0 {
			ins[i].Ack = nil // "ack": false is no ack
		}
	}
	b, err := json.Marshal(ins)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}
