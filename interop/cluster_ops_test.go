package interop

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// The operations each mixed cluster checks, in order (TestCluster).

func (c *cluster) testServerCount(t *testing.T) {
	for _, nsp := range []string{"/", "/chat"} {
		if got := c.node.ok(t, map[string]any{"cmd": "serverCount", "nsp": nsp}); string(got) != "3" {
			t.Errorf("Node's serverCount of %s = %s, want 3", nsp, got)
		}
		for _, n := range []*ioNode{c.a, c.b} {
			ns, _ := n.srv.Namespace(nsp)
			sc, ok := ns.Adapter().(socketio.ServerCounter)
			if !ok {
				t.Fatalf("iobridge %s: the Redis adapter is not a socketio.ServerCounter", n.name)
			}
			got, err := sc.ServerCount(t.Context())
			if err != nil || got != 3 {
				t.Errorf("iobridge %s: ServerCount of %s = %d, %v; want 3", n.name, nsp, got, err)
			}
		}
	}
}

// testBroadcast: broadcasts both ways, to one room (its own channel), two
// rooms, with except, to all, volatile, with binary.
func (c *cluster) testBroadcast(t *testing.T) {
	cli := startClient(t)
	a1 := connectTo(t, cli, "a1", c.a.url, "/", nil)
	a2 := connectTo(t, cli, "a2", c.a.url, "/", nil)
	b1 := connectTo(t, cli, "b1", c.b.url, "/", nil)
	n1 := connectTo(t, cli, "n1", c.node.url, "/", nil)
	all := []clientSocket{a1, a2, b1, n1}

	// Room r: a1 joins on its own node, b1 from Node (socketsJoin through
	// Redis), n1 from iobridge B (/v1/join through Redis).
	c.a.expect(t, "POST", "/v1/join", `{"to":["`+a1.id+`"],"rooms":["r"]}`, 200, map[string]int{"sockets": 1})
	c.node.ok(t, map[string]any{"cmd": "socketsJoin", "rooms": []string{b1.id}, "join": []string{"r"}})
	c.b.expect(t, "POST", "/v1/join", `{"to":["`+n1.id+`"],"rooms":["r"]}`, 200, nil)
	c.waitMembers(t, "/", "r", a1.id, b1.id, n1.id)
	c.waitRoomChannel(t, "/", "r", 3)
	// Room s: a2, from iobridge B.
	c.b.expect(t, "POST", "/v1/join", `{"to":["`+a2.id+`"],"rooms":["s"]}`, 200, nil)
	c.waitMembers(t, "/", "s", a2.id)
	c.waitRoomChannel(t, "/", "s", 1)

	// Node → room r except n1: a1 and b1.
	c.node.ok(t, map[string]any{"cmd": "emit", "rooms": []string{"r"}, "except": []string{n1.id}, "event": "n-r", "args": []any{"hi", map[string]int{"n": 1}}})
	expectEvent(t, cli, "n-r", []any{"hi", map[string]int{"n": 1}}, a1, b1)
	// Node → except room r: a2 only (of these).
	c.node.ok(t, map[string]any{"cmd": "emit", "except": []string{"r"}, "event": "n-not-r", "args": []any{}})
	expectEvent(t, cli, "n-not-r", []any{}, a2)
	// iobridge B → room r except a1: b1 and n1.
	c.b.expect(t, "POST", "/v1/emit", `{"to":["r"],"except":["`+a1.id+`"],"event":"b-r","args":["yo",[1,2]]}`, 202, nil)
	expectEvent(t, cli, "b-r", []any{"yo", []int{1, 2}}, b1, n1)
	// iobridge B → everyone.
	c.b.expect(t, "POST", "/v1/emit", `{"event":"b-all","args":[true]}`, 202, nil)
	expectEvent(t, cli, "b-all", []any{true}, a1, a2, b1, n1)
	// iobridge A → except room r.
	c.a.expect(t, "POST", "/v1/emit", `{"except":["r"],"event":"a-not-r"}`, 202, nil)
	expectEvent(t, cli, "a-not-r", []any{}, a2)
	// Two rooms (the namespace channel): each socket once.
	c.node.ok(t, map[string]any{"cmd": "emit", "rooms": []string{"r", "s"}, "event": "n-rs", "args": []any{2}})
	expectEvent(t, cli, "n-rs", []any{2}, a1, a2, b1, n1)
	c.b.expect(t, "POST", "/v1/emit", `{"to":["r","s"],"event":"b-rs","args":[3]}`, 202, nil)
	expectEvent(t, cli, "b-rs", []any{3}, a1, a2, b1, n1)
	// To one socket id of another node.
	c.a.expect(t, "POST", "/v1/emit", `{"to":["`+n1.id+`"],"event":"a-to-n1"}`, 202, nil)
	expectEvent(t, cli, "a-to-n1", []any{}, n1)
	c.node.ok(t, map[string]any{"cmd": "emit", "rooms": []string{b1.id}, "event": "n-to-b1", "args": []any{}})
	expectEvent(t, cli, "n-to-b1", []any{}, b1)
	// Volatile: delivered to idle WebSockets. A socket whose writer has
	// not yet finished the previous packet (after the client got it)
	// drops a volatile one, as the reference does while its transport is
	// not writable: emit again until each socket got one.
	untilReceived(t, cli, 5*time.Second, "Node's volatile emit to room r", func() {
		c.node.ok(t, map[string]any{"cmd": "emit", "rooms": []string{"r"}, "volatile": true, "event": "n-vol", "args": []any{"v"}})
	}, "n-vol", a1, b1, n1)
	expectEvent(t, cli, "n-vol", []any{"v"}, a1, b1, n1)
	untilReceived(t, cli, 5*time.Second, "iobridge A's volatile emit to room r", func() {
		c.a.expect(t, "POST", "/v1/emit", `{"to":["r"],"volatile":true,"event":"a-vol","args":["v"]}`, 202, nil)
	}, "a-vol", a1, b1, n1)
	expectEvent(t, cli, "a-vol", []any{"v"}, a1, b1, n1)
	// Binary both ways: Buffers from Node arrive as binary attachments at
	// iobridge's clients, {"_binary"} from the API as Buffers at Node's.
	binArgs := []any{binary{[]byte{1, 2, 3}}, map[string]any{"nested": binary{[]byte("hi")}}}
	c.node.ok(t, map[string]any{"cmd": "emit", "rooms": []string{"r"}, "event": "n-bin", "args": binArgs})
	expectEvent(t, cli, "n-bin", binArgs, a1, b1, n1)
	c.a.expect(t, "POST", "/v1/emit", `{"to":["r"],"event":"a-bin","args":[{"_binary":"AAEC"},{"x":[{"_binary":"aGk="}]}]}`, 202, nil)
	expectEvent(t, cli, "a-bin", []any{binary{[]byte{0, 1, 2}}, map[string]any{"x": []any{binary{[]byte("hi")}}}}, a1, b1, n1)

	// Markers from every node to everyone, then nothing else may have
	// arrived anywhere.
	c.node.ok(t, map[string]any{"cmd": "emit", "event": "end-n", "args": []any{}})
	c.a.expect(t, "POST", "/v1/emit", `{"event":"end-a"}`, 202, nil)
	c.b.expect(t, "POST", "/v1/emit", `{"event":"end-b"}`, 202, nil)
	for _, ev := range []string{"end-n", "end-a", "end-b"} {
		expectEvent(t, cli, ev, []any{}, all...)
	}
	expectOnly(t, cli, all, map[string][]clientSocket{
		"n-r": {a1, b1}, "n-not-r": {a2}, "b-r": {b1, n1}, "b-all": all, "a-not-r": {a2},
		"n-rs": all, "b-rs": all, "a-to-n1": {n1}, "n-to-b1": {b1},
		"n-bin": {a1, b1, n1}, "a-bin": {a1, b1, n1},
	})
	for _, ev := range []string{"n-vol", "a-vol"} {
		if n := count(cli, a2.name, ev); n != 0 {
			t.Errorf("a2, not in room r, got the volatile %q %d times", ev, n)
		}
	}
}

