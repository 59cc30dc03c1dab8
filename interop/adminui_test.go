package interop

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/adminui"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// The admin UI tests: the same real socket.io-client calls against the
// reference server running @socket.io/admin-ui's instrument() and against
// iobridge's adminui, and the UI's own static build in headless Chromium
// against iobridge.

const (
	adminUser     = "admin"
	adminPassword = "changeit"
)

var adminHashOnce = sync.OnceValues(func() (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(adminPassword), bcrypt.MinCost)
	return string(b), err
})

// adminHash is the bcrypt hash of adminPassword, which both servers take.
func adminHash(t testing.TB) string {
	t.Helper()
	h, err := adminHashOnce()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// adminOptions are the instrument() options both servers get.
type adminOptions struct {
	ReadOnly bool
	Mode     string
	ServerID string // "" means "reference" or "iobridge"
	Redis    string // a redis:// URL: the reference joins that cluster
}

// startAdminReference runs admin-reference.js and returns its URL.
func startAdminReference(t *testing.T, o adminOptions) string {
	t.Helper()
	c, err := json.Marshal(map[string]any{
		"username":     adminUser,
		"passwordHash": adminHash(t),
		"readonly":     o.ReadOnly,
		"mode":         o.Mode,
		"serverId":     cmp.Or(o.ServerID, "reference"),
		"redis":        o.Redis,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, "admin reference server", "admin-reference.js", string(c))
	l := n.log.wait(t, "listening", is("listening"))
	return fmt.Sprintf("http://127.0.0.1:%d", l.Port)
}

// startAdminIOBridge runs iobridge's Socket.IO server with the admin UI and
// admin-reference.js's application, and returns its URL.
func startAdminIOBridge(t *testing.T, o adminOptions) string {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	srv := socketio.NewServer(socketio.Config{Adapter: adapter.New, Logger: logger})
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		var auth struct {
			Room string `json:"room"`
		}
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		if auth.Room != "" {
			s.Join(auth.Room)
		}
		s.On("echo", func(e socketio.Event) { _ = s.Emit("echoed", e.Args, e.Attachments) })
	})
	stop, err := adminui.Instrument(t.Context(), srv, adminui.Config{
		Username:     adminUser,
		PasswordHash: adminHash(t),
		ReadOnly:     o.ReadOnly,
		Mode:         o.Mode,
		ServerID:     cmp.Or(o.ServerID, "iobridge"),
		Logger:       logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
	})
	return ts.URL
}

// TestAdminUIMatchesReference plays one admin session against both servers
// and compares what the admin socket got: the same event names, each with
// the same payload shape (keys and JSON types), the same config, and the
// same connect_error for a wrong password.
func TestAdminUIMatchesReference(t *testing.T) {
	t.Parallel()
	for _, o := range []adminOptions{{Mode: "development"}, {Mode: "production", ReadOnly: true}} {
		t.Run(o.Mode, func(t *testing.T) {
			t.Parallel()
			ref := adminSession(t, startAdminReference(t, o), o)
			got := adminSession(t, startAdminIOBridge(t, o), o)
			if ref.connectError != got.connectError {
				t.Errorf("connect_error %q, reference %q", got.connectError, ref.connectError)
			}
			if !bytes.Equal(ref.config, got.config) {
				t.Errorf("config %s, reference %s", got.config, ref.config)
			}
			if !ref.upgraded || !got.upgraded {
				delete(ref.shapes, "socket_updated")
				delete(got.shapes, "socket_updated")
			}
			names := func(m map[string]any) []string {
				var out []string
				for k := range m {
					out = append(out, k)
				}
				sort.Strings(out)
				return out
			}
			if !slices.Equal(names(ref.shapes), names(got.shapes)) {
				t.Fatalf("admin events %v, reference %v", names(got.shapes), names(ref.shapes))
			}
			t.Logf("admin events of both: %v", names(ref.shapes))
			for name, want := range ref.shapes {
				w, _ := json.Marshal(want)
				g, _ := json.Marshal(got.shapes[name])
				if !bytes.Equal(w, g) {
					t.Errorf("%s shape\n got  %s\n want %s", name, g, w)
				}
			}
		})
	}
}

