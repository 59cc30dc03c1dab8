package translate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iobridge/iobridge/internal/golden"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
)

func TestAttachmentsToBinary(t *testing.T) {
	atts := [][]byte{{0, 1}, []byte("hi")}
	cases := []struct{ name, in, want string }{
		{"no objects", `"text"`, `"text"`},
		{"top level", `{"_placeholder":true,"num":1}`, `{"_binary":"aGk="}`},
		{"nested, rest kept byte for byte", `{"z": 1,  "f":[ {"num":0,"_placeholder":true} ], "s":"{\"_placeholder\":true}"}`,
			`{"z": 1,  "f":[ {"_binary":"AAE="} ], "s":"{\"_placeholder\":true}"}`},
		{"not a placeholder", `{"_placeholder":false,"num":0}`, `{"_placeholder":false,"num":0}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := translate.AttachmentsToBinary(json.RawMessage(tc.in), atts)
			if err != nil || string(got) != tc.want {
				t.Fatalf("AttachmentsToBinary(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
	if _, err := translate.AttachmentsToBinary(json.RawMessage(`{"_placeholder":true,"num":2}`), atts); err == nil {
		t.Fatal("placeholder out of range: no error")
	}
}

func TestBinaryToAttachments(t *testing.T) {
	cases := []struct {
		name     string
		in       []string
		want     []string
		wantAtts []string
		err      bool
	}{
		{name: "none", in: []string{`1`, `{"a":"_binary"}`}, want: []string{`1`, `{"a":"_binary"}`}},
		{name: "two across args", in: []string{`{"_binary":"AAE="}`, `[ {"x":{"_binary":"aGk="}} ]`},
			want: []string{`{"_placeholder":true,"num":0}`, `[ {"x":{"_placeholder":true,"num":1}} ]`}, wantAtts: []string{"\x00\x01", "hi"}},
		{name: "escaped slash and key", in: []string{`{"\u005fbinary":"\/w=="}`},
			want: []string{`{"_placeholder":true,"num":0}`}, wantAtts: []string{"\xff"}},
		{name: "two keys is not binary", in: []string{`{"_binary":"AA==","x":1}`}, want: []string{`{"_binary":"AA==","x":1}`}},
		{name: "non-string is not binary", in: []string{`{"_binary":1}`}, want: []string{`{"_binary":1}`}},
		{name: "bad base64", in: []string{`{"_binary":"@@"}`}, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var in []json.RawMessage
			for _, s := range tc.in {
				in = append(in, json.RawMessage(s))
			}
			got, atts, err := translate.BinaryToAttachments(in)
			if tc.err {
				if !errors.Is(err, translate.ErrInvalidInstruction) {
					t.Fatalf("BinaryToAttachments(%q) err = %v, want ErrInvalidInstruction", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if string(got[i]) != tc.want[i] {
					t.Fatalf("BinaryToAttachments(%q)[%d] = %s, want %s", tc.in, i, got[i], tc.want[i])
				}
			}
			if len(atts) != len(tc.wantAtts) {
				t.Fatalf("attachments = %q, want %q", atts, tc.wantAtts)
			}
			for i := range atts {
				if string(atts[i]) != tc.wantAtts[i] {
					t.Fatalf("attachment %d = %q, want %q", i, atts[i], tc.wantAtts[i])
				}
			}
			if tc.wantAtts == nil && &got[0] != &in[0] {
				t.Fatal("args without binary were copied")
			}
		})
	}
}

func FuzzBinaryRoundTrip(f *testing.F) {
	for _, s := range []string{`{"_binary":"AAE="}`, `[1,{"a":{"_binary":"aGk="}}]`, `"x"`, `{"_binary":"@"}`, `[[[{}]]]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		args, atts, err := translate.BinaryToAttachments([]json.RawMessage{json.RawMessage(s)})
		if err != nil {
			return
		}
		if !json.Valid(args[0]) {
			t.Fatalf("BinaryToAttachments(%s) = %s: not JSON", s, args[0])
		}
		back, err := translate.AttachmentsToBinary(args[0], atts)
		if err != nil {
			t.Fatalf("AttachmentsToBinary(%s): %v", args[0], err)
		}
		again, atts2, err := translate.BinaryToAttachments([]json.RawMessage{back})
		if err != nil || string(again[0]) != string(args[0]) || len(atts2) != len(atts) {
			t.Fatalf("round trip of %s: %s → %s (%v)", s, args[0], again[0], err)
		}
	})
}

