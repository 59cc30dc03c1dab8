// Package adaptertest is the conformance suite every socketio.Adapter
// implementation passes: Run drives a socketio.Server built on the adapter
// under test through in-memory connections and checks rooms, broadcast
// selection, volatile delivery, acks, queries by selector and connection
// state recovery.
package adaptertest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

const wait = 5 * time.Second

var seq atomic.Int64

// conn is an in-memory Engine.IO session.
type conn struct {
	id       string
	req      *http.Request
	out      chan engineio.Packet
	mu       sync.Mutex
	closed   bool
	h        engineio.Handler
	volatile atomic.Bool
}

func (c *conn) ID() string             { return c.id }
func (c *conn) Protocol() int          { return 4 }
func (c *conn) Request() *http.Request { return c.req }
func (c *conn) Send(p []engineio.Packet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return engineio.ErrClosed
	}
	for _, x := range p {
		c.out <- x
	}
	return nil
}
func (c *conn) SendVolatile(p []engineio.Packet) bool {
	return c.volatile.Load() && c.Send(p) == nil
}
func (c *conn) Close(r engineio.CloseReason) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	go c.h.OnClose(r, nil)
}

func (c *conn) next(t *testing.T) string {
	t.Helper()
	select {
	case p := <-c.out:
		return string(p.Data)
	case <-time.After(wait):
		t.Fatalf("%s: nothing received", c.id)
		return ""
	}
}

func (c *conn) none(t *testing.T) {
	t.Helper()
	select {
	case p := <-c.out:
		t.Fatalf("%s: unexpected %q", c.id, p.Data)
	default:
	}
}

type env struct {
	t       *testing.T
	srv     *socketio.Server
	nsp     *socketio.Namespace
	conns   []*conn
	sockets []*socketio.Socket
	got     chan *socketio.Socket
}

