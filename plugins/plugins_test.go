package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/iobridge/iobridge/plugins"
	"github.com/iobridge/iobridge/proxy/socketio"
)

func raw(ss ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(ss))
	for i, s := range ss {
		out[i] = json.RawMessage(s)
	}
	return out
}

func TestFilter(t *testing.T) {
	f, err := plugins.NewFilter(plugins.FilterConfig{
		Allow: []string{"chat", "file.*"}, Deny: []string{"file.secret"}, MaxArgsBytes: 20, MaxDepth: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		event  string
		args   []json.RawMessage
		atts   [][]byte
		status int // 0: let through
	}{
		{"allowed", "chat", raw(`"hi"`), nil, 0},
		{"prefix", "file.upload", nil, nil, 0},
		{"not listed", "admin", nil, nil, 403},
		{"denied wins", "file.secret", nil, nil, 403},
		{"prefix is not a name", "file", nil, nil, 403},
		{"size at the bound", "chat", raw(`"012345678901234567"`), nil, 0},
		{"size over", "chat", raw(`"01234567890123456789"`), nil, 413},
		{"attachments count", "chat", raw(`{"_placeholder":true,"num":0}`), [][]byte{make([]byte, 1)}, 413},
		{"depth at the bound", "chat", raw(`[{"a":1}]`), nil, 0},
		{"depth over", "chat", raw(`[[[1]]]`), nil, 413},
		{"brackets in strings", "chat", raw(`"[[[[\"]]"`), nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.OnInbound(t.Context(), plugins.InboundEvent{Name: tc.event, Args: tc.args, Attachments: tc.atts})
			var pe *plugins.Error
			switch {
			case tc.status == 0 && err != nil:
				t.Fatalf("OnInbound(%q) = %v, want it let through", tc.event, err)
			case tc.status != 0 && (!errors.As(err, &pe) || pe.Status != tc.status):
				t.Fatalf("OnInbound(%q) = %v, want status %d", tc.event, err, tc.status)
			}
		})
	}
	if _, err := plugins.NewFilter(plugins.FilterConfig{Allow: []string{"a*b"}}); err == nil {
		t.Error(`NewFilter(allow "a*b") succeeded, want an error`)
	}
}

