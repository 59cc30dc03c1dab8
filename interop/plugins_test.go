package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/iobridge/iobridge/plugins"
	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// startPluginSidecar is startWebhookSidecar with each route's plugins, the
// Engine.IO handshake checked as main does (plugins.AllowRequest).
func startPluginSidecar(t *testing.T, routes ...translate.Route) string {
	t.Helper()
	chains := make([]*plugins.Chain, len(routes))
	for i, r := range routes {
		chains[i] = r.Plugins
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, c := range chains {
			_ = c.Shutdown(ctx)
		}
	})
	return startTranslated(t, socketio.Config{
		Engine:  engineio.Config{AllowRequest: plugins.AllowRequest(chains)},
		Adapter: adapter.New,
	}, routes...)
}

func chainOf(t *testing.T, ps ...plugins.Plugin) *plugins.Chain {
	t.Helper()
	return plugins.NewChain(slog.New(slog.NewTextHandler(io.Discard, nil)), ps)
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// connectRaw opens a socket with Manager options the harness does not
// name (extraHeaders).
func (c *client) connectRaw(name, url, nsp string, opts map[string]any) {
	c.t.Helper()
	o := map[string]any{"reconnection": false, "timeout": int(waitTimeout / time.Millisecond)}
	for k, v := range opts {
		o[k] = v
	}
	c.send(map[string]any{"cmd": "connect", "socket": name, "url": url, "nsp": nsp, "opts": o})
}

// okBackend answers every delivery; events get an ack of ["ok"].
func okBackend(t *testing.T) *whBackend {
	return startWebhookBackend(t, func(w http.ResponseWriter, r *http.Request, req *whRequest) {
		if req.env.Type == "event" {
			answerJSON(w, 200, `{"ack":["ok"]}`)
			return
		}
		answerJSON(w, 200, `{}`)
	})
}

// events lists the event names the backend received, in order.
func (b *whBackend) events() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, r := range b.all {
		if r.env.Type == "event" {
			out = append(out, r.env.Event)
		}
	}
	return out
}

func wantConnectError(t *testing.T, c *client, socket, message string, data map[string]any) {
	t.Helper()
	e := c.wait("connect_error", socket)
	if e.Message == nil || *e.Message != message {
		t.Fatalf("%s: connect_error = %s, want message %q", socket, e, message)
	}
	if data != nil {
		sameJSON(t, socket+" connect_error data", e.Data, data)
	}
}

