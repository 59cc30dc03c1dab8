package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// A mixed cluster in the streams mode: a Node.js socket.io server with
// @socket.io/redis-streams-adapter 0.3.1 and connection state recovery
// (streams.js), and iobridge nodes in mode "streams" with the same
// recovery window, on one redis-server. Clients reach a node through a
// proxy whose target the test switches, as a load balancer sending a
// reconnecting client elsewhere: a session persisted by one node is
// restored by another, both ways.

// streamsWindow is the recovery window of every node: short, so that the
// expiry case waits little.
const streamsWindow = 3 * time.Second

var offsetRE = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// switchProxy is a load balancer in front of the nodes: clients keep its
// URL, the test picks the node behind it.
type switchProxy struct {
	target atomic.Pointer[url.URL]
	url    string
}

func startSwitchProxy(t testing.TB, first string) *switchProxy {
	t.Helper()
	p := &switchProxy{}
	p.to(t, first)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(p.target.Load()) }}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// to sends the next connections to u.
func (p *switchProxy) to(t testing.TB, u string) {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.target.Store(parsed)
}

// streamsNode is streams.js.
type streamsNode struct {
	nodeServer
}

func startStreamsNode(t *testing.T, redisURL string, window time.Duration) *streamsNode {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"url": redisURL, "window": window.Milliseconds()})
	n := startNode(t, "node streams server", "streams.js", string(cfg))
	l := n.log.wait(t, "listening", is("listening"))
	return &streamsNode{nodeServer{node: n, url: fmt.Sprintf("http://127.0.0.1:%d", l.Port)}}
}

