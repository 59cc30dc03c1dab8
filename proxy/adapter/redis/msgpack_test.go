package redis

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// chanConn is an Engine.IO connection whose messages land in out.
type chanConn struct {
	id  string
	out chan engineio.Packet
}

func (c *chanConn) ID() string    { return c.id }
func (c *chanConn) Protocol() int { return 4 }
func (c *chanConn) Request() *http.Request {
	return httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
}
func (c *chanConn) Send(p []engineio.Packet) error {
	for _, m := range p {
		c.out <- m
	}
	return nil
}
func (c *chanConn) SendVolatile(p []engineio.Packet) bool { return c.Send(p) == nil }
func (c *chanConn) Close(engineio.CloseReason)            {}

// TestBroadcastFromRedisToMsgpackClient: a broadcast another node
// publishes (its server on the default parser) reaches a socket of a node
// whose server speaks msgpack as one msgpack message, binary inline.
func TestBroadcastFromRedisToMsgpackClient(t *testing.T) {
	r := startRedis(t)
	for _, mode := range []string{ModeClassic, ModeSharded, ModeStreams} {
		t.Run(mode, func(t *testing.T) {
			prefix := uniquePrefix()
			a := newNode(t, r.url(), prefix, mode)
			cb := openCluster(t, r.url(), prefix, mode, SubscribeDynamic)
			parser := socketio.MsgpackParser()
			srv := socketio.NewServer(socketio.Config{Adapter: cb.Factory(), Logger: slog.New(slog.DiscardHandler), Parser: parser})
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			})
			conn := &chanConn{id: "mp0000000000000000000", out: make(chan engineio.Packet, 64)}
			h := srv.Attach(conn)
			connect, err := parser.Encode(&socketio.Packet{Type: socketio.PacketConnect, Namespace: "/"})
			if err != nil {
				t.Fatal(err)
			}
			h.OnMessage(connect[0].Data, true)
			if m := <-conn.out; !m.Binary {
				t.Fatalf("CONNECT answer %q is not msgpack", m.Data)
			}

			// Published until it arrives: b's subscription may still be
			// settling.
			args := []json.RawMessage{socketio.Placeholder(0), json.RawMessage(`"x"`)}
			deadline := time.Now().Add(10 * time.Second)
			for {
				if err := a.nsp.Emit("news", args, [][]byte{{1, 2}}); err != nil {
					t.Fatal(err)
				}
				select {
				case m := <-conn.out:
					p, err := parser.Decode(m.Data, true)
					if !m.Binary || err != nil || p.Type != socketio.PacketEvent || string(p.Data) != `["news",{"_placeholder":true,"num":0},"x"]` ||
						len(p.Attachments) != 1 || string(p.Attachments[0]) != "\x01\x02" {
						t.Fatalf("got %x (binary %v): %v", m.Data, m.Binary, err)
					}
					return
				case <-time.After(100 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatal("the broadcast never reached the msgpack socket")
				}
			}
		})
	}
}
