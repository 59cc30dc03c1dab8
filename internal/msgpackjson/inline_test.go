package msgpackjson

import (
	"encoding/hex"
	"errors"
	"testing"
)

// TestAppendJSONInlineBinary checks the form backends get binary in when a
// value has no attachments to refer to: {"_binary":"<base64>"} in place.
func TestAppendJSONInlineBinary(t *testing.T) {
	for _, tc := range []struct {
		name, hex, want string
		err             error
	}{
		{"bin at top", "c403010203", `{"_binary":"AQID"}`, nil},
		{"empty bin", "c400", `{"_binary":""}`, nil},
		{"bin in map", "82a17401a162c4026869", `{"t":1,"b":{"_binary":"aGk="}}`, nil},
		{"legacy ArrayBuffer", "c70200abcd", `{"_binary":"q80="}`, nil},
		{"other ext", "d50501ff", `[5,{"_binary":"Af8="}]`, nil},
		{"truncated bin", "c40501", ``, ErrTruncated},
		{"trailing", "c0c0", `null`, ErrTrailing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := hex.DecodeString(tc.hex)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AppendJSON([]byte("x"), in, nil)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err == nil && string(got) != "x"+tc.want {
				t.Fatalf("got %s, want x%s", got, tc.want)
			}
		})
	}
}

// TestAppendJSONShared: on every vector, the same JSON and attachments as
// ToJSON, the attachments pointing into the input.
func TestAppendJSONShared(t *testing.T) {
	for _, v := range readVectors(t) {
		in := v.msgpack(t)
		want, wantAtts, wantErr := ToJSON(in)
		var atts [][]byte
		got, err := AppendJSONShared(nil, in, &atts)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%s: error %v, ToJSON's %v", v.Name, err, wantErr)
		}
		if err != nil {
			continue
		}
		if string(got) != string(want) || len(atts) != len(wantAtts) {
			t.Fatalf("%s: %s with %d attachments, ToJSON %s with %d", v.Name, got, len(atts), want, len(wantAtts))
		}
		for i, a := range atts {
			if string(a) != string(wantAtts[i]) {
				t.Fatalf("%s: attachment %d = %x, want %x", v.Name, i, a, wantAtts[i])
			}
			if len(a) > 0 && (cap(a) != len(a) || !within(in, a)) {
				t.Fatalf("%s: attachment %d is not a capped slice of the input", v.Name, i)
			}
		}
	}
}

// within reports whether b's bytes lie inside buf.
func within(buf, b []byte) bool {
	for i := range buf {
		if &buf[i] == &b[0] {
			return i+len(b) <= len(buf)
		}
	}
	return false
}
