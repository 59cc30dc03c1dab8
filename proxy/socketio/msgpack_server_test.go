package socketio_test

import (
	"encoding/json"
	"testing"

	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// nextMsgpack reads the next message the server sent and decodes it as a
// msgpack packet.
func (c *fakeConn) nextMsgpack(t testing.TB) *socketio.Packet {
	t.Helper()
	m := c.next(t)
	if !m.Binary {
		t.Fatalf("conn %s: got text %q, want a msgpack packet", c.id, m.Data)
	}
	p, err := socketio.MsgpackParser().Decode(m.Data, true)
	if err != nil || p == nil {
		t.Fatalf("conn %s: %x does not decode: %v", c.id, m.Data, err)
	}
	return p
}

// joinMsgpack connects to nsp with a msgpack CONNECT and returns the
// socket id.
func (c *fakeConn) joinMsgpack(t testing.TB, nsp string) string {
	t.Helper()
	c.bin(encodeMsgpack(t, &socketio.Packet{Type: socketio.PacketConnect, Namespace: nsp}))
	p := c.nextMsgpack(t)
	var ack struct{ SID string }
	if p.Type != socketio.PacketConnect || p.Namespace != nsp || json.Unmarshal(p.Data, &ack) != nil || len(ack.SID) != 20 {
		t.Fatalf("CONNECT answer %s", describe(p))
	}
	return ack.SID
}

func encodeMsgpack(t testing.TB, p *socketio.Packet) []byte {
	t.Helper()
	pkts, err := socketio.MsgpackParser().Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	return pkts[0].Data
}

func newMsgpackServer(t *testing.T) *socketio.Server {
	srv := newServer(t, socketio.Config{Parser: socketio.MsgpackParser()})
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(e socketio.Event) {
			if e.Ack != nil {
				_ = e.Ack(e.Args, e.Attachments)
			}
		})
		s.On("join", func(e socketio.Event) {
			s.Join("room")
			_ = e.Ack(nil, nil)
		})
		s.On("shout", func(e socketio.Event) {
			_ = s.Namespace().To("room").Emit("news", e.Args, e.Attachments)
		})
	})
	return srv
}

// TestMsgpackServerEcho: events, acks and binary both ways, in msgpack
// only; handlers see the same JSON arguments and attachments as with the
// default parser.
func TestMsgpackServerEcho(t *testing.T) {
	srv := newMsgpackServer(t)
	var seen []socketio.Event
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.OnAny(func(e socketio.Event) { seen = append(seen, e) })
	})
	c := newFakeConn(4).attach(srv)
	c.joinMsgpack(t, "/")
	c.bin(encodeMsgpack(t, &socketio.Packet{Type: socketio.PacketEvent, Namespace: "/", ID: 7, HasID: true,
		Data: json.RawMessage(`["echo","hi",{"f":{"_placeholder":true,"num":0}}]`), Attachments: [][]byte{{1, 2, 3}}}))
	p := c.nextMsgpack(t)
	if p.Type != socketio.PacketAck || !p.HasID || p.ID != 7 || string(p.Data) != `["hi",{"f":{"_placeholder":true,"num":0}}]` ||
		len(p.Attachments) != 1 || string(p.Attachments[0]) != "\x01\x02\x03" {
		t.Fatalf("ack %s", describe(p))
	}
	if len(seen) != 1 || seen[0].Name != "echo" || string(seen[0].Args[1]) != `{"f":{"_placeholder":true,"num":0}}` || len(seen[0].Attachments) != 1 {
		t.Fatalf("handlers saw %+v", seen)
	}
}

// TestMsgpackServerBroadcastEncodedOnce: a broadcast reaches every member
// of the room as one msgpack message, the same bytes for all.
func TestMsgpackServerBroadcastEncodedOnce(t *testing.T) {
	srv := newMsgpackServer(t)
	conns := make([]*fakeConn, 3)
	for i := range conns {
		conns[i] = newFakeConn(4).attach(srv)
		conns[i].joinMsgpack(t, "/")
		conns[i].bin(encodeMsgpack(t, &socketio.Packet{Type: socketio.PacketEvent, Namespace: "/", ID: 1, HasID: true, Data: json.RawMessage(`["join"]`)}))
		if p := conns[i].nextMsgpack(t); p.Type != socketio.PacketAck {
			t.Fatalf("join answer %s", describe(p))
		}
	}
	conns[0].bin(encodeMsgpack(t, &socketio.Packet{Type: socketio.PacketEvent, Namespace: "/",
		Data: json.RawMessage(`["shout",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{0xff}}}))
	var first []byte
	for i, c := range conns {
		m := c.next(t)
		if !m.Binary {
			t.Fatalf("conn %d got text %q", i, m.Data)
		}
		if i == 0 {
			first = m.Data
			continue
		}
		if &m.Data[0] != &first[0] {
			t.Fatalf("conn %d got its own copy of the broadcast", i)
		}
	}
	p, err := socketio.MsgpackParser().Decode(first, true)
	if err != nil || string(p.Data) != `["news",{"_placeholder":true,"num":0}]` || string(p.Attachments[0]) != "\xff" {
		t.Fatalf("broadcast %x: %v", first, err)
	}
}

// TestMsgpackServerRefusesText: a default-parser client's text CONNECT
// closes the connection with a parse error and no answer, as the
// reference does.
func TestMsgpackServerRefusesText(t *testing.T) {
	srv := newMsgpackServer(t)
	c := newFakeConn(4).attach(srv)
	c.msg("0")
	if r := c.waitClosed(t); r != engineio.ReasonParseError {
		t.Fatalf("closed with %q, want %q", r, engineio.ReasonParseError)
	}
	c.expectNothing(t)
}

// TestMsgpackServerConnectError: CONNECT_ERROR for an unknown namespace
// and a DISCONNECT from the server are msgpack too.
func TestMsgpackServerConnectError(t *testing.T) {
	srv := newMsgpackServer(t)
	srv.Of("/chat").OnConnection(func(s *socketio.Socket) {
		s.On("kick", func(socketio.Event) { s.Disconnect(false) })
	})
	c := newFakeConn(4).attach(srv)
	c.bin(encodeMsgpack(t, &socketio.Packet{Type: socketio.PacketConnect, Namespace: "/nope"}))
	if p := c.nextMsgpack(t); p.Type != socketio.PacketConnectError || string(p.Data) != `{"message":"Invalid namespace"}` {
		t.Fatalf("got %s", describe(p))
	}
	c.joinMsgpack(t, "/chat")
	c.bin(encodeMsgpack(t, &socketio.Packet{Type: socketio.PacketEvent, Namespace: "/chat", Data: json.RawMessage(`["kick"]`)}))
	if p := c.nextMsgpack(t); p.Type != socketio.PacketDisconnect || p.Namespace != "/chat" {
		t.Fatalf("got %s", describe(p))
	}
}
