package interop

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// pollingClient speaks Engine.IO polling and Socket.IO's framing by hand,
// so a test sees the answers' headers and bodies as sent (the Node client
// hides them): it never asks for compression itself nor undoes it.
type pollingClient struct {
	t    *testing.T
	http *http.Client
	base string // the polling URL, with the sid once the handshake is done
}

func newPollingClient(t *testing.T, srv *target) *pollingClient {
	t.Helper()
	c := &pollingClient{
		t:    t,
		http: &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: waitTimeout},
		base: srv.url + "/socket.io/?EIO=4&transport=polling",
	}
	t.Cleanup(c.http.CloseIdleConnections)
	_, open := c.do(http.MethodGet, "", "")
	i := strings.Index(open, `"sid":"`)
	if !strings.HasPrefix(open, "0") || i < 0 {
		t.Fatalf("handshake answer %q", open)
	}
	c.base += "&sid=" + open[i+len(`"sid":"`):i+len(`"sid":"`)+20]
	c.do(http.MethodPost, "40", "")
	if _, connect := c.do(http.MethodGet, "", ""); !strings.HasPrefix(connect, "40{") {
		t.Fatalf("CONNECT answer %q", connect)
	}
	return c
}

// do makes a request (a POST when body is set) with the given
// Accept-Encoding ("" sends none) and returns the answer, its body
// decoded as its Content-Encoding says.
func (c *pollingClient) do(method, body, acceptEncoding string) (*http.Response, string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s: read: %v", method, err)
	}
	if res.StatusCode != http.StatusOK {
		c.t.Fatalf("%s: status %d, body %q", method, res.StatusCode, raw)
	}
	var dec io.Reader
	switch enc := res.Header.Get("Content-Encoding"); enc {
	case "":
		return res, string(raw)
	case "gzip":
		dec, err = gzip.NewReader(bytes.NewReader(raw))
	case "deflate":
		dec, err = zlib.NewReader(bytes.NewReader(raw))
	default:
		c.t.Fatalf("Content-Encoding %q", enc)
	}
	if err == nil {
		raw, err = io.ReadAll(dec)
	}
	if err != nil {
		c.t.Fatalf("%s body: %v", res.Header.Get("Content-Encoding"), err)
	}
	return res, string(raw)
}

// echo has the server emit "echo" back with s, then fetches it with a
// GET asking for acceptEncoding. It returns the GET's answer.
func (c *pollingClient) echo(s, acceptEncoding string) *http.Response {
	c.t.Helper()
	ev, _ := json.Marshal([]string{"echo", s})
	c.do(http.MethodPost, "42"+string(ev), "")
	res, body := c.do(http.MethodGet, "", acceptEncoding)
	if body != "42"+string(ev) {
		c.t.Fatalf("answer of %d bytes %.40q…, want the %d-byte echo", len(body), body, 2+len(ev))
	}
	return res
}

// TestHTTPCompression: a polling answer of 1 KiB or more is compressed
// as the client accepts, gzip or deflate chosen as the reference chooses,
// and goes plain when the client accepts neither, when it is smaller, or
// with compression off; with the same headers either way (Content-Length
// aside: the reference streams a compressed answer chunked).
func TestHTTPCompression(t *testing.T) {
	big := strings.Repeat("compress me ", 5000/12)
	cases := []struct {
		accept string
		data   string
		want   string // Content-Encoding
	}{
		{"gzip, deflate, br", big, "gzip"},
		{"deflate", big, "deflate"},
		{"gzip;q=0.5, deflate", big, "deflate"},
		{"*", big, "gzip"},
		{"", big, ""},
		{"br", big, ""},
		{"gzip;q=0, deflate;q=0", big, ""},
		{"gzip", "small", ""},
	}
	for _, off := range []bool{false, true} {
		name := "on"
		if off {
			name = "off"
		}
		t.Run(name, func(t *testing.T) {
			eachServer(t, serverConfig{NoHTTPCompression: off}, func(t *testing.T, srv *target) {
				c := newPollingClient(t, srv)
				for _, tc := range cases {
					want := tc.want
					if off {
						want = ""
					}
					res := c.echo(tc.data, tc.accept)
					if got := res.Header.Get("Content-Encoding"); got != want {
						t.Errorf("Accept-Encoding %q, %d bytes: Content-Encoding %q, want %q", tc.accept, len(tc.data), got, want)
					}
					if v := res.Header.Values("Vary"); len(v) != 0 {
						t.Errorf("Accept-Encoding %q: Vary %q, want none", tc.accept, v)
					}
					if got := res.Header.Get("Content-Type"); got != "text/plain; charset=UTF-8" {
						t.Errorf("Accept-Encoding %q: Content-Type %q", tc.accept, got)
					}
				}
			})
		})
	}
}

