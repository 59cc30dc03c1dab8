package adaptertest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// RunCluster runs the distributed part of the suite: two nodes, each a
// socketio.Server on an adapter from its own newFactory call (its own
// connections, as two processes), share broadcasts, acks, queries and
// server-side emits. Deliveries between nodes are awaited, never assumed
// at once: an adapter that subscribes per room is probed until the room's
// broadcasts arrive.
func RunCluster(t *testing.T, newFactory func(t *testing.T) socketio.AdapterFactory) {
	t.Helper()
	a := newEnv(t, newFactory(t), 0, 2)
	b := newEnv(t, newFactory(t), 0, 2)
	nodes := []*env{a, b}
	waitFor(t, "both nodes counted", func() bool {
		for _, e := range nodes {
			c, ok := e.nsp.Adapter().(socketio.ServerCounter)
			if !ok {
				t.Fatal("a distributed adapter implements socketio.ServerCounter")
			}
			if n, err := c.ServerCount(context.Background()); err != nil || n != 2 {
				return false
			}
		}
		return true
	})
	ctx := context.Background()

	t.Run("Broadcast", func(t *testing.T) {
		a.t, b.t = t, t
		b.sockets[0].Join("room")
		a.sockets[1].Join("room")
		probe(t, a, b, "room", 0)
		_ = a.nsp.Emit("all", nil, nil)
		a.expect(`2["all"]`, 0, 1)
		b.expect(`2["all"]`, 0, 1)
		_ = a.nsp.To("room").Emit("room", []json.RawMessage{json.RawMessage(`{"k":[1,"x"],"a":null}`)}, nil)
		a.expect(`2["room",{"k":[1,"x"],"a":null}]`, 1)
		b.expect(`2["room",{"k":[1,"x"],"a":null}]`, 0)
		_ = b.nsp.To("room", b.sockets[1].ID()).Except(a.sockets[1].ID()).Emit("two", nil, nil)
		a.expect("")
		b.expect(`2["two"]`, 0, 1)
		_ = b.nsp.Except("room").Emit("except", nil, nil)
		a.expect(`2["except"]`, 0)
		b.expect(`2["except"]`, 1)
		_ = a.nsp.To(b.sockets[1].ID()).Emit("one", nil, nil)
		a.expect("")
		b.expect(`2["one"]`, 1)
		_ = a.nsp.Local().Emit("local", nil, nil)
		a.expect(`2["local"]`, 0, 1)
		_ = a.nsp.To(b.sockets[0].ID()).Emit("bin", []json.RawMessage{socketio.Placeholder(0)}, [][]byte{{1, 2, 3}})
		if got := b.conns[0].next(t); got != `51-["bin",{"_placeholder":true,"num":0}]` {
			t.Fatalf("binary header %q", got)
		}
		if got := b.conns[0].next(t); got != "\x01\x02\x03" {
			t.Fatalf("attachment %q", got)
		}
		b.expect("")
		a.expect("")
	})

	t.Run("BroadcastWithAck", func(t *testing.T) {
		a.t, b.t = t, t
		done := make(chan socketio.AckResults, 1)
		go func() {
			r, err := a.nsp.Timeout(wait).EmitWithAck(ctx, "q", nil, nil)
			if err != nil {
				t.Errorf("EmitWithAck: %v", err)
			}
			done <- r
		}()
		for i, e := range nodes {
			for j, c := range e.conns {
				m := c.next(t)
				id := strings.TrimSuffix(strings.TrimPrefix(m, "2"), `["q"]`)
				c.h.OnMessage([]byte(fmt.Sprintf(`3%s["n%d-%d",{"i":%d}]`, id, i, j, j)), false)
			}
		}
		r := <-done
		var got []string
		for _, x := range r.Responses {
			got = append(got, string(x.Args[0]))
		}
		slices.Sort(got)
		want := []string{`"n0-0"`, `"n0-1"`, `"n1-0"`, `"n1-1"`}
		if !slices.Equal(got, want) || len(r.TimedOut) != 0 {
			t.Fatalf("acks %v (timed out %v), want %v", got, r.TimedOut, want)
		}
	})

	t.Run("FetchSockets", func(t *testing.T) {
		a.t, b.t = t, t
		b.sockets[1].SetData(json.RawMessage(`{"user":"b1"}`))
		infos, err := a.nsp.FetchSockets(ctx)
		if err != nil || len(infos) != 4 {
			t.Fatalf("FetchSockets = %d sockets, %v", len(infos), err)
		}
		var remote socketio.SocketInfo
		for _, s := range infos {
			if s.ID == b.sockets[1].ID() {
				remote = s
			}
		}
		data, _ := json.Marshal(remote.Data)
		if string(data) != `{"user":"b1"}` || !slices.Contains(remote.Rooms, remote.ID) {
			t.Fatalf("remote socket %+v data %s", remote, data)
		}
		infos, err = b.nsp.In("room").FetchSockets(ctx)
		var ids []string
		for _, s := range infos {
			ids = append(ids, s.ID)
		}
		slices.Sort(ids)
		if want := sorted([]string{a.sockets[1].ID(), b.sockets[0].ID()}); err != nil || !slices.Equal(ids, want) {
			t.Fatalf("FetchSockets(room) = %v, %v; want %v", ids, err, want)
		}
	})

	t.Run("RemoteData", func(t *testing.T) {
		a.t, b.t = t, t
		b.srv.SetObserver(remoteData{})
		defer b.srv.SetObserver(nil)
		b.sockets[1].SetData(json.RawMessage(`{"user":"b1"}`))
		dataOf := func(infos []socketio.SocketInfo, id string) string {
			for _, s := range infos {
				if s.ID == id {
					d, _ := json.Marshal(s.Data)
					return string(d)
				}
			}
			return "(none)"
		}
		// Another node gets the decorated data, in its order.
		infos, err := a.nsp.FetchSockets(ctx)
		if got, want := dataOf(infos, b.sockets[1].ID()), `{"_remote":"`+b.sockets[1].ID()+`","user":"b1"}`; err != nil || got != want {
			t.Fatalf("node A fetched data %s (%v), want %s", got, err, want)
		}
		// The node itself, its own.
		infos, err = b.nsp.FetchSockets(ctx)
		if got := dataOf(infos, b.sockets[1].ID()); err != nil || got != `{"user":"b1"}` {
			t.Fatalf("node B fetched data %s (%v), want its own", got, err)
		}
		if d, _ := json.Marshal(b.sockets[1].Data()); string(d) != `{"user":"b1"}` {
			t.Fatalf("Data() = %s", d)
		}
	})

	t.Run("RemoteJoinLeaveDisconnect", func(t *testing.T) {
		a.t, b.t = t, t
		if err := a.nsp.In(b.sockets[1].ID()).SocketsJoin(ctx, "joined"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "remote join", func() bool { return slices.Contains(b.sockets[1].Rooms(), "joined") })
		if err := b.nsp.In("joined").SocketsLeave(ctx, "joined"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "leave", func() bool { return !slices.Contains(b.sockets[1].Rooms(), "joined") })
		if err := b.nsp.In(a.sockets[0].ID()).DisconnectSockets(ctx, false); err != nil {
			t.Fatal(err)
		}
		if got := a.conns[0].next(t); got != "1" {
			t.Fatalf("DISCONNECT %q", got)
		}
	})

	t.Run("ServerSideEmit", func(t *testing.T) {
		a.t, b.t = t, t
		got := make(chan string, 4)
		b.nsp.OnServerSideEmit(func(event string, args []json.RawMessage) {
			got <- event + " " + string(socketio.AppendArray(nil, args))
		})
		if err := a.nsp.ServerSideEmit(ctx, "hello", []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`"x"`)}); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if m != `hello [1,"x"]` {
				t.Fatalf("server-side emit %q", m)
			}
		case <-time.After(wait):
			t.Fatal("server-side emit not received")
		}
	})
}

