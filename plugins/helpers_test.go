package plugins_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// memConn is an in-memory Engine.IO session: what the server sends goes
// to sent (dropped when it is full).
type memConn struct {
	id   string
	req  *http.Request
	sent chan string // Socket.IO packets written, when not nil
}

var connIDs atomic.Int64

func (c *memConn) ID() string                          { return c.id }
func (c *memConn) Protocol() int                       { return 4 }
func (c *memConn) Request() *http.Request              { return c.req }
func (c *memConn) SendVolatile([]engineio.Packet) bool { return true }
func (c *memConn) Close(engineio.CloseReason)          {}

func (c *memConn) Send(pkts []engineio.Packet) error {
	if c.sent != nil {
		for _, p := range pkts {
			select {
			case c.sent <- string(p.Data):
			default:
			}
		}
	}
	return nil
}

// sockets is a Socket.IO server whose connected sockets of "/" come out
// of connected.
type sockets struct {
	srv       *socketio.Server
	connected chan *socketio.Socket
}

func newSockets(tb testing.TB) *sockets {
	tb.Helper()
	srv := socketio.NewServer(socketio.Config{Adapter: adapter.New, Logger: quietLogger()})
	s := &sockets{srv: srv, connected: make(chan *socketio.Socket, 16)}
	srv.Of("/").OnConnection(func(so *socketio.Socket) { s.connected <- so })
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return s
}

// connect attaches a connection from remote (host:port) with headers and
// returns its socket in "/".
func (s *sockets) connect(tb testing.TB, remote string, header http.Header) *socketio.Socket {
	tb.Helper()
	so, _ := s.connectConn(tb, remote, header)
	return so
}

// connectConn is connect, also returning the connection whose sent
// channel receives what the server writes.
func (s *sockets) connectConn(tb testing.TB, remote string, header http.Header) (*socketio.Socket, *memConn) {
	tb.Helper()
	req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
	req.RemoteAddr = remote
	for k, v := range header {
		req.Header[k] = v
	}
	c := &memConn{id: fmt.Sprintf("conn%d", connIDs.Add(1)), req: req, sent: make(chan string, 64)}
	h := s.srv.Attach(c)
	h.OnMessage([]byte("0"), false)
	select {
	case so := <-s.connected:
		return so, c
	case <-time.After(5 * time.Second):
		tb.Fatal("no socket connected")
		return nil, nil
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
