package socketio_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iobridge/iobridge/internal/golden"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

func TestDecodeText(t *testing.T) {
	cases := []struct {
		name, in string
		want     socketio.Packet
		n        int
		err      error
	}{
		{"connect main", "0", socketio.Packet{Type: socketio.PacketConnect, Namespace: "/"}, 0, nil},
		{"empty reads as connect", "", socketio.Packet{Type: socketio.PacketConnect, Namespace: "/"}, 0, nil},
		{"connect auth", `0{"token":"1"}`, socketio.Packet{Type: socketio.PacketConnect, Namespace: "/", Data: json.RawMessage(`{"token":"1"}`)}, 0, nil},
		{"connect nsp", `0/admin,{"a":1}`, socketio.Packet{Type: socketio.PacketConnect, Namespace: "/admin", Data: json.RawMessage(`{"a":1}`)}, 0, nil},
		{"connect nsp no comma", `0/admin`, socketio.Packet{Type: socketio.PacketConnect, Namespace: "/admin"}, 0, nil},
		{"disconnect nsp", `1/admin,`, socketio.Packet{Type: socketio.PacketDisconnect, Namespace: "/admin"}, 0, nil},
		{"event", `2["hello",1]`, socketio.Packet{Type: socketio.PacketEvent, Namespace: "/", Data: json.RawMessage(`["hello",1]`)}, 0, nil},
		{"event id nsp", `2/admin,456["project:delete",123]`, socketio.Packet{Type: socketio.PacketEvent, Namespace: "/admin", ID: 456, HasID: true, Data: json.RawMessage(`["project:delete",123]`)}, 0, nil},
		{"ack", `3/admin,456[]`, socketio.Packet{Type: socketio.PacketAck, Namespace: "/admin", ID: 456, HasID: true, Data: json.RawMessage(`[]`)}, 0, nil},
		{"connect error", `4{"message":"Not authorized"}`, socketio.Packet{Type: socketio.PacketConnectError, Namespace: "/", Data: json.RawMessage(`{"message":"Not authorized"}`)}, 0, nil},
		{"binary event", `51-["hello",{"_placeholder":true,"num":0}]`, socketio.Packet{Type: socketio.PacketBinaryEvent, Namespace: "/", Data: json.RawMessage(`["hello",{"_placeholder":true,"num":0}]`)}, 1, nil},
		{"binary ack", `61-/admin,456[{"_placeholder":true,"num":0}]`, socketio.Packet{Type: socketio.PacketBinaryAck, Namespace: "/admin", ID: 456, HasID: true, Data: json.RawMessage(`[{"_placeholder":true,"num":0}]`)}, 1, nil},
		{"numeric event name", `2[1,2]`, socketio.Packet{Type: socketio.PacketEvent, Namespace: "/", Data: json.RawMessage(`[1,2]`)}, 0, nil},
		{"unknown type", "7", socketio.Packet{}, 0, socketio.ErrUnknownPacketType},
		{"type letter", "x", socketio.Packet{}, 0, socketio.ErrUnknownPacketType},
		{"connect not object", `0[]`, socketio.Packet{}, 0, socketio.ErrInvalidPayload},
		{"disconnect payload", `1"x"`, socketio.Packet{}, 0, socketio.ErrInvalidPayload},
		{"event object", `2{}`, socketio.Packet{}, 0, socketio.ErrInvalidPayload},
		{"event empty", `2[]`, socketio.Packet{}, 0, socketio.ErrInvalidPayload},
		{"event no payload", `2`, socketio.Packet{}, 0, socketio.ErrInvalidPayload},
		{"event reserved", `2["connect"]`, socketio.Packet{}, 0, socketio.ErrInvalidPayload},
		{"event bad json", `2["a"`, socketio.Packet{}, 0, socketio.ErrInvalidPayload},
		{"event bad id", `2abc["a"]`, socketio.Packet{}, 0, socketio.ErrInvalidPayload},
		{"ack without id", `3[]`, socketio.Packet{}, 0, socketio.ErrInvalidAckID},
		{"ack id overflow", `399999999999999999999[]`, socketio.Packet{}, 0, socketio.ErrInvalidAckID},
		{"ack object", `31{}`, socketio.Packet{}, 0, socketio.ErrInvalidPayload},
		{"connect error array", `4[]`, socketio.Packet{}, 0, socketio.ErrInvalidPayload},
		{"attachments missing dash", `51["a"]`, socketio.Packet{}, 0, socketio.ErrIllegalAttachments},
		{"attachments empty", `5-["a"]`, socketio.Packet{}, 0, socketio.ErrIllegalAttachments},
		{"attachments zero", `50-["a"]`, socketio.Packet{}, 0, socketio.ErrIllegalAttachments},
		{"attachments not digits", `5a-["a"]`, socketio.Packet{}, 0, socketio.ErrIllegalAttachments},
		{"too many attachments", `511-["a"]`, socketio.Packet{}, 0, socketio.ErrTooManyAttachments},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, n, err := socketio.DecodeText([]byte(tc.in), 0)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, socketio.ErrParse) {
					t.Fatalf("DecodeText(%q) error = %v, want %v", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeText(%q) error = %v", tc.in, err)
			}
			if p.Type != tc.want.Type || p.Namespace != tc.want.Namespace || p.ID != tc.want.ID || p.HasID != tc.want.HasID || !bytes.Equal(p.Data, tc.want.Data) || n != tc.n {
				t.Fatalf("DecodeText(%q) = %+v, %d; want %+v, %d", tc.in, *p, n, tc.want, tc.n)
			}
		})
	}
}

