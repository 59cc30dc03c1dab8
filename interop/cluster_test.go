package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	redisadapter "github.com/iobridge/iobridge/proxy/adapter/redis"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/api"
)

// Mixed clusters: one Node.js socket.io server with @socket.io/redis-adapter
// (cluster.js) and two iobridge nodes with the Redis adapter share one
// redis-server; real socket.io-client sockets connect to all three. Each
// mode gets one cluster, shared by its subtests (run in order), so that the
// whole test stays within the CI budget; the modes run in parallel.

// clusterModes are the adapter modes a mixed cluster runs in.
var clusterModes = []struct {
	name, mode, sub string
}{
	{"classic", "classic", ""},
	{"sharded-dynamic", "sharded", "dynamic"},
	{"sharded-static", "sharded", "static"},
}

// restoreBound bounds how long after Redis comes back (on the same port)
// iobridge must be Ready and broadcasts must flow again both ways.
const restoreBound = 10 * time.Second

type cluster struct {
	mode, sub string
	redis     *redisServer
	node      *nodeServer
	a, b      *ioNode
}

// dynamic reports whether rooms have their own channels (SSUBSCRIBEd when a
// node hosts the room): the test waits for those subscriptions before
// emitting to a room, as a Node app would race them too.
func (c *cluster) dynamic() bool { return c.mode == "sharded" && c.sub != "static" }

func TestCluster(t *testing.T) {
	redisServerPath(t) // fail, never skip, without redis-server
	for _, m := range clusterModes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			cl := startCluster(t, m.mode, m.sub)
			t.Run("ServerCount", cl.testServerCount)
			t.Run("Broadcast", cl.testBroadcast)
			t.Run("FetchSocketsAndRooms", cl.testFetchSockets)
			t.Run("RemoteJoinLeaveDisconnect", cl.testRemoteOps)
			t.Run("Acks", cl.testAcks)
			t.Run("ServerSideEmit", cl.testServerSideEmit)
			if m.mode == "classic" {
				// @socket.io/redis-emitter speaks the classic protocol only.
				t.Run("Emitter", cl.testEmitter)
			}
			t.Run("RedisKilledAndRestarted", cl.testRedisRestart)
		})
	}
}

func startCluster(t *testing.T, mode, sub string) *cluster {
	t.Helper()
	cl := &cluster{mode: mode, sub: sub}
	cl.redis = startRedis(t)
	cl.node = startNodeServer(t, cl.redis.URL(), mode, sub)
	cl.a = startIONode(t, "A", cl.redis.URL(), mode, sub)
	cl.b = startIONode(t, "B", cl.redis.URL(), mode, sub)
	for _, n := range []*ioNode{cl.a, cl.b} {
		eventually(t, "iobridge "+n.name+" Ready", func() (bool, string) {
			err := n.adapter.Ready()
			return err == nil, fmt.Sprint(err)
		})
	}
	// One request-channel subscriber per namespace and node: Node's
	// requests wait for exactly that many answers.
	for _, nsp := range []string{"/", "/chat"} {
		eventually(t, "Node's serverCount of "+nsp+" = 3", func() (bool, string) {
			got := cl.node.ok(t, map[string]any{"cmd": "serverCount", "nsp": nsp})
			return string(got) == "3", string(got)
		})
	}
	return cl
}

// nodeServer is cluster.js: the Node member of the cluster.
type nodeServer struct {
	*node
	url string
	seq int
}

func startNodeServer(t *testing.T, redisURL, mode, sub string) *nodeServer {
	t.Helper()
	cfg, _ := json.Marshal(map[string]string{"url": redisURL, "mode": mode, "subscriptionMode": sub})
	n := startNode(t, "node cluster server ("+mode+")", "cluster.js", string(cfg))
	l := n.log.wait(t, "listening", is("listening"))
	return &nodeServer{node: n, url: fmt.Sprintf("http://127.0.0.1:%d", l.Port)}
}

