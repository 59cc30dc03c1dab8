package interop

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	gws "github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/internal/clientbundle"
	"github.com/iobridge/iobridge/proxy/engineio"
)

// TestOptionsTransports: the transports and allowUpgrades options, seen by
// the real client: a transport the server leaves out fails the client's
// connection with the error the reference gives it, the other connects;
// the client upgrades to WebSocket only when the handshake offers it.
func TestOptionsTransports(t *testing.T) {
	ws := websocket
	tests := []struct {
		name       string
		server     serverConfig
		client     []string // nil: the client's default, polling then upgrade
		wantErr    string   // the connect_error's message; "" means the socket connects
		transport  string   // the transport it connects on; "" any (the upgrade may come first)
		ends       string   // the transport it is on in the end
		upgradeEvt bool     // the client reports an upgrade
	}{
		{"default", serverConfig{}, nil, "", "", "websocket", true},
		{"upgrades off", serverConfig{NoUpgrades: true}, nil, "", "polling", "polling", false},
		{"websocket only, websocket client", serverConfig{Transports: ws}, ws, "", "websocket", "websocket", false},
		{"websocket only, polling client", serverConfig{Transports: ws}, polling, "xhr poll error", "", "", false},
		{"websocket only, default client", serverConfig{Transports: ws}, nil, "xhr poll error", "", "", false},
		{"polling only, default client", serverConfig{Transports: polling}, nil, "", "polling", "polling", false},
		{"polling only, websocket client", serverConfig{Transports: polling}, ws, "websocket error", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachServer(t, tc.server, func(t *testing.T, srv *target) {
				c := startClient(t)
				c.connect("a", srv.url, connectOpts{Transports: tc.client})
				e := c.log.wait(t, "connect or connect_error on a", func(e event) bool {
					return e.Socket == "a" && (e.Type == "connect" || e.Type == "connect_error")
				})
				if tc.wantErr != "" {
					if e.Type != "connect_error" || e.Message == nil || *e.Message != tc.wantErr {
						t.Fatalf("got %s, want connect_error %q", e, tc.wantErr)
					}
					return
				}
				if e.Type != "connect" || tc.transport != "" && e.Transport != tc.transport {
					t.Fatalf("got %s, want connect on %s", e, tc.transport)
				}
				if tc.upgradeEvt {
					c.log.wait(t, "upgrade", func(e event) bool { return e.Type == "upgrade" && e.Transport == "websocket" })
				} else {
					// The client starts an upgrade at once when one is
					// offered; give it time to show.
					sameJSON(t, "echo", c.call("a", "echo", 1), []any{1})
					time.Sleep(500 * time.Millisecond)
				}
				if got := c.state("a").Transport; got != tc.ends {
					t.Errorf("transport = %q, want %q", got, tc.ends)
				}
				if !tc.upgradeEvt && c.log.seen(is("upgrade")) {
					t.Errorf("the client upgraded; events:\n%s", c.log.dump())
				}
				sameJSON(t, "echo", c.call("a", "echo", "still here"), []any{"still here"})
			})
		})
	}
}

// TestOptionsHandshakeRefusals: the raw answers behind those client
// errors, the same from both servers: a transport left out is "Transport
// unknown" (to a WebSocket handshake too, as JSON, when the server has no
// WebSocket at all: Node then answers an Upgrade as a plain request).
func TestOptionsHandshakeRefusals(t *testing.T) {
	const unknown = `{"code":0,"message":"Transport unknown"}`
	t.Run("websocket only", func(t *testing.T) {
		eachServer(t, serverConfig{Transports: []string{"websocket"}}, func(t *testing.T, srv *target) {
			r := rawGet(t, srv.url+"/socket.io/?EIO=4&transport=polling", nil)
			if r.status != http.StatusBadRequest || r.body != unknown || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("polling handshake = %d %q %q, want 400 application/json %s", r.status, r.header.Get("Content-Type"), r.body, unknown)
			}
		})
	})
	t.Run("polling only", func(t *testing.T) {
		eachServer(t, serverConfig{Transports: []string{"polling"}}, func(t *testing.T, srv *target) {
			d := gws.Dialer{HandshakeTimeout: waitTimeout}
			_, res, err := d.Dial("ws"+strings.TrimPrefix(srv.url, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
			if err == nil || res == nil {
				t.Fatalf("WebSocket handshake: %v, want a refusal", err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusBadRequest || string(b) != unknown || res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("WebSocket handshake = %d %q %q, want 400 application/json %s", res.StatusCode, res.Header.Get("Content-Type"), b, unknown)
			}
		})
	})
}

// TestOptionsUpgradeDespiteNoUpgrades: allowUpgrades: false only keeps
// WebSocket out of the handshake's upgrades; the reference still answers a
// client that probes anyway, and so does iobridge.
func TestOptionsUpgradeDespiteNoUpgrades(t *testing.T) {
	eachServer(t, serverConfig{NoUpgrades: true}, func(t *testing.T, srv *target) {
		base := srv.url + "/socket.io/?EIO=4&transport="
		r := rawGet(t, base+"polling", nil)
		m := regexp.MustCompile(`^0\{"sid":"([^"]+)","upgrades":\[\]`).FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("handshake = %d %q, want no upgrades", r.status, r.body)
		}
		d := gws.Dialer{HandshakeTimeout: waitTimeout}
		conn, _, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"websocket&sid="+m[1], nil)
		if err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		defer conn.Close()
		if err := conn.WriteMessage(gws.TextMessage, []byte("2probe")); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, b, err := conn.ReadMessage(); err != nil || string(b) != "3probe" {
			t.Errorf("probe answer = %q, %v; want 3probe", b, err)
		}
	})
}