func TestEventName(t *testing.T) {
	cases := []struct {
		in, name string
		args     []string
	}{
		{`["a"]`, "a", nil},
		{`[ "a\u0062" , 1, {"x":[1,2]} ,"s,]"]`, "ab", []string{`1`, `{"x":[1,2]}`, `"s,]"`}},
		{`[-1.5e3,null]`, "-1.5e3", []string{"null"}},
	}
	for _, tc := range cases {
		name, args, err := socketio.EventName(json.RawMessage(tc.in))
		if err != nil || name != tc.name || len(args) != len(tc.args) {
			t.Fatalf("EventName(%q) = %q, %q, %v", tc.in, name, args, err)
		}
		for i := range args {
			if string(args[i]) != tc.args[i] {
				t.Fatalf("EventName(%q) arg %d = %q, want %q", tc.in, i, args[i], tc.args[i])
			}
		}
	}
	if _, _, err := socketio.EventName(json.RawMessage(`[{}]`)); err == nil {
		t.Fatal("object name accepted")
	}
}

// goldenInputs are client messages: one packet per line group; a line
// "b:<hex>" is a binary message.
var goldenInputs = [][]string{
	{`0`},
	{`0{"token":"123"}`},
	{`0/custom,{"token":"abc"}`},
	{`1/custom,`},
	{`2["message",1,"2",{"3":[true]}]`},
	{`2/nsp,12["chat",{"text":"hé \"q\""}]`},
	{`3/nsp,12["ok"]`},
	{`4{"message":"Not authorized","data":{"code":1}}`},
	{`52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "b:010203", "b:040506"},
	{`51-789["upload",{"name":"f","data":{"_placeholder":true,"num":0}}]`, "b:ff00"},
	{`61-/nsp,3[{"_placeholder":true,"num":0}]`, "b:"},
	{`51-["a",{"_placeholder":true,"num":1}]`, "b:01"},
	{`2{}`},
	{`42abc[]`},
}

func describe(p *socketio.Packet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "type=%s nsp=%s", p.Type, p.Namespace)
	if p.HasID {
		fmt.Fprintf(&b, " id=%d", p.ID)
	}
	if p.Data != nil {
		fmt.Fprintf(&b, " data=%s", p.Data)
	}
	for i, a := range p.Attachments {
		fmt.Fprintf(&b, " att%d=%x", i, a)
	}
	return b.String()
}

func encodeLines(pkts []engineio.Packet) string {
	var b strings.Builder
	for _, p := range pkts {
		if p.Binary {
			fmt.Fprintf(&b, "b:%x\n", p.Data)
		} else {
			fmt.Fprintf(&b, "%s\n", p.Data)
		}
	}
	return b.String()
}

// TestGoldenPackets decodes goldenInputs, re-encodes what decodes, and
// compares both with testdata/packets.golden (go test -update rewrites it).
func TestGoldenPackets(t *testing.T) {
	var out bytes.Buffer
	for _, msgs := range goldenInputs {
		fmt.Fprintf(&out, "in:\n")
		for _, m := range msgs {
			fmt.Fprintf(&out, "  %s\n", m)
		}
		var d socketio.Decoder
		var p *socketio.Packet
		var err error
		for _, m := range msgs {
			if h, ok := strings.CutPrefix(m, "b:"); ok {
				b, _ := hex.DecodeString(h)
				p, err = d.Add(b, true)
			} else {
				p, err = d.Add([]byte(m), false)
			}
			if err != nil {
				break
			}
		}
		switch {
		case err != nil:
			fmt.Fprintf(&out, "error: %v\n", err)
		case p == nil:
			fmt.Fprintf(&out, "incomplete\n")
		default:
			fmt.Fprintf(&out, "decoded: %s\nencoded:\n", describe(p))
			for _, line := range strings.Split(strings.TrimSuffix(encodeLines(socketio.Encode(p)), "\n"), "\n") {
				fmt.Fprintf(&out, "  %s\n", line)
			}
		}
		out.WriteString("\n")
	}
	golden.Assert(t, filepath.Join("testdata", "packets.golden"), out.Bytes())
}

// TestEncodeGolden covers packets only the server writes.
func TestEncodeGolden(t *testing.T) {
	pkts := []*socketio.Packet{
		{Type: socketio.PacketConnect, Namespace: "/", Data: json.RawMessage(`{"sid":"abcdefghijklmnopqrst"}`)},
		{Type: socketio.PacketConnect, Namespace: "/chat"},
		{Type: socketio.PacketDisconnect, Namespace: "/chat"},
		{Type: socketio.PacketConnectError, Namespace: "/x", Data: json.RawMessage(`{"message":"Invalid namespace"}`)},
		{Type: socketio.PacketEvent, Namespace: "/", Data: socketio.AppendEventData(nil, "news", []json.RawMessage{json.RawMessage(`{"a":1}`), socketio.Placeholder(0)}), Attachments: [][]byte{{9, 8}}},
		{Type: socketio.PacketAck, Namespace: "/chat", ID: 7, HasID: true, Data: socketio.AppendArray(nil, []json.RawMessage{json.RawMessage(`"ok"`)})},
		{Type: socketio.PacketAck, Namespace: "/", ID: 0, HasID: true, Data: socketio.AppendArray(nil, []json.RawMessage{socketio.Placeholder(0), socketio.Placeholder(1)}), Attachments: [][]byte{{1}, {2}}},
	}
	var out bytes.Buffer
	for _, p := range pkts {
		out.WriteString(encodeLines(socketio.Encode(p)))
		out.WriteString("\n")
	}
	golden.Assert(t, filepath.Join("testdata", "encode.golden"), out.Bytes())
}
