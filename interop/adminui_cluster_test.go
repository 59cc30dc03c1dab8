package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/iobridge/iobridge/proxy/adminui"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// TestAdminUICluster runs two iobridge nodes with the admin UI and a Node
// server with instrument() on one redis-server: an admin socket on the
// Node server gets the iobridge nodes' server_stats, and node B's socket
// in all_sockets with its client id and transport; one on node A gets
// every server's stats, node B's sockets in all_sockets (with B's client
// id) and its socket_connected and room_joined events and the Node
// server's socket; its join and _disconnect reach a socket on node B, its
// _disconnect the Node server's socket. /v1/sockets on either node shows
// every socket's data without _admin.
func TestAdminUICluster(t *testing.T) {
	redisServerPath(t) // fail, never skip, without redis-server
	t.Parallel()
	redis := startRedis(t)
	nodes := startAdminNodes(t, redis.URL(), nil)
	a, b := nodes[0], nodes[1]
	node := startAdminReference(t, adminOptions{Mode: "development", ServerID: "node", Redis: redis.URL()})

	c := startClient(t)
	c.connect("b1", b.url, connectOpts{})
	b1 := c.wait("connect", "b1")
	c.connect("n1", node, connectOpts{Auth: map[string]any{"room": "lobby"}})
	n1 := c.wait("connect", "n1")
	c.connect("admin", a.url, connectOpts{NSP: "/admin", Auth: map[string]any{"username": adminUser, "password": adminPassword}})
	c.wait("connect", "admin")
	c.connect("node-admin", node, connectOpts{NSP: "/admin", Auth: map[string]any{"username": adminUser, "password": adminPassword}})
	c.wait("connect", "node-admin")

	// The Node server's admin socket gets the iobridge nodes' stats.
	for _, id := range []string{"iobridge-A", "iobridge-B"} {
		c.log.wait(t, "server_stats of "+id+" on the Node server", func(e event) bool {
			return e.Type == "event" && e.Socket == "node-admin" && e.Event == "server_stats" && strings.Contains(string(e.Args), `"serverId":"`+id+`"`)
		})
	}
	// Each node's stats on A, through Redis for B's and the Node server's.
	for _, id := range []string{"iobridge-A", "iobridge-B", "node"} {
		c.log.wait(t, "server_stats of "+id, func(e event) bool {
			return e.Type == "event" && e.Socket == "admin" && e.Event == "server_stats" && strings.Contains(string(e.Args), `"serverId":"`+id+`"`)
		})
	}
	// B's socket, with the client id and transport B's answer carries in
	// data._admin, as a Node server's: on the Node server's UI and on A's.
	b1Client := b.clientID(t, "/", b1.ID)
	var all string
	var sockets []adminSocket
	for _, admin := range []string{"node-admin", "admin"} {
		all, sockets = allSockets(t, c, admin)
		i := slices.IndexFunc(sockets, func(s adminSocket) bool { return s.ID == b1.ID })
		if i < 0 || sockets[i].Nsp != "/" || !slices.Contains(sockets[i].Rooms, b1.ID) {
			t.Fatalf("all_sockets on %s has not node B's socket %s: %s", admin, b1.ID, all)
		}
		got := sockets[i]
		if got.ClientID != b1Client || (got.Transport != "polling" && got.Transport != "websocket") || string(got.Data) != `{"node":"B"}` {
			t.Fatalf("all_sockets on %s has node B's socket %s as %+v (data %s), want client id %s, a transport and data {\"node\":\"B\"}", admin, b1.ID, got, got.Data, b1Client)
		}
	}
	// sockets and all are A's.
	// The Node server's socket, with the client id and transport its
	// instrument() keeps in data._admin.
	i := slices.IndexFunc(sockets, func(s adminSocket) bool { return s.ID == n1.ID })
	if i < 0 || !slices.Contains(sockets[i].Rooms, "lobby") || len(sockets[i].ClientID) != 12 || sockets[i].Transport == "" || string(sockets[i].Data) != "{}" {
		t.Fatalf("all_sockets on A has not the Node server's socket %s as the package describes it: %s", n1.ID, all)
	}

	// Backends see no _admin: B's socket as B set its data, on either
	// node; the Node server's without its instrument()'s.
	for _, n := range nodes {
		data := socketsData(t, n, "/")
		if data[b1.ID] != `{"node":"B"}` || data[n1.ID] != `{}` {
			t.Fatalf("iobridge %s: /v1/sockets data %v, want %s {\"node\":\"B\"} and %s {}", n.name, data, b1.ID, n1.ID)
		}
	}

	// A join of the admin socket on A reaches node B, whose room_joined
	// comes back.
	c.emit("admin", "join", "/", "lobby", b1.ID)
	c.log.wait(t, "room_joined of b1", func(e event) bool {
		return e.Type == "event" && e.Socket == "admin" && e.Event == "room_joined" && strings.Contains(string(e.Args), `"lobby","`+b1.ID+`"`)
	})
	eventually(t, "b1 in lobby on B", func() (bool, string) {
		rooms := b.localRooms("/", b1.ID)
		return slices.Contains(rooms, "lobby"), fmt.Sprint(rooms)
	})

	// Events of node B reach the admin socket on A.
	c.connect("b2", b.url, connectOpts{})
	b2 := c.wait("connect", "b2")
	c.log.wait(t, "socket_connected of b2", func(e event) bool {
		return e.Type == "event" && e.Socket == "admin" && e.Event == "socket_connected" && strings.Contains(string(e.Args), b2.ID)
	})

	// A command of the admin socket on A reaches node B.
	c.emit("admin", "_disconnect", "/", false, b1.ID)
	if r := c.wait("disconnect", "b1").Reason; r != "io server disconnect" {
		t.Fatalf("b1 disconnected with %q", r)
	}
	if c.log.seen(func(e event) bool { return e.Type == "disconnect" && e.Socket == "b2" }) {
		t.Fatal("b2 was disconnected too")
	}
	// And the Node server's socket.
	c.emit("admin", "_disconnect", "/", false, n1.ID)
	if r := c.wait("disconnect", "n1").Reason; r != "io server disconnect" {
		t.Fatalf("n1 disconnected with %q", r)
	}
}

