package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	redisadapter "github.com/iobridge/iobridge/proxy/adapter/redis"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/forward"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/api"
)

// Sticky-free polling: iobridge nodes on one redis-server behind a
// round-robin proxy that sends every GET and every POST to the next node
// (no stickiness of any kind). A request for a session another node owns
// is forwarded to that node (proxy/forward); real socket.io-client sockets
// must never see "Session ID unknown".

// rrNode is one iobridge node as main wires it with the Redis adapter:
// sids carry its node id, requests for other nodes' sids are forwarded,
// and it registers its URL in Redis. Its HTTP server is its own so that
// kill can drop it at once.
type rrNode struct {
	*ioNode
	fwd  *forward.Proxy
	hs   *http.Server
	addr string // host:port of the Socket.IO listener
}

func startRRNode(t *testing.T, name, redisURL, mode string) *rrNode {
	t.Helper()
	logs := &lockedBuffer{}
	level := slog.LevelWarn
	var w io.Writer = logs
	if testing.Verbose() {
		level = slog.LevelDebug
		w = io.MultiWriter(logs, &testWriter{t: t})
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("node", name)
	t.Cleanup(func() {
		if t.Failed() && !testing.Verbose() {
			t.Logf("iobridge %s logs (warnings and errors):\n%s", name, lockedString(logs))
		}
	})
	ac, err := redisadapter.Open(context.Background(), redisadapter.Config{URL: redisURL, KeyPrefix: "socket.io", Mode: mode, Logger: logger})
	if err != nil {
		t.Fatalf("redisadapter.Open: %v", err)
	}
	t.Cleanup(func() { _ = ac.Close() })
	fwd, err := forward.New(forward.Config{Registry: ac.Nodes(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	n := &rrNode{ioNode: &ioNode{name: name, adapter: ac, log: newEventLog("iobridge " + name)}, fwd: fwd}
	n.srv = socketio.NewServer(socketio.Config{
		Engine:  engineio.Config{Path: "/socket.io/", NodeID: fwd.ID(), Forward: fwd.Forward, Logger: logger},
		Adapter: ac.Factory(),
		Logger:  logger,
	})
	n.srv.Of("/").OnConnection(func(s *socketio.Socket) {
		id := s.ID()
		n.log.add(event{Type: "connection", ID: id})
		s.On("echo", func(e socketio.Event) {
			if e.Ack != nil {
				_ = e.Ack(e.Args, e.Attachments)
			}
		})
		s.OnDisconnect(func(r socketio.DisconnectReason) {
			n.log.add(event{Type: "disconnect", ID: id, Reason: string(r)})
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.addr = ln.Addr().String()
	n.url = "http://" + n.addr
	n.hs = &http.Server{Handler: n.srv, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
	go func() { _ = n.hs.Serve(ln) }()
	if err := fwd.SetURL(n.url); err != nil {
		t.Fatal(err)
	}
	if err := fwd.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{Token: apiToken, Server: n.srv, Executor: translate.NewExecutor(n.srv), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	apiSrv := httptest.NewServer(a.Handler())
	n.apiURL = apiSrv.URL
	t.Cleanup(func() {
		apiSrv.Close()
		_ = fwd.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = n.srv.Shutdown(ctx)
		_ = n.hs.Close()
	})
	return n
}

// kill drops the node as SIGKILL would, as far as the others can tell:
// its listener and every connection close at once, its registration is
// left to lapse, its Redis connections close. Nothing is said to clients.
func (n *rrNode) kill() {
	n.fwd.Stop()
	_ = n.hs.Close()
	_ = n.adapter.Close()
}

// rrProxy is the load balancer: every GET goes to the next node, every
// POST to the next node (a counter per method), with no stickiness. A
// node whose dial fails is taken out (passive health check, as nginx's
// max_fails) and the request, not sent yet, goes to the next one.
type rrProxy struct {
	url string

	mu       sync.Mutex
	backends []string // host:port
	dead     []bool
	next     map[string]int
	seen     []proxied
	// ownerOf, when set, gives the backend owning a sid: a WebSocket
	// upgrade then goes to the next node that does not own its session,
	// so that the upgrade through a forwarding node is what runs.
	ownerOf func(sid string) string
}

// proxied is one request the proxy passed on.
type proxied struct {
	method, sid, backend string
	status               int // 502: the proxy could not get an answer
	upgrade              bool
}

func startRRProxy(t *testing.T, addrs []string) *rrProxy {
	t.Helper()
	p := &rrProxy{next: map[string]int{}}
	for _, a := range addrs {
		p.backends = append(p.backends, a)
		p.dead = append(p.dead, false)
	}
	base := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "backend" // rrTransport picks it
			pr.SetXForwarded()
		},
		Transport: rrTransport{p: p, base: base},
		ErrorLog:  slog.NewLogLogger(slog.New(slog.DiscardHandler).Handler(), slog.LevelDebug),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.record(proxied{method: r.Method, sid: r.URL.Query().Get("sid"), status: http.StatusBadGateway, upgrade: r.Header.Get("Upgrade") != ""})
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	ts := httptest.NewServer(rp)
	t.Cleanup(ts.Close)
	p.url = ts.URL
	return p
}

func (p *rrProxy) record(r proxied) {
	p.mu.Lock()
	p.seen = append(p.seen, r)
	p.mu.Unlock()
}

// pick returns the next live backend for method, not avoid, or -1.
func (p *rrProxy) pick(method, avoid string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.backends {
		i := p.next[method] % len(p.backends)
		p.next[method]++
		if !p.dead[i] && p.backends[i] != avoid {
			return i
		}
	}
	return -1
}

func (p *rrProxy) markDead(i int) {
	p.mu.Lock()
	p.dead[i] = true
	p.mu.Unlock()
}

// requests returns what the proxy saw.
func (p *rrProxy) requests() []proxied {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

type rrTransport struct {
	p    *rrProxy
	base http.RoundTripper
}

func (rt rrTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	var avoid string
	if req.Header.Get("Upgrade") != "" && rt.p.ownerOf != nil {
		avoid = rt.p.ownerOf(req.URL.Query().Get("sid"))
	}
	for {
		i := rt.p.pick(req.Method, avoid)
		if i < 0 {
			return nil, errors.New("no live backend")
		}
		out := req.Clone(req.Context())
		out.URL.Host = rt.p.backends[i]
		out.Host = rt.p.backends[i]
		if body != nil {
			out.Body = io.NopCloser(bytes.NewReader(body))
			out.ContentLength = int64(len(body))
		}
		res, err := rt.base.RoundTrip(out)
		var op *net.OpError
		if err != nil && errors.As(err, &op) && op.Op == "dial" {
			rt.p.markDead(i) // not sent: the next node gets it
			continue
		}
		if err == nil {
			rt.p.record(proxied{method: req.Method, sid: req.URL.Query().Get("sid"), backend: rt.p.backends[i], status: res.StatusCode, upgrade: req.Header.Get("Upgrade") != ""})
		}
		return res, err
	}
}

// startRRCluster starts redis-server, n nodes in the adapter mode and
// the proxy in front.
func startRRCluster(t *testing.T, n int, mode string) ([]*rrNode, *rrProxy) {
	t.Helper()
	r := startRedis(t)
	var nodes []*rrNode
	for i := range n {
		nodes = append(nodes, startRRNode(t, string(rune('A'+i)), r.URL(), mode))
	}
	for _, nd := range nodes {
		eventually(t, "iobridge "+nd.name+" Ready", func() (bool, string) {
			err := nd.adapter.Ready()
			return err == nil, fmt.Sprint(err)
		})
	}
	var addrs []string
	for _, nd := range nodes {
		addrs = append(addrs, nd.addr)
	}
	p := startRRProxy(t, addrs)
	p.ownerOf = func(sid string) string {
		for _, n := range nodes {
			if engineio.SIDNode(sid) == n.fwd.ID() {
				return n.addr
			}
		}
		return ""
	}
	return nodes, p
}

// owner returns the node whose id the sid carries.
func owner(t testing.TB, nodes []*rrNode, sid string) *rrNode {
	t.Helper()
	for _, n := range nodes {
		if engineio.SIDNode(sid) == n.fwd.ID() {
			return n
		}
	}
	t.Fatalf("sid %q carries no node's id", sid)
	return nil
}

// connectRR connects a socket through the proxy with opts as given (the
// harness's connect sets fast reconnection; these tests use the client's
// defaults where they say so).
func connectRR(c *client, name, url string, opts map[string]any) {
	c.t.Helper()
	c.send(map[string]any{"cmd": "connect", "socket": name, "url": url, "nsp": "/", "opts": opts})
}

func TestRoundRobinPolling(t *testing.T) {
	redisServerPath(t) // fail, never skip, without redis-server
	for _, tc := range []struct {
		name    string
		nodes   int
		upgrade bool
		mode    string
	}{
		{"two nodes polling", 2, false, "classic"},
		{"two nodes upgrade", 2, true, "classic"},
		{"three nodes polling", 3, false, "classic"},
		{"three nodes upgrade", 3, true, "classic"},
		// Forwarding does not depend on the mode; the emit from another
		// node's API goes through the stream.
		{"two nodes polling streams", 2, false, "streams"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nodes, proxy := startRRCluster(t, tc.nodes, tc.mode)
			c := startClient(t)
			opts := map[string]any{"reconnection": false, "timeout": int(waitTimeout / time.Millisecond), "transports": []string{"polling"}}
			if tc.upgrade {
				opts["transports"] = []string{"polling", "websocket"}
			}
			connectRR(c, "s", proxy.url, opts)
			conn := c.wait("connect", "s")
			if !tc.upgrade && conn.Transport != "polling" {
				t.Fatalf("connected over %q, want polling", conn.Transport)
			}
			if tc.upgrade {
				up := c.log.wait(t, "upgrade", func(e event) bool { return e.Type == "upgrade" && e.Manager == "s" })
				if up.Transport != "websocket" {
					t.Fatalf("upgrade to %q, want websocket", up.Transport)
				}
			}
			for i := range 10 {
				got := c.call("s", "echo", i, "round robin")
				sameJSON(t, fmt.Sprintf("ack %d", i), got, []any{i, "round robin"})
			}
			st := c.state("s")
			own := owner(t, nodes, st.SID)
			if tc.upgrade && st.Transport != "websocket" {
				t.Errorf("transport after the upgrade = %q, want websocket", st.Transport)
			}
			// An emit from the control API of another node reaches it.
			for _, n := range nodes {
				if n == own {
					continue
				}
				n.expect(t, "POST", "/v1/emit", `{"namespace":"/","to":["`+conn.ID+`"],"event":"from-api","args":["`+n.name+`"]}`, http.StatusAccepted, nil)
				e := c.waitEvent("s", "from-api")
				sameJSON(t, "from-api args", e.Args, []any{n.name})
			}
			// The proxy spread the session's requests over the nodes and
			// never got a 4xx or 5xx.
			reqs := proxy.requests()
			backends := map[string]int{}
			var bad []string
			upgraded := false
			for _, r := range reqs {
				if r.sid == st.SID && !r.upgrade {
					backends[r.backend]++
				}
				if r.sid == st.SID && r.upgrade && r.status == http.StatusSwitchingProtocols {
					upgraded = true
					if r.backend == own.addr {
						t.Errorf("the upgrade went to the owner %s; the proxy should have sent it elsewhere", own.name)
					}
				}
				if r.status >= 400 {
					bad = append(bad, fmt.Sprintf("%s sid=%s -> %s: %d", r.method, r.sid, r.backend, r.status))
				}
			}
			if len(bad) > 0 {
				t.Errorf("the proxy saw %d failed requests:\n  %s", len(bad), strings.Join(bad, "\n  "))
			}
			if tc.upgrade && !upgraded {
				t.Error("the proxy saw no upgrade answered 101")
			}
			if !tc.upgrade && len(backends) != tc.nodes {
				t.Errorf("the session's polling requests reached %d nodes (%v), want all %d", len(backends), backends, tc.nodes)
			}
			var forwarded uint64
			for _, n := range nodes {
				if n != own {
					forwarded += n.fwd.Stats().Forwarded
				}
			}
			if forwarded == 0 {
				t.Error("no request was forwarded to the owner")
			}
			t.Logf("%d requests through the proxy, spread %v; %d forwarded to the owner %s", len(reqs), backends, forwarded, own.name)
		})
	}
}

// reconnectBound bounds how long after its node is killed a polling
// client is connected again through the proxy, with socket.io-client's
// default reconnection (first attempt after 1s ± 50%). Measured: see the
// test's log line and README's Scale-out section.
const reconnectBound = 5 * time.Second

// TestRoundRobinNodeKilled: a node dies while its polling clients have
// requests in flight (each keeps a GET parked). They see "transport
// error" and reconnect, through the proxy, to a live node within
// reconnectBound, with socket.io-client's default reconnection settings.
// Clients of the surviving node whose GET was parked through the killed
// node (the proxy sent it there, and it forwarded it) lose that request
// too and reconnect the same way; the others carry on.
func TestRoundRobinNodeKilled(t *testing.T) {
	redisServerPath(t)
	nodes, proxy := startRRCluster(t, 2, "classic")
	c := startClient(t)
	names := connectKillClients(t, c, proxy.url)
	owners := map[string]*rrNode{}
	for _, name := range names {
		owners[name] = owner(t, nodes, c.state(name).SID)
	}
	victim := owners[names[0]]
	watchKill(t, c, names, func(name string) bool { return owners[name] == victim }, victim.name, victim.kill)
	// Everyone works again, on the live node.
	live := nodes[0]
	if live == victim {
		live = nodes[1]
	}
	for _, name := range names {
		got := c.call(name, "echo", name)
		sameJSON(t, name+" ack after the kill", got, []any{name})
		if o := owner(t, nodes, c.state(name).SID); o != live {
			t.Errorf("%s is on node %s after the kill, want %s", name, o.name, live.name)
		}
	}
	// No 5xx from an iobridge node: the failures the clients met were
	// the proxy's own 502s (a request it had sent to the killed node) and
	// iobridge's 400 "Session ID unknown".
	for _, r := range proxy.requests() {
		if r.status >= 500 && r.backend != "" {
			t.Errorf("%s sid=%s: %d from node %s", r.method, r.sid, r.status, r.backend)
		}
	}
}

// killClients is how many polling clients the kill tests connect.
const killClients = 8

// connectKillClients connects killClients polling sockets through the
// proxy at url, with socket.io-client's default reconnection, and waits
// for them; it returns their names.
func connectKillClients(t *testing.T, c *client, url string) []string {
	t.Helper()
	opts := map[string]any{
		"transports": []string{"polling"},
		"timeout":    int(waitTimeout / time.Millisecond),
		// socket.io-client's defaults, spelled out: reconnection on, 1s
		// delay, 5s max, randomization 0.5.
		"reconnection": true, "reconnectionDelay": 1000, "reconnectionDelayMax": 5000, "randomizationFactor": 0.5,
	}
	names := make([]string, killClients)
	for i := range names {
		names[i] = fmt.Sprintf("k%d", i)
		connectRR(c, names[i], url, opts)
	}
	for _, name := range names {
		c.wait("connect", name)
	}
	return names
}

// watchKill kills a node (kill) while every client has a GET parked and
// the victim's clients (onVictim) each an ack in flight, then waits until
// every client that lost its connection is connected again. It checks
// the disconnect reasons and reconnectBound, and logs what each client saw
// and when.
func watchKill(t *testing.T, c *client, names []string, onVictim func(string) bool, victimName string, kill func()) {
	t.Helper()
	victims := 0
	for _, name := range names {
		if onVictim(name) {
			victims++
			c.emitAck(name, 0, "echo", "in flight")
		}
	}
	if victims == 0 {
		t.Fatal("no client on the node to kill")
	}
	type seen struct {
		reason           string
		down, back       time.Duration
		disconnected, ok bool
	}
	got := map[string]*seen{}
	for _, name := range names {
		got[name] = &seen{}
	}
	killed := time.Now()
	kill()
	deadline := time.Now().Add(waitTimeout)
	for {
		pending := 0
		for _, name := range names {
			s := got[name]
			if !s.disconnected {
				if e, ok, _, _ := c.log.take(func(e event) bool { return e.Type == "disconnect" && e.Socket == name }); ok {
					s.disconnected, s.reason, s.down = true, e.Reason, time.Since(killed)
				}
			}
			if s.disconnected && !s.ok {
				if _, ok, _, _ := c.log.take(func(e event) bool { return e.Type == "connect" && e.Socket == name }); ok {
					s.ok, s.back = true, time.Since(killed)
				}
			}
			if (onVictim(name) || s.disconnected) && !s.ok {
				pending++
			}
		}
		// Past 500ms every request that went through the killed node
		// has failed (they fail within tens of milliseconds).
		if pending == 0 && time.Since(killed) > 500*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d clients not back within %v; client events:\n%s", pending, waitTimeout, c.log.dump())
		}
		time.Sleep(5 * time.Millisecond)
	}
	var worst time.Duration
	var lines []string
	for _, name := range names {
		s := got[name]
		where := "survivor"
		if onVictim(name) {
			where = "victim"
		}
		if !s.disconnected {
			lines = append(lines, fmt.Sprintf("%s (%s): stayed connected", name, where))
			if onVictim(name) {
				t.Errorf("%s: its node was killed but it saw no disconnect", name)
			}
			continue
		}
		if s.reason != "transport error" && s.reason != "transport close" {
			t.Errorf("%s: disconnect reason %q, want transport error or transport close", name, s.reason)
		}
		if s.back > reconnectBound {
			t.Errorf("%s: connected again %v after the kill, want within %v", name, s.back.Round(time.Millisecond), reconnectBound)
		}
		worst = max(worst, s.back)
		lines = append(lines, fmt.Sprintf("%s (%s): %q after %v, connected again after %v", name, where, s.reason, s.down.Round(time.Millisecond), s.back.Round(time.Millisecond)))
	}
	sort.Strings(lines)
	t.Logf("node %s killed with %d of %d clients; slowest back after %v:\n  %s", victimName, victims, len(names), worst.Round(time.Millisecond), strings.Join(lines, "\n  "))
}
