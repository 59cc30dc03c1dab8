package engineio

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestOffersDeflate(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"permessage-deflate", true},
		{"permessage-deflate; client_max_window_bits", true}, // ws, Chromium
		{"permessage-deflate; client_no_context_takeover; server_no_context_takeover", true},
		{"permessage-deflate; server_max_window_bits=15", true},
		{`permessage-deflate; server_max_window_bits="15"`, true},
		{"permessage-deflate; server_max_window_bits=10", false},
		{"permessage-deflate; server_max_window_bits=10, permessage-deflate", true},
		{"x-webkit-deflate-frame", false},
		{"foo, permessage-deflate", true},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Sec-WebSocket-Extensions", tc.header)
		}
		if got := offersDeflate(h); got != tc.want {
			t.Errorf("offersDeflate(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

// rawWS is a WebSocket client that sees frames as sent: their RSV1 bit
// (compressed) and payload.
type rawWS struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
	res  *http.Response
}

// dialRaw opens a WebSocket session offering extensions (none when
// empty).
func dialRaw(t *testing.T, e *testEnv, extensions string) *rawWS {
	t.Helper()
	return dialRawQuery(t, e, "EIO=4&transport=websocket", extensions)
}

// dialRawQuery is dialRaw with the handshake's query.
func dialRawQuery(t *testing.T, e *testEnv, query, extensions string) *rawWS {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(waitLimit))
	req := "GET /engine.io/?" + query + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	if extensions != "" {
		req += "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d", res.StatusCode)
	}
	return &rawWS{t: t, conn: conn, br: br, res: res}
}

// next reads a message: its opcode, whether RSV1 marks it compressed,
// and its payload, inflated if so.
func (c *rawWS) next() (opcode byte, compressed bool, payload []byte) {
	c.t.Helper()
	_, opcode, compressed, payload = c.message()
	return opcode, compressed, payload
}

// open reads the OPEN frame and returns the sid.
func (c *rawWS) open() string {
	c.t.Helper()
	op, compressed, payload := c.next()
	if op != websocket.TextMessage || compressed {
		c.t.Fatalf("OPEN frame: opcode %d, compressed %v", op, compressed)
	}
	o, _ := parseOpen(c.t, string(payload))
	return o.SID
}

func TestPerMessageDeflate_Negotiation(t *testing.T) {
	const chromium = "permessage-deflate; client_max_window_bits"
	for _, tc := range []struct {
		name   string
		on     bool
		offer  string
		answer string
	}{
		{"off", false, chromium, ""},
		{"on", true, chromium, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
		{"on, not offered", true, "", ""},
		{"on, window refused", true, "permessage-deflate; server_max_window_bits=9", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := suiteConfig()
			cfg.PerMessageDeflate = tc.on
			e := newEnv(t, cfg)
			c := dialRaw(t, e, tc.offer)
			if got := c.res.Header.Get("Sec-WebSocket-Extensions"); got != tc.answer {
				t.Fatalf("Sec-WebSocket-Extensions %q, want %q", got, tc.answer)
			}
			sid := c.open()
			big := strings.Repeat("y", 5000)
			if err := e.session(sid).Send([]Packet{msg(big)}); err != nil {
				t.Fatal(err)
			}
			_, compressed, payload := c.next()
			if compressed != (tc.answer != "") {
				t.Errorf("5000-byte message compressed: %v, want %v", compressed, tc.answer != "")
			}
			if string(payload) != "4"+big {
				t.Errorf("message of %d bytes, want %d", len(payload), 1+len(big))
			}
		})
	}
}