// adminSocket is a socket as all_sockets describes it.
type adminSocket struct {
	ID        string          `json:"id"`
	ClientID  string          `json:"clientId"`
	Transport string          `json:"transport"`
	Nsp       string          `json:"nsp"`
	Data      json.RawMessage `json:"data"`
	Rooms     []string        `json:"rooms"`
}

// TestAdminUIBackendData runs two iobridge nodes with the admin UI and a
// webhook backend on one redis-server: the backend sets a socket's data
// on node B; node A's admin UI lists that socket, fetched through Redis,
// with B's client id, and still no webhook envelope, before or after, and
// no /v1/sockets answer on either node shows _admin.
func TestAdminUIBackendData(t *testing.T) {
	redisServerPath(t) // fail, never skip, without redis-server
	t.Parallel()
	redis := startRedis(t)
	be := startWebhookBackend(t, func(w http.ResponseWriter, r *http.Request, req *whRequest) {
		if req.env.Type == "connect" {
			answerJSON(w, 200, `{"data":{"user":7}}`)
			return
		}
		answerJSON(w, 200, `{}`)
	})
	nodes := startAdminNodes(t, redis.URL(), func(n *ioNode) {
		tr, err := translate.New(translate.Config{Logger: slog.New(slog.DiscardHandler), Routes: []translate.Route{
			{Name: "/hooks", OnConnect: translate.OnConnectWebhook, Backend: whClient(t, be.url, webhook.Config{Secret: whSecret})},
		}}, n.srv)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	})
	a, b := nodes[0], nodes[1]
	c := startClient(t)
	c.connect("x", b.url, connectOpts{NSP: "/hooks"})
	x := c.wait("connect", "x")
	be.next(t, "connect", "")
	c.emit("x", "before")
	checkData := func(r *whRequest) {
		t.Helper()
		if string(r.env.Socket.Data) != `{"user":7}` {
			t.Fatalf("%s %s envelope data %s, want {\"user\":7}", r.env.Type, r.env.Event, r.env.Socket.Data)
		}
	}
	checkData(be.next(t, "event", "before"))

	c.connect("admin", a.url, connectOpts{NSP: "/admin", Auth: map[string]any{"username": adminUser, "password": adminPassword}})
	all, sockets := allSockets(t, c, "admin")
	i := slices.IndexFunc(sockets, func(s adminSocket) bool { return s.ID == x.ID })
	if i < 0 || sockets[i].Nsp != "/hooks" || sockets[i].ClientID != b.clientID(t, "/hooks", x.ID) || string(sockets[i].Data) != `{"user":7}` {
		t.Fatalf("all_sockets on A has not node B's socket %s with B's client id: %s", x.ID, all)
	}
	for _, n := range nodes {
		if got := socketsData(t, n, "/hooks")[x.ID]; got != `{"user":7}` {
			t.Fatalf("iobridge %s: /v1/sockets data of %s = %s", n.name, x.ID, got)
		}
	}
	c.emit("x", "after")
	checkData(be.next(t, "event", "after"))

	be.mu.Lock()
	defer be.mu.Unlock()
	for _, r := range be.all {
		if strings.Contains(string(r.body), "_admin") {
			t.Fatalf("a webhook envelope shows _admin: %s", r.body)
		}
	}
}

