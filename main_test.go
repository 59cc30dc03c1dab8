package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iobridge/iobridge/config"
	"github.com/iobridge/iobridge/examples/demo"
	"github.com/iobridge/iobridge/proxy/socketio/siotest"
)

const goodConfig = `
[server]
listen = "127.0.0.1:0"
path = "/rt/"
ping_interval = "3s"
ping_timeout = "2s"
max_http_buffer_size = 5000

[[namespace]]
name = "/"
on_connect = "accept"

[[namespace]]
pattern = "^/tenant-[a-z]+$"
on_connect = "accept"

[api]
listen = "127.0.0.1:0"
token = "test-token"
`

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheck(t *testing.T) {
	t.Setenv("IOBRIDGE_TEST_SECRET", "do-not-print-me")
	t.Setenv("IOBRIDGE_API_TOKEN", "")
	os.Unsetenv("IOBRIDGE_API_TOKEN")
	good := writeFile(t, "good.toml", goodConfig)
	bad := writeFile(t, "bad.toml", `
[server]
listen = "${IOBRIDGE_TEST_SECRET}"
ping_interval = "5"
[[namespace]]
name = "chat"
[api]
token = "${IOBRIDGE_TEST_UNSET}"
`)
	warn := writeFile(t, "warn.toml", "[[namespace]]\nname = \"/\"\nwebhook = \"http://127.0.0.1:4000/\"\n")
	corsStar := writeFile(t, "cors.toml", "[server]\ncors_origins = [\"*\"]\ncors_credentials = true\n[[namespace]]\nname = \"/\"\nwebhook = \"http://127.0.0.1:4000/\"\n")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr []string // each line must appear, in this order
	}{
		{"good", []string{"-check", "-config", good}, 0, "ok\n", nil},
		{"warning only", []string{"-check", "-config", warn}, 0, "ok\n", []string{"warning: namespace[0].secret: not set"}},
		{"bad", []string{"-check", "-config", bad}, 1, "", []string{
			"api.token: environment variable IOBRIDGE_TEST_UNSET is not set; set it before starting iobridge",
			`server.ping_interval: "5" is not a duration, write "5s"`,
			`server.listen: "${IOBRIDGE_TEST_SECRET}" (from the environment) is not a host:port address`,
			`namespace[0].name: "chat" must start with "/", as "/chat"`,
		}},
		{"cors credentials with star", []string{"-check", "-config", corsStar}, 1, "", []string{
			`server.cors_credentials: true with "*" in server.cors_origins would let any web page read answers sent with a visitor's cookies; list the exact origins instead of "*", or set cors_credentials = false`,
		}},
		{"absent file", []string{"-check", "-config", filepath.Join(t.TempDir(), "none.toml")}, 1, "", []string{"no such file"}},
		{"example needs token", []string{"-check", "-config", "config.example.toml"}, 1, "", []string{"api.token: environment variable IOBRIDGE_API_TOKEN is not set"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			if code != tc.wantCode || stdout != tc.wantStdout {
				t.Errorf("iobridge %v = exit %d, stdout %q; want exit %d, stdout %q\nstderr:\n%s", tc.args, code, stdout, tc.wantCode, tc.wantStdout, stderr)
			}
			rest := stderr
			for _, want := range tc.wantStderr {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Errorf("iobridge %v stderr lacks %q (in order):\n%s", tc.args, want, stderr)
					break
				}
				rest = rest[i+len(want):]
			}
			if strings.Contains(stderr, "do-not-print-me") {
				t.Errorf("iobridge %v echoed an environment value:\n%s", tc.args, stderr)
			}
		})
	}
}

// TestEngineConfigCORS: [server] cors_origins and cors_credentials reach
// the Engine.IO server.
func TestEngineConfigCORS(t *testing.T) {
	s := config.Server{CORSOrigins: []string{"https://app.example.com"}, CORSCredentials: true}
	got := engineConfig(s, nil)
	if !slices.Equal(got.CORSOrigins, s.CORSOrigins) || !got.CORSCredentials {
		t.Errorf("engineConfig(%+v) CORS = %q, credentials %v; want %q, true", s, got.CORSOrigins, got.CORSCredentials, s.CORSOrigins)
	}
}

