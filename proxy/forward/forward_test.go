package forward

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/proxy/engineio"
)

// memRegistry is a Registry in memory, with the Redis one's semantics.
type memRegistry struct {
	mu      sync.Mutex
	m       map[string]memEntry
	lookups int
	fail    error
}

type memEntry struct {
	url     string
	expires time.Time
}

func newMemRegistry() *memRegistry { return &memRegistry{m: map[string]memEntry{}} }

func (r *memRegistry) Register(_ context.Context, id, url string, ttl time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	if e, ok := r.m[id]; ok && e.url != url && time.Now().Before(e.expires) {
		return ErrTaken
	}
	r.m[id] = memEntry{url, time.Now().Add(ttl)}
	return nil
}

func (r *memRegistry) Lookup(_ context.Context, id string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups++
	if r.fail != nil {
		return "", r.fail
	}
	if e, ok := r.m[id]; ok && time.Now().Before(e.expires) {
		return e.url, nil
	}
	return "", nil
}

func (r *memRegistry) Unregister(_ context.Context, id, url string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[id]; ok && e.url == url {
		delete(r.m, id)
	}
	return nil
}

// testNode is an Engine.IO server with a Proxy, on its own listener.
type testNode struct {
	proxy *Proxy
	eio   *engineio.Server
	ts    *httptest.Server
	url   string // .../engine.io/

	mu      sync.Mutex
	remotes []string // RemoteAddr + X-Forwarded-For of requests that reached this node's Engine.IO server
	hops    []string
}

func startNode(t testing.TB, reg Registry) *testNode {
	t.Helper()
	return startNodeWith(t, reg, 2*time.Second)
}

func startNodeWith(t testing.TB, reg Registry, ping time.Duration) *testNode {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	p, err := New(Config{Registry: reg, Logger: logger, TTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{proxy: p}
	n.eio = engineio.NewServer(engineio.Config{
		NodeID:       p.ID(),
		Forward:      p.Forward,
		PingInterval: ping,
		PingTimeout:  time.Second,
		Logger:       logger,
	}, func(s *engineio.Session) engineio.Handler { return &echo{s: s} })
	n.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		n.remotes = append(n.remotes, r.RemoteAddr+" xff="+r.Header.Get("X-Forwarded-For"))
		n.hops = append(n.hops, r.Header.Get(HopHeader))
		n.mu.Unlock()
		n.eio.ServeHTTP(w, r)
	}))
	n.url = n.ts.URL + "/engine.io/"
	if err := p.SetURL(n.ts.URL); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.eio.Shutdown(ctx)
		n.ts.Close()
	})
	return n
}

// echo sends every message back.
type echo struct{ s *engineio.Session }

func (e *echo) OnMessage(data []byte, binary bool) {
	_ = e.s.Send([]engineio.Packet{{Type: engineio.PacketMessage, Data: data, Binary: binary}})
}
func (e *echo) OnClose(engineio.CloseReason, error) {}

type answer struct {
	status int
	body   string
	took   time.Duration
}

func do(t *testing.T, method, url, body string, header http.Header) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, string(b), time.Since(start)}
}

func handshake(t *testing.T, n *testNode) string {
	t.Helper()
	a := do(t, "GET", n.url+"?EIO=4&transport=polling", "", nil)
	if a.status != 200 || !strings.HasPrefix(a.body, "0{") {
		t.Fatalf("handshake = %d %q", a.status, a.body)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(a.body[1:]), &open); err != nil {
		t.Fatal(err)
	}
	return open.SID
}

const unknownSID = `{"code":1,"message":"Session ID unknown"}`