func newEnv(t *testing.T, factory socketio.AdapterFactory, recovery time.Duration, n int) *env {
	t.Helper()
	srv := socketio.NewServer(socketio.Config{Adapter: factory, Recovery: recovery, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	got := make(chan *socketio.Socket, n+8)
	e := &env{t: t, srv: srv, nsp: srv.Of("/"), got: got}
	e.nsp.OnConnection(func(s *socketio.Socket) { got <- s })
	for range n {
		c := e.dial()
		c.h.OnMessage([]byte("0"), false)
		if m := c.next(t); !strings.HasPrefix(m, `0{"sid":"`) {
			t.Fatalf("CONNECT ack %q", m)
		}
		e.conns = append(e.conns, c)
		select {
		case s := <-got:
			e.sockets = append(e.sockets, s)
		case <-time.After(wait):
			t.Fatal("no connection")
		}
	}
	return e
}

func (e *env) dial() *conn {
	req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
	c := &conn{id: fmt.Sprintf("c%019d", seq.Add(1)), req: req, out: make(chan engineio.Packet, 256)}
	c.volatile.Store(true)
	c.h = e.srv.Attach(c)
	return c
}

// expect checks that exactly the conns at want receive msg.
func (e *env) expect(msg string, want ...int) {
	e.t.Helper()
	for i, c := range e.conns {
		if slices.Contains(want, i) {
			if got := c.next(e.t); got != msg {
				e.t.Fatalf("conn %d got %q, want %q", i, got, msg)
			}
		}
		c.none(e.t)
	}
}

// offsetIn returns the recovery offset an EVENT packet m carries as its
// last argument, failing when there is none.
func offsetIn(t *testing.T, m string) string {
	t.Helper()
	args, _ := socketio.SplitArray(json.RawMessage(m[1:]))
	var offset string
	if len(args) > 0 {
		_ = json.Unmarshal(args[len(args)-1], &offset)
	}
	if offset == "" {
		t.Fatalf("no offset in %q", m)
	}
	return offset
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// Run runs the conformance suite against adapters made by factory.
func Run(t *testing.T, factory socketio.AdapterFactory) {
	t.Run("Rooms", func(t *testing.T) {
		e := newEnv(t, factory, 0, 2)
		a := e.nsp.Adapter()
		s0, s1 := e.sockets[0], e.sockets[1]
		a.AddAll(s0.ID(), []string{"r1", "r2"})
		a.AddAll(s1.ID(), []string{"r2"})
		if got := sorted(a.SocketRooms(s0.ID())); !slices.Equal(got, sorted([]string{s0.ID(), "r1", "r2"})) {
			t.Fatalf("SocketRooms = %v", got)
		}
		if got := sorted(a.Sockets([]string{"r2"})); !slices.Equal(got, sorted([]string{s0.ID(), s1.ID()})) {
			t.Fatalf("Sockets(r2) = %v", got)
		}
		if got := a.Sockets(nil); len(got) != 2 {
			t.Fatalf("Sockets(all) = %v", got)
		}
		a.Del(s0.ID(), "r2")
		if got := a.Sockets([]string{"r2"}); !slices.Equal(got, []string{s1.ID()}) {
			t.Fatalf("after Del: %v", got)
		}
		a.DelAll(s0.ID())
		if got := a.SocketRooms(s0.ID()); len(got) != 0 {
			t.Fatalf("after DelAll: %v", got)
		}
		if got := a.Sockets([]string{"r1"}); len(got) != 0 {
			t.Fatalf("empty room still has %v", got)
		}
	})

	t.Run("OwnRoom", func(t *testing.T) {
		e := newEnv(t, factory, 0, 3)
		a := e.nsp.Adapter()
		s0, s1 := e.sockets[0], e.sockets[1]
		// Another socket may join a room named by a socket id.
		s1.Join(s0.ID(), s0.ID(), "r")
		s0.Join("r", "r")
		if got := sorted(a.SocketRooms(s0.ID())); !slices.Equal(got, sorted([]string{s0.ID(), "r"})) {
			t.Fatalf("SocketRooms after joining twice = %v", got)
		}
		if got := sorted(a.Sockets([]string{s0.ID()})); !slices.Equal(got, sorted([]string{s0.ID(), s1.ID()})) {
			t.Fatalf("Sockets(own room) = %v", got)
		}
		_ = e.nsp.To(s0.ID(), "r").Emit("own+r", nil, nil)
		e.expect(`2["own+r"]`, 0, 1)
		_ = e.nsp.Except(s0.ID()).Emit("not-own", nil, nil)
		e.expect(`2["not-own"]`, 2)
		// A socket may leave its own room.
		a.Del(s0.ID(), s0.ID())
		if got := a.SocketRooms(s0.ID()); !slices.Equal(got, []string{"r"}) {
			t.Fatalf("SocketRooms after leaving own room = %v", got)
		}
		_ = e.nsp.To(s0.ID()).Emit("left", nil, nil)
		e.expect(`2["left"]`, 1)
		_ = e.nsp.Emit("all", nil, nil)
		e.expect(`2["all"]`, 0, 1, 2)
		a.DelAll(s1.ID())
		if got := a.Sockets([]string{s0.ID()}); len(got) != 0 {
			t.Fatalf("Sockets(own room) after leaving = %v", got)
		}
	})

	t.Run("BroadcastSelection", func(t *testing.T) {
		e := newEnv(t, factory, 0, 4)
		e.sockets[0].Join("a")
		e.sockets[1].Join("a", "b")
		e.sockets[2].Join("b")
		_ = e.nsp.Emit("all", nil, nil)
		e.expect(`2["all"]`, 0, 1, 2, 3)
		_ = e.nsp.To("a", "b").Emit("ab", nil, nil)
		e.expect(`2["ab"]`, 0, 1, 2)
		_ = e.nsp.To("a").Except("b").Emit("a-b", nil, nil)
		e.expect(`2["a-b"]`, 0)
		_ = e.nsp.Except("a", "b").Emit("none", nil, nil)
		e.expect(`2["none"]`, 3)
		_ = e.nsp.To(e.sockets[3].ID()).Emit("own", nil, nil)
		e.expect(`2["own"]`, 3)
		_ = e.nsp.To("missing").Emit("x", nil, nil)
		e.expect("")
		_ = e.nsp.Emit("bin", []json.RawMessage{socketio.Placeholder(0)}, [][]byte{{7}})
		for _, c := range e.conns {
			if got := c.next(t); got != `51-["bin",{"_placeholder":true,"num":0}]` {
				t.Fatalf("binary header %q", got)
			}
			if got := c.next(t); got != "\x07" {
				t.Fatalf("attachment %q", got)
			}
		}
	})

	t.Run("Volatile", func(t *testing.T) {
		e := newEnv(t, factory, 0, 2)
		e.conns[1].volatile.Store(false)
		_ = e.nsp.Volatile().Emit("v", nil, nil)
		e.expect(`2["v"]`, 0)
	})

	t.Run("BroadcastWithAck", func(t *testing.T) {
		e := newEnv(t, factory, 0, 3)
		type result struct {
			res socketio.AckResults
			err error
		}
		done := make(chan result, 1)
		go func() {
			r, err := e.nsp.Except(e.sockets[2].ID()).Timeout(wait).EmitWithAck(context.Background(), "q", nil, nil)
			done <- result{r, err}
		}()
		for i := range 2 {
			m := e.conns[i].next(t)
			id := strings.TrimSuffix(strings.TrimPrefix(m, "2"), `["q"]`)
			e.conns[i].h.OnMessage([]byte("3"+id+fmt.Sprintf("[%d]", i)), false)
		}
		r := <-done
		if r.err != nil || len(r.res.Responses) != 2 || len(r.res.TimedOut) != 0 {
			t.Fatalf("acks %+v %v", r.res, r.err)
		}
		e.conns[2].none(t)
	})

	t.Run("QueriesBySelector", func(t *testing.T) {
		e := newEnv(t, factory, 0, 3)
		ctx := context.Background()
		e.sockets[0].Join("a")
		e.sockets[0].SetData("zero")
		infos, err := e.nsp.In("a").FetchSockets(ctx)
		if err != nil || len(infos) != 1 || infos[0].ID != e.sockets[0].ID() || infos[0].Data != "zero" {
			t.Fatalf("FetchSockets = %+v, %v", infos, err)
		}
		if err := e.nsp.Except("a").SocketsJoin(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if got := e.nsp.Adapter().Sockets([]string{"b"}); len(got) != 2 {
			t.Fatalf("joined %v", got)
		}
		if err := e.nsp.In("b").SocketsLeave(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if got := e.nsp.Adapter().Sockets([]string{"b"}); len(got) != 0 {
			t.Fatalf("left %v", got)
		}
		if err := e.nsp.In("a").DisconnectSockets(ctx, false); err != nil {
			t.Fatal(err)
		}
		if got := e.conns[0].next(t); got != "1" {
			t.Fatalf("DISCONNECT %q", got)
		}
		if e.nsp.Len() != 2 {
			t.Fatalf("Len = %d", e.nsp.Len())
		}
	})

	t.Run("Recovery", func(t *testing.T) {
		e := newEnv(t, factory, time.Minute, 0)
		if _, ok := e.nsp.Adapter().(socketio.SessionStore); !ok {
			t.Skip("adapter does not implement SessionStore")
		}
		got := e.got
		c := e.dial()
		c.h.OnMessage([]byte("0"), false)
		var ack struct{ Sid, Pid string }
		_ = json.Unmarshal([]byte(c.next(t)[1:]), &ack)
		s := <-got
		s.Join("r")
		_ = e.nsp.To("r").Emit("e", nil, nil)
		offset := offsetIn(t, c.next(t))
		left := make(chan struct{})
		s.OnDisconnect(func(socketio.DisconnectReason) { close(left) })
		c.Close(engineio.ReasonTransportClose)
		<-left
		_ = e.nsp.To("r").Emit("missed", nil, nil)
		_ = e.nsp.To("other").Emit("not-mine", nil, nil)
		c2 := e.dial()
		c2.h.OnMessage([]byte(`0{"pid":"`+ack.Pid+`","offset":"`+offset+`"}`), false)
		if m := c2.next(t); !strings.HasPrefix(m, `2["missed","`) {
			t.Fatalf("replay %q", m)
		}
		if m := c2.next(t); m != `0{"sid":"`+ack.Sid+`","pid":"`+ack.Pid+`"}` {
			t.Fatalf("CONNECT ack %q", m)
		}
		s2 := <-got
		if !s2.Recovered() || !slices.Contains(s2.Rooms(), "r") {
			t.Fatalf("recovered=%v rooms=%v", s2.Recovered(), s2.Rooms())
		}
	})
}