// untilReceived calls emit until every socket of to got ev, for at most d:
// for deliveries that may be lost (volatile packets, pub/sub before a
// subscription is back).
func untilReceived(t *testing.T, c *client, d time.Duration, what string, emit func(), ev string, to ...clientSocket) {
	t.Helper()
	eventuallyWithin(t, d, what, func() (bool, string) {
		var missing []string
		for _, s := range to {
			if count(c, s.name, ev) == 0 {
				missing = append(missing, s.name)
			}
		}
		if len(missing) == 0 {
			return true, ""
		}
		emit()
		return false, "no " + ev + " on " + strings.Join(missing, ", ")
	})
}

// testFetchSockets: /v1/sockets and /v1/rooms see the whole cluster, and
// Node's fetchSockets and allRooms see iobridge's sockets.
func (c *cluster) testFetchSockets(t *testing.T) {
	cli := startClient(t)
	fa := connectTo(t, cli, "fa", c.a.url, "/", map[string]string{"user": "fa"})
	fb := connectTo(t, cli, "fb", c.b.url, "/", map[string]string{"user": "fb"})
	fn := connectTo(t, cli, "fn", c.node.url, "/", map[string]string{"user": "fn"})
	c.joinAll(t, "/", "f", fa.id, fb.id, fn.id)
	c.a.expect(t, "POST", "/v1/join", `{"to":["`+fa.id+`"],"rooms":["only-a"]}`, 200, map[string]int{"sockets": 1})
	c.node.ok(t, map[string]any{"cmd": "socketsJoin", "rooms": []string{fb.id}, "join": []string{"only-b"}})
	c.waitMembers(t, "/", "only-b", fb.id)
	c.waitMembers(t, "/", "only-a", fa.id)

	type want struct {
		rooms []string
		data  string
		auth  string
	}
	wants := map[string]want{
		fa.id: {[]string{fa.id, "f", "only-a"}, `{"node":"A"}`, `{"user":"fa"}`},
		fb.id: {[]string{fb.id, "f", "only-b"}, `{"node":"B"}`, `{"user":"fb"}`},
		fn.id: {[]string{fn.id, "f"}, `{"node":"node"}`, `{"user":"fn"}`},
	}
	sortRooms := func(id string, rooms []string) []string {
		out := slices.DeleteFunc(slices.Clone(rooms), func(r string) bool { return r == id })
		slices.Sort(out)
		return append([]string{id}, out...)
	}

	// GET /v1/sockets on A, room f: the sockets of B and Node included.
	got := c.a.sockets(t, "namespace=/&room=f")
	if len(got) != 3 {
		t.Fatalf("iobridge A: GET /v1/sockets?room=f lists %d sockets, want 3: %+v", len(got), got)
	}
	for _, s := range got {
		w, ok := wants[s.ID]
		if !ok {
			t.Fatalf("iobridge A: GET /v1/sockets?room=f lists %s, not one of fa, fb, fn", s.ID)
		}
		if !slices.Equal(s.Rooms, w.rooms) {
			t.Errorf("iobridge A: /v1/sockets: %s rooms %v, want %v", s.ID, s.Rooms, w.rooms)
		}
		sameJSON(t, "iobridge A: /v1/sockets: data of "+s.ID, s.Data, json.RawMessage(w.data))
		sameJSON(t, "iobridge A: /v1/sockets: handshake.auth of "+s.ID, s.Handshake.Auth, json.RawMessage(w.auth))
		if s.Handshake.Query["EIO"] != "4" || s.Handshake.Query["transport"] != "websocket" {
			t.Errorf("iobridge A: /v1/sockets: %s handshake.query %v, want EIO 4 over websocket", s.ID, s.Handshake.Query)
		}
		if s.Handshake.Headers["host"] == "" {
			t.Errorf("iobridge A: /v1/sockets: %s handshake.headers has no host: %v", s.ID, s.Handshake.Headers)
		}
	}
	// Without a room, from B: every socket of the cluster, these included.
	var ids []string
	for _, s := range c.b.sockets(t, "namespace=/") {
		ids = append(ids, s.ID)
	}
	for _, id := range []string{fa.id, fb.id, fn.id} {
		if !slices.Contains(ids, id) {
			t.Errorf("iobridge B: GET /v1/sockets lists %v, without %s", ids, id)
		}
	}

	// Node's fetchSockets sees iobridge's sockets with rooms, data and
	// handshake.
	ns := c.node.fetch(t, "/", "f")
	if len(ns) != 3 {
		t.Fatalf("Node's fetchSockets(room f) = %d sockets, want 3: %+v", len(ns), ns)
	}
	for _, s := range ns {
		w, ok := wants[s.ID]
		if !ok {
			t.Fatalf("Node's fetchSockets(room f) lists %s, not one of fa, fb, fn", s.ID)
		}
		if r := sortRooms(s.ID, s.Rooms); !slices.Equal(r, w.rooms) {
			t.Errorf("Node's fetchSockets: %s rooms %v, want %v", s.ID, r, w.rooms)
		}
		sameJSON(t, "Node's fetchSockets: data of "+s.ID, s.Data, json.RawMessage(w.data))
		h := s.Handshake
		sameJSON(t, "Node's fetchSockets: handshake.auth of "+s.ID, h.Auth, json.RawMessage(w.auth))
		if h.Query["EIO"] != "4" || h.Query["transport"] != "websocket" {
			t.Errorf("Node's fetchSockets: %s handshake.query %v, want EIO 4 over websocket", s.ID, h.Query)
		}
		if h.Headers["host"] == nil || h.Address == "" || h.Time == "" || h.Issued <= 0 ||
			!strings.HasPrefix(h.URL, "/socket.io/") || h.Secure == nil || *h.Secure || h.XDomain == nil {
			t.Errorf("Node's fetchSockets: %s handshake %+v: want headers.host, address, time, issued, url /socket.io/…, secure false, xdomain", s.ID, h)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// GET /v1/rooms on A: rooms of every node, sized cluster-wide.
	body := c.a.expect(t, "GET", "/v1/rooms?namespace=/", "", 200, nil)
	var rooms struct {
		Rooms []struct {
			Name string `json:"name"`
			Size int    `json:"size"`
		} `json:"rooms"`
	}
	if err := json.Unmarshal([]byte(body), &rooms); err != nil {
		t.Fatalf("GET /v1/rooms = %s: %v", body, err)
	}
	sizes := map[string]int{}
	for _, r := range rooms.Rooms {
		sizes[r.Name] = r.Size
		if r.Name == fa.id || r.Name == fb.id || r.Name == fn.id {
			t.Errorf("GET /v1/rooms lists the socket id room %s", r.Name)
		}
	}
	if sizes["f"] != 3 || sizes["only-a"] != 1 || sizes["only-b"] != 1 {
		t.Errorf("iobridge A: GET /v1/rooms = %s, want f:3, only-a:1, only-b:1", body)
	}

	// Node's allRooms (the classic adapter's ALL_ROOMS request; the
	// sharded adapter has none).
	if c.mode == "classic" {
		var all []string
		raw := c.node.ok(t, map[string]any{"cmd": "allRooms", "nsp": "/"})
		if err := json.Unmarshal(raw, &all); err != nil {
			t.Fatalf("allRooms = %s: %v", raw, err)
		}
		for _, r := range []string{"f", "only-a", "only-b"} {
			if !slices.Contains(all, r) {
				t.Errorf("Node's allRooms() = %v, without %q", all, r)
			}
		}
	}
}

// testRemoteOps: join, leave and disconnect of another node's sockets,
// from iobridge's API and from Node.
func (c *cluster) testRemoteOps(t *testing.T) {
	cli := startClient(t)
	ja := connectTo(t, cli, "ja", c.a.url, "/", nil)
	ja2 := connectTo(t, cli, "ja2", c.a.url, "/", nil)
	jb := connectTo(t, cli, "jb", c.b.url, "/", nil)
	jb2 := connectTo(t, cli, "jb2", c.b.url, "/", nil)
	jn := connectTo(t, cli, "jn", c.node.url, "/", nil)

	// iobridge A's API acting on B's and Node's sockets.
	c.a.expect(t, "POST", "/v1/join", `{"to":["`+jb.id+`","`+jn.id+`"],"rooms":["x","x2"]}`, 200, nil)
	c.waitMembers(t, "/", "x", jb.id, jn.id)
	c.waitMembers(t, "/", "x2", jb.id, jn.id)
	if r := c.b.localRooms("/", jb.id); !slices.Contains(r, "x") {
		t.Fatalf("iobridge B: jb's rooms %v, without x", r)
	}
	c.a.expect(t, "POST", "/v1/leave", `{"to":["x"],"rooms":["x"]}`, 200, nil)
	c.waitMembers(t, "/", "x")
	c.waitMembers(t, "/", "x2", jb.id, jn.id)

	// Node acting on iobridge's sockets.
	c.node.ok(t, map[string]any{"cmd": "socketsJoin", "rooms": []string{ja.id, jb.id}, "join": []string{"y"}})
	for _, x := range []struct {
		n  *ioNode
		id string
	}{{c.a, ja.id}, {c.b, jb.id}} {
		eventually(t, "iobridge "+x.n.name+": Node's socketsJoin(y)", func() (bool, string) {
			r := x.n.localRooms("/", x.id)
			return slices.Contains(r, "y"), fmt.Sprint(r)
		})
	}
	c.node.ok(t, map[string]any{"cmd": "socketsJoin", "rooms": []string{"y"}, "except": []string{jb.id}, "join": []string{"y-but-jb"}})
	c.waitMembers(t, "/", "y-but-jb", ja.id)
	c.node.ok(t, map[string]any{"cmd": "socketsLeave", "rooms": []string{"y"}, "leave": []string{"y"}})
	for _, x := range []struct {
		n  *ioNode
		id string
	}{{c.a, ja.id}, {c.b, jb.id}} {
		eventually(t, "iobridge "+x.n.name+": Node's socketsLeave(y)", func() (bool, string) {
			r := x.n.localRooms("/", x.id)
			return r != nil && !slices.Contains(r, "y"), fmt.Sprint(r)
		})
	}
	if r := c.b.localRooms("/", jb.id); !slices.Contains(r, "x2") {
		t.Fatalf("iobridge B: jb's rooms %v, without x2 (left with y?)", r)
	}

	// Disconnects: the client sees "io server disconnect", the server
	// "server namespace disconnect", whichever node asked.
	reason := func(l *eventLog, id string) string {
		return l.wait(t, "server disconnect of "+id, func(e event) bool { return e.Type == "disconnect" && e.ID == id }).Reason
	}
	check := func(what string, s clientSocket, l *eventLog) {
		t.Helper()
		if e := cli.wait("disconnect", s.name); e.Reason != "io server disconnect" {
			t.Errorf("%s: client %s disconnect reason %q, want \"io server disconnect\"", what, s.name, e.Reason)
		}
		if r := reason(l, s.id); r != "server namespace disconnect" {
			t.Errorf("%s: server-side reason for %s %q, want \"server namespace disconnect\"", what, s.name, r)
		}
	}
	c.a.expect(t, "POST", "/v1/disconnect", `{"to":["`+jn.id+`"]}`, 200, nil)
	check("A's /v1/disconnect of a Node socket", jn, c.node.log)
	c.a.expect(t, "POST", "/v1/disconnect", `{"to":["`+jb.id+`"]}`, 200, nil)
	check("A's /v1/disconnect of a B socket", jb, c.b.log)
	c.node.ok(t, map[string]any{"cmd": "disconnectSockets", "rooms": []string{ja.id}})
	check("Node's disconnectSockets of an A socket", ja, c.a.log)
	c.node.ok(t, map[string]any{"cmd": "disconnectSockets", "rooms": []string{jb2.id}, "close": true})
	check("Node's disconnectSockets(close) of a B socket", jb2, c.b.log)
	if !cli.state(ja2.name).Connected {
		t.Errorf("ja2, selected by nobody, was disconnected too:\n%s", cli.log.dump())
	}
}

// testAcks: broadcasts with acks across the cluster complete as soon as
// every client answered: every node answers its client count, even 0.
func (c *cluster) testAcks(t *testing.T) {
	cli := startClient(t)
	ka := connectTo(t, cli, "ka", c.a.url, "/", nil)
	kb := connectTo(t, cli, "kb", c.b.url, "/", nil)
	kn := connectTo(t, cli, "kn", c.node.url, "/", nil)
	c.joinAll(t, "/", "k", ka.id, kb.id, kn.id)

	// answer waits for ev on each socket and acks it with its args.
	answer := func(ev string, wantArgs any, acks map[clientSocket][]any) {
		t.Helper()
		for s, args := range acks {
			e := cli.waitEvent(s.name, ev)
			sameJSON(t, ev+" args on "+s.name, e.Args, wantArgs)
			if e.Ack == 0 {
				t.Fatalf("%s on %s asks for no ack", ev, s.name)
			}
			cli.send(map[string]any{"cmd": "ack", "socket": s.name, "ack": e.Ack, "args": args})
		}
	}
	type apiAnswer struct {
		status  int
		body    string
		err     error
		elapsed time.Duration
	}
	apiAck := func(n *ioNode, body string) chan apiAnswer {
		ch := make(chan apiAnswer, 1)
		start := time.Now()
		go func() {
			st, b, err := n.request(t.Context(), "POST", "/v1/emit", body)
			ch <- apiAnswer{st, b, err, time.Since(start)}
		}()
		return ch
	}
	type apiAcks struct {
		Acks []struct {
			Socket string            `json:"socket"`
			Args   []json.RawMessage `json:"args"`
		} `json:"acks"`
		Timeouts []string `json:"timeouts"`
	}
	checkAPI := func(what string, ch chan apiAnswer, want []string, local map[string]string) {
		t.Helper()
		var a apiAnswer
		select {
		case a = <-ch:
		case <-time.After(waitTimeout):
			t.Fatalf("%s: no answer", what)
		}
		var got apiAcks
		if err := json.Unmarshal([]byte(a.body), &got); a.err != nil || a.status != 200 || err != nil {
			t.Fatalf("%s = %d %s (%v)", what, a.status, a.body, a.err)
		}
		var args []string
		for _, x := range got.Acks {
			b, _ := json.Marshal(x.Args)
			args = append(args, string(b))
			if id, ok := local[string(b)]; ok && x.Socket != id {
				t.Errorf("%s: ack %s from socket %q, want %s", what, b, x.Socket, id)
			}
		}
		sort.Strings(args)
		sort.Strings(want)
		if !slices.Equal(args, want) || len(got.Timeouts) != 0 || a.elapsed > 4*time.Second {
			t.Fatalf("%s = %s after %v, want the acks %v, no timeouts, well within the 5s timeout", what, a.body, a.elapsed, want)
		}
	}

	// iobridge A's API, to room k: the acks of clients on A, B and Node;
	// remote acks carry their first argument (BROADCAST_ACK), binary kept.
	ch := apiAck(c.a, `{"to":["k"],"event":"q","args":["?"],"ack":{"timeout":"5s"}}`)
	answer("q", []any{"?"}, map[clientSocket][]any{
		ka: {"from-ka"},
		kb: {binary{[]byte{1, 2, 3}}},
		kn: {map[string]any{"from": "kn", "bin": binary{[]byte("hi")}}},
	})
	checkAPI("A's /v1/emit with ack to room k", ch,
		[]string{`["from-ka"]`, `[{"_binary":"AQID"}]`, `[{"bin":{"_binary":"aGk="},"from":"kn"}]`},
		map[string]string{`["from-ka"]`: ka.id})

	// Node's emitWithAck to room k: iobridge's clients answer through
	// their nodes. The command runs while the test answers for the
	// clients; the time until its result is an upper bound of the emit's.
	type nodeCall struct {
		id    string
		start time.Time
	}
	nodeAck := func(cmd map[string]any) nodeCall {
		return nodeCall{c.node.start(t, cmd), time.Now()}
	}
	checkNode := func(what string, call nodeCall, want []any) {
		t.Helper()
		e := c.node.result(t, call.id)
		elapsed := time.Since(call.start)
		var got []any
		_ = json.Unmarshal(e.Data, &got)
		sort.Slice(got, func(i, j int) bool { return string(mustJSON(got[i])) < string(mustJSON(got[j])) })
		if e.Error != nil || elapsed > 4*time.Second {
			t.Fatalf("%s: %s after %v, want the acks %v well within the 5s timeout", what, e, elapsed, want)
		}
		sameJSON(t, what, mustJSON(got), want)
	}
	nch := nodeAck(map[string]any{"cmd": "emitWithAck", "rooms": []string{"k"}, "event": "nq", "args": []any{1}, "timeout": 5000})
	answer("nq", []any{1}, map[clientSocket][]any{ka: {"a"}, kb: {binary{[]byte{9}}}, kn: {"n"}})
	checkNode("Node's emitWithAck to room k", nch, []any{"a", "n", binary{[]byte{9}}})

	// /chat, where B has no client at all: B answers a count of 0.
	ca := connectTo(t, cli, "ca", c.a.url, "/chat", nil)
	cn := connectTo(t, cli, "cn", c.node.url, "/chat", nil)
	eventually(t, "/chat holds ca and cn only", func() (bool, string) {
		var ids []string
		for _, s := range c.node.fetch(t, "/chat") {
			ids = append(ids, s.ID)
		}
		slices.Sort(ids)
		want := []string{ca.id, cn.id}
		slices.Sort(want)
		return slices.Equal(ids, want), fmt.Sprint(ids)
	})
	if n, _ := c.b.srv.Namespace("/chat"); n.Len() != 0 {
		t.Fatalf("iobridge B has %d sockets in /chat, want 0", n.Len())
	}
	nch = nodeAck(map[string]any{"cmd": "emitWithAck", "nsp": "/chat", "event": "cq", "args": []any{}, "timeout": 5000})
	answer("cq", []any{}, map[clientSocket][]any{ca: {"ca"}, cn: {"cn"}})
	checkNode("Node's emitWithAck to /chat", nch, []any{"ca", "cn"})
	// And from B itself, with no local client.
	ch = apiAck(c.b, `{"namespace":"/chat","event":"bq","ack":{"timeout":"5s"}}`)
	answer("bq", []any{}, map[clientSocket][]any{ca: {"ca"}, cn: {"cn"}})
	checkAPI("B's /v1/emit with ack to /chat", ch, []string{`["ca"]`, `["cn"]`}, nil)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// testServerSideEmit: server-side emits both ways, with acks from Node.
func (c *cluster) testServerSideEmit(t *testing.T) {
	ssEvent := func(l *eventLog, nsp, ev string) event {
		t.Helper()
		return l.wait(t, "serverSideEmit "+ev+" in "+nsp, func(e event) bool {
			return e.Type == "serverSideEmit" && e.NSP == nsp && e.Event == ev
		})
	}
	// Node → iobridge, without ack.
	c.node.ok(t, map[string]any{"cmd": "serverSideEmit", "nsp": "/chat", "event": "hello-iob", "args": []any{1, "two", map[string]int{"three": 3}}})
	for _, n := range []*ioNode{c.a, c.b} {
		sameJSON(t, "iobridge "+n.name+": hello-iob args", ssEvent(n.log, "/chat", "hello-iob").Args, []any{1, "two", map[string]int{"three": 3}})
	}
	// Node → iobridge, with ack: both iobridge nodes answer, before the
	// adapter's 5 s timeout.
	start := time.Now()
	e := c.node.do(t, map[string]any{"cmd": "serverSideEmitWithAck", "nsp": "/", "event": "ping-iob", "args": []any{"?"}})
	elapsed := time.Since(start)
	var responses []json.RawMessage
	_ = json.Unmarshal(e.Data, &responses)
	if e.Error != nil || len(responses) != 2 || elapsed > 4*time.Second {
		t.Fatalf("Node's serverSideEmitWithAck = %s after %v, want 2 responses (iobridge A and B) and no error", e, elapsed)
	}
	for _, n := range []*ioNode{c.a, c.b} {
		sameJSON(t, "iobridge "+n.name+": ping-iob args", ssEvent(n.log, "/", "ping-iob").Args, []any{"?"})
	}
	// iobridge → Node (and the other iobridge node), without ack.
	if err := mustNamespace(t, c.a, "/").ServerSideEmit(t.Context(), "ping-node", []json.RawMessage{json.RawMessage(`"from-A"`), json.RawMessage(`{"n":1}`)}); err != nil {
		t.Fatalf("iobridge A: ServerSideEmit: %v", err)
	}
	ne := ssEvent(c.node.log, "/", "ping-node")
	sameJSON(t, "Node: ping-node args", ne.Args, []any{"from-A", map[string]int{"n": 1}})
	if ne.Ack != 0 {
		t.Errorf("Node: ping-node from iobridge A asks for an ack: %s", ne)
	}
	sameJSON(t, "iobridge B: ping-node args", ssEvent(c.b.log, "/", "ping-node").Args, []any{"from-A", map[string]int{"n": 1}})
	if err := mustNamespace(t, c.b, "/chat").ServerSideEmit(t.Context(), "hello-node", []json.RawMessage{json.RawMessage(`[1,2]`)}); err != nil {
		t.Fatalf("iobridge B: ServerSideEmit: %v", err)
	}
	sameJSON(t, "Node: hello-node args", ssEvent(c.node.log, "/chat", "hello-node").Args, []any{[]int{1, 2}})
	sameJSON(t, "iobridge A: hello-node args", ssEvent(c.a.log, "/chat", "hello-node").Args, []any{[]int{1, 2}})
	// Nobody gets its own.
	if c.a.log.seen(func(e event) bool { return e.Type == "serverSideEmit" && e.Event == "ping-node" }) {
		t.Errorf("iobridge A received its own server-side emit:\n%s", c.a.log.dump())
	}
	if c.b.log.seen(func(e event) bool { return e.Type == "serverSideEmit" && e.Event == "hello-node" }) {
		t.Errorf("iobridge B received its own server-side emit:\n%s", c.b.log.dump())
	}
}

func mustNamespace(t testing.TB, n *ioNode, name string) *socketio.Namespace {
	t.Helper()
	ns, ok := n.srv.Namespace(name)
	if !ok {
		t.Fatalf("iobridge %s has no namespace %s", n.name, name)
	}
	return ns
}

// testEmitter: @socket.io/redis-emitter reaches iobridge's sockets: binary
// as binary, a Date as its ISO string, NaN as null; its socketsJoin,
// socketsLeave, disconnectSockets and serverSideEmit act on iobridge.
func (c *cluster) testEmitter(t *testing.T) {
	cfg, _ := json.Marshal(map[string]string{"url": c.redis.URL()})
	em := &nodeServer{node: startNode(t, "emitter", "emitter.js", string(cfg))}
	em.log.wait(t, "ready", is("ready"))
	cli := startClient(t)
	ea := connectTo(t, cli, "ea", c.a.url, "/", nil)
	eb := connectTo(t, cli, "eb", c.b.url, "/", nil)
	en := connectTo(t, cli, "en", c.node.url, "/", nil)
	c.joinAll(t, "/", "em", ea.id, eb.id, en.id)

	const date = "2000-06-13T00:00:00.123Z"
	em.ok(t, map[string]any{"cmd": "emit", "rooms": []string{"em"}, "event": "from-emitter", "args": []any{
		binary{[]byte{1, 2, 3}},
		map[string]string{"_date": date},
		map[string]bool{"_nan": true},
		map[string]any{"nested": map[string]any{"deep": []any{1, "x", binary{[]byte("hi")}, map[string]bool{"_nan": true}}, "when": map[string]string{"_date": date}}},
	}})
	// What Node's client gets is the reference: the same for iobridge's.
	want := []any{
		binary{[]byte{1, 2, 3}},
		date,
		nil,
		map[string]any{"nested": map[string]any{"deep": []any{1, "x", binary{[]byte("hi")}, nil}, "when": date}},
	}
	expectEvent(t, cli, "from-emitter", want, en, ea, eb)

	// To two rooms and with except (the namespace channel).
	c.a.expect(t, "POST", "/v1/join", `{"to":["`+eb.id+`"],"rooms":["em-b"]}`, 200, nil)
	c.waitMembers(t, "/", "em-b", eb.id)
	em.ok(t, map[string]any{"cmd": "emit", "rooms": []string{"em", "em-b"}, "except": []string{en.id}, "event": "em-two", "args": []any{"2"}})
	expectEvent(t, cli, "em-two", []any{"2"}, ea, eb)

	em.ok(t, map[string]any{"cmd": "socketsJoin", "rooms": []string{ea.id}, "join": []string{"em2"}})
	eventually(t, "iobridge A: the emitter's socketsJoin(em2)", func() (bool, string) {
		r := c.a.localRooms("/", ea.id)
		return slices.Contains(r, "em2"), fmt.Sprint(r)
	})
	em.ok(t, map[string]any{"cmd": "emit", "rooms": []string{"em2"}, "event": "em2-only", "args": []any{}})
	expectEvent(t, cli, "em2-only", []any{}, ea)
	em.ok(t, map[string]any{"cmd": "socketsLeave", "rooms": []string{ea.id}, "leave": []string{"em2"}})
	eventually(t, "iobridge A: the emitter's socketsLeave(em2)", func() (bool, string) {
		r := c.a.localRooms("/", ea.id)
		return r != nil && !slices.Contains(r, "em2"), fmt.Sprint(r)
	})

	em.ok(t, map[string]any{"cmd": "serverSideEmit", "event": "hello-node", "args": []any{"from-emitter", 7}})
	for _, l := range []*eventLog{c.a.log, c.b.log, c.node.log} {
		e := l.wait(t, "the emitter's serverSideEmit", func(e event) bool {
			return e.Type == "serverSideEmit" && e.NSP == "/" && e.Event == "hello-node"
		})
		sameJSON(t, l.name+": the emitter's serverSideEmit args", e.Args, []any{"from-emitter", 7})
	}

	em.ok(t, map[string]any{"cmd": "disconnectSockets", "rooms": []string{ea.id}})
	if e := cli.wait("disconnect", "ea"); e.Reason != "io server disconnect" {
		t.Errorf("ea disconnect reason %q, want \"io server disconnect\"", e.Reason)
	}
	if e := c.a.log.wait(t, "disconnect of ea", func(e event) bool { return e.Type == "disconnect" && e.ID == ea.id }); e.Reason != "server namespace disconnect" {
		t.Errorf("iobridge A: ea's server-side reason %q, want \"server namespace disconnect\"", e.Reason)
	}
	// A marker to the rest: the Date/NaN emit was delivered once each.
	em.ok(t, map[string]any{"cmd": "emit", "event": "em-end", "args": []any{}})
	expectEvent(t, cli, "em-end", []any{}, eb, en)
	expectOnly(t, cli, []clientSocket{ea, eb, en}, map[string][]clientSocket{
		"from-emitter": {ea, eb, en}, "em-two": {ea, eb}, "em2-only": {ea},
	})
}

// testRedisRestart: Redis killed (SIGKILL) and restarted on the same port.
// While it is down, iobridge still serves its own clients and Ready says
// what is wrong; once it is back, subscriptions are restored and
// broadcasts flow both ways again.
func (c *cluster) testRedisRestart(t *testing.T) {
	cli := startClient(t)
	ra := connectTo(t, cli, "ra", c.a.url, "/", nil)
	rb := connectTo(t, cli, "rb", c.b.url, "/", nil)
	rn := connectTo(t, cli, "rn", c.node.url, "/", nil)
	c.joinAll(t, "/", "rr", ra.id, rb.id, rn.id)
	c.waitRoomChannel(t, "/", "rr", 3)

	c.redis.Kill()
	for _, n := range []*ioNode{c.a, c.b} {
		eventually(t, "iobridge "+n.name+": Ready() reports Redis down", func() (bool, string) {
			err := n.adapter.Ready()
			return err != nil, "Ready() = nil"
		})
		t.Logf("iobridge %s with Redis down: Ready() = %v", n.name, n.adapter.Ready())
	}
	// Local clients are still served, to all and to a room.
	c.a.expect(t, "POST", "/v1/emit", `{"event":"while-down","args":[1]}`, 202, nil)
	expectEvent(t, cli, "while-down", []any{1}, ra)
	c.a.expect(t, "POST", "/v1/emit", `{"to":["rr"],"event":"while-down-rr","args":[2]}`, 202, nil)
	expectEvent(t, cli, "while-down-rr", []any{2}, ra)
	if st := cli.state("ra"); !st.Connected {
		t.Fatalf("ra disconnected while Redis was down")
	}

	c.redis.Restart()
	restarted := time.Now()
	for _, n := range []*ioNode{c.a, c.b} {
		eventuallyWithin(t, restoreBound, "iobridge "+n.name+": Ready() after the restart", func() (bool, string) {
			err := n.adapter.Ready()
			return err == nil, fmt.Sprint(err)
		})
	}
	eventuallyWithin(t, restoreBound, "Node's serverCount of / = 3 after the restart", func() (bool, string) {
		e := c.node.do(t, map[string]any{"cmd": "serverCount", "nsp": "/"})
		return e.Error == nil && string(e.Data) == "3", e.String()
	})
	c.waitRoomChannel(t, "/", "rr", 3)
	// Pub/sub loses what was published before a subscription came back:
	// emit again until it arrives.
	flows := func(what string, emit func(), ev string, to ...clientSocket) {
		t.Helper()
		untilReceived(t, cli, restoreBound-time.Since(restarted), what, emit, ev, to...)
	}
	flows("Node → iobridge (room rr) after the restart", func() {
		c.node.ok(t, map[string]any{"cmd": "emit", "rooms": []string{"rr"}, "event": "back-n", "args": []any{}})
	}, "back-n", ra, rb)
	flows("iobridge A → Node and B (room rr) after the restart", func() {
		c.a.expect(t, "POST", "/v1/emit", `{"to":["rr"],"event":"back-a"}`, 202, nil)
	}, "back-a", rn, rb)
	flows("iobridge B → everyone after the restart", func() {
		c.b.expect(t, "POST", "/v1/emit", `{"event":"back-b"}`, 202, nil)
	}, "back-b", ra, rn)
	t.Logf("broadcasts flow both ways %v after the restart", time.Since(restarted).Round(time.Millisecond))
	for _, n := range []*ioNode{c.a, c.b} {
		if err := n.adapter.Ready(); err != nil {
			t.Errorf("iobridge %s: Ready() = %v after the restart", n.name, err)
		}
	}
}
