package engineio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// dialSession opens a WebSocket session and returns the client and the
// server's Session.
func (e *testEnv) dialSession() (*websocket.Conn, *Session) {
	e.t.Helper()
	c := e.mustDial("EIO=4&transport=websocket")
	op, _ := parseOpen(e.t, readText(e.t, c))
	return c, e.session(op.SID)
}

func TestSendDeferred(t *testing.T) {
	msg := func(s string) []Packet { return []Packet{{Type: PacketMessage, Data: []byte(s)}} }
	tests := []struct {
		name  string
		delay time.Duration
		send  func(t *testing.T, s *Session)
		want  []string
	}{
		{"deferred packets are written after the delay", 20 * time.Millisecond, func(t *testing.T, s *Session) {
			for _, m := range []string{"a", "b", "c"} {
				if err := s.SendDeferred(msg(m)); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{"4a", "4b", "4c"}},
		{"a Send writes the deferred packets first", time.Minute, func(t *testing.T, s *Session) {
			_ = s.SendDeferred(msg("a"))
			_ = s.SendDeferred(msg("b"))
			if err := s.Send(msg("c")); err != nil {
				t.Fatal(err)
			}
		}, []string{"4a", "4b", "4c"}},
		{"no delay writes at once", -1, func(t *testing.T, s *Session) {
			_ = s.SendDeferred(msg("a"))
			_ = s.Send(msg("b"))
			_ = s.SendDeferred(msg("c"))
		}, []string{"4a", "4b", "4c"}},
		{"a volatile packet joins the waiting round", time.Minute, func(t *testing.T, s *Session) {
			_ = s.SendDeferred(msg("a"))
			if !s.SendVolatile(msg("b")) {
				t.Fatal("SendVolatile dropped a packet while the session only waited for the batcher")
			}
			_ = s.Send(msg("c"))
		}, []string{"4a", "4b", "4c"}},
		{"a close writes the deferred packets, then closes", time.Minute, func(t *testing.T, s *Session) {
			_ = s.SendDeferred(msg("a"))
			s.Close(ReasonForcedClose)
			if err := s.SendDeferred(msg("b")); err != ErrClosed {
				t.Fatalf("SendDeferred after Close = %v, want ErrClosed", err)
			}
		}, []string{"4a", "close"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := quietConfig()
			cfg.BatchDelay = tt.delay
			e := newEnv(t, cfg)
			c, s := e.dialSession()
			e.waitIdle(s.ID()) // the OPEN packet's writer is done
			tt.send(t, s)
			for _, want := range tt.want {
				if want == "close" {
					if err := waitClosed(t, c); !websocket.IsCloseError(err, websocket.CloseNoStatusReceived, websocket.CloseNormalClosure) {
						t.Fatalf("after the packets: %v, want a close frame", err)
					}
					continue
				}
				if got := readText(t, c); got != want {
					t.Fatalf("frame %q, want %q", got, want)
				}
			}
		})
	}
}

// TestSendDeferred_ManySessions broadcasts to more sessions than one
// goroutine writes (writeAll shares them out): each gets every packet,
// in order.
func TestSendDeferred_ManySessions(t *testing.T) {
	cfg := quietConfig()
	cfg.BatchDelay = 5 * time.Millisecond
	e := newEnv(t, cfg)
	const n, rounds = 3 * minPerWriter, 20
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() { // accept announces each session on e.news, which holds 64
		for {
			select {
			case <-e.news:
			case <-done:
				return
			}
		}
	}()
	clients := make([]*websocket.Conn, n)
	sessions := make([]*Session, n)
	for i := range n {
		clients[i], sessions[i] = e.dialSession()
	}
	for r := range rounds {
		p := []Packet{{Type: PacketMessage, Data: []byte(fmt.Sprint(r))}}
		for _, s := range sessions {
			if err := s.SendDeferred(p); err != nil {
				t.Fatal(err)
			}
		}
		if r%5 == 4 {
			time.Sleep(cfg.BatchDelay) // let some rounds of writes run between broadcasts
		}
	}
	for i, c := range clients {
		for r := range rounds {
			_ = c.SetReadDeadline(time.Now().Add(waitLimit))
			_, data, err := c.ReadMessage()
			if err != nil {
				// The state is read under the lock, which is let go
				// before Fatalf: the cleanup's Shutdown takes it.
				s := sessions[i]
				s.mu.Lock()
				queued, writing, deferred, state := len(s.queue), s.writing, s.deferred, s.state
				s.mu.Unlock()
				t.Fatalf("client %d round %d: %v; queue %d writing %v deferred %v state %d", i, r, err, queued, writing, deferred, state)
			}
			if got, want := string(data), fmt.Sprint("4", r); got != want {
				t.Fatalf("client %d: frame %q, want %q", i, got, want)
			}
		}
	}
}

// TestSendDeferred_FullSocket fills a client's socket: the batcher's write
// that does not fit is left to a writer goroutine, which waits for the
// client to read, and every byte arrives in order.
func TestSendDeferred_FullSocket(t *testing.T) {
	cfg := quietConfig()
	cfg.BatchDelay = time.Millisecond
	cfg.MaxQueueBytes = 64 << 20
	e := newEnv(t, cfg)
	var handoffs atomic.Int32
	e.srv.hooks.handoff = func(*Session) { handoffs.Add(1) }
	d := websocket.Dialer{
		HandshakeTimeout: waitLimit,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetReadBuffer(16 << 10)
			}
			return c, err
		},
	}
	c, _, err := d.Dial(e.ws+"?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	op, _ := parseOpen(t, readText(t, c))
	s := e.session(op.SID)
	// A SendDeferred while the OPEN packet's writer still runs is queued
	// to it, and that writer would then write everything, waiting.
	e.waitIdle(s.ID())

	const size, count = 8 << 10, 1024 // 8 MiB: more than both socket buffers hold
	for i := range count {
		data := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		if err := s.SendDeferred([]Packet{{Type: PacketMessage, Data: data}}); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if i%4 == 3 && handoffs.Load() == 0 {
			// One round of writes each. A packet sent while a round
			// still writes is left to a writer goroutine with the rest
			// of the queue, which would then fill the socket itself
			// (as it did on a loaded machine).
			waitSettled(t, s, &handoffs)
		}
	}
	for i := range count {
		got := readText(t, c)
		want := "4" + strings.Repeat(string(rune('a'+i%26)), size)
		if got != want {
			t.Fatalf("frame %d: %d bytes starting %.3q, want %d starting %.3q", i, len(got), got, len(want), want)
		}
	}
	if handoffs.Load() == 0 {
		t.Fatal("no write was left to a writer goroutine: the socket never filled")
	}
}

// waitSettled waits until s has written everything it was given (no
// writer, nothing queued, no round pending), or a round has left a write
// to a writer goroutine (handoffs).
func waitSettled(t *testing.T, s *Session, handoffs *atomic.Int32) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for handoffs.Load() == 0 {
		s.mu.Lock()
		settled := !s.writing && !s.deferred && len(s.queue) == 0
		s.mu.Unlock()
		if settled {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the session's packets were never written")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestCorkConnTryFlush writes to a real TCP connection whose peer does not
// read: tryFlush keeps what does not fit, and flush writes it once the
// peer reads.
func TestCorkConnTryFlush(t *testing.T) {
	peer, nc := tcpPair(t)
	_ = peer.(*net.TCPConn).SetReadBuffer(16 << 10)
	_ = nc.(*net.TCPConn).SetWriteBuffer(16 << 10)
	raw, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	c := &corkConn{Conn: nc, raw: raw}

	var sent bytes.Buffer
	chunk := make([]byte, 32<<10)
	full := false
	for i := 0; i < 1000 && !full; i++ {
		for j := range chunk {
			chunk[j] = byte(i + j)
		}
		c.cork()
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
		sent.Write(chunk)
		done, err := c.tryFlush()
		if err != nil {
			t.Fatal(err)
		}
		full = !done
	}
	if !full {
		t.Fatal("tryFlush wrote 32 MiB to a peer that reads nothing")
	}
	if !c.pending() {
		t.Fatal("after a partial tryFlush nothing is pending")
	}

	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(sent.Len())))
		got <- b
	}()
	_ = c.SetWriteDeadline(time.Now().Add(waitLimit))
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	if c.pending() || c.buf != nil {
		t.Fatal("flush left bytes or a buffer behind")
	}
	if b := <-got; !bytes.Equal(b, sent.Bytes()) {
		t.Fatalf("peer read %d bytes, not the %d written in order", len(b), sent.Len())
	}
}

// tcpPair returns the two ends of a loopback TCP connection, closed when
// the test ends.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}
