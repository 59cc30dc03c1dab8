package bridge

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeFrame: decodeFrame never panics, and each frame it accepts
// re-encodes to JSON that decodes to the same frame.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"ack","id":7,"args":["a",{"_binary":"AQI="}]}`,
		`{"type":"ack","id":0}`,
		`{"event":"e","to":"r","args":[1]}`,
		`[{"event":"a"},{"event":"b","namespace":"/x","except":["y"],"volatile":true}]`,
		`{"type":"join","rooms":["a","b"]}`,
		`{"type":"leave","rooms":[]}`,
		`{"type":"emit","event":"e","ack":{"timeout":"1s"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		frames, err := decodeFrame(msg)
		if err != nil {
			return
		}
		for _, fr := range frames {
			enc := encodeFrame(t, fr)
			again, err := decodeFrame(enc)
			if err != nil || len(again) != 1 {
				t.Fatalf("decodeFrame(%q) = %v, %v; re-encoded from %q", enc, again, err, msg)
			}
			if enc2 := encodeFrame(t, again[0]); !bytes.Equal(enc, enc2) {
				t.Fatalf("round trip: %q then %q", enc, enc2)
			}
		}
	})
}

func encodeFrame(t *testing.T, f frame) []byte {
	t.Helper()
	if f.Ack != nil && f.Ack.Timeout <= 0 {
		f.Ack = nil
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}

func TestDecodeFrame(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"ack", `{"type":"ack","id":1,"args":[]}`, true},
		{"ack without args", `{"type":"ack","id":1}`, true},
		{"ack without id", `{"type":"ack","args":[]}`, false},
		{"instruction", `{"event":"e"}`, true},
		{"emit", `{"type":"emit","event":"e"}`, true},
		{"emit without event", `{"type":"emit"}`, false},
		{"array", `[{"event":"a"},{"event":"b"}]`, true},
		{"array without event", `[{"event":"a"},{}]`, false},
		{"join", `{"type":"join","rooms":["r"]}`, true},
		{"unknown type", `{"type":"nope","event":"e"}`, false},
		{"not json", `hello`, false},
		{"empty", ` `, false},
		{"bad id", `{"type":"ack","id":-1}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeFrame([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("decodeFrame(%q) = %v, want ok %v", tc.in, err, tc.ok)
			}
		})
	}
}
