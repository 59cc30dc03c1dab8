package adminui

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/proxy/socketio/siotest"
)

const (
	testUser     = "admin"
	testPassword = "s3cret"
)

var (
	hashOnce sync.Once
	hash     string
)

// testHash is a bcrypt hash of testPassword, at the lowest cost.
func testHash(t testing.TB) string {
	hashOnce.Do(func() {
		b, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		hash = string(b)
	})
	return hash
}

// testServer is a Socket.IO server with the admin UI, whose "/" sockets
// join the room named by their auth's "room" and acknowledge "echo".
type testServer struct {
	srv  *socketio.Server
	url  string
	stop func()
}

func newTestServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	srv := socketio.NewServer(socketio.Config{Adapter: adapter.New, Logger: slog.New(slog.DiscardHandler)})
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		var auth struct {
			Room string `json:"room"`
		}
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		if auth.Room != "" {
			s.Join(auth.Room)
		}
		s.On("echo", func(e socketio.Event) {
			_ = s.Emit("echoed", e.Args, nil)
		})
	})
	if cfg.Username == "" {
		cfg.Username = testUser
	}
	if cfg.PasswordHash == "" {
		cfg.PasswordHash = testHash(t)
	}
	if cfg.ServerID == "" {
		cfg.ServerID = "test-node"
	}
	if cfg.interval == 0 {
		cfg.interval = time.Hour // server_stats once, at start
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	stop, err := Instrument(t.Context(), srv, cfg)
	if err != nil {
		t.Fatalf("Instrument: %v", err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		stop()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		ts.Close()
	})
	return &testServer{srv: srv, url: ts.URL, stop: stop}
}

// adminEvent is an event an admin socket received.
type receivedEvent struct {
	name string
	args []json.RawMessage
}

// adminClient is an admin socket, multiplexed on a connection of "/" so
// that events the server writes before the CONNECT answer (as Node's
// server does for the socket's own room_joined) are kept, as
// socket.io-client keeps them.
type adminClient struct {
	t      *testing.T
	c      *siotest.Client
	prefix string
	sid    string
	events []receivedEvent
}

// dialAdmin connects an admin socket with auth (a JSON object) and returns
// it, or the CONNECT_ERROR payload.
func dialAdmin(t *testing.T, url, nsp, auth string) (*adminClient, string) {
	t.Helper()
	c := siotest.Dial(t, url, "/", nil)
	a := &adminClient{t: t, c: c, prefix: nsp + ","}
	if err := c.Send("40" + a.prefix + auth); err != nil {
		t.Fatal(err)
	}
	for {
		f := c.Text()
		if rest, ok := strings.CutPrefix(f, "44"+a.prefix); ok {
			return nil, rest
		}
		if rest, ok := strings.CutPrefix(f, "40"+a.prefix); ok {
			var v struct {
				SID string `json:"sid"`
			}
			_ = json.Unmarshal([]byte(rest), &v)
			a.sid = v.SID
			return a, ""
		}
		if ev, ok := a.parse(f); ok {
			a.events = append(a.events, ev)
		}
	}
}

// login connects an admin socket with the test credentials.
func login(t *testing.T, ts *testServer) *adminClient {
	t.Helper()
	a, connErr := dialAdmin(t, ts.url, DefaultNamespace, loginJSON(testUser, testPassword))
	if a == nil {
		t.Fatalf("admin login refused: %s", connErr)
	}
	return a
}

func loginJSON(user, password string) string {
	b, _ := json.Marshal(map[string]string{"username": user, "password": password})
	return string(b)
}

// parse decodes a text EVENT of the admin namespace.
func (a *adminClient) parse(f string) (receivedEvent, bool) {
	rest, ok := strings.CutPrefix(f, "42"+a.prefix)
	if !ok {
		return receivedEvent{}, false
	}
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(rest), &arr); err != nil || len(arr) == 0 {
		a.t.Fatalf("admin event %q", f)
	}
	var name string
	_ = json.Unmarshal(arr[0], &name)
	return receivedEvent{name: name, args: arr[1:]}, true
}

// next returns the next event received, kept or new.
func (a *adminClient) next() receivedEvent {
	a.t.Helper()
	if len(a.events) > 0 {
		ev := a.events[0]
		a.events = a.events[1:]
		return ev
	}
	for {
		if ev, ok := a.parse(a.c.Text()); ok {
			return ev
		}
	}
}

// wait returns the next event named name for which match (nil: any)
// holds, passing over others.
func (a *adminClient) wait(name string, match func([]json.RawMessage) bool) []json.RawMessage {
	a.t.Helper()
	for {
		ev := a.next()
		if ev.name == name && (match == nil || match(ev.args)) {
			return ev.args
		}
	}
}

// emit sends an event of the admin socket.
func (a *adminClient) emit(name string, args ...any) {
	a.t.Helper()
	b, err := json.Marshal(append([]any{name}, args...))
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.c.Send("42" + a.prefix + string(b)); err != nil {
		a.t.Fatal(err)
	}
}

// none fails if an event named one of names, matching match (nil: any),
// arrives within d; events kept from before are dropped.
func (a *adminClient) none(d time.Duration, match func(receivedEvent) bool, names ...string) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	a.events = nil // only what arrives from now on counts
	for {
		f, err := a.c.Receive(ctx)
		if err != nil {
			return
		}
		if ev, ok := a.parse(f.Text); ok && slices.Contains(names, ev.name) && (match == nil || match(ev)) {
			a.t.Fatalf("unexpected %s %s", ev.name, ev.args)
		}
	}
}

// hasArg is a matcher: args[i] is the JSON string s.
func hasArg(i int, s string) func([]json.RawMessage) bool {
	return func(args []json.RawMessage) bool {
		if i >= len(args) {
			return false
		}
		var v string
		return json.Unmarshal(args[i], &v) == nil && v == s
	}
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}