// TestPluginsJWT: the real client with valid, expired, wrong-audience,
// unsigned and missing tokens; the valid one's claims reach the webhooks
// in socket.data and its room from claims in socket.rooms.
func TestPluginsJWT(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	be := startWebhookBackend(t, func(w http.ResponseWriter, r *http.Request, req *whRequest) {
		if req.env.Type == "event" {
			answerJSON(w, 200, `{"ack":[{"rooms":`+string(mustMarshal(req.env.Socket.Rooms))+`,"data":`+string(req.env.Socket.Data)+`}]}`)
			return
		}
		answerJSON(w, 200, `{}`)
	})
	jp := must[*plugins.JWT](t)(plugins.NewJWT(plugins.JWTConfig{
		Secret: secret, Audience: "iobridge", Issuer: "https://auth.example.com",
		Rooms: []string{"user:{sub}", "org:{org}"}, Claims: []string{"sub", "role"},
	}))
	url := startPluginSidecar(t, translate.Route{Name: "/chat", OnConnect: translate.OnConnectWebhook,
		Backend: whClient(t, be.url, webhook.Config{Secret: whSecret}), Plugins: chainOf(t, jp)})

	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "alice", "role": "admin", "org": 42, "aud": "iobridge",
			"iss": "https://auth.example.com", "exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	hs := func(c jwt.MapClaims) string {
		return must[string](t)(jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret))
	}
	tokens := []struct {
		socket, token, message string
	}{
		{"expired", hs(claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), "unauthorized: token expired"},
		{"audience", hs(claims(func(c jwt.MapClaims) { c["aud"] = "someone-else" })), "unauthorized: wrong audience"},
		{"issuer", hs(claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" })), "unauthorized: wrong issuer"},
		{"notyet", hs(claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })), "unauthorized: token not valid yet"},
		{"unsigned", must[string](t)(jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)), "unauthorized: invalid signature"},
		{"otherkey", must[string](t)(jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil)).SignedString([]byte("another secret of thirty-two bytes!"))), "unauthorized: invalid signature"},
		{"garbage", "not.a.token", "unauthorized: malformed token"},
		{"none", "", "unauthorized: no token"},
	}
	c := startClient(t)
	for _, tk := range tokens {
		c.connect(tk.socket, url, connectOpts{NSP: "/chat", Auth: map[string]any{"token": tk.token}})
	}
	c.connect("valid", url, connectOpts{NSP: "/chat", Auth: map[string]any{"token": hs(claims(nil))}})
	for _, tk := range tokens {
		wantConnectError(t, c, tk.socket, tk.message, map[string]any{"plugin": "jwt", "status": 401})
	}
	c.wait("connect", "valid")

	// The connect delivery already carries the claims and the rooms.
	conn := be.next(t, "connect", "")
	sameJSON(t, "connect socket.data", conn.env.Socket.Data, map[string]any{"sub": "alice", "role": "admin"})
	if !slices.Contains(conn.env.Socket.Rooms, "user:alice") || !slices.Contains(conn.env.Socket.Rooms, "org:42") {
		t.Fatalf("connect socket.rooms = %v, want user:alice and org:42", conn.env.Socket.Rooms)
	}
	var who []struct {
		Rooms []string        `json:"rooms"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(c.call("valid", "whoami"), &who); err != nil || len(who) != 1 {
		t.Fatalf("whoami: %v", err)
	}
	if !slices.Contains(who[0].Rooms, "user:alice") {
		t.Fatalf("event socket.rooms = %v, want user:alice", who[0].Rooms)
	}
	sameJSON(t, "event socket.data", who[0].Data, map[string]any{"sub": "alice", "role": "admin"})
	be.mu.Lock()
	connects := 0
	for _, r := range be.all {
		if r.env.Type == "connect" {
			connects++
		}
	}
	be.mu.Unlock()
	if connects != 1 {
		t.Fatalf("backend got %d connect deliveries, want 1 (refused sockets never reach it)", connects)
	}
}

// jwks is a JWKS endpoint whose keys the test rotates.
type jwks struct {
	mu   sync.Mutex
	keys []map[string]string
	gets int
	srv  *httptest.Server
}

func startJWKS(t *testing.T) *jwks {
	j := &jwks{}
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.mu.Lock()
		b, _ := json.Marshal(map[string]any{"keys": j.keys})
		j.gets++
		j.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *jwks) set(keys ...map[string]string) {
	j.mu.Lock()
	j.keys = keys
	j.mu.Unlock()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PrivateKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PrivateKey) map[string]string {
	pub, err := k.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	return map[string]string{"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256",
		"x": b64(pub[1:33]), "y": b64(pub[33:])}
}

// TestPluginsJWKSRotation: RS256 keys from a JWKS on httptest; the server
// rotates to an ES256 key and a token signed with it is accepted after
// one refetch, while a token of the retired key is refused.
func TestPluginsJWKSRotation(t *testing.T) {
	t.Parallel()
	rk := must[*rsa.PrivateKey](t)(rsa.GenerateKey(rand.Reader, 2048))
	ek := must[*ecdsa.PrivateKey](t)(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	js := startJWKS(t)
	js.set(rsaJWK("k1", rk))
	jp := must[*plugins.JWT](t)(plugins.NewJWT(plugins.JWTConfig{
		JWKSURL: js.srv.URL, Audience: "iobridge", Claims: []string{"sub"}, Rooms: []string{"user:{sub}"},
	}))
	url := startPluginSidecar(t, translate.Route{Name: "/", OnConnect: translate.OnConnectAccept, Plugins: chainOf(t, jp)})

	sign := func(m jwt.SigningMethod, kid string, key any, sub string) string {
		tok := jwt.NewWithClaims(m, jwt.MapClaims{"sub": sub, "aud": "iobridge", "exp": time.Now().Add(time.Hour).Unix()})
		tok.Header["kid"] = kid
		return must[string](t)(tok.SignedString(key))
	}
	c := startClient(t)
	c.connect("rs", url, connectOpts{Auth: map[string]any{"token": sign(jwt.SigningMethodRS256, "k1", rk, "ann")}})
	c.wait("connect", "rs")
	// An RS256 token whose key id is right but whose algorithm is not
	// (HS256 with the public modulus as secret: the classic confusion).
	c.connect("confused", url, connectOpts{Auth: map[string]any{"token": sign(jwt.SigningMethodHS256, "k1", rk.N.Bytes(), "mallory")}})
	wantConnectError(t, c, "confused", "unauthorized: invalid signature", nil)

	js.set(ecJWK("k2", ek))
	c.connect("es", url, connectOpts{Auth: map[string]any{"token": sign(jwt.SigningMethodES256, "k2", ek, "bob")}})
	c.wait("connect", "es")
	c.connect("retired", url, connectOpts{Auth: map[string]any{"token": sign(jwt.SigningMethodRS256, "k1", rk, "ann")}})
	wantConnectError(t, c, "retired", "unauthorized: invalid signature", map[string]any{"plugin": "jwt", "status": 401})
	js.mu.Lock()
	gets := js.gets
	js.mu.Unlock()
	if gets != 2 {
		t.Fatalf("JWKS fetched %d times, want 2 (at start, and once for the new key id)", gets)
	}
}

// TestPluginsRateLimit: over its budget a socket gets the configured
// outcome — an error ack or error event, or a disconnect — while another
// socket is unaffected; refused events never reach the backend; a third
// connect from one IP address is refused.
func TestPluginsRateLimit(t *testing.T) {
	t.Parallel()
	be := okBackend(t)
	wh := whClient(t, be.url, webhook.Config{Secret: whSecret})
	slow := 0.001 // one token per 1000 s: nothing refills during the test
	errLimit := must[*plugins.RateLimit](t)(plugins.NewRateLimit(plugins.RateLimitConfig{EventsPerSecond: slow, Burst: 3}))
	dcLimit := must[*plugins.RateLimit](t)(plugins.NewRateLimit(plugins.RateLimitConfig{EventsPerSecond: slow, Burst: 1, Action: plugins.ActionDisconnect}))
	connLimit := must[*plugins.RateLimit](t)(plugins.NewRateLimit(plugins.RateLimitConfig{ConnectsPerSecond: slow, ConnectBurst: 2}))
	url := startPluginSidecar(t,
		translate.Route{Name: "/", OnConnect: translate.OnConnectAccept, Backend: wh, Plugins: chainOf(t, errLimit)},
		translate.Route{Name: "/strict", OnConnect: translate.OnConnectAccept, Backend: wh, Plugins: chainOf(t, dcLimit)},
		translate.Route{Name: "/lobby", OnConnect: translate.OnConnectAccept, Backend: wh, Plugins: chainOf(t, connLimit)},
	)
	c := startClient(t)
	c.connect("a", url, connectOpts{})
	c.connect("b", url, connectOpts{})
	c.wait("connect", "a")
	c.wait("connect", "b")

	var reqs []string
	for range 5 {
		reqs = append(reqs, c.emitAck("a", 0, "tick"))
	}
	c.emit("a", "tock") // no ack: the error event
	for i, req := range reqs {
		got := c.log.wait(t, "ack "+req, func(e event) bool { return e.Type == "ack" && e.Req == req }).Args
		if i < 3 {
			sameJSON(t, "ack "+req, got, []any{"ok"})
		} else {
			sameJSON(t, "ack "+req, got, []any{map[string]any{"error": map[string]any{"status": 429, "message": "rate limit exceeded"}}})
		}
	}
	errEv := c.waitEvent("a", "error")
	var ev []struct {
		Message string `json:"message"`
		Event   string `json:"event"`
	}
	if err := json.Unmarshal(errEv.Args, &ev); err != nil || ev[0].Message != "rate limit exceeded" || ev[0].Event != "tock" {
		t.Fatalf("error event = %s", errEv.Args)
	}
	// b has its own bucket.
	for range 3 {
		sameJSON(t, "b's ack", c.call("b", "tick"), []any{"ok"})
	}
	if st := c.state("a"); !st.Connected {
		t.Fatal(`with action "error" the socket must stay connected`)
	}

	c.connect("s", url, connectOpts{NSP: "/strict"})
	c.wait("connect", "s")
	sameJSON(t, "first", c.call("s", "tick"), []any{"ok"})
	req := c.emitAck("s", 0, "tick")
	got := c.log.wait(t, "ack "+req, func(e event) bool { return e.Type == "ack" && e.Req == req }).Args
	sameJSON(t, "over the limit", got, []any{map[string]any{"error": map[string]any{"status": 429, "message": "rate limit exceeded"}}})
	if d := c.wait("disconnect", "s"); d.Reason != "io server disconnect" {
		t.Fatalf("disconnect reason %q, want io server disconnect", d.Reason)
	}

	for _, s := range []string{"l1", "l2"} {
		c.connect(s, url, connectOpts{NSP: "/lobby"})
		c.wait("connect", s)
	}
	c.connect("l3", url, connectOpts{NSP: "/lobby"})
	wantConnectError(t, c, "l3", "rate limit exceeded: too many connections", map[string]any{"plugin": "ratelimit", "status": 429})

	if got, want := len(be.events()), 3+3+1; got != want {
		t.Fatalf("backend got %d events %v, want %d (refused events never reach it)", got, be.events(), want)
	}
}

// TestPluginsFilter: denied names, oversized and too deeply nested args
// are refused with their status and never reach the backend.
func TestPluginsFilter(t *testing.T) {
	t.Parallel()
	be := okBackend(t)
	f := must[*plugins.Filter](t)(plugins.NewFilter(plugins.FilterConfig{
		Allow: []string{"chat", "file.*"}, Deny: []string{"file.secret"}, MaxArgsBytes: 64, MaxDepth: 3,
	}))
	url := startPluginSidecar(t, translate.Route{Name: "/", OnConnect: translate.OnConnectAccept,
		Backend: whClient(t, be.url, webhook.Config{Secret: whSecret}), Plugins: chainOf(t, f)})
	c := startClient(t)
	c.connect("a", url, connectOpts{})
	c.wait("connect", "a")

	refused := func(status int, msg string) []any {
		return []any{map[string]any{"error": map[string]any{"status": status, "message": msg}}}
	}
	sameJSON(t, "chat", c.call("a", "chat", "hi"), []any{"ok"})
	sameJSON(t, "admin", c.call("a", "admin", "drop tables"), refused(403, "event not allowed"))
	sameJSON(t, "file.upload", c.call("a", "file.upload", "x.txt"), []any{"ok"})
	sameJSON(t, "file.secret", c.call("a", "file.secret"), refused(403, "event not allowed"))
	sameJSON(t, "big", c.call("a", "chat", strings.Repeat("x", 100)), refused(413, "event args over 64 bytes"))
	sameJSON(t, "deep", c.call("a", "chat", []any{[]any{[]any{[]any{1}}}}), refused(413, "event args nested deeper than 3"))
	sameJSON(t, "deep enough", c.call("a", "chat", []any{[]any{[]any{1}}}), []any{"ok"})
	c.emit("a", "admin")
	errEv := c.waitEvent("a", "error")
	var ev []struct {
		Message string `json:"message"`
		Event   string `json:"event"`
	}
	if err := json.Unmarshal(errEv.Args, &ev); err != nil || ev[0].Message != "event not allowed" || ev[0].Event != "admin" {
		t.Fatalf("error event = %s", errEv.Args)
	}
	sameJSON(t, "last", c.call("a", "chat", "bye"), []any{"ok"})
	if got, want := be.events(), []string{"chat", "file.upload", "chat", "chat"}; !slices.Equal(got, want) {
		t.Fatalf("backend got events %v, want %v", got, want)
	}
}

// TestPluginsOrigin: a foreign Origin is refused at the Engine.IO
// handshake (polling and WebSocket) when every namespace has an origin
// plugin, and at CONNECT when some namespace has none.
func TestPluginsOrigin(t *testing.T) {
	t.Parallel()
	allow := []string{"https://app.example.com"}
	o := must[*plugins.Origin](t)(plugins.NewOrigin(plugins.OriginConfig{Allow: allow}))
	url := startPluginSidecar(t, translate.Route{Name: "/", OnConnect: translate.OnConnectAccept, Plugins: chainOf(t, o)})

	req := must[*http.Request](t)(http.NewRequest("GET", url+"/socket.io/?EIO=4&transport=polling", nil))
	req.Header.Set("Origin", "https://evil.example.com")
	res := must[*http.Response](t)(http.DefaultClient.Do(req))
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 403 || string(body) != `{"code":4,"message":"Forbidden"}` {
		t.Fatalf("foreign handshake: %d %s, want 403 Forbidden", res.StatusCode, body)
	}

	c := startClient(t)
	evil := map[string]any{"Origin": "https://evil.example.com"}
	c.connectRaw("ws", url, "/", map[string]any{"transports": []string{"websocket"}, "extraHeaders": evil})
	c.connectRaw("poll", url, "/", map[string]any{"transports": []string{"polling"}, "extraHeaders": evil})
	c.connectRaw("good", url, "/", map[string]any{"transports": []string{"websocket"}, "extraHeaders": map[string]any{"Origin": "https://app.example.com"}})
	c.connectRaw("nohdr", url, "/", map[string]any{})
	wantConnectError(t, c, "ws", "websocket error", nil)
	wantConnectError(t, c, "poll", "xhr poll error", nil)
	c.wait("connect", "good")
	c.wait("connect", "nohdr")

	// /open has no origin plugin, so the handshake is let through and
	// /private refuses at CONNECT.
	o2 := must[*plugins.Origin](t)(plugins.NewOrigin(plugins.OriginConfig{Allow: allow}))
	url2 := startPluginSidecar(t,
		translate.Route{Name: "/private", OnConnect: translate.OnConnectAccept, Plugins: chainOf(t, o2)},
		translate.Route{Name: "/open", OnConnect: translate.OnConnectAccept},
	)
	c.connectRaw("private", url2, "/private", map[string]any{"extraHeaders": evil})
	c.connectRaw("open", url2, "/open", map[string]any{"extraHeaders": evil})
	wantConnectError(t, c, "private", "origin not allowed", map[string]any{"plugin": "origin", "status": 403})
	c.wait("connect", "open")
}