// TestHTTPCompression_RealClient: socket.io-client polling over fetch,
// which asks for gzip and deflate and undoes them, exchanges large events
// both ways with compression on.
func TestHTTPCompression_RealClient(t *testing.T) {
	eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
		c := startClient(t)
		c.connect("a", srv.url, connectOpts{Transports: []string{"fetch"}})
		c.wait("connect", "a")
		big := strings.Repeat("x", 5000)
		sameJSON(t, "ack", c.call("a", "echo", big), []string{big})
		c.emit("a", "echo", big, map[string]any{"n": 1})
		ev := c.waitEvent("a", "echo")
		sameJSON(t, "echo", ev.Args, []any{big, map[string]any{"n": 1}})
		if st := c.state("a"); st.Transport != "polling" {
			t.Errorf("transport %q, want polling", st.Transport)
		}
	})
}

// wsHandshake makes a WebSocket handshake offering extensions and returns
// the answer's Sec-WebSocket-Extensions.
func wsHandshake(t *testing.T, srv *target, extensions string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.url+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if extensions != "" {
		req.Header.Set("Sec-WebSocket-Extensions", extensions)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d", res.StatusCode)
	}
	return res.Header.Get("Sec-WebSocket-Extensions")
}

// TestPerMessageDeflate: with perMessageDeflate on, the WebSocket
// handshake answers permessage-deflate to the offers of ws (the Node
// client) and Chromium, and the real client exchanges large messages over
// it, on a WebSocket from the start and after an upgrade, and both read
// the broadcasts sent to them; off, the default, no extension is answered.
func TestPerMessageDeflate(t *testing.T) {
	const offer = "permessage-deflate; client_max_window_bits" // ws's and Chromium's
	for _, on := range []bool{true, false} {
		name := "off"
		if on {
			name = "on"
		}
		t.Run(name, func(t *testing.T) {
			eachServer(t, serverConfig{PerMessageDeflate: on}, func(t *testing.T, srv *target) {
				got := wsHandshake(t, srv, offer)
				if on != strings.HasPrefix(got, "permessage-deflate") {
					t.Errorf("Sec-WebSocket-Extensions %q with perMessageDeflate %v", got, on)
				}
				if got := wsHandshake(t, srv, ""); got != "" {
					t.Errorf("Sec-WebSocket-Extensions %q answered to no offer", got)
				}
				c := startClient(t)
				big := strings.Repeat("deflate me ", 600)
				for _, tc := range []struct {
					socket     string
					transports []string
				}{
					{"ws", []string{"websocket"}},
					{"upgraded", nil},
				} {
					c.connect(tc.socket, srv.url, connectOpts{Transports: tc.transports})
					c.wait("connect", tc.socket)
					if tc.transports == nil {
						c.log.wait(t, "upgrade", func(e event) bool { return e.Type == "upgrade" && e.Manager == tc.socket })
					}
					st := c.state(tc.socket)
					if st.Transport != "websocket" {
						t.Fatalf("%s: transport %q", tc.socket, st.Transport)
					}
					if on != strings.HasPrefix(st.Extensions, "permessage-deflate") {
						t.Errorf("%s: the client negotiated %q with perMessageDeflate %v", tc.socket, st.Extensions, on)
					}
					sameJSON(t, "ack", c.call(tc.socket, "echo", big), []string{big})
					c.emit(tc.socket, "echo", big, "small")
					ev := c.waitEvent(tc.socket, "echo")
					sameJSON(t, "echo", ev.Args, []string{big, "small"})
				}
				// A broadcast, its text and its binary attachment over the
				// threshold, reaches every socket: with four recipients or
				// more iobridge compresses its messages once for all.
				for _, socket := range []string{"ws2", "ws3"} {
					c.connect(socket, srv.url, connectOpts{Transports: []string{"websocket"}})
					c.wait("connect", socket)
				}
				blob := binary{[]byte(strings.Repeat("binary attachment ", 100))}
				for i := range 3 {
					args := []any{big, i, blob}
					c.call("ws", "broadcast", map[string]any{"event": "news", "args": args})
					for _, socket := range []string{"ws", "upgraded", "ws2", "ws3"} {
						sameJSON(t, "news to "+socket, c.waitEvent(socket, "news").Args, args)
					}
				}
			})
		})
	}
}
