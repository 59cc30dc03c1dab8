package engineio

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// benchEcho is a 5 KB Socket.IO event of chat-like JSON, compressible as
// real traffic is rather than as one repeated byte.
var benchEcho = func() []byte {
	var b strings.Builder
	b.WriteString(`2["echo",[`)
	for i := 0; b.Len() < 5000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"user":"user%d","text":"message number %d in the room","ts":%d}`, i, i%17, i*7919%1000, 1700000000000+i*37)
	}
	b.WriteString(`]]`)
	return []byte(b.String())
}()

// discardResponse is a ResponseWriter that keeps nothing but its header
// map, cleared between answers, so the benchmark counts writePoll's own
// allocations.
type discardResponse struct{ h http.Header }

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardResponse) WriteHeader(int)             {}

// BenchmarkPollingAnswer writes a polling answer of one 5 KB message with
// compression off, on but not accepted, and gzip or deflate.
func BenchmarkPollingAnswer(b *testing.B) {
	for _, bc := range []struct {
		name   string
		on     bool
		accept string
	}{
		{"off", false, "gzip, deflate"},
		{"on/not-accepted", true, ""},
		{"on/gzip", true, "gzip, deflate"},
		{"on/deflate", true, "deflate"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, sessions := pollingSessions(b, 1)
			s := sessions[0]
			s.srv.cfg.HTTPCompression = bc.on
			r := httptest.NewRequest(http.MethodGet, "/engine.io/?EIO=4&transport=polling&sid="+s.id, nil)
			if bc.accept != "" {
				r.Header.Set("Accept-Encoding", bc.accept)
			}
			w := &discardResponse{h: http.Header{}}
			packets := []Packet{{Type: PacketMessage, Data: benchEcho}}
			b.SetBytes(int64(len(benchEcho) + 1))
			b.ReportAllocs()
			var sent int
			for b.Loop() {
				clear(w.h)
				s.writePoll(w, r, packets)
				if sent == 0 {
					fmt.Sscan(w.h.Get("Content-Length"), &sent)
				}
			}
			b.ReportMetric(float64(sent), "bytes/answer")
		})
	}
}

// BenchmarkWebSocketWrite writes one message to a loopback client that
// discards the bytes unread by gorilla, with permessage-deflate not
// negotiated and negotiated, for a 5 KB message and for one under the
// threshold (sent plain either way).
func BenchmarkWebSocketWrite(b *testing.B) {
	for _, bc := range []struct {
		name    string
		deflate bool
		data    []byte
	}{
		{"plain/5KB", false, benchEcho},
		{"deflate/5KB", true, benchEcho},
		{"plain/100B", false, benchEcho[:100]},
		{"deflate/100B", true, benchEcho[:100]},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := deflateSession(b, bc.deflate)
			batch := []Packet{{Type: PacketMessage, Data: bc.data}}
			b.SetBytes(int64(len(bc.data) + 1))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.writeFrames(s.conn, batch, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// deflateSession opens a WebSocket session whose client offers
// permessage-deflate when deflate is set, on a server with
// PerMessageDeflate on, and drains what the server writes.
func deflateSession(b *testing.B, deflate bool) *Session {
	srv := NewServer(Config{PingInterval: time.Hour, PingTimeout: time.Hour, PerMessageDeflate: true, Logger: slog.New(slog.DiscardHandler)},
		func(*Session) Handler { return nopHandler{} })
	hs := httptest.NewServer(srv)
	d := websocket.Dialer{EnableCompression: deflate}
	c, res, err := d.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/engine.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		b.Fatal(err)
	}
	if got := res.Header.Get("Sec-WebSocket-Extensions") != ""; got != deflate {
		b.Fatalf("negotiated %v, want %v", got, deflate)
	}
	_, open, err := c.ReadMessage()
	if err != nil {
		b.Fatal(err)
	}
	s := srv.lookup(string(open[len(`0{"sid":"`) : len(`0{"sid":"`)+20]))
	go func() { _, _ = io.Copy(io.Discard, c.NetConn()) }()
	b.Cleanup(func() {
		c.Close()
		hs.CloseClientConnections()
		hs.Close()
	})
	return s
}
