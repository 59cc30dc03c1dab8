package engineio

import (
	"bufio"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// wsHeaders are the headers of a WebSocket handshake request.
const wsHeaders = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

// rawGet sends a GET for query on a fresh connection, with the WebSocket
// handshake headers when upgrade is set, and returns the response head and
// body (a 101's body is not read).
func (e *testEnv) rawGet(query string, upgrade bool) response {
	e.t.Helper()
	c := e.rawConn()
	req := "GET /engine.io/?" + query + " HTTP/1.1\r\nHost: x\r\n"
	if upgrade {
		req += wsHeaders
	}
	e.writeRaw(c, req+"\r\n")
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		e.t.Fatalf("GET ?%s: %v", query, err)
	}
	defer res.Body.Close()
	var body strings.Builder
	if res.StatusCode != http.StatusSwitchingProtocols {
		_, _ = bufio.NewReader(res.Body).WriteTo(&body)
	}
	return response{res.StatusCode, body.String(), res.Header}
}

// TestTransports plays the requests a Transports setting decides on, with
// the answers the reference gives them (observed on engine.io 6.6): a
// transport not listed is "Transport unknown", as JSON to a plain request
// and as text to a WebSocket handshake; without WebSocket, an Upgrade
// request is a plain request.
func TestTransports(t *testing.T) {
	const unknownJSON = `{"code":0,"message":"Transport unknown"}`
	tests := []struct {
		name       string
		transports []string
		disable    bool
		transport  string
		upgrade    bool // the request carries WebSocket handshake headers
		status     int
		ctype      string
		body       string   // exact, for refusals
		upgrades   []string // the OPEN packet's, for handshakes
	}{
		{"default polling", nil, false, "polling", false, 200, "", "", []string{"websocket"}},
		{"default websocket", nil, false, "websocket", true, 101, "", "", []string{}},
		{"both listed", []string{"websocket", "polling"}, false, "polling", false, 200, "", "", []string{"websocket"}},
		{"upgrades disabled", nil, true, "polling", false, 200, "", "", []string{}},
		{"websocket only refuses polling", []string{"websocket"}, false, "polling", false, 400, "application/json", unknownJSON, nil},
		{"websocket only refuses a polling upgrade", []string{"websocket"}, false, "polling", true, 400, "text/html", "Transport unknown", nil},
		{"websocket only accepts websocket", []string{"websocket"}, false, "websocket", true, 101, "", "", []string{}},
		{"polling only announces no upgrade", []string{"polling"}, false, "polling", false, 200, "", "", []string{}},
		{"polling only refuses websocket as plain HTTP", []string{"polling"}, false, "websocket", true, 400, "application/json", unknownJSON, nil},
		{"polling only answers an upgrade as a handshake", []string{"polling"}, false, "polling", true, 200, "", "", []string{}},
		{"unknown transport", nil, false, "flash", false, 400, "application/json", unknownJSON, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := quietConfig()
			cfg.Transports, cfg.DisableUpgrades = tc.transports, tc.disable
			e := newEnv(t, cfg)
			q := "EIO=4&transport=" + tc.transport
			if tc.status == http.StatusSwitchingProtocols {
				c := e.mustDial(q)
				op, _ := parseOpen(t, readText(t, c))
				if !slices.Equal(op.Upgrades, tc.upgrades) {
					t.Errorf("upgrades = %q, want %q", op.Upgrades, tc.upgrades)
				}
				return
			}
			r := e.rawGet(q, tc.upgrade)
			if r.status != tc.status {
				t.Fatalf("status = %d %q, want %d", r.status, r.body, tc.status)
			}
			if tc.status != http.StatusOK {
				if got := r.header.Get("Content-Type"); got != tc.ctype || r.body != tc.body {
					t.Errorf("answer = %q %q, want %q %q", got, r.body, tc.ctype, tc.body)
				}
				return
			}
			op, _ := parseOpen(t, r.body)
			if !slices.Equal(op.Upgrades, tc.upgrades) {
				t.Errorf("upgrades = %q, want %q", op.Upgrades, tc.upgrades)
			}
		})
	}
}

// TestTransports_WebSocketOnlyRefusesASessionsPolling: the transport check
// comes first for a session's requests too, as the reference's verify.
func TestTransports_WebSocketOnlyRefusesASessionsPolling(t *testing.T) {
	cfg := quietConfig()
	cfg.Transports = []string{"websocket"}
	e := newEnv(t, cfg)
	c := e.mustDial("EIO=4&transport=websocket")
	op, _ := parseOpen(t, readText(t, c))
	r := e.get("EIO=4&transport=polling&sid=" + op.SID)
	if r.status != 400 || r.body != `{"code":0,"message":"Transport unknown"}` {
		t.Errorf("GET = %d %q, want 400 Transport unknown", r.status, r.body)
	}
}

// TestDisableUpgrades_UpgradeStillServed: allowUpgrades: false only keeps
// "websocket" out of the handshake; the reference still completes an
// upgrade a client attempts, and so does this server.
func TestDisableUpgrades_UpgradeStillServed(t *testing.T) {
	cfg := quietConfig()
	cfg.DisableUpgrades = true
	e := newEnv(t, cfg)
	sid := e.openPolling()
	c := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeText(t, c, "2probe")
	if got := readText(t, c); got != "3probe" {
		t.Fatalf("probe answer = %q, want 3probe", got)
	}
	writeText(t, c, "5")
	e.waitUpgraded(sid)
	if tr := e.session(sid).Transport(); tr != "websocket" {
		t.Errorf("Transport() = %q, want websocket", tr)
	}
}

