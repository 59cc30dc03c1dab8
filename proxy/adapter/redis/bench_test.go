package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iobridge/iobridge/internal/jsonstr"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// sink is an Engine.IO connection that counts what it is sent.
type sink struct {
	id   string
	n    *atomic.Int64
	h    engineio.Handler
	seen chan struct{}
}

func (c *sink) ID() string    { return c.id }
func (c *sink) Protocol() int { return 4 }
func (c *sink) Request() *http.Request {
	return httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
}
func (c *sink) Send(p []engineio.Packet) error {
	if c.seen != nil {
		select {
		case c.seen <- struct{}{}:
		default:
		}
	}
	c.n.Add(int64(len(p)))
	return nil
}
func (c *sink) SendVolatile(p []engineio.Packet) bool { return c.Send(p) == nil }
func (c *sink) Close(engineio.CloseReason)            {}

// benchNode is a node with n connected sockets that discard what they get.
func benchNode(b *testing.B, url, prefix, mode string, n int) (*Cluster, *socketio.Namespace, *atomic.Int64) {
	b.Helper()
	c := openCluster(b, url, prefix, mode, SubscribeDynamic)
	srv := socketio.NewServer(socketio.Config{Adapter: c.Factory(), Logger: slog.New(slog.DiscardHandler)})
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	nsp := srv.Of("/")
	var count atomic.Int64
	for i := range n {
		s := &sink{id: fmt.Sprintf("b%019d", i), n: &count, seen: make(chan struct{}, 1)}
		s.h = srv.Attach(s)
		s.h.OnMessage([]byte("0"), false)
		select {
		case <-s.seen:
		case <-time.After(5 * time.Second):
			b.Fatal("no CONNECT ack")
		}
	}
	for nsp.Len() < n {
		time.Sleep(time.Millisecond)
	}
	count.Store(0)
	return c, nsp, &count
}

var benchArgs = []json.RawMessage{json.RawMessage(`{"id":123,"text":"hello world","ts":1700000000000}`)}

// BenchmarkPublish is the sending side of a broadcast: the message built
// and encoded once, queued for the publisher (no local recipient).
func BenchmarkPublish(b *testing.B) {
	r := startRedis(b)
	for _, mode := range []string{ModeClassic, ModeSharded} {
		b.Run(mode, func(b *testing.B) {
			_, nsp, _ := benchNode(b, r.url(), uniquePrefix(), mode, 0)
			a := nsp.Adapter()
			data := socketio.AppendEventData(nil, "news", benchArgs)
			p := &socketio.Packet{Type: socketio.PacketEvent, Namespace: "/", Data: data}
			opts := &socketio.BroadcastOptions{Rooms: []string{"room"}}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = a.Broadcast(p, opts)
			}
		})
	}
}

// BenchmarkReceive is the receiving side: a broadcast from another node
// decoded once and written to every local recipient. Allocations must not
// grow with the recipients.
func BenchmarkReceive(b *testing.B) {
	r := startRedis(b)
	for _, mode := range []string{ModeClassic, ModeSharded} {
		for _, n := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/recipients=%d", mode, n), func(b *testing.B) {
				prefix := uniquePrefix()
				_, nsp, count := benchNode(b, r.url(), prefix, mode, n)
				other := openCluster(b, r.url(), prefix+"x", mode, SubscribeDynamic)
				osrv := socketio.NewServer(socketio.Config{Adapter: other.Factory(), Logger: slog.New(slog.DiscardHandler)})
				sender := osrv.Of("/").Adapter()
				data := socketio.AppendEventData(nil, "news", benchArgs)
				p := &socketio.Packet{Type: socketio.PacketEvent, Namespace: "/", Data: data}
				opts := &socketio.BroadcastOptions{}
				var payload []byte
				channel := prefix + "#/#"
				switch x := sender.(type) {
				case *classic:
					msg := []byte("[")
					msg = jsonstr.Append(msg, x.uid)
					msg = append(msg, ',')
					msg = appendPacket(msg, p, "/")
					msg = append(msg, ',')
					msg = appendOpts(msg, opts, true, false)
					msg = append(msg, ']')
					payload, _ = encodeMessage(msg, nil, true)
				case *sharded:
					data := []byte(`{"packet":`)
					data = appendPacket(data, p, "/")
					data = append(data, `,"opts":`...)
					data = appendOpts(data, opts, true, false)
					data = append(data, '}')
					payload = x.message(msgBroadcast, data)
				}
				h := nsp.Adapter().(handler)
				kind := kindBroadcast
				if mode == ModeSharded {
					kind = kindMessage
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					h.receive(kind, channel, payload)
				}
				b.StopTimer()
				if got := count.Load(); got < int64(n) {
					b.Fatalf("%d deliveries for %d recipients", got, n)
				}
				b.ReportMetric(float64(count.Load())/float64(b.N), "deliveries/op")
			})
		}
	}
}
