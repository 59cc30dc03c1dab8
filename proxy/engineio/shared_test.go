package engineio

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// sharedThreshold is the PerMessageDeflateThreshold of the tests here.
const sharedThreshold = 200

// sharedBatch is a broadcast's packets around sharedThreshold: text and
// binary, under, at and over it, compressible and not, and large enough
// that the compressed message spans several frames.
func sharedBatch() []Packet {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while seven zebras quietly graze")
	var text strings.Builder
	for text.Len() < 200_000 {
		text.WriteString(words[rng.IntN(len(words))])
		text.WriteByte(' ')
	}
	noise := make([]byte, 20_000)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	return []Packet{
		msg("hello"),
		msg(strings.Repeat("a", sharedThreshold-2)), // the frame one under
		msg(strings.Repeat("b", sharedThreshold-1)), // the frame at it
		{Type: PacketMessage, Data: benchEcho},
		msg(text.String()),
		msg(base64.StdEncoding.EncodeToString(noise[:3000])), // compressible a quarter
		bin(),
		bin(bytes.Repeat([]byte{9}, 150)...), // over it only as base64
		bin(bytes.Repeat([]byte{1, 2, 3}, 1000)...),
		bin(noise...),
	}
}

// wireMessage is the message p is on a WebSocket session of the given
// protocol (b64: binary as base64), built apart from the code under test.
func wireMessage(p Packet, proto int, b64 bool) (byte, []byte) {
	switch {
	case !p.Binary:
		return websocket.TextMessage, append([]byte{"0123456"[p.Type]}, p.Data...)
	case proto == 4:
		return websocket.BinaryMessage, p.Data
	case b64:
		return websocket.TextMessage, []byte("b" + string("0123456"[p.Type]) + base64.StdEncoding.EncodeToString(p.Data))
	default:
		return websocket.BinaryMessage, append([]byte{byte(p.Type)}, p.Data...)
	}
}

// sharedEnv serves v4 and v3 sessions with PerMessageDeflate on and
// sharedThreshold, and no heartbeat to come between the messages.
func sharedEnv(t *testing.T) *testEnv {
	cfg := suiteConfig()
	cfg.PingInterval, cfg.PingTimeout = time.Hour, time.Hour
	cfg.PerMessageDeflate = true
	cfg.PerMessageDeflateThreshold = sharedThreshold
	cfg.AllowEIO3 = true
	return newEnv(t, cfg)
}

// message reads one message: its frames' bytes as sent, its opcode,
// whether it is compressed, and its payload, inflated if so.
func (c *rawWS) message() (raw []byte, opcode byte, compressed bool, payload []byte) {
	c.t.Helper()
	var data []byte
	for first := true; ; first = false {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			c.t.Fatal(err)
		}
		raw = append(raw, h[:]...)
		if first {
			opcode, compressed = h[0]&0x0f, h[0]&0x40 != 0
		} else if h[0]&0x0f != 0 || h[0]&0x40 != 0 {
			c.t.Fatalf("continuation frame with opcode %d, RSV1 %v", h[0]&0x0f, h[0]&0x40 != 0)
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			_, _ = io.ReadFull(c.br, b[:])
			raw = append(raw, b[:]...)
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			_, _ = io.ReadFull(c.br, b[:])
			raw = append(raw, b[:]...)
			n = binary.BigEndian.Uint64(b[:])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(c.br, p); err != nil {
			c.t.Fatal(err)
		}
		raw = append(raw, p...)
		data = append(data, p...)
		if h[0]&0x80 != 0 {
			break
		}
	}
	if compressed {
		fr := flate.NewReader(io.MultiReader(bytes.NewReader(data), strings.NewReader("\x00\x00\xff\xff")))
		out, err := io.ReadAll(fr)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			c.t.Fatalf("inflate: %v", err)
		}
		data = out
	}
	return raw, opcode, compressed, data
}

