package engineio

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
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

// BenchmarkWebSocketWrite writes one message on a WebSocket whose
// connection discards what it is given, so the figures are the server's
// own cost (framing, compression) without a peer or system calls: with
// permessage-deflate not negotiated and negotiated, for a 5 KB message
// and for one under the threshold (sent plain either way).
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
			s, conn := discardWebSocket(b, bc.deflate)
			batch := []Packet{{Type: PacketMessage, Data: bc.data}}
			b.SetBytes(int64(len(bc.data) + 1))
			b.ReportAllocs()
			var sent int64
			dc := conn.NetConn().(*corkConn).Conn.(*discardConn)
			for b.Loop() {
				if _, err := s.writeFrames(conn, batch, false); err != nil {
					b.Fatal(err)
				}
				if sent == 0 {
					sent = dc.n
				}
			}
			b.ReportMetric(float64(sent), "bytes/frame")
		})
	}
}

// discardConn is a connection that takes every write and never has
// anything to read; n counts the bytes written since the handshake.
type discardConn struct {
	net.Conn // nil: only the methods below are called
	n        int64
}

func (c *discardConn) Write(p []byte) (int, error)      { c.n += int64(len(p)); return len(p), nil }
func (c *discardConn) Close() error                     { return nil }
func (c *discardConn) SetDeadline(time.Time) error      { return nil }
func (c *discardConn) SetReadDeadline(time.Time) error  { return nil }
func (c *discardConn) SetWriteDeadline(time.Time) error { return nil }

// hijackable is a ResponseWriter whose connection is a discardConn.
type hijackable struct {
	discardResponse
	conn *discardConn
}

func (h *hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(h.conn)), nil
}

// discardWebSocket upgrades a session's WebSocket on a discardConn, with
// a client offering permessage-deflate when deflate is set to a server
// with PerMessageDeflate on. The session is not started: the benchmark
// is its only writer.
func discardWebSocket(b testing.TB, deflate bool) (*Session, *websocket.Conn) {
	srv := NewServer(Config{PerMessageDeflate: true, Logger: slog.New(slog.DiscardHandler)},
		func(*Session) Handler { return nopHandler{} })
	return discardWebSocketOn(b, srv, deflate)
}

// discardWebSocketOn is discardWebSocket on srv.
func discardWebSocketOn(b testing.TB, srv *Server, deflate bool) (*Session, *websocket.Conn) {
	r := httptest.NewRequest(http.MethodGet, "/engine.io/?EIO=4&transport=websocket", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if deflate {
		r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
	}
	dc := &discardConn{}
	conn, _, err := srv.upgrade(&hijackable{discardResponse{http.Header{}}, dc}, r)
	if err != nil {
		b.Fatal(err)
	}
	dc.n = 0
	return newSession(srv, r, 4, true, false), conn
}

// BenchmarkBroadcastDeflate writes one broadcast's 5 KB packet to n
// sessions that negotiated permessage-deflate, on connections that
// discard what they are given: "per-recipient" with the packet unmarked,
// so that each session compresses it, "shared" with it marked by Share,
// so that the first compresses it and the others write the same frame
// (from minSharedRecipients on; see sharedFrames).
// Share is part of each broadcast, as Namespace.Encode calls it.
func BenchmarkBroadcastDeflate(b *testing.B) {
	for _, mode := range []string{"per-recipient", "shared"} {
		for _, n := range []int{1, 2, 4, 100, 1000} {
			b.Run(fmt.Sprintf("%s/recipients=%d", mode, n), func(b *testing.B) {
				sessions, conns := discardWebSockets(b, n)
				b.ReportAllocs()
				for b.Loop() {
					packets := []Packet{{Type: PacketMessage, Data: benchEcho}}
					if mode == "shared" {
						Share(packets)
					}
					for range sessions {
						countRecipient(packets) // as Send does
					}
					for i, s := range sessions {
						if _, err := s.writeFrames(conns[i], packets, false); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/recipient")
			})
		}
	}
}

// discardWebSockets is discardWebSocket for n sessions of one server, each
// negotiating permessage-deflate.
func discardWebSockets(tb testing.TB, n int) ([]*Session, []*websocket.Conn) {
	srv := NewServer(Config{PerMessageDeflate: true, Logger: slog.New(slog.DiscardHandler)},
		func(*Session) Handler { return nopHandler{} })
	sessions := make([]*Session, n)
	conns := make([]*websocket.Conn, n)
	for i := range sessions {
		sessions[i], conns[i] = discardWebSocketOn(tb, srv, true)
	}
	return sessions, conns
}