// TestOptionsCookie: the cookie option's Set-Cookie on the polling
// handshake, byte for byte, and none on the session's next request nor on
// a WebSocket handshake (the reference sets it on the polling handshake
// only).
func TestOptionsCookie(t *testing.T) {
	tests := []struct {
		name   string
		cookie *engineio.Cookie
		want   string // <sid> is the session id
	}{
		{"none", nil, ""},
		{"defaults", &engineio.Cookie{HTTPOnly: true}, "io=<sid>; Path=/; HttpOnly; SameSite=Lax"},
		{"every attribute", &engineio.Cookie{Name: "lb", Path: "/socket.io", Domain: "example.com", MaxAge: 3600, Secure: true, SameSite: http.SameSiteStrictMode},
			"lb=<sid>; Max-Age=3600; Domain=example.com; Path=/socket.io; Secure; SameSite=Strict"},
		{"same site none", &engineio.Cookie{HTTPOnly: true, Secure: true, SameSite: http.SameSiteNoneMode}, "io=<sid>; Path=/; HttpOnly; Secure; SameSite=None"},
	}
	sidRE := regexp.MustCompile(`^0\{"sid":"([^"]+)"`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachServer(t, serverConfig{Cookie: tc.cookie}, func(t *testing.T, srv *target) {
				base := srv.url + "/socket.io/?EIO=4&transport="
				r := rawGet(t, base+"polling", nil)
				m := sidRE.FindStringSubmatch(r.body)
				if r.status != http.StatusOK || m == nil {
					t.Fatalf("handshake = %d %q", r.status, r.body)
				}
				want := strings.ReplaceAll(tc.want, "<sid>", m[1])
				if got := strings.Join(r.header.Values("Set-Cookie"), "\n"); got != want {
					t.Errorf("handshake Set-Cookie = %q, want %q", got, want)
				}
				// The session's next requests: its CONNECT, then the answer.
				r = rawDo(t, http.MethodPost, base+"polling&sid="+m[1], "40", nil)
				if got := r.header.Values("Set-Cookie"); r.status != http.StatusOK || len(got) != 0 {
					t.Errorf("POST = %d, Set-Cookie %q; want 200, none", r.status, got)
				}
				r = rawGet(t, base+"polling&sid="+m[1], nil)
				if got := r.header.Values("Set-Cookie"); r.status != http.StatusOK || len(got) != 0 {
					t.Errorf("GET = %d, Set-Cookie %q; want 200, none", r.status, got)
				}
				d := gws.Dialer{HandshakeTimeout: waitTimeout}
				conn, res, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"websocket", nil)
				if err != nil {
					t.Fatalf("WebSocket handshake: %v", err)
				}
				conn.Close()
				if got := res.Header.Values("Set-Cookie"); len(got) != 0 {
					t.Errorf("WebSocket handshake Set-Cookie = %q, want none", got)
				}
			})
		})
	}
}

