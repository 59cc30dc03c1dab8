package interop

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/iobridge/iobridge/proxy/adminui"
)

// TestAdminUICluster runs two iobridge nodes with the admin UI and a Node
// server with instrument() on one redis-server: an admin socket on the
// Node server gets the iobridge nodes' server_stats, and one on node A
// gets every server's,
// node B's sockets in all_sockets and its socket_connected and room_joined
// events and the Node server's socket; its join and _disconnect reach a
// socket on node B, its _disconnect the Node server's socket.
func TestAdminUICluster(t *testing.T) {
	redisServerPath(t) // fail, never skip, without redis-server
	t.Parallel()
	redis := startRedis(t)
	nodes := []*ioNode{
		startIONode(t, "A", redis.URL(), "classic", ""),
		startIONode(t, "B", redis.URL(), "classic", ""),
	}
	for _, n := range nodes {
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
	var sockets []adminSocket
	all := c.waitEvent("admin", "all_sockets")
	var args []json.RawMessage
	if err := json.Unmarshal(all.Args, &args); err != nil || len(args) != 1 || json.Unmarshal(args[0], &sockets) != nil {
		t.Fatalf("all_sockets %s", all.Args)
	}
	i := slices.IndexFunc(sockets, func(s adminSocket) bool { return s.ID == b1.ID })
	if i < 0 || sockets[i].Nsp != "/" || !slices.Contains(sockets[i].Rooms, b1.ID) {
		t.Fatalf("all_sockets on A has not node B's socket %s: %s", b1.ID, all.Args)
	}
	// The Node server's socket, with the client id and transport its
	// instrument() keeps in data._admin.
	i = slices.IndexFunc(sockets, func(s adminSocket) bool { return s.ID == n1.ID })
	if i < 0 || !slices.Contains(sockets[i].Rooms, "lobby") || len(sockets[i].ClientID) != 12 || sockets[i].Transport == "" || string(sockets[i].Data) != "{}" {
		t.Fatalf("all_sockets on A has not the Node server's socket %s as the package describes it: %s", n1.ID, all.Args)
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
