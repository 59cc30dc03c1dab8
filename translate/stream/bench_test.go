package stream

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
)

// benchConn is a Conn whose queue the benchmark drains.
type benchConn struct {
	id  string
	req *http.Request
	mu  sync.Mutex
	q   []engineio.Packet
}

func (c *benchConn) ID() string                 { return c.id }
func (c *benchConn) Protocol() int              { return 4 }
func (c *benchConn) Request() *http.Request     { return c.req }
func (c *benchConn) Close(engineio.CloseReason) {}
func (c *benchConn) Send(p []engineio.Packet) error {
	c.mu.Lock()
	c.q = append(c.q, p...)
	c.mu.Unlock()
	return nil
}
func (c *benchConn) SendVolatile(p []engineio.Packet) bool { return c.Send(p) == nil }

func (c *benchConn) drain() int {
	c.mu.Lock()
	n := len(c.q)
	clear(c.q)
	c.q = c.q[:0]
	c.mu.Unlock()
	return n
}

// roomFixture connects n sockets to "/", puts them in room "news", and
// returns a Stream over them (never started: the benchmark applies
// messages itself).
func roomFixture(tb testing.TB, n int) (*Stream, []*benchConn) {
	srv := socketio.NewServer(socketio.Config{Adapter: adapter.New, Logger: slog.New(slog.DiscardHandler), ConnectTimeout: -1})
	req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
	conns := make([]*benchConn, n)
	for i := range conns {
		c := &benchConn{id: fmt.Sprintf("c%019d", i), req: req}
		srv.Attach(c).OnMessage([]byte("0"), false)
		if c.drain() != 1 {
			tb.Fatal("no CONNECT ack")
		}
		conns[i] = c
	}
	exec := translate.NewExecutor(srv)
	if _, err := exec.Join(tb.Context(), "/", nil, []string{"news"}); err != nil {
		tb.Fatal(err)
	}
	s, err := New(Config{URL: "http://127.0.0.1/", Executor: exec, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	return s, conns
}

func drainAll(conns []*benchConn) int {
	total := 0
	for _, c := range conns {
		total += c.drain()
	}
	return total
}

var benchMessage = []byte(`{"to":["news"],"event":"news","args":[{"t":1700000000000000000,"seq":42,"pad":"pppppppppppppppppppppppppppppppppppppppppppppppp"}]}`)

// BenchmarkApply is the stream's hot path: one message decoded and
// delivered to every socket of a room.
func BenchmarkApply(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			s, conns := roomFixture(b, n)
			b.ReportAllocs()
			for b.Loop() {
				if !s.apply(benchMessage) {
					b.Fatal("not applied")
				}
				if got := drainAll(conns); got != n {
					b.Fatalf("delivered %d, want %d", got, n)
				}
			}
		})
	}
}

// TestApplyAllocsFlat checks that a message costs no allocation per
// recipient: the packet is encoded once for the whole room.
func TestApplyAllocsFlat(t *testing.T) {
	allocs := func(n int) float64 {
		s, conns := roomFixture(t, n)
		return testing.AllocsPerRun(50, func() {
			s.apply(benchMessage)
			drainAll(conns)
		})
	}
	small, large := allocs(10), allocs(1000)
	if large > small+2 {
		t.Fatalf("allocs per message: %v with 10 recipients, %v with 1000", small, large)
	}
}

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMessage)))
	for b.Loop() {
		if _, err := Decode(benchMessage); err != nil {
			b.Fatal(err)
		}
	}
}