// TestOptionsServeClient: the client builds under the path, as the
// reference's serveClient answers them: the same headers and (decoded)
// bytes for every file, compressed as negotiated, 304 to a second load;
// a name not served, or serveClient off, is Engine.IO's to refuse.
func TestOptionsServeClient(t *testing.T) {
	const unknown = `{"code":0,"message":"Transport unknown"}`
	type load struct {
		name, acceptEncoding, encoding string
	}
	var loads []load
	for _, name := range clientbundle.Names() {
		loads = append(loads, load{name, "", ""}, load{name, "gzip, deflate, br, zstd", "gzip"})
	}
	loads = append(loads,
		load{"socket.io.min.js", "br", "br"},
		load{"socket.io.min.js", "deflate, gzip", "deflate"},
		load{"socket.io.esm.min.js", "gzip;q=0.5, br", "br"},
	)
	eachServer(t, serverConfig{ServeClient: true}, func(t *testing.T, srv *target) {
		for _, l := range loads {
			h := http.Header{}
			if l.acceptEncoding != "" {
				h.Set("Accept-Encoding", l.acceptEncoding)
			}
			url := srv.url + "/socket.io/" + l.name
			r := rawGet(t, url, h)
			ctype := "application/javascript; charset=utf-8"
			if strings.HasSuffix(l.name, ".map") {
				ctype = "application/json; charset=utf-8"
			}
			want := map[string]string{
				"Cache-Control":    "public, max-age=0",
				"Content-Type":     ctype,
				"Etag":             `"4.8.4"`,
				"Content-Encoding": l.encoding,
			}
			if r.status != http.StatusOK {
				t.Fatalf("GET %s = %d %q", l.name, r.status, r.body)
			}
			if got := contentHeaders(r.header); !sameHeaders(got, want) {
				t.Errorf("GET %s (Accept-Encoding %q): headers %v, want %v", l.name, l.acceptEncoding, got, want)
			}
			body, err := decodeBody(l.encoding, []byte(r.body))
			if file, _ := clientbundle.File(l.name); err != nil || !bytes.Equal(body, file) {
				t.Errorf("GET %s (%s): %d bytes decoded (%v), want the %d bytes of the build", l.name, l.encoding, len(body), err, len(file))
			}
			for _, etag := range []string{`"4.8.4"`, `W/"4.8.4"`} {
				h.Set("If-None-Match", etag)
				r := rawGet(t, url, h)
				if got := contentHeaders(r.header); r.status != http.StatusNotModified || r.body != "" || len(got) != 0 {
					t.Errorf("GET %s again (If-None-Match %s) = %d, %d bytes, %v; want 304, nothing", l.name, etag, r.status, len(r.body), got)
				}
			}
		}
		for _, name := range []string{"socket.io.foo.js", "LICENSE"} {
			r := rawGet(t, srv.url+"/socket.io/"+name, nil)
			if r.status != http.StatusBadRequest || r.body != unknown {
				t.Errorf("GET %s = %d %q, want 400 %s", name, r.status, r.body, unknown)
			}
		}
	})
	t.Run("cors", func(t *testing.T) {
		// socket.io's cors middleware answers for the builds too, so a
		// page on another origin may import the ESM build.
		const app = "https://app.example"
		eachServer(t, serverConfig{ServeClient: true, CORSOrigins: []string{app}}, func(t *testing.T, srv *target) {
			url := srv.url + "/socket.io/socket.io.esm.min.js"
			h := http.Header{"Origin": {app}}
			r := rawGet(t, url, h)
			if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != app || !headerNames(r.header, "Vary", "Origin") {
				t.Errorf("GET = %d, Access-Control-Allow-Origin %q, Vary %q; want 200, %s, Origin", r.status, r.header.Get("Access-Control-Allow-Origin"), r.header.Values("Vary"), app)
			}
			h.Set("Access-Control-Request-Method", "GET")
			r = rawDo(t, http.MethodOptions, url, "", h)
			if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != app || r.header.Get("Access-Control-Allow-Methods") != "GET,HEAD,PUT,PATCH,POST,DELETE" {
				t.Errorf("preflight = %d, Access-Control-Allow-Origin %q, Allow-Methods %q; want 204 and the cors package's", r.status, r.header.Get("Access-Control-Allow-Origin"), r.header.Get("Access-Control-Allow-Methods"))
			}
		})
	})
	t.Run("off", func(t *testing.T) {
		eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
			r := rawGet(t, srv.url+"/socket.io/socket.io.js", nil)
			if r.status != http.StatusBadRequest || r.body != unknown {
				t.Errorf("GET socket.io.js = %d %q, want 400 %s", r.status, r.body, unknown)
			}
		})
	})
}

// contentHeaders are the headers of an answer that say what it is, less
// those of the connection (Date, Connection, Keep-Alive, framing) and
// iobridge's Vary: Accept-Encoding, which the reference leaves out (a
// shared cache needs it: without it, it may hand a compressed body to a
// client that did not accept it).
func contentHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k := range h {
		switch k {
		case "Date", "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Vary":
			continue
		}
		out[k] = strings.Join(h.Values(k), ", ")
	}
	return out
}

// sameHeaders compares got with want, where want's "" means absent.
func sameHeaders(got, want map[string]string) bool {
	n := 0
	for k, v := range want {
		if v == "" {
			continue
		}
		n++
		if got[k] != v {
			return false
		}
	}
	return len(got) == n
}

func decodeBody(encoding string, b []byte) ([]byte, error) {
	var r io.Reader
	var err error
	switch encoding {
	case "":
		return b, nil
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "gzip":
		r, err = gzip.NewReader(bytes.NewReader(b))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(b))
	}
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// rawAnswer is an HTTP answer as sent: nothing decoded.
type rawAnswer struct {
	status int
	header http.Header
	body   string
}

// rawClient sends requests as they are written: no Accept-Encoding added,
// nothing decompressed.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// rawGet sends a GET with header and returns the answer as sent.
func rawGet(t *testing.T, url string, header http.Header) rawAnswer {
	t.Helper()
	return rawDo(t, http.MethodGet, url, "", header)
}

// rawDo sends a request with body and header and returns the answer as
// sent.
func rawDo(t *testing.T, method, url, body string, header http.Header) rawAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := rawClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return rawAnswer{res.StatusCode, res.Header, string(b)}
}