// TestUpgradeTimeout: the reference's upgradeTimeout runs from the probe's
// connection to the upgrade packet, whether or not the probe was
// answered; when it passes, the WebSocket is closed and the session goes
// on over polling (its GETs no longer answered noop for the upgrade).
func TestUpgradeTimeout(t *testing.T) {
	for _, probed := range []bool{false, true} {
		name := "silent probe"
		if probed {
			name = "probed, no upgrade packet"
		}
		t.Run(name, func(t *testing.T) {
			cfg := quietConfig()
			cfg.UpgradeTimeout = 100 * time.Millisecond
			e := newEnv(t, cfg)
			sid := e.openPolling()
			q := "EIO=4&transport=polling&sid=" + sid
			start := time.Now() // before the server sets its deadline
			c := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
			if probed {
				writeText(t, c, "2probe")
				if got := readText(t, c); got != "3probe" {
					t.Fatalf("probe answer = %q", got)
				}
			}
			waitClosed(t, c)
			if d := time.Since(start); d < cfg.UpgradeTimeout {
				t.Errorf("probe closed after %v, before the %v timeout", d, cfg.UpgradeTimeout)
			}
			if r := e.post(q, "4still polling"); r.status != 200 {
				t.Fatalf("POST after the timeout = %d %q", r.status, r.body)
			}
			if r := e.get(q); r.body != "4still polling" {
				t.Errorf("GET after the timeout = %d %q, want the echo", r.status, r.body)
			}
			if tr := e.session(sid).Transport(); tr != "polling" {
				t.Errorf("Transport() = %q, want polling", tr)
			}
		})
	}
}

// TestCookie: the Set-Cookie of a polling handshake, byte for byte the
// reference's (engine.io serializes with the `cookie` package), and none
// on the session's later requests nor on a WebSocket handshake, as the
// reference.
func TestCookie(t *testing.T) {
	tests := []struct {
		name   string
		cookie *Cookie
		want   string // "<sid>" stands for the session id; "" means no header
	}{
		{"none", nil, ""},
		{"reference defaults", &Cookie{HTTPOnly: true}, "io=<sid>; Path=/; HttpOnly; SameSite=Lax"},
		{"zero", &Cookie{}, "io=<sid>; Path=/; SameSite=Lax"},
		{"every attribute", &Cookie{Name: "lb", Path: "/x", Domain: "example.com", MaxAge: 3600, HTTPOnly: true, Secure: true, SameSite: http.SameSiteStrictMode},
			"lb=<sid>; Max-Age=3600; Domain=example.com; Path=/x; HttpOnly; Secure; SameSite=Strict"},
		{"same site none", &Cookie{Name: "sticky", SameSite: http.SameSiteNoneMode, Secure: true}, "sticky=<sid>; Path=/; Secure; SameSite=None"},
		{"no same site", &Cookie{SameSite: http.SameSiteDefaultMode}, "io=<sid>; Path=/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := quietConfig()
			cfg.Cookie = tc.cookie
			e := newEnv(t, cfg)
			r := e.get("EIO=4&transport=polling")
			op, _ := parseOpen(t, r.body)
			want := strings.ReplaceAll(tc.want, "<sid>", op.SID)
			if got := strings.Join(r.header.Values("Set-Cookie"), "\n"); got != want {
				t.Errorf("handshake Set-Cookie = %q, want %q", got, want)
			}
			q := "EIO=4&transport=polling&sid=" + op.SID
			if r := e.post(q, "4x"); len(r.header.Values("Set-Cookie")) != 0 {
				t.Errorf("POST Set-Cookie = %q, want none", r.header.Values("Set-Cookie"))
			}
			if r := e.get(q); len(r.header.Values("Set-Cookie")) != 0 {
				t.Errorf("GET Set-Cookie = %q, want none", r.header.Values("Set-Cookie"))
			}
			c, res, err := e.dial("EIO=4&transport=websocket")
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if got := res.Header.Values("Set-Cookie"); len(got) != 0 {
				t.Errorf("WebSocket handshake Set-Cookie = %q, want none", got)
			}
		})
	}
}

// TestCookieCheck: what the reference's serializer would throw on is
// refused up front.
func TestCookieCheck(t *testing.T) {
	tests := []struct {
		name   string
		cookie Cookie
		ok     bool
	}{
		{"zero", Cookie{}, true},
		{"full", Cookie{Name: "io_1", Path: "/a/b", Domain: ".example.com", MaxAge: 60, SameSite: http.SameSiteNoneMode}, true},
		{"name with a space", Cookie{Name: "my io"}, false},
		{"name with '='", Cookie{Name: "a=b"}, false},
		{"path with ';'", Cookie{Path: "/a;b"}, false},
		{"domain with '_'", Cookie{Domain: "ex_ample.com"}, false},
		{"negative max age", Cookie{MaxAge: -1}, false},
		{"unknown same site", Cookie{SameSite: 9}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cookie.Check(); (err == nil) != tc.ok {
				t.Errorf("Check() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestNewServer_RefusesBadOptions: a transport the server does not have,
// or a cookie the reference could not serialize, is a programming error.
func TestNewServer_RefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"webtransport", Config{Transports: []string{"polling", "webtransport"}}},
		{"bad cookie", Config{Cookie: &Cookie{Name: "a b"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewServer did not panic")
				}
			}()
			NewServer(tc.cfg, func(*Session) Handler { return nil })
		})
	}
}
