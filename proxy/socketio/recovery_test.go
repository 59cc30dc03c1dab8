package socketio_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

type connectAck struct {
	Sid string `json:"sid"`
	Pid string `json:"pid"`
}

func connectWithAck(t *testing.T, c *fakeConn, auth string) connectAck {
	t.Helper()
	c.msg("0" + auth)
	var ack connectAck
	for {
		m := c.expectPrefix(t, "")
		if strings.HasPrefix(m, "0") {
			if err := json.Unmarshal([]byte(m[1:]), &ack); err != nil {
				t.Fatal(err)
			}
			return ack
		}
		t.Fatalf("unexpected %q before CONNECT ack", m)
	}
}

// lastArg returns the last argument of an EVENT text packet.
func lastArg(t *testing.T, pkt string) string {
	t.Helper()
	args, err := socketio.SplitArray(json.RawMessage(pkt[strings.IndexByte(pkt, '['):]))
	if err != nil {
		t.Fatalf("packet %q: %v", pkt, err)
	}
	var s string
	_ = json.Unmarshal(args[len(args)-1], &s)
	return s
}

func TestRecovery(t *testing.T) {
	srv := newServer(t, socketio.Config{Recovery: time.Minute})
	nsp := srv.Of("/")
	sockets := newRecorder[*socketio.Socket]()
	nsp.OnConnection(sockets.add)

	c := newFakeConn(4).attach(srv)
	ack := connectWithAck(t, c, "")
	if len(ack.Sid) != 20 || len(ack.Pid) != 20 {
		t.Fatalf("ack %+v", ack)
	}
	s := sockets.next(t)
	s.Join("news")
	s.SetData("d1")
	other, _ := connect(t, srv, "/")
	sockets.next(t)

	_ = s.Emit("direct", raw("1"), nil)
	first := c.expectPrefix(t, `2["direct",1,"`)
	offset := lastArg(t, first)
	_ = nsp.Emit("all", nil, nil)
	offset2 := lastArg(t, c.expectPrefix(t, `2["all","`))
	other.next(t)
	if offset2 == offset {
		t.Fatal("offsets repeat")
	}
	// volatile and ack emits carry no offset
	_ = s.EmitVolatile("vol", nil, nil)
	c.expect(t, `2["vol"]`)
	_ = s.EmitWithAck("q", nil, nil, 0, func([]json.RawMessage, [][]byte, error) {})
	c.expectPrefix(t, `2`)

	left := newRecorder[socketio.DisconnectReason]()
	s.OnDisconnect(left.add)
	c.clientClose(engineio.ReasonTransportClose)
	if r := left.next(t); r != socketio.ReasonTransportClose {
		t.Fatalf("reason %q", r)
	}
	// missed while away: to its room, to everyone, not to another room
	_ = nsp.To("news").Emit("news", raw(`"n1"`), nil)
	_ = nsp.To("sports").Emit("sports", nil, nil)
	_ = nsp.Except("news").Emit("not-news", nil, nil)
	_ = nsp.Emit("all2", nil, nil)
	_ = nsp.Volatile().Emit("vol2", nil, nil)

	c2 := newFakeConn(4).attach(srv)
	c2.msg(`0{"pid":"` + ack.Pid + `","offset":"` + offset2 + `"}`)
	c2.expectPrefix(t, `2["news","n1","`)
	c2.expectPrefix(t, `2["all2","`)
	got := c2.expectPrefix(t, "0")
	var ack2 connectAck
	_ = json.Unmarshal([]byte(got[1:]), &ack2)
	if ack2 != ack {
		t.Fatalf("recovered ack %+v, want %+v", ack2, ack)
	}
	s2 := sockets.next(t)
	if !s2.Recovered() || s2.ID() != s.ID() || s2.Data() != "d1" {
		t.Fatalf("recovered=%v id=%q data=%v", s2.Recovered(), s2.ID(), s2.Data())
	}
	rooms := s2.Rooms()
	slices.Sort(rooms)
	want := []string{s.ID(), "news"}
	slices.Sort(want)
	if !slices.Equal(rooms, want) {
		t.Fatalf("rooms %v", rooms)
	}
	c2.expectNothing(t)

	// a session is used once; an unknown offset gives a new session
	c3 := newFakeConn(4).attach(srv)
	if a := connectWithAck(t, c3, `{"pid":"`+ack.Pid+`","offset":"`+offset2+`"}`); a.Sid == ack.Sid {
		t.Fatal("session restored twice")
	}
	// a client disconnect is not recoverable
	s2.Disconnect(false)
	c2.expect(t, "1")
	c4 := newFakeConn(4).attach(srv)
	if a := connectWithAck(t, c4, `{"pid":"`+ack.Pid+`","offset":"`+offset2+`"}`); a.Sid == ack.Sid {
		t.Fatal("session restored after a server disconnect")
	}
}

func TestRecoveryWindowExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(t, socketio.Config{Recovery: 2 * time.Minute})
		c := newFakeConn(4).attach(srv)
		ack := connectWithAck(t, c, "")
		_ = srv.Of("/").Emit("e", nil, nil)
		offset := lastArg(t, c.expectPrefix(t, `2["e","`))
		c.clientClose(engineio.ReasonPingTimeout)
		synctest.Wait()

		time.Sleep(2*time.Minute + time.Second)
		c2 := newFakeConn(4).attach(srv)
		ack2 := connectWithAck(t, c2, `{"pid":"`+ack.Pid+`","offset":"`+offset+`"}`)
		if ack2.Sid == ack.Sid {
			t.Fatal("session restored after the window")
		}

		// within the window it recovers
		_ = srv.Of("/").Emit("e", nil, nil)
		offset = lastArg(t, c2.expectPrefix(t, `2["e","`))
		c2.clientClose(engineio.ReasonTransportClose)
		synctest.Wait()
		time.Sleep(time.Minute)
		c3 := newFakeConn(4).attach(srv)
		if a := connectWithAck(t, c3, `{"pid":"`+ack2.Pid+`","offset":"`+offset+`"}`); a != ack2 {
			t.Fatalf("ack %+v, want %+v", a, ack2)
		}
	})
}

func TestConnectTimeoutDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(t, socketio.Config{})
		c := newFakeConn(4).attach(srv)
		time.Sleep(socketio.DefaultConnectTimeout - time.Second)
		synctest.Wait()
		select {
		case <-c.closed:
			t.Fatal("closed before the timeout")
		default:
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		select {
		case <-c.closed:
		default:
			t.Fatal("not closed after the timeout")
		}
	})
}