// TestShare_SameFramesAsUnmarked: a marked packet (Share) reaches every
// session in the very bytes an unmarked one does, compressed or not as
// the connection negotiated and the threshold says, whether written in a
// batch (SendDeferred, one corked write) or alone (Send), on v4, v3 and v3
// with base64 sessions.
func TestShare_SameFramesAsUnmarked(t *testing.T) {
	e := sharedEnv(t)
	for _, tc := range []struct {
		name  string
		query string
		proto int
		b64   bool
	}{
		{"v4", "EIO=4&transport=websocket", 4, false},
		{"v3", "EIO=3&transport=websocket", 3, false},
		{"v3 base64", "EIO=3&transport=websocket&b64=1", 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain := sharedBatch()
			marked := slices.Clone(plain)
			Share(marked)
			// Per extension: the first session gets the packets unmarked,
			// the others marked.
			type peer struct {
				c      *rawWS
				s      *Session
				marked bool
			}
			var groups [2][]peer
			for g, ext := range []string{"permessage-deflate; client_max_window_bits", ""} {
				for i := range 3 {
					c := dialRawQuery(t, e, tc.query, ext)
					groups[g] = append(groups[g], peer{c, e.session(c.open()), i > 0})
				}
			}
			for _, group := range groups {
				for _, p := range group {
					batch := plain
					if p.marked {
						batch = marked
					}
					if err := p.s.SendDeferred(batch); err != nil {
						t.Fatal(err)
					}
					for i := range batch {
						if err := p.s.Send(batch[i : i+1]); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			for g, group := range groups {
				deflate := g == 0
				var want [][]byte // the first session's messages
				for k, p := range group {
					for i := range 2 * len(plain) {
						pk := plain[i%len(plain)]
						raw, op, compressed, payload := p.c.message()
						wantOp, wantPayload := wireMessage(pk, tc.proto, tc.b64)
						if op != wantOp || !bytes.Equal(payload, wantPayload) {
							t.Fatalf("deflate %v, session %d, message %d: opcode %d, %d bytes, want opcode %d, %d bytes", deflate, k, i, op, len(payload), wantOp, len(wantPayload))
						}
						if wantCompressed := deflate && len(wantPayload) >= sharedThreshold; compressed != wantCompressed {
							t.Errorf("deflate %v, session %d, message %d of %d bytes: compressed %v, want %v", deflate, k, i, len(wantPayload), compressed, wantCompressed)
						}
						if k == 0 {
							want = append(want, raw)
						} else if !bytes.Equal(raw, want[i]) {
							t.Errorf("deflate %v, session %d, message %d of %d bytes: %d bytes on the wire differ from the unmarked packet's %d", deflate, k, i, len(wantPayload), len(raw), len(want[i]))
						}
					}
				}
			}
		})
	}
}

// TestShare_GorillaClient: gorilla's client, with and without
// permessage-deflate, reads a marked batch sent to several sessions.
func TestShare_GorillaClient(t *testing.T) {
	e := sharedEnv(t)
	batch := sharedBatch()
	Share(batch)
	type client struct {
		c     *websocket.Conn
		proto int
		b64   bool
	}
	var clients []client
	for _, compress := range []bool{true, false} {
		for _, q := range []struct {
			query string
			proto int
			b64   bool
		}{
			{"EIO=4&transport=websocket", 4, false},
			{"EIO=4&transport=websocket", 4, false},
			{"EIO=3&transport=websocket", 3, false},
			{"EIO=3&transport=websocket&b64=1", 3, true},
		} {
			d := websocket.Dialer{HandshakeTimeout: waitLimit, EnableCompression: compress}
			c, res, err := d.Dial(e.ws+"?"+q.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if got := res.Header.Get("Sec-WebSocket-Extensions") != ""; got != compress {
				t.Fatalf("permessage-deflate negotiated: %v, want %v", got, compress)
			}
			op, _ := parseOpen(t, readText(t, c))
			if err := e.session(op.SID).SendDeferred(batch); err != nil {
				t.Fatal(err)
			}
			clients = append(clients, client{c, q.proto, q.b64})
		}
	}
	for k, c := range clients {
		for i, p := range batch {
			f := readFrame(t, c.c)
			wantOp, want := wireMessage(p, c.proto, c.b64)
			if f.err != nil || f.typ != int(wantOp) || !bytes.Equal(f.data, want) {
				t.Fatalf("client %d, message %d: type %d, %d bytes, err %v; want type %d, %d bytes", k, i, f.typ, len(f.data), f.err, wantOp, len(want))
			}
		}
	}
}

// TestShare_FrameKind: the length frameKind reports, which the threshold
// is checked against, is that of the message appendFrame makes, and both
// agree with the message written for an unmarked packet.
func TestShare_FrameKind(t *testing.T) {
	for _, p := range sharedBatch() {
		for _, s := range []struct {
			proto uint8
			b64   bool
		}{{4, false}, {4, true}, {3, false}, {3, true}} {
			kind, mt, n := frameKind(&p, s.proto, s.b64)
			b := appendFrame(nil, &p, kind)
			wantOp, want := wireMessage(p, int(s.proto), s.b64 && s.proto == 3)
			if n != len(b) || mt != int(wantOp) || !bytes.Equal(b, want) {
				t.Errorf("protocol %d, b64 %v, binary %v, %d bytes: kind %d, type %d, length %d, message of %d bytes; want type %d, %d bytes",
					s.proto, s.b64, p.Binary, len(p.Data), kind, mt, n, len(b), wantOp, len(want))
			}
		}
	}
}

// TestShare_AllocsDoNotGrowWithRecipients: with the packet marked, a
// broadcast to sessions that negotiated permessage-deflate allocates as
// much for 200 recipients as for 10: it is compressed once, and written
// to each without allocating.
func TestShare_AllocsDoNotGrowWithRecipients(t *testing.T) {
	allocs := func(n int) float64 {
		sessions, conns := discardWebSockets(t, n)
		broadcast := func() {
			packets := []Packet{{Type: PacketMessage, Data: benchEcho}}
			Share(packets)
			for range sessions {
				countRecipient(packets) // as Send does
			}
			for i, s := range sessions {
				if _, err := s.writeFrames(conns[i], packets, false); err != nil {
					t.Fatal(err)
				}
			}
		}
		broadcast()
		for i, c := range conns {
			if got := c.NetConn().(*corkConn).Conn.(*discardConn).n; got > int64(len(benchEcho))/2 {
				t.Fatalf("session %d: %d bytes written for a %d-byte message: not compressed", i, got, len(benchEcho))
			}
		}
		return testing.AllocsPerRun(20, broadcast)
	}
	// A few allocations of slack: under the race detector sync.Pool
	// drops some of what it is given. Compressing per recipient would
	// cost hundreds more.
	small, large := allocs(10), allocs(200)
	if large > small+5 {
		t.Errorf("allocs per broadcast: %v at 10 recipients, %v at 200; want no growth", small, large)
	}
	t.Logf("allocs per broadcast: %v (10 recipients), %v (200 recipients)", small, large)
}

// TestShare_Unmarked: Share leaves a packet already marked as it is,
// and an empty slice is nothing to mark.
func TestShare_Unmarked(t *testing.T) {
	Share(nil)
	p := []Packet{msg("x"), msg("y")}
	Share(p[:1])
	first := p[0].shared
	Share(p)
	if p[0].shared != first || p[1].shared == nil || p[1].shared == first {
		t.Fatalf("marks %p %p, first %p", p[0].shared, p[1].shared, first)
	}
}