// do sends a command to cluster.js (or emitter.js) and waits for its result.
// t is the running (sub)test, not the one that started the process.
func (n *nodeServer) do(t testing.TB, cmd map[string]any) event {
	t.Helper()
	return n.result(t, n.start(t, cmd))
}

// start sends a command and returns the id its result will carry.
func (n *nodeServer) start(t testing.TB, cmd map[string]any) string {
	t.Helper()
	n.mu.Lock()
	n.seq++
	id := fmt.Sprintf("c%d", n.seq)
	n.mu.Unlock()
	cmd["id"] = id
	writeLine(t, n.node, cmd)
	return id
}

// result waits for the result of the command start sent as id.
func (n *nodeServer) result(t testing.TB, id string) event {
	t.Helper()
	return n.log.wait(t, "result of command "+id, func(e event) bool { return e.Type == "result" && e.ID == id })
}

// ok is do for a command that must succeed: its result.
func (n *nodeServer) ok(t testing.TB, cmd map[string]any) json.RawMessage {
	t.Helper()
	e := n.do(t, cmd)
	if e.Error != nil {
		t.Fatalf("%s: %v failed: %s", n.log.name, cmd, *e.Error)
	}
	return e.Data
}

// writeLine writes one JSON command to a node process, failing t (not the
// test that started the process) on error.
func writeLine(t testing.TB, n *node, cmd map[string]any) {
	t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		t.Fatalf("encode command: %v", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.stdin.Write(append(b, '\n')); err != nil {
		t.Fatalf("%s: write command %s: %v\n%s", n.log.name, b, err, n.log.dump())
	}
}

// nodeSocket is one socket as cluster.js's fetchSockets describes it.
type nodeSocket struct {
	ID        string          `json:"id"`
	Rooms     []string        `json:"rooms"`
	Data      json.RawMessage `json:"data"`
	Handshake struct {
		Headers map[string]any  `json:"headers"`
		Time    string          `json:"time"`
		Address string          `json:"address"`
		XDomain *bool           `json:"xdomain"`
		Secure  *bool           `json:"secure"`
		Issued  float64         `json:"issued"`
		URL     string          `json:"url"`
		Query   map[string]any  `json:"query"`
		Auth    json.RawMessage `json:"auth"`
	} `json:"handshake"`
}

// fetch is Node's fetchSockets() in nsp, to rooms when given.
func (n *nodeServer) fetch(t testing.TB, nsp string, rooms ...string) []nodeSocket {
	t.Helper()
	cmd := map[string]any{"cmd": "fetchSockets", "nsp": nsp}
	if len(rooms) > 0 {
		cmd["rooms"] = rooms
	}
	raw := n.ok(t, cmd)
	var out []nodeSocket
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("fetchSockets result %s: %v", raw, err)
	}
	return out
}

// ioNode is one iobridge node: its Socket.IO server with the Redis
// adapter and the control API in front of it.
type ioNode struct {
	name    string
	srv     *socketio.Server
	adapter *redisadapter.Cluster
	url     string // the Socket.IO side, for client.js
	apiURL  string
	// log holds the node's observations: connection, disconnect (with the
	// server-side reason) and serverSideEmit lines, as cluster.js writes
	// them.
	log *eventLog
}

func startIONode(t *testing.T, name, redisURL, mode, sub string) *ioNode {
	t.Helper()
	return startIONodeWith(t, name, redisURL, mode, sub, 0)
}