func TestCheckBadLinesArePlain(t *testing.T) {
	bad := writeFile(t, "bad.toml", "[server]\nping_interval = 5\nlisten = \"x\"\n")
	code, _, stderr := runCmd(t, "-check", "-config", bad)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 1 || len(lines) != 2 {
		t.Fatalf("exit %d, stderr %q; want exit 1 and two problem lines", code, stderr)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "server.") {
			t.Errorf("problem line %q does not start with its key path", l)
		}
	}
}

func TestDefaultConfigFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, _, stderr := runCmd(t, "-check")
	if code != 1 || !strings.Contains(stderr, "no config.toml") {
		t.Errorf("-check without config.toml = exit %d, stderr %q; want exit 1 saying there is no config.toml", code, stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(goodConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runCmd(t, "-check"); code != 0 || stdout != "ok\n" {
		t.Errorf("-check with config.toml = exit %d, stdout %q, stderr %q; want ok", code, stdout, stderr)
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // in stdout+stderr
	}{
		{"version", []string{"-version"}, 0, "iobridge "},
		{"help", []string{"-h"}, 0, "iobridge demo"},
		{"bad log format", []string{"-log-format", "xml"}, 2, "want text or json"},
		{"bad log level", []string{"-log-level", "loud"}, 2, "want debug, info, warn or error"},
		{"extra argument", []string{"serve"}, 2, `unexpected argument "serve"`},
		{"demo with config", []string{"demo", "-config", "x.toml"}, 2, "drop -config"},
		{"unknown flag", []string{"-nope"}, 2, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("iobridge %v = exit %d, output %q; want exit %d with %q", tc.args, code, stdout+stderr, tc.wantCode, tc.want)
			}
		})
	}
}

func TestDemoConfig(t *testing.T) {
	t.Setenv("IOBRIDGE_API_TOKEN", "")
	os.Unsetenv("IOBRIDGE_API_TOKEN")
	var logs bytes.Buffer
	cfg, _, err := loadConfig(options{demo: true}, newLogger(&logs, "text", 0))
	if err != nil {
		t.Fatalf("demo config: %v", err)
	}
	if cfg.API == nil || cfg.API.Token != demo.Token {
		t.Errorf("demo api = %+v, want the demo token", cfg.API)
	}
	if !strings.Contains(logs.String(), "IOBRIDGE_API_TOKEN is not set") {
		t.Errorf("demo did not log that it set the token; logs:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), demo.Token) {
		t.Errorf("demo logged the token itself:\n%s", logs.String())
	}
	if bad := unsupported(cfg); len(bad) > 0 {
		t.Errorf("the demo configuration needs what this build lacks: %v", bad)
	}

	t.Setenv("IOBRIDGE_API_TOKEN", "mine")
	cfg, _, err = loadConfig(options{demo: true}, newLogger(io.Discard, "text", 0))
	if err != nil || cfg.API.Token != "mine" {
		t.Errorf("demo with IOBRIDGE_API_TOKEN set: token %q, err %v; want the variable's value", cfg.API.Token, err)
	}
}

// logWatch is a stderr that keeps each JSON log record for the test.
type logWatch struct {
	mu      sync.Mutex
	all     bytes.Buffer
	records []map[string]any
	changed chan struct{} // closed and replaced at each record
}

func newLogWatch() *logWatch { return &logWatch{changed: make(chan struct{})} }

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	var rec map[string]any
	if json.Unmarshal(p, &rec) == nil {
		w.records = append(w.records, rec)
		close(w.changed)
		w.changed = make(chan struct{})
	}
	return len(p), nil
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

// waitRecord waits for a log record whose msg is msg.
func (w *logWatch) waitRecord(t *testing.T, msg string, exited <-chan int) map[string]any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		for _, rec := range w.records {
			if rec["msg"] == msg {
				w.mu.Unlock()
				return rec
			}
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-changed:
		case code := <-exited:
			t.Fatalf("iobridge exited with %d before logging %q:\n%s", code, msg, w.String())
		case <-deadline:
			t.Fatalf("no %q log record within 10s:\n%s", msg, w.String())
		}
	}
}