// members is Node's fetchSockets of room: the ids, sorted.
func (n *streamsNode) members(t testing.TB, room string) []string {
	t.Helper()
	raw := n.ok(t, map[string]any{"cmd": "fetchSockets", "rooms": []string{room}})
	var got []struct{ ID string }
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("fetchSockets %s: %v", raw, err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

// lastOffset returns the offset an event carries as its last argument,
// failing when there is none.
func lastOffset(t testing.TB, e event) string {
	t.Helper()
	var args []json.RawMessage
	_ = json.Unmarshal(e.Args, &args)
	var off string
	if len(args) > 0 {
		_ = json.Unmarshal(args[len(args)-1], &off)
	}
	if !offsetRE.MatchString(off) {
		t.Fatalf("event %s: last argument is not a stream offset", e)
	}
	return off
}

// order is the events named in names that socket got, in arrival order.
func order(c *client, socket string, names ...string) []string {
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	var out []string
	for _, e := range c.log.events {
		if e.Type == "event" && e.Socket == socket && slices.Contains(names, e.Event) {
			out = append(out, e.Event)
		}
	}
	return out
}

func TestStreamsCluster(t *testing.T) {
	redisServerPath(t) // fail, never skip, without redis-server
	r := startRedis(t)
	node := startStreamsNode(t, r.URL(), streamsWindow)
	a := startIONodeWith(t, "A", r.URL(), "streams", "", streamsWindow)
	b := startIONodeWith(t, "B", r.URL(), "streams", "", streamsWindow)
	for _, n := range []*ioNode{a, b} {
		eventually(t, "iobridge "+n.name+" Ready", func() (bool, string) {
			err := n.adapter.Ready()
			return err == nil, fmt.Sprint(err)
		})
	}
	eventually(t, "Node's serverCount = 3", func() (bool, string) {
		got := node.ok(t, map[string]any{"cmd": "serverCount"})
		return string(got) == "3", string(got)
	})
	// emit emits through an iobridge node's control API.
	emit := func(t *testing.T, n *ioNode, to []string, ev string, args ...any) {
		t.Helper()
		body := map[string]any{"namespace": "/", "event": ev, "args": nonNil(args)}
		if to != nil {
			body["to"] = to
		}
		js, _ := json.Marshal(body)
		n.expect(t, "POST", "/v1/emit", string(js), 202, nil)
	}
	join := func(t *testing.T, room string, ids ...string) {
		t.Helper()
		js, _ := json.Marshal(map[string]any{"namespace": "/", "to": ids, "rooms": []string{room}})
		a.expect(t, "POST", "/v1/join", string(js), 200, nil)
		want := slices.Clone(ids)
		slices.Sort(want)
		eventually(t, "Node sees "+room, func() (bool, string) {
			got := node.members(t, room)
			return slices.Equal(got, want), fmt.Sprint(got)
		})
	}

	t.Run("Broadcast", func(t *testing.T) {
		c := startClient(t)
		sa := connectTo(t, c, "ba", a.url, "/", nil)
		sb := connectTo(t, c, "bb", b.url, "/", nil)
		sn := connectTo(t, c, "bn", node.url, "/", nil)
		all := []clientSocket{sa, sb, sn}
		// Node to everyone, binary included: one entry id, the same
		// offset on every node.
		node.ok(t, map[string]any{"cmd": "emit", "event": "from-node", "args": []any{1, binary{[]byte{1, 2}}}})
		var offsets []string
		for _, s := range all {
			e := c.waitEvent(s.name, "from-node")
			sameJSON(t, "from-node on "+s.name, firstArgs(t, e.Args, 2), []any{1, binary{[]byte{1, 2}}})
			offsets = append(offsets, lastOffset(t, e))
		}
		if offsets[0] != offsets[1] || offsets[1] != offsets[2] {
			t.Errorf("offsets of one broadcast differ between nodes: %v", offsets)
		}
		// iobridge to everyone, binary included.
		emit(t, a, nil, "from-a", 2, binary{[]byte{3, 4}})
		offsets = offsets[:0]
		for _, s := range all {
			e := c.waitEvent(s.name, "from-a")
			sameJSON(t, "from-a on "+s.name, firstArgs(t, e.Args, 2), []any{2, binary{[]byte{3, 4}}})
			offsets = append(offsets, lastOffset(t, e))
		}
		if offsets[0] != offsets[1] || offsets[1] != offsets[2] {
			t.Errorf("offsets of one broadcast differ between nodes: %v", offsets)
		}
		// A room with members on Node and on B, from B and from Node.
		join(t, "news", sb.id, sn.id)
		emit(t, b, []string{"news"}, "news-b", 3)
		node.ok(t, map[string]any{"cmd": "emit", "rooms": []string{"news"}, "event": "news-node", "args": []any{4}})
		for _, s := range []clientSocket{sb, sn} {
			sameJSON(t, "news-b on "+s.name, firstArgs(t, c.waitEvent(s.name, "news-b").Args, 1), []any{3})
			sameJSON(t, "news-node on "+s.name, firstArgs(t, c.waitEvent(s.name, "news-node").Args, 1), []any{4})
		}
		emit(t, b, nil, "marker")
		node.ok(t, map[string]any{"cmd": "emit", "event": "marker2"})
		for _, s := range all {
			c.waitEvent(s.name, "marker")
			c.waitEvent(s.name, "marker2")
		}
		expectOnly(t, c, all, map[string][]clientSocket{"news-b": {sb, sn}, "news-node": {sb, sn}})
	})

	t.Run("AcksAndQueries", func(t *testing.T) {
		c := startClient(t)
		qa := connectTo(t, c, "qa", a.url, "/", nil)
		qn := connectTo(t, c, "qn", node.url, "/", nil)
		// iobridge's fetch reaches Node (FETCH_SOCKETS over pub/sub, the
		// answer in msgpack on the private channel), Node's reaches
		// iobridge (join waits on it).
		ids := map[string]bool{}
		for _, s := range b.sockets(t, "namespace=/") {
			ids[s.ID] = true
		}
		if !ids[qa.id] || !ids[qn.id] {
			t.Fatalf("B's /v1/sockets = %v, want %s and %s among them", ids, qa.id, qn.id)
		}
		join(t, "q", qa.id, qn.id)
		// A broadcast with acks from B: each node answers its client
		// count, then each ack.
		type answer struct {
			status int
			body   string
			err    error
		}
		done := make(chan answer, 1)
		go func() {
			st, body, err := b.request(t.Context(), "POST", "/v1/emit", `{"namespace":"/","to":["q"],"event":"q","args":[1],"ack":{"timeout":"5s"}}`)
			done <- answer{st, body, err}
		}()
		for _, s := range []clientSocket{qa, qn} {
			e := c.waitEvent(s.name, "q")
			if e.Ack == 0 {
				t.Fatalf("%s: event q without ack: %s", s.name, e)
			}
			c.send(map[string]any{"cmd": "ack", "ack": e.Ack, "args": []any{"from-" + s.name}})
		}
		got := <-done
		if got.err != nil || got.status != 200 {
			t.Fatalf("emit with ack = %d %s %v", got.status, got.body, got.err)
		}
		var res struct {
			Acks []struct {
				Args []string `json:"args"`
			} `json:"acks"`
			Timeouts []string `json:"timeouts"`
		}
		_ = json.Unmarshal([]byte(got.body), &res)
		var args []string
		for _, x := range res.Acks {
			args = append(args, x.Args...)
		}
		slices.Sort(args)
		if !slices.Equal(args, []string{"from-qa", "from-qn"}) || len(res.Timeouts) != 0 {
			t.Fatalf("acks %s, want from-qa and from-qn", got.body)
		}
		// Node's server-side emit with ack: each iobridge node gets it and
		// answers once (with no value), so it completes.
		raw := node.ok(t, map[string]any{"cmd": "serverSideEmitWithAck", "event": "hello-node", "args": []any{7}})
		if string(raw) != "[null,null]" {
			t.Errorf("serverSideEmitWithAck answers %s, want two (one per iobridge node)", raw)
		}
		for _, n := range []*ioNode{a, b} {
			e := n.log.wait(t, "server-side emit", func(e event) bool { return e.Type == "serverSideEmit" && e.Event == "hello-node" })
			sameJSON(t, "server-side emit args on "+n.name, e.Args, []any{7})
		}
	})

	// recoverVia moves a client from one node to another: it connects to
	// from through the proxy, joins a room, holds an offset, loses its
	// transport; while it is away iobridge B and Node broadcast to the room;
	// it reconnects through the proxy, now in front of to, and must be
	// recovered with its id, its room and each missed event once, in order.
	recoverVia := func(t *testing.T, name, from, to string, fromLog, toLog *eventLog) {
		c := startClient(t)
		p := startSwitchProxy(t, from)
		first := connected(t, c, name, p.url, connectOpts{Transports: websocket})
		if first.Recovered {
			t.Fatal("first connect reports recovered")
		}
		room := "room-" + name
		w := connectTo(t, c, name+"-watch", b.url, "/", nil)
		join(t, room, first.ID, w.id)
		emit(t, a, []string{room}, "before", 1)
		off := lastOffset(t, c.waitEvent(name, "before"))
		c.waitEvent(w.name, "before")

		c.do("close_engine", name)
		c.wait("disconnect", name)
		fromLog.wait(t, "disconnect of "+first.ID, func(e event) bool { return e.Type == "disconnect" && e.ID == first.ID })

		// Each is in the stream once B's socket got it (the API answers
		// 202 before the fan-out): the order of the stream is known.
		emit(t, b, []string{room}, "missed-b", 2)
		c.waitEvent(w.name, "missed-b")
		node.ok(t, map[string]any{"cmd": "emit", "rooms": []string{room}, "event": "missed-node", "args": []any{3, binary{[]byte{9}}}})
		c.waitEvent(w.name, "missed-node")

		p.to(t, to)
		c.do("reconnect", name)
		again := c.wait("connect", name)
		if !again.Recovered || again.ID != first.ID {
			t.Fatalf("reconnect through the other node: %v, want recovered with id %s", again, first.ID)
		}
		if e := toLog.wait(t, "connection of "+first.ID, func(e event) bool { return e.Type == "connection" && e.ID == first.ID }); !e.Recovered {
			t.Errorf("connection on the other node %v, want recovered", e)
		}
		mb := c.waitEvent(name, "missed-b")
		sameJSON(t, "missed-b", firstArgs(t, mb.Args, 1), []any{2})
		mn := c.waitEvent(name, "missed-node")
		sameJSON(t, "missed-node", firstArgs(t, mn.Args, 2), []any{3, binary{[]byte{9}}})
		if ob, on := lastOffset(t, mb), lastOffset(t, mn); ob == off || on == off || ob == on {
			t.Errorf("offsets before %s, missed %s and %s", off, ob, on)
		}
		// The room still works, from iobridge and from Node.
		emit(t, a, []string{room}, "after-a", 4)
		node.ok(t, map[string]any{"cmd": "emit", "rooms": []string{room}, "event": "after-node", "args": []any{5}})
		sameJSON(t, "after-a", firstArgs(t, c.waitEvent(name, "after-a").Args, 1), []any{4})
		sameJSON(t, "after-node", firstArgs(t, c.waitEvent(name, "after-node").Args, 1), []any{5})
		if got := order(c, name, "before", "missed-b", "missed-node", "after-a"); !slices.Equal(got, []string{"before", "missed-b", "missed-node", "after-a"}) {
			ents, _ := r.Client().XRange(t.Context(), "socket.io", "-", "+").Result()
			t.Errorf("%s got %v, want each once, in order; stream %v\nclient events:\n%s", name, got, ents, c.log.dump())
		}
	}

	t.Run("RecoveryFromIobridgeOnNode", func(t *testing.T) {
		recoverVia(t, "ra", a.url, node.url, a.log, node.log)
	})
	t.Run("RecoveryFromNodeOnIobridge", func(t *testing.T) {
		recoverVia(t, "rn", node.url, b.url, node.log, b.log)
	})

	// A node draining (socketio.Server.Shutdown, as on SIGTERM) persists
	// its sockets' sessions: its client recovers on another node.
	t.Run("ShutdownPersistsSessions", func(t *testing.T) {
		c := startClient(t)
		d := startIONodeWith(t, "D", r.URL(), "streams", "", streamsWindow)
		eventually(t, "iobridge D Ready", func() (bool, string) {
			err := d.adapter.Ready()
			return err == nil, fmt.Sprint(err)
		})
		p := startSwitchProxy(t, d.url)
		// The client reconnects by itself, as an app's would.
		first := connected(t, c, "sd", p.url, connectOpts{Transports: websocket, Reconnect: true})
		w := connectTo(t, c, "sd-watch", b.url, "/", nil)
		join(t, "drain", first.ID, w.id)
		emit(t, b, []string{"drain"}, "before", 1)
		lastOffset(t, c.waitEvent("sd", "before"))
		// Its next connection goes to Node; what is emitted before it is
		// back is replayed there.
		p.to(t, node.url)
		ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
		defer cancel()
		if err := d.srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		emit(t, a, []string{"drain"}, "missed", 2)
		if e := c.wait("disconnect", "sd"); e.Reason != "transport close" {
			t.Errorf("client disconnect reason %q, want %q (it reconnects by itself)", e.Reason, "transport close")
		}
		again := c.wait("connect", "sd")
		if !again.Recovered || again.ID != first.ID {
			t.Fatalf("reconnect after the node drained: %v, want recovered with id %s", again, first.ID)
		}
		sameJSON(t, "missed", firstArgs(t, c.waitEvent("sd", "missed").Args, 1), []any{2})
	})

	t.Run("ExpiredSessionIsFresh", func(t *testing.T) {
		c := startClient(t)
		p := startSwitchProxy(t, a.url)
		first := connected(t, c, "x", p.url, connectOpts{Transports: websocket})
		emit(t, b, []string{first.ID}, "before", 1)
		lastOffset(t, c.waitEvent("x", "before"))
		c.do("close_engine", "x")
		c.wait("disconnect", "x")
		a.log.wait(t, "disconnect of "+first.ID, func(e event) bool { return e.Type == "disconnect" && e.ID == first.ID })
		// The session key lapses with the window (PX).
		rc := r.Client()
		eventuallyWithin(t, streamsWindow+waitTimeout, "the session expired", func() (bool, string) {
			keys, err := rc.Keys(t.Context(), "sio:session:*").Result()
			return err == nil && len(keys) == 0, fmt.Sprint(keys, err)
		})
		p.to(t, b.url)
		c.do("reconnect", "x")
		again := c.wait("connect", "x")
		if again.Recovered || again.ID == first.ID {
			t.Fatalf("reconnect past the window: %v, want a new session (old id %s)", again, first.ID)
		}
	})
}

// BenchmarkStreamsDrainRecovery: 1,000 WebSocket clients of iobridge A
// (through a load balancer) that reconnect by themselves; the load
// balancer sends new connections to B and A drains (Server.Shutdown, as
// on SIGTERM); B emits to everyone meanwhile. Reported: the time from the
// start of the drain until every client is connected again and recovered,
// and until every client has the missed event (each exactly once). Run
// with -benchtime 1x.
func BenchmarkStreamsDrainRecovery(b *testing.B) {
	const clients = 1000
	r := startRedis(b)
	for b.Loop() {
		benchDrain(b, r, clients)
	}
}

func benchDrain(b *testing.B, r *redisServer, clients int) {
	tb := testing.TB(b)
	na := startIONodeWith(b, "A", r.URL(), "streams", "", time.Minute)
	nb := startIONodeWith(b, "B", r.URL(), "streams", "", time.Minute)
	p := startSwitchProxy(b, na.url)
	c := startClient(tb)
	names := make([]string, clients)
	for i := range names {
		names[i] = fmt.Sprintf("s%d", i)
		c.connect(names[i], p.url, connectOpts{Transports: websocket, Reconnect: true})
	}
	for _, n := range names {
		c.wait("connect", n)
	}
	js, _ := json.Marshal(map[string]any{"namespace": "/", "event": "before", "args": []any{1}})
	nb.expect(tb, "POST", "/v1/emit", string(js), 202, nil)
	for _, n := range names {
		c.waitEvent(n, "before")
	}
	p.to(b, nb.url)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := na.srv.Shutdown(ctx); err != nil {
		b.Fatalf("Shutdown: %v", err)
	}
	drained := time.Since(start)
	js, _ = json.Marshal(map[string]any{"namespace": "/", "event": "missed", "args": []any{2}})
	nb.expect(tb, "POST", "/v1/emit", string(js), 202, nil)
	recovered := 0
	for _, n := range names {
		if c.wait("connect", n).Recovered {
			recovered++
		}
	}
	allBack := time.Since(start)
	for _, n := range names {
		c.waitEvent(n, "missed")
	}
	allMissed := time.Since(start)
	js, _ = json.Marshal(map[string]any{"namespace": "/", "event": "marker"})
	nb.expect(tb, "POST", "/v1/emit", string(js), 202, nil)
	twice := 0
	for _, n := range names {
		c.waitEvent(n, "marker")
		if count(c, n, "missed") != 1 {
			twice++
		}
	}
	if recovered != clients || twice != 0 {
		b.Errorf("%d of %d recovered, %d got the missed event other than once", recovered, clients, twice)
	}
	b.ReportMetric(float64(drained.Milliseconds()), "ms-drain")
	b.ReportMetric(float64(allBack.Milliseconds()), "ms-all-recovered")
	b.ReportMetric(float64(allMissed.Milliseconds()), "ms-all-missed-delivered")
}