// probe emits to room from a until b's socket i receives it: the room's
// subscription is in place, then the probes are drained.
func probe(t *testing.T, a, b *env, room string, i int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		_ = a.nsp.To(room).Emit("probe", nil, nil)
		select {
		case p := <-b.conns[i].out:
			if string(p.Data) != `2["probe"]` {
				t.Fatalf("got %q while probing", p.Data)
			}
			time.Sleep(50 * time.Millisecond) // let the probes in flight arrive
			for _, e := range []*env{a, b} {
				for _, c := range e.conns {
					drain(c)
				}
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("a broadcast to %q never reached the other node", room)
		}
	}
}

func drain(c *conn) {
	for {
		select {
		case <-c.out:
		default:
			return
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RunClusterRecovery checks connection state recovery across two nodes, as
// a distributed adapter keeping sessions and offsets in shared storage
// (the Redis streams mode) does: a socket of node A in a room gets a
// broadcast of node B with an offset, its transport closes, both nodes
// broadcast while it is away, and it reconnects to node B with its pid and
// offset: it is recovered with its id and room, gets each missed event
// once, in order, with its offset, and the room still reaches it.
func RunClusterRecovery(t *testing.T, newFactory func(t *testing.T) socketio.AdapterFactory) {
	t.Helper()
	a := newEnv(t, newFactory(t), time.Minute, 0)
	b := newEnv(t, newFactory(t), time.Minute, 0)
	for _, e := range []*env{a, b} {
		if _, ok := e.nsp.Adapter().(socketio.SessionStore); !ok {
			t.Fatal("adapter does not implement socketio.SessionStore")
		}
	}
	waitFor(t, "both nodes counted", func() bool {
		for _, e := range []*env{a, b} {
			n, err := e.nsp.Adapter().(socketio.ServerCounter).ServerCount(context.Background())
			if err != nil || n != 2 {
				return false
			}
		}
		return true
	})
	c := a.dial()
	c.h.OnMessage([]byte("0"), false)
	var ack struct{ Sid, Pid string }
	if err := json.Unmarshal([]byte(c.next(t)[1:]), &ack); err != nil || ack.Pid == "" {
		t.Fatalf("CONNECT ack without pid: %v", err)
	}
	s := <-a.got
	s.Join("r")
	offsetOf := func(m, prefix string) string {
		t.Helper()
		if !strings.HasPrefix(m, prefix) {
			t.Fatalf("got %q, want %s…", m, prefix)
		}
		return offsetIn(t, m)
	}
	_ = b.nsp.To("r").Emit("from-b", []json.RawMessage{json.RawMessage(`1`)}, nil)
	offset := offsetOf(c.next(t), `2["from-b",1,"`)
	_ = a.nsp.To("r").Emit("from-a", nil, nil)
	if o := offsetOf(c.next(t), `2["from-a","`); o == offset {
		t.Fatalf("two broadcasts with offset %q", o)
	} else {
		offset = o
	}
	left := make(chan struct{})
	s.OnDisconnect(func(socketio.DisconnectReason) { close(left) })
	c.Close(engineio.ReasonTransportClose)
	<-left
	// The volatile broadcast goes first: its entry is not awaited (it has
	// no offset), and the awaited one after it from the same node is
	// added after it, so both are in the stream before the restore.
	_ = a.nsp.Volatile().Emit("volatile", nil, nil)
	_ = a.nsp.To("r").Emit("missed-a", nil, nil)
	_ = b.nsp.Emit("missed-b", []json.RawMessage{json.RawMessage(`{"x":1}`)}, nil)
	_ = b.nsp.To("other").Emit("not-mine", nil, nil)
	_ = a.nsp.Except("r").Emit("not-mine", nil, nil)

	c2 := b.dial()
	c2.h.OnMessage([]byte(`0{"pid":"`+ack.Pid+`","offset":"`+offset+`"}`), false)
	var offsets []string
	// A volatile broadcast is replayed too: the stream holds every
	// broadcast without ack, and the streams adapter's restoreSession
	// replays what matches the rooms.
	offsets = append(offsets, offsetOf(c2.next(t), `2["volatile","`))
	offsets = append(offsets, offsetOf(c2.next(t), `2["missed-a","`))
	offsets = append(offsets, offsetOf(c2.next(t), `2["missed-b",{"x":1},"`))
	if m := c2.next(t); m != `0{"sid":"`+ack.Sid+`","pid":"`+ack.Pid+`"}` {
		t.Fatalf("CONNECT ack %q", m)
	}
	if offsets[0] == offsets[1] || offsets[1] == offsets[2] || offsets[0] == offset {
		t.Fatalf("offsets %v after %q", offsets, offset)
	}
	var s2 *socketio.Socket
	select {
	case s2 = <-b.got:
	case <-time.After(wait):
		t.Fatal("no connection on node B")
	}
	if !s2.Recovered() || s2.ID() != ack.Sid || !slices.Contains(s2.Rooms(), "r") {
		t.Fatalf("recovered=%v id=%s rooms=%v", s2.Recovered(), s2.ID(), s2.Rooms())
	}
	c2.none(t)
	_ = a.nsp.To("r").Emit("again", nil, nil)
	offsetOf(c2.next(t), `2["again","`)

	// The session was consumed: the same pid and offset now get a new
	// session.
	c3 := a.dial()
	c3.h.OnMessage([]byte(`0{"pid":"`+ack.Pid+`","offset":"`+offset+`"}`), false)
	m := c3.next(t)
	if strings.Contains(m, ack.Sid) || !strings.HasPrefix(m, `0{"sid":"`) {
		t.Fatalf("a consumed session restored again: %q", m)
	}
}

// remoteData is an Observer that sees nothing and decorates the data
// other nodes get: {"_remote": <socket id>, ...the socket's own members}.
type remoteData struct{}

func (remoteData) ConnOpened(socketio.Conn, string)                        {}
func (remoteData) ConnUpgraded(socketio.Conn, string)                      {}
func (remoteData) ConnClosed(socketio.Conn, engineio.CloseReason)          {}
func (remoteData) Received(socketio.Conn, []byte, bool)                    {}
func (remoteData) Sent(socketio.Conn, *socketio.Socket, []engineio.Packet) {}
func (remoteData) SocketConnected(*socketio.Socket)                        {}
func (remoteData) SocketDisconnected(*socketio.Socket, socketio.DisconnectReason) {
}
func (remoteData) RoomJoined(*socketio.Socket, string)            {}
func (remoteData) RoomLeft(*socketio.Socket, string)              {}
func (remoteData) EventReceived(*socketio.Socket, socketio.Event) {}
func (remoteData) DataSet(*socketio.Socket)                       {}

func (remoteData) RemoteData(s *socketio.Socket, data any) any {
	own, _ := json.Marshal(data)
	return json.RawMessage(`{"_remote":"` + s.ID() + `",` + string(own[1:]))
}
