package socketio_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// benchConn is a Conn whose queue the benchmark drains.
type benchConn struct {
	id      string
	req     *http.Request
	deflate bool // reported by PerMessageDeflate
	mu      sync.Mutex
	q       []engineio.Packet
}

func (c *benchConn) PerMessageDeflate() bool { return c.deflate }

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

// broadcastFixture connects n sockets to "/" and returns them.
func broadcastFixture(tb testing.TB, n int) (*socketio.Server, []*benchConn) {
	return parserFixture(tb, n, nil)
}

// parserFixture is broadcastFixture for a server with parser (nil: the
// default one), its CONNECTs in that parser's format.
func parserFixture(tb testing.TB, n int, parser socketio.Parser) (*socketio.Server, []*benchConn) {
	return fixture(tb, n, parser, false)
}

// fixture is parserFixture with connections whose server compresses
// WebSocket messages when deflate is set, so that broadcasts mark their
// messages (engineio.Share).
func fixture(tb testing.TB, n int, parser socketio.Parser, deflate bool) (*socketio.Server, []*benchConn) {
	srv := socketio.NewServer(socketio.Config{Adapter: adapter.New, Logger: slog.New(slog.DiscardHandler), ConnectTimeout: -1, Parser: parser})
	req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
	connect, binary := []byte("0"), false
	if parser != nil {
		pkts, err := parser.Encode(&socketio.Packet{Type: socketio.PacketConnect, Namespace: "/"})
		if err != nil {
			tb.Fatal(err)
		}
		connect, binary = pkts[0].Data, pkts[0].Binary
	}
	conns := make([]*benchConn, n)
	for i := range conns {
		c := &benchConn{id: fmt.Sprintf("c%019d", i), req: req, deflate: deflate}
		h := srv.Attach(c)
		h.OnMessage(connect, binary)
		if c.drain() != 1 {
			tb.Fatal("no CONNECT ack")
		}
		conns[i] = c
	}
	return srv, conns
}

func drainAll(conns []*benchConn) int {
	total := 0
	for _, c := range conns {
		total += c.drain()
	}
	return total
}

var benchArgs = []json.RawMessage{json.RawMessage(`{"id":42,"text":"hello world","tags":["a","b"]}`), json.RawMessage(`3.14`)}

func BenchmarkBroadcast(b *testing.B) { benchmarkBroadcast(b, nil) }

func benchmarkBroadcast(b *testing.B, parser socketio.Parser) {
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			srv, conns := parserFixture(b, n, parser)
			nsp := srv.Of("/")
			b.ReportAllocs()
			for b.Loop() {
				if err := nsp.Emit("news", benchArgs, nil); err != nil {
					b.Fatal(err)
				}
				if got := drainAll(conns); got != n {
					b.Fatalf("delivered %d, want %d", got, n)
				}
			}
		})
	}
}

func BenchmarkBroadcastRoom(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			srv, conns := broadcastFixture(b, 2*n)
			nsp := srv.Of("/")
			ids, _ := nsp.FetchSockets(b.Context())
			for i, s := range ids {
				if i%2 == 0 {
					_ = nsp.To(s.ID).SocketsJoin(b.Context(), "room")
				}
			}
			op := nsp.To("room").Except("nobody")
			b.ReportAllocs()
			for b.Loop() {
				_ = op.Emit("news", benchArgs, nil)
				if got := drainAll(conns); got != n {
					b.Fatalf("delivered %d, want %d", got, n)
				}
			}
		})
	}
}

// TestBroadcastAllocsDoNotGrow compares the allocations of one broadcast
// at two recipient counts: nothing is allocated per recipient.
func TestBroadcastAllocsDoNotGrow(t *testing.T) { broadcastAllocsDoNotGrow(t, nil) }

// TestBroadcastAllocsDoNotGrowDeflate is TestBroadcastAllocsDoNotGrow
// with connections that compress: marking the messages (engineio.Share)
// costs once per broadcast.
func TestBroadcastAllocsDoNotGrowDeflate(t *testing.T) { allocsDoNotGrow(t, nil, true) }

func broadcastAllocsDoNotGrow(t *testing.T, parser socketio.Parser) {
	allocsDoNotGrow(t, parser, false)
}

func allocsDoNotGrow(t *testing.T, parser socketio.Parser, deflate bool) {
	measure := func(n int) float64 {
		srv, conns := fixture(t, n, parser, deflate)
		nsp := srv.Of("/")
		op := nsp.Except("nobody")
		emit := func() {
			_ = op.Emit("news", benchArgs, nil)
			drainAll(conns)
		}
		emit() // grow the queues once
		return testing.AllocsPerRun(50, emit)
	}
	small, large := measure(10), measure(2000)
	if large > small {
		t.Fatalf("allocs per broadcast: %v with 10 recipients, %v with 2000", small, large)
	}
	t.Logf("allocs per broadcast: %v (10 recipients), %v (2000 recipients)", small, large)
}

func BenchmarkDecode(b *testing.B) {
	msgs := map[string]string{
		"event":     `2/chat,12["message",{"id":42,"text":"hello world","tags":["a","b"]},3.14]`,
		"connect":   `0/chat,{"token":"abcdef"}`,
		"binaryHdr": `51-["upload",{"name":"f","data":{"_placeholder":true,"num":0}}]`,
	}
	for name, m := range msgs {
		b.Run(name, func(b *testing.B) {
			in := []byte(m)
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				p, _, err := socketio.DecodeText(in, 0)
				if err != nil {
					b.Fatal(err)
				}
				if p.Type == socketio.PacketEvent {
					if _, _, err := socketio.EventName(p.Data); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
	b.Run("binary", func(b *testing.B) {
		hdr := []byte(`52-["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		att := make([]byte, 1024)
		b.ReportAllocs()
		for b.Loop() {
			var d socketio.Decoder
			_, _ = d.Add(hdr, false)
			_, _ = d.Add(att, true)
			if p, err := d.Add(att, true); err != nil || p == nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		p := &socketio.Packet{Type: socketio.PacketEvent, Namespace: "/chat", Data: socketio.AppendEventData(nil, "message", benchArgs)}
		if pk := socketio.Encode(p); len(pk) != 1 {
			b.Fatal("bad encode")
		}
	}
}