// adminResult is what one admin session saw.
type adminResult struct {
	upgraded     bool // the guest socket was connected before its upgrade
	connectError string
	config       json.RawMessage
	shapes       map[string]any // event name -> shape of its args
}

// adminSession logs in with a wrong password and then the right one,
// connects, talks with and disconnects an application socket, and
// disconnects another through the admin socket's _disconnect.
func adminSession(t *testing.T, url string, o adminOptions) adminResult {
	t.Helper()
	c := startClient(t)
	var res adminResult

	c.connect("intruder", url, connectOpts{NSP: "/admin", Auth: map[string]any{"username": adminUser, "password": "wrong"}})
	e := c.wait("connect_error", "intruder")
	if e.Message != nil {
		res.connectError = *e.Message
	}

	c.connect("app", url, connectOpts{Auth: map[string]any{"room": "lobby"}})
	app := c.wait("connect", "app")
	c.connect("admin", url, connectOpts{NSP: "/admin", Auth: map[string]any{"username": adminUser, "password": adminPassword}})
	c.wait("connect", "admin")
	res.config = c.waitEvent("admin", "config").Args
	c.waitEvent("admin", "server_stats")
	if o.Mode == "development" {
		c.waitEvent("admin", "all_sockets")
	}

	c.connect("guest", url, connectOpts{Auth: map[string]any{"room": "lobby"}})
	guest := c.wait("connect", "guest")
	// Its upgrade from polling, which both servers report once the socket
	// is connected (rarely, the upgrade is over before).
	res.upgraded = guest.Transport == "polling"
	if o.Mode == "development" && res.upgraded {
		c.log.wait(t, "socket_updated of the guest", func(e event) bool {
			return e.Type == "event" && e.Socket == "admin" && e.Event == "socket_updated" && strings.Contains(string(e.Args), guest.ID)
		})
	}
	c.emit("guest", "echo", "hi", 1)
	c.waitEvent("guest", "echoed")
	c.do("disconnect", "guest")
	c.wait("disconnect", "guest")

	if o.Mode == "development" {
		c.log.wait(t, "room_left of the guest", func(e event) bool {
			return e.Type == "event" && e.Socket == "admin" && e.Event == "room_left" && strings.Contains(string(e.Args), guest.ID)
		})
	}
	c.emit("admin", "_disconnect", "/", false, app.ID)
	if o.ReadOnly {
		// A read-only server does not listen: the app stays.
		c.emit("app", "echo", "still here")
		c.waitEvent("app", "echoed")
		if c.log.seen(func(e event) bool { return e.Type == "disconnect" && e.Socket == "app" }) {
			t.Fatal("a read-only server applied _disconnect")
		}
	} else if r := c.wait("disconnect", "app").Reason; r != "io server disconnect" {
		t.Fatalf("app disconnected with %q", r)
	}
	// One more server_stats, which counts what happened.
	n := count(c, "admin", "server_stats")
	eventually(t, "another server_stats", func() (bool, string) {
		return count(c, "admin", "server_stats") > n, "no server_stats"
	})

	c.log.mu.Lock()
	events := slices.Clone(c.log.events)
	c.log.mu.Unlock()
	res.shapes = map[string]any{}
	for _, e := range events {
		if e.Type != "event" || e.Socket != "admin" {
			continue
		}
		var args any
		if err := json.Unmarshal(e.Args, &args); err != nil {
			t.Fatalf("%s args %s: %v", e.Event, e.Args, err)
		}
		res.shapes[e.Event] = mergeShape(res.shapes[e.Event], shapeOf("", args))
	}
	return res
}