// startIONodeWith is startIONode with a connection state recovery window
// (zero: off).
func startIONodeWith(t testing.TB, name, redisURL, mode, sub string, recovery time.Duration) *ioNode {
	t.Helper()
	logs := &lockedBuffer{}
	level := slog.LevelWarn
	var w io.Writer = logs
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		level = slog.LevelDebug
		w = io.MultiWriter(logs, &testWriter{t: tt})
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("node", name)
	t.Cleanup(func() {
		if t.Failed() && !testing.Verbose() {
			t.Logf("iobridge %s logs (warnings and errors):\n%s", name, lockedString(logs))
		}
	})

	ac, err := redisadapter.Open(context.Background(), redisadapter.Config{
		URL:              redisURL,
		KeyPrefix:        "socket.io",
		Mode:             mode,
		SubscriptionMode: sub,
		RequestTimeout:   5 * time.Second,
		Logger:           logger,
	})
	if err != nil {
		t.Fatalf("redisadapter.Open: %v", err)
	}
	t.Cleanup(func() { _ = ac.Close() })
	n := &ioNode{name: name, adapter: ac, log: newEventLog("iobridge " + name)}
	n.srv = socketio.NewServer(socketio.Config{
		Engine:   engineio.Config{Path: "/socket.io/", Logger: logger},
		Adapter:  ac.Factory(),
		Logger:   logger,
		Recovery: recovery,
	})
	data := json.RawMessage(`{"node":"` + name + `"}`)
	for _, nspName := range []string{"/", "/chat"} {
		nsp := n.srv.Of(nspName)
		nsp.OnConnection(func(s *socketio.Socket) {
			id := s.ID()
			s.SetData(data)
			n.log.add(event{Type: "connection", NSP: nspName, ID: id, Auth: s.Handshake().Auth, Recovered: s.Recovered()})
			s.OnDisconnect(func(r socketio.DisconnectReason) {
				n.log.add(event{Type: "disconnect", NSP: nspName, ID: id, Reason: string(r)})
			})
		})
		nsp.OnServerSideEmit(func(ev string, args []json.RawMessage) {
			b, _ := json.Marshal(args)
			if args == nil {
				b = []byte("[]")
			}
			n.log.add(event{Type: "serverSideEmit", NSP: nspName, Event: ev, Args: b})
		})
	}
	sio := httptest.NewServer(n.srv)
	a, err := api.New(api.Config{Token: apiToken, Server: n.srv, Executor: translate.NewExecutor(n.srv), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := n.srv.Shutdown(ctx); err != nil {
			t.Errorf("iobridge %s: socketio Shutdown: %v", name, err)
		}
		sio.Close()
	})
	n.url, n.apiURL = sio.URL, hs.URL
	return n
}

// call sends a control API request with the token; it returns the status
// and body.
func (n *ioNode) call(t testing.TB, method, path, body string) (int, string) {
	t.Helper()
	st, b, err := n.request(t.Context(), method, path, body)
	if err != nil {
		t.Fatalf("iobridge %s: %s %s: %v", n.name, method, path, err)
	}
	return st, b
}

// request is call for goroutines other than the test's: it fails nothing.
func (n *ioNode) request(ctx context.Context, method, path, body string) (int, string, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.apiURL+path, r)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// expect calls the API and checks the status, and the answer when want is
// not nil.
func (n *ioNode) expect(t testing.TB, method, path, body string, status int, want any) string {
	t.Helper()
	got, b := n.call(t, method, path, body)
	if got != status {
		t.Fatalf("iobridge %s: %s %s %s = %d %s, want %d", n.name, method, path, body, got, b, status)
	}
	if want != nil {
		sameJSON(t, "iobridge "+n.name+": "+method+" "+path, json.RawMessage(b), want)
	}
	return b
}

// apiSocket is one socket of GET /v1/sockets.
type apiSocket struct {
	ID        string          `json:"id"`
	Rooms     []string        `json:"rooms"`
	Data      json.RawMessage `json:"data"`
	Handshake struct {
		Auth    json.RawMessage   `json:"auth"`
		Query   map[string]string `json:"query"`
		Headers map[string]string `json:"headers"`
		Address string            `json:"address"`
	} `json:"handshake"`
}

