package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/iobridge/iobridge/internal/clientbundle"
	"github.com/iobridge/iobridge/proxy/socketio/siotest"
)

// startServe runs the sidecar on the configuration text and returns its
// Socket.IO base URL; it stops when the test ends.
func startServe(t *testing.T, cfgText string) string {
	t.Helper()
	cfgFile := writeFile(t, "serve.toml", cfgText)
	ctx, cancel := context.WithCancel(t.Context())
	logs := newLogWatch()
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"-config", cfgFile, "-log-format", "json"}, io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Errorf("iobridge did not stop within 15s:\n%s", logs.String())
		}
	})
	url, _ := logs.waitRecord(t, "listening", exited)["url"].(string)
	return url
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// TestServeServerOptions: the [server] socket.io options and [admin_ui]
// reach the running server from the configuration file (each option's
// behaviour against the reference is in interop/; this holds main's
// mapping of the keys).
func TestServeServerOptions(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("defaults, cookie, admin UI", func(t *testing.T) {
		url := startServe(t, goodConfig+`
[server.cookie]
name = "lb"
same_site = "strict"

[admin_ui]
username = "admin"
password = "`+string(hash)+`"
`)
		// serve_client is on by default: the bundle, then 304.
		resp, body := get(t, url+"rt/socket.io.min.js")
		etag := `"` + clientbundle.Version + `"`
		if resp.StatusCode != 200 || resp.Header.Get("ETag") != etag || !strings.Contains(body, "Socket.IO") {
			t.Errorf("GET socket.io.min.js = %d ETag %q, want 200 with ETag %s and the client", resp.StatusCode, resp.Header.Get("ETag"), etag)
		}
		if resp, _ := get(t, url+"rt/socket.io.min.js", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET socket.io.min.js with If-None-Match = %d, want 304", resp.StatusCode)
		}
		// The cookie on the polling handshake, named and with SameSite
		// as configured, HttpOnly and Path by default.
		resp, body = get(t, url+"rt/?EIO=4&transport=polling")
		c := resp.Header.Get("Set-Cookie")
		if resp.StatusCode != 200 || !strings.HasPrefix(c, "lb=") || !strings.Contains(c, "Path=/") || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
			t.Errorf("handshake = %d, Set-Cookie %q; want lb=<sid>; Path=/; HttpOnly; SameSite=Strict", resp.StatusCode, c)
		}
		if !strings.Contains(body, `"upgrades":["websocket"]`) {
			t.Errorf("handshake %s does not announce the websocket upgrade (allow_upgrades defaults to true)", body)
		}
		// The admin namespace takes the right password only.
		ws := siotest.Dial(t, url, "/", &siotest.Options{Path: "/rt/"})
		if _, connErr := ws.ConnectRaw("/admin", `{"type":"basic","username":"admin","password":"wrong"}`); connErr == "" {
			t.Errorf("admin namespace accepted a wrong password")
		}
		if sid, connErr := ws.ConnectRaw("/admin", `{"type":"basic","username":"admin","password":"pw"}`); sid == "" {
			t.Errorf("admin namespace refused the right password: %s", connErr)
		}
	})
	t.Run("websocket only, msgpack, no client, no upgrades", func(t *testing.T) {
		url := startServe(t, strings.Replace(goodConfig, "[server]\n", `[server]
serve_client = false
transports = ["websocket"]
parser = "msgpack"
`, 1))
		resp, body := get(t, url+"rt/?EIO=4&transport=polling")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"Transport unknown"`) {
			t.Errorf("polling handshake = %d %s, want 400 Transport unknown", resp.StatusCode, body)
		}
		if resp, _ := get(t, url+"rt/socket.io.js"); resp.StatusCode == http.StatusOK {
			t.Errorf("GET socket.io.js = 200 with serve_client = false")
		}
		// A WebSocket session opens; a text CONNECT (the default parser)
		// is refused by the msgpack parser: the connection closes.
		conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"rt/?EIO=4&transport=websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, open, err := conn.ReadMessage(); err != nil || !strings.HasPrefix(string(open), "0{") {
			t.Fatalf("OPEN = %q, %v", open, err)
		}
		if err := conn.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
					t.Fatalf("the connection stayed open after a text CONNECT to a msgpack server")
				}
				break // closed, as the reference closes it
			}
			if strings.HasPrefix(string(msg), "40") {
				t.Fatalf("a text CONNECT was answered %q by a msgpack server", msg)
			}
		}
	})
}