func TestPerMessageDeflate_Threshold(t *testing.T) {
	for _, tc := range []struct {
		name      string
		threshold int
		frame     int // bytes of the frame: the packet type and the data
		binary    bool
		want      bool
	}{
		{"below default", 0, 1023, false, false},
		{"at default", 0, 1024, false, true},
		{"below", 200, 199, false, false},
		{"at", 200, 200, false, true},
		{"binary below", 200, 199, true, false},
		{"binary at", 200, 200, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := suiteConfig()
			cfg.PerMessageDeflate = true
			cfg.PerMessageDeflateThreshold = tc.threshold
			e := newEnv(t, cfg)
			c := dialRaw(t, e, "permessage-deflate")
			sid := c.open()
			p := msg(strings.Repeat("z", tc.frame-1))
			want := "4" + string(p.Data)
			wantOp := byte(websocket.TextMessage)
			if tc.binary {
				// A v4 binary frame is the data alone.
				p = bin(bytes.Repeat([]byte{7}, tc.frame)...)
				want, wantOp = string(p.Data), websocket.BinaryMessage
			}
			if err := e.session(sid).Send([]Packet{p}); err != nil {
				t.Fatal(err)
			}
			op, compressed, payload := c.next()
			if compressed != tc.want {
				t.Errorf("%d-byte frame compressed: %v, want %v", tc.frame, compressed, tc.want)
			}
			if op != wantOp || string(payload) != want {
				t.Errorf("frame opcode %d of %d bytes, want %d of %d", op, len(payload), wantOp, len(want))
			}
			// The next small frame goes plain: compression was for that
			// message only.
			if err := e.session(sid).Send([]Packet{msg("a")}); err != nil {
				t.Fatal(err)
			}
			if _, compressed, payload := c.next(); compressed || string(payload) != "4a" {
				t.Errorf("small frame %q compressed %v, want plain \"4a\"", payload, compressed)
			}
		})
	}
}

// TestPerMessageDeflate_BothWays: gorilla's client, which compresses
// every message once negotiated, gets its message echoed compressed, and
// a batch of several packets (one corked write) keeps each frame right.
func TestPerMessageDeflate_BothWays(t *testing.T) {
	cfg := suiteConfig()
	cfg.PerMessageDeflate = true
	e := newEnv(t, cfg)
	d := websocket.Dialer{HandshakeTimeout: waitLimit, EnableCompression: true}
	c, res, err := d.Dial(e.ws+"?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.HasPrefix(res.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		t.Fatalf("not negotiated: %q", res.Header.Get("Sec-WebSocket-Extensions"))
	}
	op, _ := parseOpen(t, readText(t, c))
	big := strings.Repeat("hello ", 2000)
	writeText(t, c, "4"+big)
	if got := readText(t, c); got != "4"+big {
		t.Fatalf("echo of %d bytes, want %d", len(got), 1+len(big))
	}
	batch := []Packet{msg(big), msg("small"), bin(bytes.Repeat([]byte{1}, 3000)...), msg(big)}
	if err := e.session(op.SID).Send(batch); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4" + big, "4small"} {
		if got := readText(t, c); got != want {
			t.Fatalf("frame of %d bytes, want %d", len(got), len(want))
		}
	}
	if f := readFrame(t, c); f.err != nil || f.typ != websocket.BinaryMessage || len(f.data) != 3000 {
		t.Fatalf("binary frame: type %d, %d bytes, err %v", f.typ, len(f.data), f.err)
	}
	if got := readText(t, c); got != "4"+big {
		t.Fatalf("last frame of %d bytes", len(got))
	}
}

// TestPerMessageDeflate_InflatedLimit: MaxHTTPBufferSize bounds a
// message as inflated, as the reference's maxPayload: a small compressed
// frame that inflates past it closes the connection with 1009.
func TestPerMessageDeflate_InflatedLimit(t *testing.T) {
	cfg := suiteConfig()
	cfg.PerMessageDeflate = true
	cfg.MaxHTTPBufferSize = 10_000
	e := newEnv(t, cfg)
	d := websocket.Dialer{HandshakeTimeout: waitLimit, EnableCompression: true}
	c, _, err := d.Dial(e.ws+"?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	op, _ := parseOpen(t, readText(t, c))
	h := e.handler(op.SID)
	writeText(t, c, "4"+strings.Repeat("0", 20_000))
	err = waitClosed(t, c)
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("read error %v, want close 1009", err)
	}
	ev := recv(t, h.closed, "close")
	if ev.reason != ReasonTransportError {
		t.Errorf("close reason %q, want transport error", ev.reason)
	}
	select {
	case m := <-h.msgs:
		t.Errorf("message of %d bytes handed on", len(m))
	default:
	}
}