// startAdminNodes starts iobridge nodes A and B on redisURL (classic),
// each set up by setup (when not nil) and then with the admin UI, and
// waits until both are ready.
func startAdminNodes(t *testing.T, redisURL string, setup func(n *ioNode)) []*ioNode {
	t.Helper()
	nodes := []*ioNode{
		startIONode(t, "A", redisURL, "classic", ""),
		startIONode(t, "B", redisURL, "classic", ""),
	}
	for _, n := range nodes {
		if setup != nil {
			setup(n)
		}
		stop, err := adminui.Instrument(t.Context(), n.srv, adminui.Config{
			Username:     adminUser,
			PasswordHash: adminHash(t),
			ServerID:     "iobridge-" + n.name,
			Logger:       slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		eventually(t, "iobridge "+n.name+" Ready", func() (bool, string) {
			err := n.adapter.Ready()
			return err == nil, fmt.Sprint(err)
		})
	}
	return nodes
}

// allSockets waits for the all_sockets event of admin socket name and
// returns its payload and sockets.
func allSockets(t *testing.T, c *client, name string) (string, []adminSocket) {
	t.Helper()
	all := c.waitEvent(name, "all_sockets")
	var args []json.RawMessage
	var sockets []adminSocket
	if err := json.Unmarshal(all.Args, &args); err != nil || len(args) != 1 || json.Unmarshal(args[0], &sockets) != nil {
		t.Fatalf("all_sockets on %s: %s", name, all.Args)
	}
	return string(all.Args), sockets
}

// clientID is the admin UI's client id of node n's socket id in nsp: its
// Engine.IO id's first 12 characters.
func (n *ioNode) clientID(t *testing.T, nsp, id string) string {
	t.Helper()
	s := n.srv.Of(nsp).Socket(id)
	if s == nil {
		t.Fatalf("iobridge %s has no socket %s", n.name, id)
	}
	return s.ConnID()[:12]
}

// socketsData is GET /v1/sockets on node n: each socket's data by id.
// It fails the test if any data holds "_admin".
func socketsData(t *testing.T, n *ioNode, nsp string) map[string]string {
	t.Helper()
	st, body := n.call(t, "GET", "/v1/sockets?namespace="+nsp, "")
	var got struct {
		Sockets []struct {
			ID   string          `json:"id"`
			Data json.RawMessage `json:"data"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(body), &got); st != 200 || err != nil {
		t.Fatalf("iobridge %s: GET /v1/sockets = %d %s", n.name, st, body)
	}
	if strings.Contains(body, "_admin") {
		t.Fatalf("iobridge %s: GET /v1/sockets shows _admin: %s", n.name, body)
	}
	out := map[string]string{}
	for _, s := range got.Sockets {
		out[s.ID] = string(s.Data)
	}
	return out
}