// shapeOf describes v by its keys and JSON types. Maps keyed by data
// (headers, query) are a map of their values' shape; server_stats'
// optional subType is left out (whether a second has one depends on
// timing).
func shapeOf(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		if key == "headers" || key == "query" {
			var s any
			for _, e := range x {
				s = mergeShape(s, shapeOf("", e))
			}
			return map[string]any{"*": s}
		}
		out := map[string]any{}
		for k, e := range x {
			if k != "subType" {
				out[k] = shapeOf(k, e)
			}
		}
		return out
	case []any:
		var s any
		for _, e := range x {
			s = mergeShape(s, shapeOf("", e))
		}
		return []any{s}
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// mergeShape unites two shapes: objects by key, arrays by element,
// different scalars as "a|b".
func mergeShape(a, b any) any {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	switch x := a.(type) {
	case map[string]any:
		if y, ok := b.(map[string]any); ok {
			out := map[string]any{}
			for k, v := range x {
				out[k] = v
			}
			for k, v := range y {
				out[k] = mergeShape(out[k], v)
			}
			return out
		}
	case []any:
		if y, ok := b.([]any); ok {
			return []any{mergeShape(x[0], y[0])}
		}
	case string:
		if y, ok := b.(string); ok {
			parts := strings.Split(x, "|")
			for _, p := range strings.Split(y, "|") {
				if !slices.Contains(parts, p) {
					parts = append(parts, p)
				}
			}
			sort.Strings(parts)
			return strings.Join(parts, "|")
		}
	}
	return fmt.Sprintf("%v|%v", a, b)
}

// TestAdminUIInBrowser logs in to iobridge through the admin UI's own
// static build in headless Chromium, finds a real client's socket and its
// room, and disconnects it with the UI's button.
func TestAdminUIInBrowser(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing: apt-get install chromium (the test drives the system browser and never downloads one)", chromiumPath)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatal("node_modules/playwright-core is missing: run npm ci in interop/")
	}
	dist := filepath.Join("node_modules", "@socket.io", "admin-ui", "ui", "dist")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		t.Fatal("node_modules/@socket.io/admin-ui is missing: run npm ci in interop/")
	}
	server := startAdminIOBridge(t, adminOptions{Mode: "development"})
	ui := httptest.NewServer(http.FileServer(http.Dir(dist)))
	t.Cleanup(ui.Close)

	c := startClient(t)
	c.connect("app", server, connectOpts{Auth: map[string]any{"room": "lobby"}})
	app := c.wait("connect", "app")

	shot := os.Getenv("IOBRIDGE_ADMINUI_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "adminui.png")
	}
	arg, _ := json.Marshal(map[string]any{
		"ui": ui.URL + "/", "server": server, "username": adminUser, "password": adminPassword,
		"socket": app.ID, "room": "lobby", "screenshot": shot,
	})
	last, steps, stderr, err := runBrowser(exec.CommandContext(t.Context(), "node", "admin-browser.js", string(arg)))
	if err != nil || last.Type != "done" {
		t.Fatalf("the browser run failed (%v) after steps %v: %s\nconsole: %s\nnode stderr: %s\nscreenshot: %s",
			err, steps, last.Message, strings.Join(last.Console, "\n"), stderr, shot)
	}
	if r := c.wait("disconnect", "app").Reason; r != "io server disconnect" {
		t.Fatalf("the test client was disconnected with %q, want io server disconnect", r)
	}
	for _, line := range last.Console {
		if strings.HasPrefix(line, "pageerror") {
			t.Errorf("browser console: %s", line)
		}
	}
}

// runBrowser runs a browser script (demo-browser.js, admin-browser.js)
// with the system Chromium and reads the JSON lines it writes: the last
// one, the names of the steps passed, and node's stderr.
func runBrowser(cmd *exec.Cmd) (last browserResult, steps []string, stderr string, err error) {
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromiumPath)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	out, err := cmd.Output()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r browserResult
		if json.Unmarshal([]byte(line), &r) != nil {
			continue
		}
		if r.Type == "step" {
			steps = append(steps, r.Name)
		}
		last = r
	}
	return last, steps, errBuf.String(), err
}
