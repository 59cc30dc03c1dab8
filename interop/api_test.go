package interop

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/api"
)

const apiToken = "interop-token"

// apiStack is iobridge's Socket.IO server with the control API in front
// of it, both on 127.0.0.1.
type apiStack struct {
	t      *testing.T
	url    string // the Socket.IO side, for client.js
	apiURL string
	// disconnects receives "<socket id> <reason>" for every socket that
	// leaves /chat, as the server reports it.
	disconnects chan string
}

func startAPIStack(t *testing.T) *apiStack {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := socketio.NewServer(socketio.Config{
		Engine:  engineio.Config{Path: "/socket.io/", Logger: logger},
		Adapter: adapter.New,
		Logger:  logger,
	})
	s := &apiStack{t: t, disconnects: make(chan string, 64)}
	chat := srv.Of("/chat")
	chat.OnConnection(func(sock *socketio.Socket) {
		id := sock.ID()
		sock.OnDisconnect(func(r socketio.DisconnectReason) { s.disconnects <- id + " " + string(r) })
	})
	sio := httptest.NewServer(srv)
	a, err := api.New(api.Config{Token: apiToken, Server: srv, Executor: translate.NewExecutor(srv), MaxBodyBytes: 4096, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("socketio Shutdown: %v", err)
		}
		sio.Close()
	})
	s.url, s.apiURL = sio.URL, hs.URL
	return s
}