func (n *ioNode) sockets(t testing.TB, query string) []apiSocket {
	t.Helper()
	body := n.expect(t, "GET", "/v1/sockets?"+query, "", 200, nil)
	var got struct {
		Sockets []apiSocket `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("GET /v1/sockets?%s = %s: %v", query, body, err)
	}
	return got.Sockets
}

// localRooms is the rooms of a socket of this node, straight from its
// adapter (nil when the socket is not here).
func (n *ioNode) localRooms(nsp, id string) []string {
	ns, ok := n.srv.Namespace(nsp)
	if !ok {
		return nil
	}
	s := ns.Socket(id)
	if s == nil {
		return nil
	}
	return s.Rooms()
}

// eventually polls cond until it holds, failing t after waitTimeout with
// cond's last description. It is for state that has no event to wait on
// (a remote join applied, a subscription restored).
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	eventuallyWithin(t, waitTimeout, what, cond)
}

func eventuallyWithin(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last: %s", what, d, last)
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatalf("%s: test ended", what)
		}
	}
}

// waitRoomChannel waits until n nodes SSUBSCRIBE the dynamic channel of a
// room (sharded dynamic mode only; a no-op otherwise).
func (c *cluster) waitRoomChannel(t testing.TB, nsp, room string, n int) {
	t.Helper()
	if !c.dynamic() {
		return
	}
	rc := c.redis.Client()
	ch := "socket.io#" + nsp + "#" + room + "#"
	eventually(t, fmt.Sprintf("%d subscribers of %s", n, ch), func() (bool, string) {
		m, err := rc.PubSubShardNumSub(t.Context(), ch).Result()
		if err != nil {
			return false, err.Error()
		}
		return m[ch] == int64(n), fmt.Sprint(m)
	})
}

// waitMembers waits until Node's fetchSockets of room lists exactly ids.
func (c *cluster) waitMembers(t testing.TB, nsp, room string, ids ...string) {
	t.Helper()
	want := slices.Clone(ids)
	slices.Sort(want)
	eventually(t, fmt.Sprintf("Node's fetchSockets(%s, room %q) = %v", nsp, room, want), func() (bool, string) {
		var got []string
		for _, s := range c.node.fetch(t, nsp, room) {
			got = append(got, s.ID)
		}
		slices.Sort(got)
		return slices.Equal(got, want), fmt.Sprint(got)
	})
}

// joinAll makes ids join room through iobridge A's control API (the local
// socket directly, the others through Redis), and waits until the whole
// cluster sees it.
func (c *cluster) joinAll(t testing.TB, nsp, room string, ids ...string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"namespace": nsp, "to": ids, "rooms": []string{room}})
	c.a.expect(t, "POST", "/v1/join", string(b), 200, nil)
	c.waitMembers(t, nsp, room, ids...)
}

// clientSocket is a connected client.js socket.
type clientSocket struct {
	name, id string
}

func connectTo(t *testing.T, c *client, name, url, nsp string, auth any) clientSocket {
	t.Helper()
	e := connected(t, c, name, url, connectOpts{NSP: nsp, Transports: websocket, Auth: auth})
	return clientSocket{name: name, id: e.ID}
}

// count is how many times socket got event ev, consumed or not.
func count(c *client, socket, ev string) int {
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	n := 0
	for _, e := range c.log.events {
		if e.Type == "event" && e.Socket == socket && e.Event == ev {
			n++
		}
	}
	return n
}

// expectEvent waits for ev on each socket with args want.
func expectEvent(t *testing.T, c *client, ev string, want any, socks ...clientSocket) {
	t.Helper()
	for _, s := range socks {
		e := c.waitEvent(s.name, ev)
		sameJSON(t, fmt.Sprintf("%s args on %s", ev, s.name), e.Args, want)
	}
}

// expectOnly checks, once markers have arrived everywhere, that each event
// reached exactly its sockets, once.
func expectOnly(t *testing.T, c *client, all []clientSocket, want map[string][]clientSocket) {
	t.Helper()
	for ev, socks := range want {
		for _, s := range all {
			n := count(c, s.name, ev)
			w := 0
			if slices.Contains(socks, s) {
				w = 1
			}
			if n != w {
				t.Errorf("%s got %q %d times, want %d", s.name, ev, n, w)
			}
		}
	}
	if t.Failed() {
		t.Fatalf("client events:\n%s", c.log.dump())
	}
}
