package engineio

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// benchPackets is a typical polling payload: Socket.IO events and a binary
// attachment.
var benchPackets = []Packet{
	msg(`2["chat",{"user":"ana","text":"hello there"}]`),
	msg(`2["typing",{"user":"bob"}]`),
	msg(`451-["upload",{"_placeholder":true,"num":0}]`),
	bin([]byte(strings.Repeat("\x01\x02\x03\x04", 64))...),
	msg(`3["ok"]`),
}

func BenchmarkPayload(b *testing.B) {
	for _, enc := range encodings {
		encoded := enc.encode(nil, benchPackets)
		b.Run("encode/"+enc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(encoded)))
			buf := make([]byte, 0, 2*len(encoded))
			for b.Loop() {
				buf = enc.encode(buf[:0], benchPackets)
			}
		})
		b.Run("decode/"+enc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(encoded)))
			for b.Loop() {
				if _, err := enc.decode(encoded); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type nopHandler struct{}

func (nopHandler) OnMessage([]byte, bool)     {}
func (nopHandler) OnClose(CloseReason, error) {}

// pollingSessions opens n polling sessions in memory; with no GET waiting,
// Send only queues, which is what a broadcast pays per recipient.
func pollingSessions(tb testing.TB, n int) (*Server, []*Session) {
	tb.Helper()
	srv := NewServer(Config{PingInterval: time.Hour, PingTimeout: time.Hour, Logger: slog.New(slog.DiscardHandler)},
		func(*Session) Handler { return nopHandler{} })
	sessions := make([]*Session, 0, n)
	for range n {
		rec := pollOnce(srv, "GET", "EIO=4&transport=polling", "")
		body := rec.Body.String()
		sid := body[len(`0{"sid":"`) : len(`0{"sid":"`)+20]
		sessions = append(sessions, srv.lookup(sid))
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return srv, sessions
}

// drain empties a session's queue as a writer would, keeping its capacity.
func drain(s *Session) {
	s.mu.Lock()
	clear(s.queue)
	s.queue = s.queue[:0]
	s.queued = 0
	s.mu.Unlock()
}

func broadcast(sessions []*Session, packets []Packet) {
	for _, s := range sessions {
		if err := s.Send(packets); err != nil {
			panic(err)
		}
	}
	for _, s := range sessions {
		drain(s)
	}
}

func BenchmarkSend(b *testing.B) {
	shared := []Packet{msg(`2["news",{"headline":"one encoding for every recipient"}]`)}
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			_, sessions := pollingSessions(b, n)
			broadcast(sessions, shared) // give every queue its capacity
			b.ReportAllocs()
			for b.Loop() {
				broadcast(sessions, shared)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/recipient")
		})
	}
}

func TestSendAllocsDoNotGrowWithRecipients(t *testing.T) {
	shared := []Packet{msg(`2["news",{}]`)}
	allocs := func(n int) float64 {
		_, sessions := pollingSessions(t, n)
		broadcast(sessions, shared)
		return testing.AllocsPerRun(20, func() { broadcast(sessions, shared) })
	}
	small, large := allocs(10), allocs(1000)
	if large > small {
		t.Errorf("allocs per broadcast: %v at 10 recipients, %v at 1000; want no growth", small, large)
	}
}

// BenchmarkSendWebSocket includes the real writes to loopback clients
// (and the clients' reads, in the same process): a burst of broadcasts to
// 100 sessions, queued by Send (a writer goroutine per recipient, started
// at once) or by SendDeferred (the batcher's round, which writes each
// recipient's packets in one write). BatchDelay is 1µs here, so the
// figures are the cost of the writes rather than the wait.
func BenchmarkSendWebSocket(b *testing.B) {
	const n = 100
	for _, bc := range []struct {
		name  string
		burst int
		send  func(*Session, []Packet) error
	}{
		{"Send/burst=1", 1, (*Session).Send},
		{"Send/burst=10", 10, (*Session).Send},
		{"SendDeferred/burst=1", 1, (*Session).SendDeferred},
		{"SendDeferred/burst=10", 10, (*Session).SendDeferred},
	} {
		b.Run(bc.name, func(b *testing.B) {
			sessions, done := webSocketSessions(b, n)
			shared := []Packet{msg(`2["news",{"headline":"one encoding for every recipient"}]`)}
			b.ReportAllocs()
			for b.Loop() {
				for range bc.burst {
					for _, s := range sessions {
						if err := bc.send(s, shared); err != nil {
							b.Fatal(err)
						}
					}
				}
				for range n * bc.burst {
					<-done
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*bc.burst), "ns/delivery")
		})
	}
}

// webSocketSessions opens n WebSocket sessions on a new server, each with
// a client reading it; every frame a client reads is reported on done.
func webSocketSessions(b *testing.B, n int) ([]*Session, <-chan struct{}) {
	srv := NewServer(Config{PingInterval: time.Hour, PingTimeout: time.Hour, BatchDelay: time.Microsecond, Logger: slog.New(slog.DiscardHandler)},
		func(*Session) Handler { return nopHandler{} })
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	ts := "ws" + strings.TrimPrefix(hs.URL, "http") + "/engine.io/"
	done := make(chan struct{}, 10*n)
	var sessions []*Session
	for range n {
		c, _, err := websocket.DefaultDialer.Dial(ts+"?EIO=4&transport=websocket", nil)
		if err != nil {
			b.Fatal(err)
		}
		_, open, err := c.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		sessions = append(sessions, srv.lookup(string(open[len(`0{"sid":"`):len(`0{"sid":"`)+20])))
		go func() {
			defer c.Close()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				done <- struct{}{}
			}
		}()
	}
	return sessions, done
}