func TestSSEReader(t *testing.T) {
	in := "\xef\xbb\xbf: comment\n" +
		"event: a\ndata: 1\ndata:2\nid: 7\n\n" +
		"data: x\r\n\r\n" +
		"event: empty\n\n" +
		"data\rdata: y\r\r" +
		"retry: 100\nevent: c\ndata: {}\n\n" +
		"id: 9\ndata: incomplete"
	r := translate.NewSSEReader(strings.NewReader(in), 0)
	want := []translate.SSEMessage{
		{Event: "a", Data: []byte("1\n2"), ID: "7"},
		{Data: []byte("x"), ID: "7"},
		{Data: []byte("\ny"), ID: "7"},
		{Event: "c", Data: []byte("{}"), ID: "7", Retry: 100},
	}
	for i, w := range want {
		m, err := r.Next()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if m.Event != w.Event || !bytes.Equal(m.Data, w.Data) || m.ID != w.ID || m.Retry != w.Retry {
			t.Fatalf("message %d = %+v (data %q), want %+v (data %q)", i, m, m.Data, w, w.Data)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
	// The cut message's id is not the last event ID: a reconnect asks
	// for it again.
	if id := r.LastEventID(); id != "7" {
		t.Fatalf("LastEventID after a cut message = %q, want 7", id)
	}
	idOnly := translate.NewSSEReader(strings.NewReader("id: 3\n\nid: 4\n"), 0)
	if _, err := idOnly.Next(); err != io.EOF || idOnly.LastEventID() != "3" {
		t.Fatalf("id-only messages: %v, LastEventID %q, want io.EOF and 3", err, idOnly.LastEventID())
	}
	long := translate.NewSSEReader(strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), 32)
	if _, err := long.Next(); !errors.Is(err, translate.ErrSSELineTooLong) {
		t.Fatalf("long line: %v, want ErrSSELineTooLong", err)
	}
}

func FuzzSSEReader(f *testing.F) {
	f.Add("event: a\ndata: 1\n\n")
	f.Add("data: x\r\n\r\ndata\r\r")
	f.Add(": c\nid: 1\nretry: 5\ndata: {}\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		r := translate.NewSSEReader(strings.NewReader(s), 1<<16)
		for range 10000 {
			m, err := r.Next()
			if err != nil {
				return
			}
			if len(m.Data) > len(s) {
				t.Fatalf("data longer than the input")
			}
		}
		t.Fatal("no end of stream")
	})
}

func TestDecodeReply(t *testing.T) {
	cases := []struct {
		name, body string
		check      func(r *translate.Reply) bool
		invalid    bool
	}{
		{name: "empty", body: "", check: func(r *translate.Reply) bool { return !r.HasAck && r.Emit == nil }},
		{name: "ack none", body: `{"ack":[]}`, check: func(r *translate.Reply) bool { return r.HasAck && len(r.Ack) == 0 }},
		{name: "ack only, spaced", body: " { \"ack\" : [ 1 , {\"a\":[2]} ] } ", check: func(r *translate.Reply) bool {
			return r.HasAck && len(r.Ack) == 2 && string(r.Ack[1]) == `{"a":[2]}`
		}},
		{name: "ack only, invalid element", body: `{"ack":[nope]}`, invalid: true},
		{name: "ack null is no ack", body: `{"ack":null}`, check: func(r *translate.Reply) bool { return !r.HasAck }},
		{name: "everything", body: `{"ack":[1, {"a" : 2}],"emit":[{"event":"e","to":"r"}],"join":["j"],"leave":["l"],"disconnect":true}`,
			check: func(r *translate.Reply) bool {
				return r.HasAck && string(r.Ack[1]) == `{"a" : 2}` && r.Emit[0].To[0] == "r" && r.Join[0] == "j" && r.Leave[0] == "l" && r.Disconnect
			}},
		{name: "connect", body: `{"rooms":["u:1"],"data":{"u":1}}`, check: func(r *translate.Reply) bool {
			return r.Rooms[0] == "u:1" && string(r.Data) == `{"u":1}`
		}},
		{name: "ack object", body: `{"ack":{"a":1}}`, invalid: true},
		{name: "not an object", body: `[1]`, invalid: true},
		{name: "truncated", body: `{"ack":[`, invalid: true},
		{name: "emit without event", body: `{"emit":[{"args":[1]}]}`, invalid: true},
		{name: "emit not an array", body: `{"emit":{"event":"e"}}`, invalid: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := translate.DecodeReply([]byte(tc.body))
			if tc.invalid {
				if !errors.Is(err, translate.ErrInvalidAnswer) {
					t.Fatalf("DecodeReply(%s) = %v, want ErrInvalidAnswer", tc.body, err)
				}
				return
			}
			if err != nil || !tc.check(r) {
				t.Fatalf("DecodeReply(%s) = %+v, %v", tc.body, r, err)
			}
		})
	}
}