func TestOrigin(t *testing.T) {
	o, err := plugins.NewOrigin(plugins.OriginConfig{Allow: []string{"https://App.example.com", "http://localhost:3000"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"https://app.example.com", true},
		{"http://localhost:3000", true},
		{"http://app.example.com", false},
		{"https://app.example.com.evil.net", false},
		{"null", false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/socket.io/", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		err := o.AllowRequest(r)
		if (err == nil) != tc.ok {
			t.Errorf("AllowRequest(Origin %q) = %v, want ok=%v", tc.origin, err, tc.ok)
		}
		if err != nil && !errors.Is(err, plugins.ErrForbidden) {
			t.Errorf("AllowRequest(Origin %q) = %v, want ErrForbidden", tc.origin, err)
		}
	}
	for _, bad := range []string{"app.example.com", "https://app.example.com/path", "*"} {
		if _, err := plugins.NewOrigin(plugins.OriginConfig{Allow: []string{bad}}); err == nil {
			t.Errorf("NewOrigin(%q) succeeded, want an error", bad)
		}
	}
}

func TestAllowRequest(t *testing.T) {
	mk := func(origin string) *plugins.Chain {
		o, err := plugins.NewOrigin(plugins.OriginConfig{Allow: []string{origin}})
		if err != nil {
			t.Fatal(err)
		}
		return plugins.NewChain(quietLogger(), []plugins.Plugin{o})
	}
	a, b := mk("https://a.example.com"), mk("https://b.example.com")
	if plugins.AllowRequest([]*plugins.Chain{a, nil}) != nil {
		t.Fatal("a namespace without origin plugin must leave the handshake alone")
	}
	check := plugins.AllowRequest([]*plugins.Chain{a, b})
	for origin, ok := range map[string]bool{"https://a.example.com": true, "https://b.example.com": true, "https://c.example.com": false} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Origin", origin)
		if err := check(r); (err == nil) != ok {
			t.Errorf("check(%s) = %v, want ok=%v", origin, err, ok)
		}
	}
}

// order records the hooks' calls; refuse makes one refuse.
type order struct {
	name   string
	calls  *[]string
	refuse error
	args   []json.RawMessage
}

func (o order) Name() string { return o.name }

func (o order) OnConnect(_ context.Context, e plugins.ConnectEvent) (plugins.ConnectReply, error) {
	*o.calls = append(*o.calls, o.name)
	return plugins.ConnectReply{Rooms: []string{"room:" + o.name}, Data: map[string]any{o.name: true}}, o.refuse
}

func (o order) OnInbound(_ context.Context, e plugins.InboundEvent) (plugins.InboundReply, error) {
	*o.calls = append(*o.calls, o.name+":"+string(e.Args[0]))
	return plugins.InboundReply{Args: o.args}, o.refuse
}

func TestChainOrder(t *testing.T) {
	var calls []string
	ch := plugins.NewChain(quietLogger(), []plugins.Plugin{
		order{name: "a", calls: &calls, args: raw(`"rewritten"`)},
		order{name: "b", calls: &calls},
		order{name: "c", calls: &calls, refuse: errors.New("no c today")},
		order{name: "d", calls: &calls},
	})
	rep, err := ch.Inbound(t.Context(), plugins.InboundEvent{Name: "e", Args: raw(`"orig"`)})
	if want := []string{"a:\"orig\"", "b:\"rewritten\"", "c:\"rewritten\""}; !slices.Equal(calls, want) {
		t.Fatalf("calls = %q, want %q", calls, want)
	}
	var pe *plugins.Error
	if !errors.As(err, &pe) || pe.Plugin != "c" || pe.Status != 403 || pe.Message != "no c today" {
		t.Fatalf("Inbound error = %#v, want plugin c, 403, its message", err)
	}
	if rep.Handled || rep.Args != nil {
		t.Fatalf("refused Inbound reply = %+v", rep)
	}

	calls = nil
	s := newSockets(t)
	so := s.connect(t, "192.0.2.1:1000", nil)
	err = ch.Connect(t.Context(), so)
	var ce *socketio.ConnectError
	if !errors.As(err, &ce) || ce.Message != "no c today" || string(ce.Data) != `{"plugin":"c","status":403}` {
		t.Fatalf("Connect = %v, want the ConnectError of c", err)
	}
	if !slices.Equal(calls, []string{"a", "b", "c"}) {
		t.Fatalf("connect calls = %q", calls)
	}
	if rooms := so.Rooms(); !slices.Contains(rooms, "room:a") || !slices.Contains(rooms, "room:b") {
		t.Fatalf("rooms = %v, want the rooms of a and b", rooms)
	}
	if d, _ := so.Data().(map[string]any); d["a"] != true || d["b"] != true {
		t.Fatalf("data = %v, want a and b merged", so.Data())
	}
}

func TestRateLimitPerIP(t *testing.T) {
	rl, err := plugins.NewRateLimit(plugins.RateLimitConfig{EventsPerSecond: 0.001, Burst: 2, Per: plugins.PerIP})
	if err != nil {
		t.Fatal(err)
	}
	s := newSockets(t)
	a1 := s.connect(t, "192.0.2.1:1000", nil)
	a2 := s.connect(t, "192.0.2.1:1001", nil)
	b := s.connect(t, "192.0.2.2:1000", nil)
	ctx := t.Context()
	try := func(so *socketio.Socket) error {
		_, err := rl.OnInbound(ctx, plugins.InboundEvent{Socket: so, Name: "e"})
		return err
	}
	if try(a1) != nil || try(a2) != nil {
		t.Fatal("the first two events of one IP address were refused")
	}
	if err := try(a1); !errors.Is(err, plugins.ErrRateLimited) {
		t.Fatalf("third event of the IP address = %v, want ErrRateLimited", err)
	}
	if err := try(b); err != nil {
		t.Fatalf("another IP address = %v, want its own bucket", err)
	}
	// Leaving and coming back does not refill the IP address's bucket.
	rl.OnDisconnect(ctx, plugins.DisconnectEvent{Socket: a1})
	a1.Disconnect(false)
	a3 := s.connect(t, "192.0.2.1:1002", nil)
	if err := try(a3); !errors.Is(err, plugins.ErrRateLimited) {
		t.Fatalf("a new socket of a limited IP address = %v, want ErrRateLimited", err)
	}
}

func TestRateLimitConfig(t *testing.T) {
	for _, cfg := range []plugins.RateLimitConfig{
		{},
		{EventsPerSecond: -1},
		{EventsPerSecond: 1, Per: "user"},
		{EventsPerSecond: 1, Action: "kick"},
	} {
		if _, err := plugins.NewRateLimit(cfg); err == nil {
			t.Errorf("NewRateLimit(%+v) succeeded, want an error", cfg)
		}
	}
}

func TestJWTSources(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "u1", "n": 7.5, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		from   string
		header http.Header
		query  string
	}{
		{plugins.FromHeader, http.Header{"Authorization": {"Bearer " + tok}}, ""},
		{plugins.FromQuery, nil, "&token=" + tok},
	}
	for _, tc := range tests {
		t.Run(tc.from, func(t *testing.T) {
			p, err := plugins.NewJWT(plugins.JWTConfig{Secret: secret, From: tc.from,
				Rooms: []string{"user:{sub}", "n:{n}", "missing:{nope}", "plain"}, Claims: []string{"sub", "nope"}})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/socket.io/?EIO=4"+tc.query, nil)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			rep, err := p.OnConnect(t.Context(), plugins.ConnectEvent{Handshake: socketio.Handshake{
				Headers: r.Header, Query: r.URL.Query(), Auth: json.RawMessage(`{}`)}})
			if err != nil {
				t.Fatalf("OnConnect = %v", err)
			}
			if want := []string{"user:u1", "n:7.5", "plain"}; !slices.Equal(rep.Rooms, want) {
				t.Errorf("rooms = %q, want %q", rep.Rooms, want)
			}
			if len(rep.Data) != 1 || rep.Data["sub"] != "u1" {
				t.Errorf("data = %v, want only sub", rep.Data)
			}
		})
	}
	p, _ := plugins.NewJWT(plugins.JWTConfig{Secret: secret})
	_, err = p.OnConnect(t.Context(), plugins.ConnectEvent{Handshake: socketio.Handshake{Auth: json.RawMessage(`{"token":"Bearer ` + tok + `"}`)}})
	if err != nil {
		t.Errorf("auth token with a Bearer prefix: %v", err)
	}
	_, err = p.OnConnect(t.Context(), plugins.ConnectEvent{Handshake: socketio.Handshake{Auth: json.RawMessage(`{"token":42}`)}})
	if !errors.Is(err, plugins.ErrUnauthorized) || !strings.Contains(err.Error(), "no token") {
		t.Errorf("a non-string token = %v, want unauthorized: no token", err)
	}
}
