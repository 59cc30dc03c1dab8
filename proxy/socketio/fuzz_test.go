package socketio_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// FuzzDecodeText: decoding never panics, accepted payloads are valid JSON,
// and decode → encode → decode gives the same packet.
func FuzzDecodeText(f *testing.F) {
	for _, s := range []string{
		"0", `0{"a":1}`, `0/admin,{}`, "1/admin,", `2["a",1]`, `2/x,7["a",{"b":[1,"]"]}]`,
		`3/x,7[]`, `4"err"`, `51-["a",{"_placeholder":true,"num":0}]`, `62-/n,1[{"_placeholder":true,"num":1}]`,
		`2abc[]`, "9", `5-[]`, `2["\u0064isconnect"]`, `2[1e400]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, n, err := socketio.DecodeText(in, 0)
		if err != nil {
			return
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("DecodeText(%q) kept invalid JSON %q", in, p.Data)
		}
		if p.Type == socketio.PacketEvent {
			if _, _, err := socketio.EventName(p.Data); err != nil {
				t.Fatalf("DecodeText(%q) accepted an event without name: %v", in, err)
			}
		}
		if p.Type == socketio.PacketBinaryEvent || p.Type == socketio.PacketBinaryAck {
			// re-encode with as many (empty) attachments as announced
			if p.Type == socketio.PacketBinaryEvent {
				p.Type = socketio.PacketEvent
			} else {
				p.Type = socketio.PacketAck
			}
			p.Attachments = make([][]byte, n)
		}
		enc := socketio.Encode(p)
		q, n2, err := socketio.DecodeText(enc[0].Data, 0)
		if err != nil {
			t.Fatalf("re-decoding %q (from %q): %v", enc[0].Data, in, err)
		}
		if n2 != n || q.Namespace != p.Namespace || q.HasID != p.HasID || q.ID != p.ID || !bytes.Equal(q.Data, p.Data) {
			t.Fatalf("round trip of %q: %+v then %+v", in, *p, *q)
		}
	})
}

// FuzzDecoder feeds a sequence of messages (split on 0x00; a part starting
// with 0x01 is binary) to one Decoder: no panic, and every packet it
// returns has its attachments complete and placeholders in range.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte("51-[\"a\",{\"_placeholder\":true,\"num\":0}]\x00\x01abc"))
	f.Add([]byte("52-[\"a\",{\"_placeholder\":true,\"num\":1},{\"_placeholder\":true,\"num\":0}]\x00\x01x\x00\x01y\x002[\"b\"]"))
	f.Add([]byte("61-3[{\"_placeholder\":true,\"num\":5}]\x00\x01z"))
	f.Add([]byte("\x01stray"))
	f.Add([]byte("51-[\"a\"]\x002[\"b\"]"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var d socketio.Decoder
		for _, part := range bytes.Split(in, []byte{0}) {
			binary := len(part) > 0 && part[0] == 1
			if binary {
				part = part[1:]
			}
			p, err := d.Add(part, binary)
			if err != nil {
				return
			}
			if p == nil {
				continue
			}
			if p.Type == socketio.PacketBinaryEvent || p.Type == socketio.PacketBinaryAck {
				t.Fatalf("binary type leaked: %+v", p)
			}
			q, n, err := socketio.DecodeText(socketio.Encode(p)[0].Data, 0)
			if err != nil || n != len(p.Attachments) || !bytes.Equal(q.Data, p.Data) {
				t.Fatalf("round trip of %+v: %+v %d %v", p, q, n, err)
			}
		}
	})
}

// FuzzMsgpackDecode: the msgpack parser never panics on a client message;
// what it accepts has valid JSON data, binary only through its own
// placeholders, and encodes back to a message that decodes to the same
// packet.
func FuzzMsgpackDecode(f *testing.F) {
	for _, tc := range msgpackDecodeCases {
		f.Add(mp(f, tc.parts...))
	}
	parser := socketio.MsgpackParser()
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := parser.Decode(in, true)
		if err != nil {
			if !errors.Is(err, socketio.ErrParse) {
				t.Fatalf("Decode(%x) error %v does not wrap ErrParse", in, err)
			}
			return
		}
		if p == nil {
			return
		}
		if p.Data != nil && !json.Valid(p.Data) {
			t.Fatalf("Decode(%x) data %q is not JSON", in, p.Data)
		}
		if bytes.Count(p.Data, []byte(`"_placeholder":`)) != len(p.Attachments) {
			return // a map shaped like a placeholder: as with the default parser, it reads as one
		}
		pkts, err := parser.Encode(p)
		if err != nil {
			t.Fatalf("Encode(%s) from %x: %v", describe(p), in, err)
		}
		q, err := parser.Decode(pkts[0].Data, true)
		if err != nil || q == nil {
			t.Fatalf("re-decoding %x (from %x): %v", pkts[0].Data, in, err)
		}
		if describe(q) != describe(p) {
			t.Fatalf("round trip of %x:\n%s\n%s", in, describe(p), describe(q))
		}
	})
}