func TestAckOptions(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{`true`, translate.DefaultAckTimeout, false},
		{`{}`, translate.DefaultAckTimeout, false},
		{`{"timeout":"2s"}`, 2 * time.Second, false},
		{`{"timeout":1500}`, 1500 * time.Millisecond, false},
		{`false`, 0, false},
		{`{"timeout":"soon"}`, 0, true},
		{`{"timeout":-1}`, 0, true},
	}
	for _, tc := range cases {
		var a translate.AckOptions
		err := json.Unmarshal([]byte(tc.in), &a)
		if (err != nil) != tc.err || (!tc.err && a.Timeout != tc.want) {
			t.Errorf("AckOptions(%s) = %v, %v; want %v (error %v)", tc.in, a.Timeout, err, tc.want, tc.err)
		}
	}
}

// TestEnvelopeGolden pins the envelope's JSON for each delivery type.
func TestEnvelopeGolden(t *testing.T) {
	hs := translate.EncodeHandshake(socketio.Handshake{
		Headers: http.Header{"User-Agent": {"node"}, "X-Multi": {"a", "b"}},
		Query:   url.Values{"EIO": {"4"}, "transport": {"websocket"}},
		Auth:    json.RawMessage(`{"token":"t"}`),
		Address: "127.0.0.1",
		URL:     "/socket.io/?EIO=4&transport=websocket",
	})
	at := time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC)
	sock := translate.SocketInfo{ID: "AAAAAAAAAAAAAAAAAAAA", Rooms: []string{"AAAAAAAAAAAAAAAAAAAA", "r\"1"}, Handshake: hs}
	envs := []translate.Envelope{
		{Type: "connect", ID: "msg_1", Time: at, Namespace: "/chat", Socket: sock},
		{Type: "event", ID: "msg_2", Time: at, Namespace: "/chat", Socket: sock, Event: "message",
			Args: []json.RawMessage{json.RawMessage(`{"b":1, "a":2}`), json.RawMessage(`{"_binary":"AAE="}`)}, Ack: true},
		{Type: "disconnect", ID: "msg_3", Time: at, Namespace: "/chat", Socket: sock, Reason: "transport close"},
		{Type: "connect", ID: "msg_4", Time: at, Namespace: "/", Socket: translate.SocketInfo{ID: "B", Data: json.RawMessage(`{"u":1}`)}, Recovered: true},
		{Type: "expired", ID: "msg_5", Time: at, Namespace: "/chat", Socket: sock, Reason: "ping timeout"},
	}
	var got bytes.Buffer
	for _, e := range envs {
		b := e.AppendJSON(nil)
		if !json.Valid(b) {
			t.Fatalf("envelope %s is not JSON", b)
		}
		got.Write(b)
		got.WriteByte('\n')
	}
	golden.Assert(t, filepath.Join("testdata", "envelopes.golden"), got.Bytes())
}

func BenchmarkEnvelopeAppend(b *testing.B) {
	hs := translate.EncodeHandshake(socketio.Handshake{
		Headers: http.Header{"User-Agent": {"node"}, "Accept": {"*/*"}},
		Query:   url.Values{"EIO": {"4"}, "transport": {"websocket"}},
		Auth:    json.RawMessage(`{}`),
	})
	e := translate.Envelope{Type: "event", ID: translate.NewDeliveryID(), Time: time.Now(), Namespace: "/",
		Socket: translate.SocketInfo{ID: "AAAAAAAAAAAAAAAAAAAA", Rooms: []string{"AAAAAAAAAAAAAAAAAAAA"}, Handshake: hs},
		Event:  "echo", Args: []json.RawMessage{json.RawMessage(`"` + strings.Repeat("x", 64) + `"`)}, Ack: true}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeReply(b *testing.B) {
	for _, body := range []string{`{"ack":["` + strings.Repeat("x", 64) + `"]}`, `{"ack":[1],"join":["r"]}`} {
		b.Run(body[:12], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := translate.DecodeReply([]byte(body)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