// TestRoundRobin: requests for a session alternate between two nodes;
// each is served by the owner, which sees the client's address in
// X-Forwarded-For and the hop header.
func TestRoundRobin(t *testing.T) {
	reg := newMemRegistry()
	a, b := startNode(t, reg), startNode(t, reg)
	sid := handshake(t, a)
	if engineio.SIDNode(sid) != a.proxy.ID() {
		t.Fatalf("sid %q does not carry node id %q", sid, a.proxy.ID())
	}
	q := "?EIO=4&transport=polling&sid=" + sid
	for i := range 5 {
		msg := "4hello" + string(rune('0'+i))
		if got := do(t, "POST", b.url+q, msg, nil); got.status != 200 || got.body != "ok" {
			t.Fatalf("POST through b = %d %q, want 200 ok", got.status, got.body)
		}
		if got := do(t, "GET", b.url+q, "", nil); got.status != 200 || got.body != msg {
			t.Fatalf("GET through b = %d %q, want the echo %q", got.status, got.body, msg)
		}
		if got := do(t, "POST", a.url+q, msg, nil); got.status != 200 || got.body != "ok" {
			t.Fatalf("POST to a = %d %q", got.status, got.body)
		}
		if got := do(t, "GET", a.url+q, "", nil); got.status != 200 || got.body != msg {
			t.Fatalf("GET to a = %d %q", got.status, got.body)
		}
	}
	if st := b.proxy.Stats(); st.Forwarded != 10 || st.Failed != 0 {
		t.Errorf("b's Stats = %+v, want 10 forwarded, 0 failed", st)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var forwarded int
	for i, h := range a.hops {
		if h == "" {
			continue
		}
		forwarded++
		if h != b.proxy.ID() {
			t.Errorf("hop header %q, want b's id %q", h, b.proxy.ID())
		}
		if !strings.Contains(a.remotes[i], "xff=127.0.0.1") {
			t.Errorf("forwarded request at a: %s, want X-Forwarded-For with the client's address", a.remotes[i])
		}
	}
	if forwarded != 10 {
		t.Errorf("a saw %d forwarded requests, want 10", forwarded)
	}
}

// TestNeverTwice: a forwarded request is not forwarded again, and sids of
// this node, of no node, or of no form are answered as unknown.
func TestNeverTwice(t *testing.T) {
	reg := newMemRegistry()
	a, b := startNode(t, reg), startNode(t, reg)
	sid := handshake(t, a)
	hop := http.Header{HopHeader: {"xxxx"}}
	for _, tc := range []struct {
		name   string
		url    string
		header http.Header
	}{
		{"forwarded already", b.url + "?EIO=4&transport=polling&sid=" + sid, hop},
		{"no node holds the id", b.url + "?EIO=4&transport=polling&sid=zzzz" + sid[4:], nil},
		{"this node's id, gone", b.url + "?EIO=4&transport=polling&sid=" + b.proxy.ID() + sid[4:], nil},
		{"not 20 characters", b.url + "?EIO=4&transport=polling&sid=abc", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := do(t, "GET", tc.url, "", tc.header); got.status != 400 || got.body != unknownSID {
				t.Errorf("GET = %d %q, want 400 %s", got.status, got.body, unknownSID)
			}
		})
	}
	if st := b.proxy.Stats(); st.Forwarded != 0 {
		t.Errorf("b forwarded %d requests, want none", st.Forwarded)
	}
}