// call sends a request to the API and returns the status and body.
func (s *apiStack) call(method, path, body, auth string) (int, string) {
	s.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.apiURL+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// expect calls the API with the token and checks status and JSON answer.
func (s *apiStack) expect(method, path, body string, status int, want any) {
	s.t.Helper()
	got, b := s.call(method, path, body, "Bearer "+apiToken)
	if got != status {
		s.t.Fatalf("%s %s %s = %d %s, want %d", method, path, body, got, b, status)
	}
	sameJSON(s.t, method+" "+path, json.RawMessage(b), want)
}

func (s *apiStack) waitDisconnect(id string) string {
	s.t.Helper()
	select {
	case r := <-s.disconnects:
		if !strings.HasPrefix(r, id+" ") {
			s.t.Fatalf("server disconnect %q, want socket %s", r, id)
		}
		return strings.TrimPrefix(r, id+" ")
	case <-time.After(waitTimeout):
		s.t.Fatalf("no server disconnect of %s", id)
		return ""
	}
}

// TestAPIEmitWithAckOneSlowClient: an emit with ack to two real clients,
// one answering at once (with binary), one never: the API waits for the
// timeout and returns the one ack and the other's id.
func TestAPIEmitWithAckOneSlowClient(t *testing.T) {
	t.Parallel()
	s := startAPIStack(t)
	c := startClient(t)
	fast := connected(t, c, "fast", s.url, connectOpts{NSP: "/chat", Transports: websocket})
	slow := connected(t, c, "slow", s.url, connectOpts{NSP: "/chat", Transports: polling})

	type answer struct {
		status  int
		body    string
		elapsed time.Duration
	}
	done := make(chan answer, 1)
	start := time.Now()
	go func() {
		st, b := s.call("POST", "/v1/emit", `{"namespace":"/chat","event":"question","args":["how?",{"n":1}],"ack":{"timeout":"1500ms"}}`, "Bearer "+apiToken)
		done <- answer{st, b, time.Since(start)}
	}()

	e := c.waitEvent("fast", "question")
	sameJSON(t, "fast args", e.Args, []any{"how?", map[string]any{"n": 1}})
	if e.Ack == 0 {
		t.Fatal("the API's emit did not ask the client for an ack")
	}
	c.send(map[string]any{"cmd": "ack", "socket": "fast", "ack": e.Ack, "args": []any{"fine", map[string]string{"_binary": "AQID"}}})
	if e := c.waitEvent("slow", "question"); e.Ack == 0 {
		t.Fatal("the slow client got no ack request")
	}

	var a answer
	select {
	case a = <-done:
	case <-time.After(waitTimeout):
		t.Fatal("the emit with ack never answered")
	}
	if a.status != http.StatusOK {
		t.Fatalf("emit with ack = %d %s", a.status, a.body)
	}
	sameJSON(t, "emit with ack", json.RawMessage(a.body), map[string]any{
		"acks":     []any{map[string]any{"socket": fast.ID, "args": []any{"fine", map[string]string{"_binary": "AQID"}}}},
		"timeouts": []string{slow.ID},
	})
	if a.elapsed < 1500*time.Millisecond {
		t.Fatalf("answered after %v, before the slow client's timeout", a.elapsed)
	}

	// Every recipient times out: 200 with no acks.
	s.expect("POST", "/v1/emit", `{"namespace":"/chat","to":["`+slow.ID+`"],"event":"again","ack":{"timeout":"100ms"}}`, 200,
		map[string]any{"acks": []any{}, "timeouts": []string{slow.ID}})
}

// TestAPIRoutesWithRealClients drives every route with real clients on
// the other side.
func TestAPIRoutesWithRealClients(t *testing.T) {
	t.Parallel()
	s := startAPIStack(t)
	c := startClient(t)
	ada := connected(t, c, "ada", s.url, connectOpts{NSP: "/chat", Auth: map[string]string{"user": "ada"}, Transports: websocket})
	bob := connected(t, c, "bob", s.url, connectOpts{NSP: "/chat", Transports: polling})

	s.expect("POST", "/v1/join", `{"namespace":"/chat","to":["`+ada.ID+`"],"rooms":["room1","room2"]}`, 200, map[string]int{"sockets": 1})
	s.expect("GET", "/v1/rooms?namespace=/chat", "", 200, map[string]any{"rooms": []any{
		map[string]any{"name": "room1", "size": 1}, map[string]any{"name": "room2", "size": 1},
	}})

	// To a room, binary included: only ada gets it, binary as a Buffer.
	s.expect("POST", "/v1/emit", `{"namespace":"/chat","to":["room1"],"event":"news","args":[{"title":"hi"},{"_binary":"AAEC"}]}`, 202, map[string]int{"recipients": 1})
	e := c.waitEvent("ada", "news")
	sameJSON(t, "news", e.Args, []any{map[string]string{"title": "hi"}, map[string]string{"_binary": "AAEC"}})
	// Except, and to a socket id.
	s.expect("POST", "/v1/emit", `{"namespace":"/chat","except":["room1"],"event":"not-room1"}`, 202, map[string]int{"recipients": 1})
	s.expect("POST", "/v1/emit", `{"namespace":"/chat","to":["`+bob.ID+`"],"event":"to-bob"}`, 202, map[string]int{"recipients": 1})
	c.waitEvent("bob", "not-room1")
	c.waitEvent("bob", "to-bob")
	// Volatile, to an idle WebSocket (over polling it is dropped unless a
	// GET is waiting, as in the reference).
	s.expect("POST", "/v1/emit", `{"namespace":"/chat","to":["room1"],"volatile":true,"event":"volatile"}`, 202, map[string]int{"recipients": 1})
	c.waitEvent("ada", "volatile")
	// A marker to everyone: after it, bob has seen nothing meant for ada.
	s.expect("POST", "/v1/emit", `{"namespace":"/chat","event":"marker"}`, 202, map[string]int{"recipients": 2})
	c.waitEvent("ada", "marker")
	c.waitEvent("bob", "marker")
	if c.log.seen(func(e event) bool { return e.Socket == "bob" && e.Event == "news" }) ||
		c.log.seen(func(e event) bool { return e.Socket == "ada" && (e.Event == "not-room1" || e.Event == "to-bob") }) {
		t.Fatalf("an emit reached a socket it did not select:\n%s", c.log.dump())
	}

	// Sockets, as fetchSockets describes them.
	st, body := s.call("GET", "/v1/sockets?namespace=/chat&room=room2", "", "Bearer "+apiToken)
	var got struct {
		Sockets []struct {
			ID        string          `json:"id"`
			Rooms     []string        `json:"rooms"`
			Data      json.RawMessage `json:"data"`
			Handshake struct {
				Auth    json.RawMessage   `json:"auth"`
				Query   map[string]string `json:"query"`
				Headers map[string]string `json:"headers"`
			} `json:"handshake"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(body), &got); st != 200 || err != nil || len(got.Sockets) != 1 {
		t.Fatalf("GET /v1/sockets?room=room2 = %d %s", st, body)
	}
	sock := got.Sockets[0]
	if sock.ID != ada.ID || strings.Join(sock.Rooms, ",") != ada.ID+",room1,room2" || string(sock.Data) != "{}" ||
		string(sock.Handshake.Auth) != `{"user":"ada"}` || sock.Handshake.Query["EIO"] != "4" || sock.Handshake.Query["transport"] != "websocket" {
		t.Fatalf("ada = %s", body)
	}

	s.expect("POST", "/v1/leave", `{"namespace":"/chat","rooms":["room1"]}`, 200, map[string]int{"sockets": 2})
	s.expect("GET", "/v1/rooms?namespace=/chat", "", 200, map[string]any{"rooms": []any{map[string]any{"name": "room2", "size": 1}}})
	s.expect("POST", "/v1/emit", `{"namespace":"/chat","to":["room1"],"event":"nobody"}`, 202, map[string]int{"recipients": 0})

	// Disconnect: the client sees "io server disconnect", the server
	// (and so the backend) "server namespace disconnect".
	s.expect("POST", "/v1/disconnect", `{"namespace":"/chat","to":["`+ada.ID+`"]}`, 200, map[string]int{"sockets": 1})
	if e := c.wait("disconnect", "ada"); e.Reason != "io server disconnect" {
		t.Fatalf("ada disconnect reason %q", e.Reason)
	}
	if r := s.waitDisconnect(ada.ID); r != "server namespace disconnect" {
		t.Fatalf("server reason %q", r)
	}
	s.expect("POST", "/v1/disconnect", `{"namespace":"/chat","to":["`+bob.ID+`"],"close":true}`, 200, map[string]int{"sockets": 1})
	if e := c.wait("disconnect", "bob"); e.Reason != "io server disconnect" {
		t.Fatalf("bob disconnect reason %q", e.Reason)
	}
	if r := s.waitDisconnect(bob.ID); r != "server namespace disconnect" {
		t.Fatalf("server reason %q", r)
	}
	s.expect("GET", "/v1/sockets?namespace=/chat", "", 200, map[string]any{"sockets": []any{}})

	s.expect("GET", "/healthz", "", 200, map[string]string{"status": "ok"})
	s.expect("GET", "/readyz", "", 200, map[string]string{"status": "ready"})
	if st, m := s.call("GET", "/metrics", "", ""); st != 200 || !strings.Contains(m, `iobridge_sockets{namespace="/chat"} 0`) {
		t.Fatalf("GET /metrics = %d %s", st, m)
	}
}

// TestAPIErrors: every error answer of the running API.
func TestAPIErrors(t *testing.T) {
	t.Parallel()
	s := startAPIStack(t)
	bearer := "Bearer " + apiToken
	tests := []struct {
		name, method, path, body, auth string
		status                         int
		code                           string
	}{
		{"invalid JSON", "POST", "/v1/emit", `{"event":"e",`, bearer, 400, "invalid_json"},
		{"unknown field", "POST", "/v1/emit", `{"event":"e","room":"r"}`, bearer, 400, "invalid_json"},
		{"no event", "POST", "/v1/emit", `{}`, bearer, 400, "invalid_request"},
		{"no rooms", "POST", "/v1/join", `{"namespace":"/chat"}`, bearer, 400, "invalid_request"},
		{"unknown namespace", "POST", "/v1/emit", `{"namespace":"/nowhere","event":"e"}`, bearer, 404, "unknown_namespace"},
		{"unknown namespace in a query", "GET", "/v1/sockets?namespace=/nowhere", "", bearer, 404, "unknown_namespace"},
		{"missing token", "POST", "/v1/emit", `{"event":"e"}`, "", 401, "unauthorized"},
		{"bad token", "GET", "/v1/rooms", "", "Bearer nope", 401, "unauthorized"},
		{"body too large", "POST", "/v1/emit", `{"event":"e","args":["` + strings.Repeat("x", 5000) + `"]}`, bearer, 413, "body_too_large"},
		{"wrong method", "PUT", "/v1/join", `{}`, bearer, 405, "method_not_allowed"},
		{"unknown route", "GET", "/v2/emit", "", bearer, 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, body := s.call(tc.method, tc.path, tc.body, tc.auth)
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || st != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("%s %s = %d %s, want %d {\"error\":{\"code\":%q,\"message\":…}}", tc.method, tc.path, st, body, tc.status, tc.code)
			}
		})
	}
}