func TestServeAnswersHandshake(t *testing.T) {
	cfgFile := writeFile(t, "serve.toml", goodConfig)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := newLogWatch()
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"-config", cfgFile, "-log-format", "json"}, io.Discard, logs) }()

	rec := logs.waitRecord(t, "listening", exited)
	url, _ := rec["url"].(string)
	if !strings.HasPrefix(url, "http://127.0.0.1:") || rec["path"] != "/rt/" {
		t.Fatalf("listening record = %v, want a 127.0.0.1 url and path /rt/", rec)
	}

	// The handshake (siotest fails the test unless it is 200 and an OPEN
	// packet) over polling on the configured path, and Socket.IO on top.
	poll := &siotest.Options{Transport: siotest.Polling, Path: "/rt/"}
	root := siotest.Dial(t, url, "/", poll)
	var open struct {
		SID          string `json:"sid"`
		PingInterval int    `json:"pingInterval"`
		PingTimeout  int    `json:"pingTimeout"`
		MaxPayload   int    `json:"maxPayload"`
	}
	if err := json.Unmarshal([]byte(root.Open), &open); err != nil {
		t.Fatalf("OPEN packet %q: %v", root.Open, err)
	}
	if len(open.SID) != 20 || open.PingInterval != 3000 || open.PingTimeout != 2000 || open.MaxPayload != 5000 {
		t.Errorf("OPEN = %+v, want a 20-char sid and the configured 3000/2000/5000", open)
	}

	// The main namespace and a pattern namespace connect (with a sid),
	// multiplexed on the one Engine.IO session; a namespace the
	// configuration does not name is refused.
	if root.SID == "" {
		t.Errorf("CONNECT / answered without a sid")
	}
	for _, tc := range []struct{ ns, want string }{
		{"/tenant-abc", ""},
		{"/nope", `{"message":"Invalid namespace"}`},
	} {
		sid, connErr := root.ConnectRaw(tc.ns, "")
		if connErr != tc.want || (tc.want == "" && sid == "") {
			t.Errorf("CONNECT %s: CONNECT_ERROR %q, sid %q; want CONNECT_ERROR %q (a sid if none)", tc.ns, connErr, sid, tc.want)
		}
	}

	// The control API on its own listener: health without a token,
	// /v1/ with it, and it sees the socket connected above.
	apiURL, _ := logs.waitRecord(t, "control API listening", exited)["url"].(string)
	for _, tc := range []struct {
		path, token string
		want        int
		body        string
	}{
		{"healthz", "", http.StatusOK, "ok"},
		{"v1/sockets?namespace=/", "", http.StatusUnauthorized, "unauthorized"},
		{"v1/sockets?namespace=/", "test-token", http.StatusOK, `"id"`},
	} {
		req, _ := http.NewRequest("GET", apiURL+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || !strings.Contains(string(body), tc.body) {
			t.Errorf("API GET /%s (token %q) = %d %s, want %d with %q", tc.path, tc.token, resp.StatusCode, body, tc.want, tc.body)
		}
	}

	resp, err := http.Get(url + "socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("handshake on the default path = %d, want 404 (the configured path is /rt/)", resp.StatusCode)
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("iobridge exited %d after shutdown, want 0:\n%s", code, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("iobridge did not stop within 15s of the signal:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped record:\n%s", logs.String())
	}
}

// TestCheckStreamsMode: the streams mode is served; -check accepts it
// and names a bad stream_max_len with its fix.
func TestCheckStreamsMode(t *testing.T) {
	streams := goodConfig + "[adapter]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\nmode = \"streams\"\n"
	code, _, stderr := runCmd(t, "-check", "-config", writeFile(t, "streams.toml", streams))
	if code != 0 {
		t.Errorf("-check with the streams mode = exit %d, stderr %q; want 0", code, stderr)
	}
	code, _, stderr = runCmd(t, "-check", "-config", writeFile(t, "streams-bad.toml", streams+"stream_max_len = -1\n"))
	if code != 1 || !strings.Contains(stderr, "adapter.stream_max_len: must be positive") {
		t.Errorf("-check with stream_max_len = -1: exit %d, stderr %q; want exit 1 naming adapter.stream_max_len", code, stderr)
	}
}

// TestServeRedisDown: with the Redis adapter and no Redis, the sidecar
// starts, serves its own clients and says on /readyz what is wrong.
func TestServeRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nothing := ln.Addr().String()
	ln.Close()
	cfgFile := writeFile(t, "redis.toml", goodConfig+"[adapter]\ntype = \"redis\"\nurl = \"redis://"+nothing+"/0\"\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := newLogWatch()
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"-config", cfgFile, "-log-format", "json"}, io.Discard, logs) }()
	url, _ := logs.waitRecord(t, "listening", exited)["url"].(string)
	if sid := pollHandshake(t, url+"rt/?EIO=4&transport=polling"); len(sid) != 20 {
		t.Errorf("handshake with Redis down: sid %q, want a 20-char id", sid)
	}
	apiURL, _ := logs.waitRecord(t, "control API listening", exited)["url"].(string)
	resp, err := http.Get(apiURL + "readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `redis: redis: unavailable`) {
		t.Errorf("/readyz with Redis down = %d %s, want 503 naming redis", resp.StatusCode, body)
	}
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit %d after shutdown, want 0:\n%s", code, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("did not stop within 15s:\n%s", logs.String())
	}
}

