package socketio_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

const waitTimeout = 5 * time.Second

var connSeq atomic.Int64

// fakeConn is an in-memory Engine.IO session: what the server sends is
// readable from out; msg feeds the handler as the engine's reader would.
type fakeConn struct {
	id    string
	proto int
	req   *http.Request

	out      chan engineio.Packet
	closed   chan struct{}
	dispatch sync.Mutex // OnMessage and OnClose never overlap, as in engineio

	mu       sync.Mutex
	isClosed bool
	reason   engineio.CloseReason
	h        engineio.Handler
	volatile atomic.Bool // SendVolatile succeeds only when set
}

func newFakeConn(proto int) *fakeConn {
	req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket&foo=bar", nil)
	req.RemoteAddr = "127.0.0.1:4242"
	req.Header.Set("X-Test", "yes")
	c := &fakeConn{
		id:     fmt.Sprintf("conn%016d", connSeq.Add(1)),
		proto:  proto,
		req:    req,
		out:    make(chan engineio.Packet, 4096),
		closed: make(chan struct{}),
	}
	c.volatile.Store(true)
	return c
}

func (c *fakeConn) ID() string             { return c.id }
func (c *fakeConn) Protocol() int          { return c.proto }
func (c *fakeConn) Request() *http.Request { return c.req }

func (c *fakeConn) Send(pkts []engineio.Packet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isClosed {
		return engineio.ErrClosed
	}
	for _, p := range pkts {
		c.out <- p
	}
	return nil
}

func (c *fakeConn) SendVolatile(pkts []engineio.Packet) bool {
	if !c.volatile.Load() {
		return false
	}
	return c.Send(pkts) == nil
}

func (c *fakeConn) Close(reason engineio.CloseReason) {
	c.mu.Lock()
	if c.isClosed {
		c.mu.Unlock()
		return
	}
	c.isClosed = true
	c.reason = reason
	close(c.closed)
	c.mu.Unlock()
	go func() {
		c.dispatch.Lock()
		defer c.dispatch.Unlock()
		c.h.OnClose(reason, nil)
	}()
}

// attach connects c to srv.
func (c *fakeConn) attach(srv *socketio.Server) *fakeConn {
	c.dispatch.Lock()
	c.h = srv.Attach(c)
	c.dispatch.Unlock()
	return c
}

// msg delivers a text message from the client.
func (c *fakeConn) msg(s string) {
	c.dispatch.Lock()
	defer c.dispatch.Unlock()
	c.h.OnMessage([]byte(s), false)
}

// bin delivers a binary message from the client.
func (c *fakeConn) bin(b []byte) {
	c.dispatch.Lock()
	defer c.dispatch.Unlock()
	c.h.OnMessage(b, true)
}

// next returns the next packet the server sent.
func (c *fakeConn) next(t testing.TB) engineio.Packet {
	t.Helper()
	select {
	case p := <-c.out:
		return p
	case <-time.After(waitTimeout):
		t.Fatalf("conn %s: no packet within %v", c.id, waitTimeout)
		return engineio.Packet{}
	}
}

// expect reads the next text packet and compares it with want.
func (c *fakeConn) expect(t testing.TB, want string) {
	t.Helper()
	p := c.next(t)
	if p.Binary || string(p.Data) != want {
		t.Fatalf("conn %s: got %q (binary=%v), want %q", c.id, p.Data, p.Binary, want)
	}
}

// expectPrefix reads the next text packet, checks its prefix and returns it.
func (c *fakeConn) expectPrefix(t testing.TB, prefix string) string {
	t.Helper()
	p := c.next(t)
	if p.Binary || !strings.HasPrefix(string(p.Data), prefix) {
		t.Fatalf("conn %s: got %q, want prefix %q", c.id, p.Data, prefix)
	}
	return string(p.Data)
}

// expectNothing checks that nothing is queued now.
func (c *fakeConn) expectNothing(t testing.TB) {
	t.Helper()
	select {
	case p := <-c.out:
		t.Fatalf("conn %s: unexpected packet %q", c.id, p.Data)
	default:
	}
}

// waitClosed waits for the server to close the connection.
func (c *fakeConn) waitClosed(t testing.TB) engineio.CloseReason {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(waitTimeout):
		t.Fatalf("conn %s: not closed within %v", c.id, waitTimeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// clientClose simulates the transport closing on the client side.
func (c *fakeConn) clientClose(reason engineio.CloseReason) { c.Close(reason) }

func newServer(t testing.TB, cfg socketio.Config) *socketio.Server {
	t.Helper()
	if cfg.Adapter == nil {
		cfg.Adapter = adapter.New
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv := socketio.NewServer(cfg)
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout()
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv
}

// connect attaches a new EIO=4 conn and connects it to nsp; it returns
// the conn and the socket id from the CONNECT acknowledgement.
func connect(t testing.TB, srv *socketio.Server, nsp string) (*fakeConn, string) {
	t.Helper()
	c := newFakeConn(4).attach(srv)
	return c, c.join(t, nsp)
}

// join sends CONNECT for nsp and returns the socket id.
func (c *fakeConn) join(t testing.TB, nsp string) string {
	t.Helper()
	prefix := "0"
	if nsp != "/" {
		prefix = "0" + nsp + ","
	}
	c.msg(prefix)
	got := c.expectPrefix(t, prefix+`{"sid":"`)
	return got[len(prefix)+8 : len(prefix)+8+20]
}

// recorder collects values from handlers running on other goroutines.
type recorder[T any] struct{ ch chan T }

func newRecorder[T any]() *recorder[T] { return &recorder[T]{ch: make(chan T, 1024)} }

func (r *recorder[T]) add(v T) { r.ch <- v }

func (r *recorder[T]) next(t testing.TB) T {
	t.Helper()
	select {
	case v := <-r.ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("recorder: nothing within %v", waitTimeout)
		var zero T
		return zero
	}
}

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), waitTimeout)
}