// TestDeadOwner: once the owner is gone, requests for its sessions are
// answered as unknown sids at once: a parked GET when the owner dies, and
// every request after it, within the dial timeout.
func TestDeadOwner(t *testing.T) {
	reg := newMemRegistry()
	a, b := startNode(t, reg), startNode(t, reg)
	sid := handshake(t, a)
	q := "?EIO=4&transport=polling&sid=" + sid
	parked := make(chan answer, 1)
	go func() { parked <- do(t, "GET", b.url+q, "", nil) }()
	// Wait until the GET is parked at a (through b).
	deadline := time.Now().Add(5 * time.Second)
	for {
		a.mu.Lock()
		n := len(a.hops)
		a.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the GET never reached a")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Kill a: no graceful anything; its registration stays until TTL.
	a.proxy.Stop()
	a.ts.CloseClientConnections()
	a.ts.Listener.Close()
	select {
	case got := <-parked:
		if got.status != 400 || got.body != unknownSID {
			t.Errorf("parked GET when the owner died = %d %q, want 400 %s", got.status, got.body, unknownSID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the parked GET was not answered after its owner died")
	}
	for i := range 3 {
		got := do(t, "POST", b.url+q, "4x", nil)
		if got.status != 400 || got.body != unknownSID {
			t.Errorf("POST %d for a dead owner = %d %q, want 400 %s", i, got.status, got.body, unknownSID)
		}
		if got.took > DefaultDialTimeout+500*time.Millisecond {
			t.Errorf("POST %d for a dead owner took %v, want within the dial timeout %v", i, got.took, DefaultDialTimeout)
		}
	}
	// An upgrade for a dead owner: 400 too, never a 5xx.
	ws := "ws" + strings.TrimPrefix(b.url, "http") + "?EIO=4&transport=websocket&sid=" + sid
	_, res, err := websocket.DefaultDialer.Dial(ws, nil)
	if err == nil || res == nil || res.StatusCode != 400 {
		t.Errorf("upgrade for a dead owner: %v %v, want 400", res, err)
	}
}

// TestUpgradeForwarded: a WebSocket upgrade for another node's session is
// tunnelled to it: probe, upgrade, messages.
func TestUpgradeForwarded(t *testing.T) {
	reg := newMemRegistry()
	a, b := startNode(t, reg), startNode(t, reg)
	sid := handshake(t, a)
	ws := "ws" + strings.TrimPrefix(b.url, "http") + "?EIO=4&transport=websocket&sid=" + sid
	c, _, err := websocket.DefaultDialer.Dial(ws, nil)
	if err != nil {
		t.Fatalf("upgrade through b: %v", err)
	}
	defer c.Close()
	read := func() string {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, m, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return string(m)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if m := read(); m != "3probe" {
		t.Fatalf("probe answer %q, want 3probe", m)
	}
	// The parked GET the client would have open gets the noop.
	if got := do(t, "GET", a.url+"?EIO=4&transport=polling&sid="+sid, "", nil); got.body != "6" {
		t.Fatalf("GET during the upgrade = %d %q, want 6", got.status, got.body)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte("5"))
	_ = c.WriteMessage(websocket.TextMessage, []byte("4over ws"))
	for {
		m := read()
		if m == "2" {
			_ = c.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		if m != "4over ws" {
			t.Fatalf("echo %q, want 4over ws", m)
		}
		break
	}
}

// TestLookupCache: a node's URL is read once per cacheFor, a miss once per
// missFor; a registry failure keeps the last URL serving.
func TestLookupCache(t *testing.T) {
	reg := newMemRegistry()
	a, b := startNode(t, reg), startNode(t, reg)
	sid := handshake(t, a)
	q := "?EIO=4&transport=polling&sid=" + sid
	for range 10 {
		if got := do(t, "POST", b.url+q, "4x", nil); got.status != 200 {
			t.Fatalf("POST = %d %q", got.status, got.body)
		}
	}
	reg.mu.Lock()
	n := reg.lookups
	reg.fail = errors.New("registry down")
	reg.mu.Unlock()
	if n != 1 {
		t.Errorf("10 forwarded requests read the registry %d times, want 1", n)
	}
	// Stale entry, registry down: the old URL still serves.
	b.proxy.mu.Lock()
	b.proxy.nodes[a.proxy.ID()].expires.Store(time.Now().Add(-time.Second).UnixNano())
	b.proxy.mu.Unlock()
	// One session per goroutine: the reference closes a session whose
	// POSTs overlap.
	var sids []string
	for range 8 {
		sids = append(sids, handshake(t, a))
	}
	var wg sync.WaitGroup
	for _, sid := range sids { // while the background read runs (and fails)
		wg.Go(func() {
			if got := do(t, "POST", b.url+"?EIO=4&transport=polling&sid="+sid, "4x", nil); got.status != 200 {
				t.Errorf("POST with the registry down = %d %q, want 200 through the cached URL", got.status, got.body)
			}
		})
	}
	wg.Wait()
	// Registry back: the stale entry is read again in the background,
	// while requests keep flowing.
	reg.mu.Lock()
	reg.fail = nil
	reg.mu.Unlock()
	b.proxy.mu.Lock()
	b.proxy.nodes[a.proxy.ID()].expires.Store(time.Now().Add(-time.Second).UnixNano())
	b.proxy.mu.Unlock()
	for _, sid := range sids {
		wg.Go(func() {
			if got := do(t, "POST", b.url+"?EIO=4&transport=polling&sid="+sid, "4x", nil); got.status != 200 {
				t.Errorf("POST during a refresh = %d %q", got.status, got.body)
			}
		})
	}
	wg.Wait()
}

func TestRegisterTaken(t *testing.T) {
	reg := newMemRegistry()
	p, err := New(Config{Registry: reg, URL: "http://127.0.0.1:1", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	_ = reg.Register(context.Background(), p.ID(), "http://127.0.0.1:2", time.Minute)
	if err := p.register(context.Background()); !errors.Is(err, ErrTaken) {
		t.Errorf("register of a taken id = %v, want ErrTaken", err)
	}
	for _, bad := range []string{"", "10.0.0.5:8080", "ftp://x", "http://", "http://x/path", "http://x/?q"} {
		if err := p.SetURL(bad); err == nil {
			t.Errorf("SetURL(%q) = nil, want an error", bad)
		}
	}
}

// startBenchNode is startNode for benchmarks.
func startBenchNode(b *testing.B, reg Registry) *testNode { return startNodeWith(b, reg, time.Hour) }

// benchHandshake opens a polling session at url (a node's, not through a
// load balancer: the session is that node's).
func benchHandshake(b *testing.B, c *http.Client, url string) string {
	res, err := c.Get(url + "?EIO=4&transport=polling")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var open struct{ SID string }
	if len(body) < 2 || json.Unmarshal(body[1:], &open) != nil {
		b.Fatalf("handshake = %d %q", res.StatusCode, body)
	}
	return open.SID
}