func TestServeListenError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	cfgFile := writeFile(t, "busy.toml", strings.Replace(goodConfig, "127.0.0.1:0", addr, 1))
	code, _, stderr := runCmd(t, "-config", cfgFile)
	if code != 1 || !strings.Contains(stderr, "listen on "+addr) {
		t.Errorf("serving on a port in use = exit %d, stderr %q; want exit 1 naming the address", code, stderr)
	}
}

func TestServeDemo(t *testing.T) {
	cfg, _, err := config.Parse([]byte(goodConfig+`
[[namespace]]
name = "/chat"
on_connect = "webhook"
webhook = "http://127.0.0.1:0/hooks"
secret = "whsec_ZGVtby1vbmx5LWlvYnJpZGdlLXNpZ25pbmcta2V5LTAwMQ=="
stream = "http://127.0.0.1:0/ticker"

[[namespace]]
name = "/legacy"
on_connect = "accept"
bridge = "ws://127.0.0.1:0/legacy"
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := newLogWatch()
	exited := make(chan int, 1)
	go func() {
		code := 0
		if err := serve(ctx, cfg, newLogger(logs, "json", slog.LevelInfo), true); err != nil {
			t.Errorf("serve: %v", err)
			code = 1
		}
		exited <- code
	}()
	backendRec := logs.waitRecord(t, "backend: listening", exited)
	rec := logs.waitRecord(t, "listening", exited)
	base, _ := rec["url"].(string)

	for _, tc := range []struct{ path, want string }{
		{"", `data-namespace="/chat"`},
		{"rt/socket.io.min.js", "io"},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET /%s = %d (%d bytes), want 200 containing %q", tc.path, resp.StatusCode, len(body), tc.want)
		}
	}
	// The example backend decides the connect: it accepts a name.
	poll := &siotest.Options{Transport: siotest.Polling, Path: "/rt/", Auth: `{"name":"tester"}`}
	if c, connErr := siotest.DialRaw(t, base, "/chat", poll); connErr != "" || c.SID == "" {
		t.Errorf("CONNECT /chat through the example backend: CONNECT_ERROR %q, sid %q; want an acknowledgement", connErr, c.SID)
	}
	// The stream and the bridge reach the example backend on its picked
	// port too.
	logs.waitRecord(t, "stream: connected", exited)
	poll.Auth = ""
	if c, connErr := siotest.DialRaw(t, base, "/legacy", poll); connErr != "" || c.SID == "" {
		t.Errorf("CONNECT /legacy bridged to the example backend: CONNECT_ERROR %q, sid %q; want an acknowledgement", connErr, c.SID)
	}

	addr, _ := backendRec["addr"].(string)
	resp, err := http.Post("http://"+addr+"/hooks", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatalf("example backend at %q: %v", addr, err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Errorf("unsigned POST to the example backend = %d, want it refused", resp.StatusCode)
	}

	cancel()
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("demo did not stop within 15s:\n%s", logs.String())
	}
}

// pollHandshake opens an Engine.IO polling session and returns its sid.
func pollHandshake(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var open struct {
		SID string `json:"sid"`
	}
	if resp.StatusCode != http.StatusOK || len(body) < 2 || json.Unmarshal(body[1:], &open) != nil || open.SID == "" {
		t.Fatalf("handshake = %d %q, want an OPEN packet", resp.StatusCode, body)
	}
	return open.SID
}
