package interop

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	polling   = []string{"polling"}
	websocket = []string{"websocket"}
)

// connected connects socket name and waits for its connect event.
func connected(t *testing.T, c *client, name, url string, o connectOpts) event {
	t.Helper()
	c.connect(name, url, o)
	e := c.wait("connect", name)
	if len(e.ID) != 20 {
		t.Fatalf("socket id %q has %d chars, want 20", e.ID, len(e.ID))
	}
	return e
}

func TestTransports(t *testing.T) {
	tests := []struct {
		name        string
		transports  []string
		wantFirst   string // transport at connect; "" when the upgrade may come first
		wantUpgrade bool   // polling → websocket upgrade follows
	}{
		{"polling only", polling, "polling", false},
		{"websocket only", websocket, "websocket", false},
		{"upgrade", nil, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
				c := startClient(t)
				conn := connected(t, c, "a", srv.url, connectOpts{Transports: tc.transports})
				if tc.wantFirst != "" && conn.Transport != tc.wantFirst {
					t.Errorf("transport at connect = %q, want %q", conn.Transport, tc.wantFirst)
				}
				srv.waitConnection(t, conn.ID)

				args := []any{"hello", 42, map[string]any{"a": []any{1, true, nil}}, "ünïcødé ✓"}
				sameJSON(t, "echo ack", c.call("a", "echo", args...), args)

				if tc.wantUpgrade {
					up := c.log.wait(t, "upgrade", is("upgrade"))
					if up.Transport != "websocket" {
						t.Fatalf("upgraded to %q, want websocket", up.Transport)
					}
					if st := c.state("a"); st.Transport != "websocket" || !st.Connected {
						t.Fatalf("after upgrade: state %v, want connected over websocket", st)
					}
				}

				// Events keep flowing both ways, with and without acks.
				c.emit("a", "echo", "no ack", 1)
				sameJSON(t, "echo event", c.waitEvent("a", "echo").Args, []any{"no ack", 1})
				sameJSON(t, "second echo ack", c.call("a", "echo", "again"), []any{"again"})
				e := srv.log.wait(t, "server event", func(e event) bool {
					return e.Type == "event" && e.ID == conn.ID && e.Event == "echo"
				})
				sameJSON(t, "args the server got", e.Args, args)
			})
		})
	}
}

func TestNamespacesMultiplexed(t *testing.T) {
	for _, tr := range [][]string{polling, websocket} {
		t.Run(tr[0], func(t *testing.T) { testNamespacesMultiplexed(t, tr) })
	}
}

func testNamespacesMultiplexed(t *testing.T, transports []string) {
	eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
		c := startClient(t)
		names := map[string]string{"root": "/", "chat": "/chat", "dyn": "/dyn-42"}
		ids := map[string]string{}
		for name, nsp := range names {
			c.connect(name, srv.url, connectOpts{NSP: nsp, Manager: "m", Transports: transports})
		}
		for name, nsp := range names {
			id := c.wait("connect", name).ID
			for other, oid := range ids {
				if oid == id {
					t.Fatalf("sockets %s and %s share id %s", name, other, id)
				}
			}
			ids[name] = id
			got := srv.waitConnection(t, id)
			if got.NSP != nsp {
				t.Errorf("server saw %s connect to %q, want %q", name, got.NSP, nsp)
			}
		}
		for name := range names {
			sameJSON(t, name+" echo", c.call(name, "echo", name), []any{name})
		}

		// A broadcast in /chat stays in /chat.
		c.call("chat", "broadcast", map[string]any{"event": "news", "args": []any{"chat only"}})
		sameJSON(t, "news", c.waitEvent("chat", "news").Args, []any{"chat only"})
		c.emit("root", "echo", "marker")
		c.waitEvent("root", "echo")
		if c.log.seen(func(e event) bool { return e.Socket == "root" && e.Event == "news" }) {
			t.Fatal("a /chat broadcast reached the / socket")
		}

		// Leaving one namespace keeps the others connected.
		c.do("disconnect", "chat")
		c.wait("disconnect", "chat")
		if e := srv.waitDisconnect(t, ids["chat"]); e.Reason != "client namespace disconnect" {
			t.Errorf("server disconnect reason = %q, want %q", e.Reason, "client namespace disconnect")
		}
		sameJSON(t, "dyn echo after chat left", c.call("dyn", "echo", 1), []any{1})
	})
}

func TestConnectAuth(t *testing.T) {
	tests := []struct {
		name      string
		nsp       string
		auth      any
		wantError string // connect_error message; "" means connect
		wantData  any    // connect_error data
	}{
		{"auth payload reaches the server", "/", map[string]any{"token": "abc", "n": 1, "nested": map[string]any{"x": []any{"y"}}}, "", nil},
		{"no auth is an empty object", "/", nil, "", nil},
		{"middleware accepts", "/admin", map[string]any{"token": "secret"}, "", nil},
		{"middleware rejects with message and data", "/admin", map[string]any{"token": "wrong"}, "unauthorized", map[string]any{"code": 4001, "reason": "bad token"}},
		{"invalid namespace", "/nope", nil, "Invalid namespace", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
				c := startClient(t)
				c.connect("a", srv.url, connectOpts{NSP: tc.nsp, Auth: tc.auth})
				e := c.log.wait(t, "connect or connect_error", func(e event) bool {
					return e.Socket == "a" && (e.Type == "connect" || e.Type == "connect_error")
				})
				if tc.wantError == "" {
					if e.Type != "connect" {
						t.Fatalf("got %v, want connect", e)
					}
					got := srv.waitConnection(t, e.ID)
					want := tc.auth
					if want == nil {
						want = map[string]any{}
					}
					sameJSON(t, "handshake auth", got.Auth, want)
					return
				}
				if e.Type != "connect_error" {
					t.Fatalf("got %v, want connect_error", e)
				}
				if e.Message == nil || *e.Message != tc.wantError {
					t.Fatalf("connect_error = %v, want message %q", e, tc.wantError)
				}
				if tc.wantData != nil {
					sameJSON(t, "connect_error data", e.Data, tc.wantData)
				} else if len(e.Data) != 0 && string(e.Data) != "null" {
					t.Errorf("connect_error data = %s, want none", e.Data)
				}
				if st := c.state("a"); st.Connected {
					t.Errorf("socket connected after connect_error: %v", st)
				}
			})
		})
	}
}

func TestAcks(t *testing.T) {
	for _, tr := range [][]string{polling, websocket} {
		t.Run(tr[0], func(t *testing.T) {
			eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
				c := startClient(t)
				connected(t, c, "a", srv.url, connectOpts{Transports: tr})

				// Client → server, answered.
				sameJSON(t, "ack", c.call("a", "echo", "x", map[string]any{"y": 2}), []any{"x", map[string]any{"y": 2}})
				sameJSON(t, "empty ack", c.call("a", "join", "r"), []any{})

				// Client → server, never answered: the client's timeout fires.
				req := c.emitAck("a", 300*time.Millisecond, "unanswered", 1)
				e := c.log.wait(t, "ack timeout", func(e event) bool { return e.Req == req })
				if e.Type != "ack_error" || e.Message == nil || *e.Message != "operation has timed out" {
					t.Fatalf("got %v, want ack_error \"operation has timed out\"", e)
				}

				// Client → server with a timeout, answered in time.
				req = c.emitAck("a", waitTimeout, "echo", "in time")
				e = c.log.wait(t, "timed ack", func(e event) bool { return e.Req == req })
				if e.Type != "ack" {
					t.Fatalf("got %v, want ack", e)
				}
				sameJSON(t, "timed ack", e.Args, []any{"in time"})

				// Server → client, answered by the client.
				req = c.emitAck("a", 0, "ask", map[string]any{"event": "question", "args": []any{"q?", 1}})
				q := c.waitEvent("a", "question")
				sameJSON(t, "question", q.Args, []any{"q?", 1})
				if q.Ack == 0 {
					t.Fatalf("question %v carries no ack", q)
				}
				c.send(map[string]any{"cmd": "ack", "ack": q.Ack, "args": []any{"answer", 7}})
				e = c.log.wait(t, "ask result", func(e event) bool { return e.Type == "ack" && e.Req == req })
				sameJSON(t, "server got ack", e.Args, []any{map[string]any{"error": nil, "args": []any{"answer", 7}}})

				// Server → client with a timeout, never answered.
				req = c.emitAck("a", 0, "ask", map[string]any{"event": "question", "args": []any{}, "timeout": 300})
				q = c.waitEvent("a", "question")
				if q.Ack == 0 {
					t.Fatalf("question %v carries no ack", q)
				}
				e = c.log.wait(t, "ask result", func(e event) bool { return e.Type == "ack" && e.Req == req })
				var res []struct {
					Error *string         `json:"error"`
					Args  json.RawMessage `json:"args"`
				}
				if err := json.Unmarshal(e.Args, &res); err != nil || len(res) != 1 || res[0].Error == nil {
					t.Fatalf("server ack timeout: got %s, want an error", e.Args)
				}
				// A late answer is ignored and the socket stays usable.
				c.send(map[string]any{"cmd": "ack", "ack": q.Ack, "args": []any{"late"}})
				sameJSON(t, "ack after timeout", c.call("a", "echo", "still here"), []any{"still here"})
			})
		})
	}
}

func TestBinary(t *testing.T) {
	blob := make([]byte, 3000)
	for i := range blob {
		blob[i] = byte(i)
	}
	for _, tr := range [][]string{polling, websocket} {
		t.Run(tr[0], func(t *testing.T) {
			eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
				c := startClient(t)
				conn := connected(t, c, "a", srv.url, connectOpts{Transports: tr})

				// Client → server, with a binary ack back.
				args := []any{binary{[]byte{0, 1, 2, 255}}, map[string]any{"nested": binary{[]byte("hi")}, "list": []any{binary{blob}, "text"}}, 5}
				sameJSON(t, "binary ack", c.call("a", "echo", args...), args)
				e := srv.log.wait(t, "server event", func(e event) bool {
					return e.Type == "event" && e.ID == conn.ID && e.Event == "echo"
				})
				sameJSON(t, "binary the server got", e.Args, args)

				// Client → server without ack, echoed as a binary event.
				c.emit("a", "echo", binary{[]byte{9}}, "plain")
				sameJSON(t, "binary event", c.waitEvent("a", "echo").Args, []any{binary{[]byte{9}}, "plain"})

				// Server → client binary event.
				c.call("a", "bin")
				sameJSON(t, "bin", c.waitEvent("a", "bin").Args, []any{binary{[]byte{1, 2, 3}}, map[string]any{"nested": binary{[]byte("hi")}}})

				// Binary ack from the client to the server.
				req := c.emitAck("a", 0, "ask", map[string]any{"event": "question", "args": []any{binary{[]byte{7, 7}}}})
				q := c.waitEvent("a", "question")
				sameJSON(t, "question", q.Args, []any{binary{[]byte{7, 7}}})
				c.send(map[string]any{"cmd": "ack", "ack": q.Ack, "args": []any{binary{[]byte{8}}, "ok"}})
				e = c.log.wait(t, "ask result", func(e event) bool { return e.Type == "ack" && e.Req == req })
				sameJSON(t, "binary ack the server got", e.Args, []any{map[string]any{"error": nil, "args": []any{binary{[]byte{8}}, "ok"}}})
			})
		})
	}
}

func TestRoomsAndExcept(t *testing.T) {
	eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
		c := startClient(t)
		for _, name := range []string{"a", "b", "c"} {
			connected(t, c, name, srv.url, connectOpts{Transports: websocket})
		}
		c.call("a", "join", "room1")
		c.call("b", "join", "room1")
		c.call("b", "join", "muted")
		c.call("c", "join", "room2")

		c.call("c", "broadcast", map[string]any{"room": "room1", "event": "to-room1", "args": []any{1}})
		c.waitEvent("a", "to-room1")
		c.waitEvent("b", "to-room1")

		c.call("a", "broadcast", map[string]any{"room": "room1", "except": "muted", "event": "except-muted", "args": []any{2}})
		c.waitEvent("a", "except-muted")

		c.call("b", "leave", "room1")
		c.call("c", "broadcast", map[string]any{"room": "room1", "event": "after-leave"})
		c.waitEvent("a", "after-leave")

		// Broadcast to a socket id room, then a marker to everyone: what was
		// not delivered before the marker never will be.
		st := c.state("b")
		c.call("a", "broadcast", map[string]any{"room": st.ID, "event": "direct", "args": []any{"to b"}})
		sameJSON(t, "direct", c.waitEvent("b", "direct").Args, []any{"to b"})
		c.call("a", "broadcast", map[string]any{"event": "marker"})
		for _, name := range []string{"a", "b", "c"} {
			c.waitEvent(name, "marker")
		}
		for _, bad := range []struct{ socket, event string }{
			{"c", "to-room1"}, {"b", "except-muted"}, {"c", "except-muted"},
			{"b", "after-leave"}, {"c", "after-leave"}, {"a", "direct"}, {"c", "direct"},
		} {
			if c.log.seen(func(e event) bool { return e.Type == "event" && e.Socket == bad.socket && e.Event == bad.event }) {
				t.Errorf("%s received %q", bad.socket, bad.event)
			}
		}
	})
}

func TestVolatile(t *testing.T) {
	eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
		c := startClient(t)
		conn := connected(t, c, "a", srv.url, connectOpts{Transports: websocket})
		// An idle, writable transport gets volatile packets, both ways.
		c.call("a", "broadcast", map[string]any{"event": "v", "args": []any{"volatile"}, "volatile": true})
		sameJSON(t, "volatile", c.waitEvent("a", "v").Args, []any{"volatile"})
		c.emitVolatile("a", "echo", "from client")
		sameJSON(t, "volatile echo", c.waitEvent("a", "echo").Args, []any{"from client"})
		srv.log.wait(t, "volatile event on the server", func(e event) bool {
			return e.Type == "event" && e.ID == conn.ID && e.Event == "echo"
		})
	})
}

func TestRecovery(t *testing.T) {
	tests := []struct {
		name       string
		transports []string
		automatic  bool // the manager reconnects by itself
	}{
		{"websocket, missed packets replayed", websocket, false},
		{"polling, missed packets replayed", polling, false},
		{"automatic reconnection", websocket, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachServer(t, serverConfig{Recovery: time.Minute}, func(t *testing.T, srv *target) {
				c := startClient(t)
				first := connected(t, c, "a", srv.url, connectOpts{Transports: tc.transports, Reconnect: tc.automatic})
				if first.Recovered {
					t.Fatal("first connect reports recovered")
				}
				if e := srv.waitConnection(t, first.ID); e.Recovered {
					t.Fatalf("server connection %v: recovered on first connect", e)
				}
				connected(t, c, "b", srv.url, connectOpts{Transports: websocket})
				c.call("a", "join", "room")

				// a must hold an offset before it disconnects.
				c.call("b", "broadcast", map[string]any{"room": "room", "event": "before", "args": []any{1}})
				before := c.waitEvent("a", "before")
				var args []json.RawMessage
				_ = json.Unmarshal(before.Args, &args)
				if len(args) != 2 {
					t.Fatalf("before = %s, want [1, <offset>]", before.Args)
				}
				sameJSON(t, "before", args[0], 1)

				c.do("close_engine", "a")
				d := c.wait("disconnect", "a")
				if d.Reason != "transport close" && d.Reason != "forced close" {
					t.Errorf("client disconnect reason = %q", d.Reason)
				}
				if e := srv.waitDisconnect(t, first.ID); e.Reason != "transport close" {
					t.Errorf("server disconnect reason = %q, want %q", e.Reason, "transport close")
				}
				if !tc.automatic {
					c.call("b", "broadcast", map[string]any{"room": "room", "event": "missed", "args": []any{2}})
					c.call("b", "broadcast", map[string]any{"room": "room", "event": "missed", "args": []any{3, binary{[]byte{3}}}})
					c.call("b", "broadcast", map[string]any{"room": "room", "event": "missed", "args": []any{4}})
					c.call("b", "broadcast", map[string]any{"room": "room", "event": "missed-volatile", "volatile": true})
					c.do("reconnect", "a")
				}
				again := c.wait("connect", "a")
				if !again.Recovered || again.ID != first.ID {
					t.Fatalf("reconnect: %v, want recovered with id %s", again, first.ID)
				}
				if e := srv.waitConnection(t, first.ID); !e.Recovered {
					t.Errorf("server connection %v, want recovered", e)
				}
				if !tc.automatic {
					// Replayed in order, binary included.
					sameJSON(t, "missed", firstArgs(t, c.waitEvent("a", "missed").Args, 1), []any{2})
					sameJSON(t, "missed", firstArgs(t, c.waitEvent("a", "missed").Args, 2), []any{3, binary{[]byte{3}}})
					sameJSON(t, "missed", firstArgs(t, c.waitEvent("a", "missed").Args, 1), []any{4})
				}
				// Rooms survive: a is still in "room".
				c.call("b", "broadcast", map[string]any{"room": "room", "event": "after", "args": []any{3}})
				sameJSON(t, "after", firstArgs(t, c.waitEvent("a", "after").Args, 1), []any{3})
				sameJSON(t, "echo after recovery", c.call("a", "echo", "ok"), []any{"ok"})
				if c.log.seen(func(e event) bool { return e.Event == "missed-volatile" && e.Socket == "a" }) {
					t.Error("a volatile packet was replayed")
				}
			})
		})
	}
}

func TestDisconnectReasons(t *testing.T) {
	tests := []struct {
		name       string
		act        func(c *client)
		wantClient string
		wantServer string
	}{
		{"client disconnect", func(c *client) { c.do("disconnect", "a") }, "io client disconnect", "client namespace disconnect"},
		{"server disconnect", func(c *client) { c.emit("a", "disconnect-me", false) }, "io server disconnect", "server namespace disconnect"},
		{"server disconnect closing the connection", func(c *client) { c.emit("a", "disconnect-me", true) }, "io server disconnect", "server namespace disconnect"},
		{"server closes the connection", func(c *client) { c.emit("a", "close-conn") }, "transport close", "forced close"},
	}
	for _, tc := range tests {
		for _, tr := range [][]string{polling, websocket} {
			t.Run(tc.name+"/"+tr[0], func(t *testing.T) {
				eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
					c := startClient(t)
					conn := connected(t, c, "a", srv.url, connectOpts{Transports: tr, Reconnect: true})
					tc.act(c)
					if d := c.wait("disconnect", "a"); d.Reason != tc.wantClient {
						t.Errorf("client disconnect reason = %q, want %q", d.Reason, tc.wantClient)
					}
					if d := srv.waitDisconnect(t, conn.ID); d.Reason != tc.wantServer {
						t.Errorf("server disconnect reason = %q, want %q", d.Reason, tc.wantServer)
					}
					if tc.wantClient == "transport close" {
						// The manager reconnects by itself after a lost transport.
						again := c.wait("connect", "a")
						sameJSON(t, "echo after reconnect", c.call("a", "echo", again.ID), []any{again.ID})
					}
				})
			})
		}
	}
}

func TestPingTimeout(t *testing.T) {
	cfg := serverConfig{PingInterval: 200 * time.Millisecond, PingTimeout: 400 * time.Millisecond}
	eachServer(t, cfg, func(t *testing.T, srv *target) {
		c := startClient(t)
		conn := connected(t, c, "a", srv.url, connectOpts{Transports: websocket})
		c.do("freeze", "a")
		if d := srv.waitDisconnect(t, conn.ID); d.Reason != "ping timeout" {
			t.Errorf("server disconnect reason = %q, want %q", d.Reason, "ping timeout")
		}
		if d := c.wait("disconnect", "a"); d.Reason != "transport close" && d.Reason != "ping timeout" {
			t.Errorf("client disconnect reason = %q, want transport close or ping timeout", d.Reason)
		}
	})
}

func TestMaxHTTPBufferSize(t *testing.T) {
	tests := []struct {
		transports []string
		wantClient string
		wantServer string
	}{
		// Over polling the POST is refused with 413 and nothing else: the
		// client's POST fails ("transport error") and the client closes the
		// session, which the server sees as "transport close".
		{polling, "transport error", "transport close"},
		// Over WebSocket the server fails the connection (close 1009).
		{websocket, "transport close", "transport error"},
	}
	for _, tc := range tests {
		t.Run(tc.transports[0], func(t *testing.T) {
			eachServer(t, serverConfig{MaxHTTPBufferSize: 2000}, func(t *testing.T, srv *target) {
				c := startClient(t)
				conn := connected(t, c, "a", srv.url, connectOpts{Transports: tc.transports})
				small := strings.Repeat("s", 500)
				sameJSON(t, "small echo", c.call("a", "echo", small), []any{small})
				c.emit("a", "echo", strings.Repeat("x", 10000))
				if d := c.wait("disconnect", "a"); d.Reason != tc.wantClient {
					t.Errorf("client disconnect reason = %q, want %q", d.Reason, tc.wantClient)
				}
				if d := srv.waitDisconnect(t, conn.ID); d.Reason != tc.wantServer {
					t.Errorf("server disconnect reason = %q, want %q", d.Reason, tc.wantServer)
				}
				if srv.log.seen(func(e event) bool { return e.Type == "event" && e.ID == conn.ID && len(e.Args) > 5000 }) {
					t.Error("the server handled the oversized event")
				}
			})
		})
	}
}

func TestEIO3Client(t *testing.T) {
	for _, tr := range [][]string{nil, websocket} {
		name := "allowed, upgrade"
		if tr != nil {
			name = "allowed, websocket only"
		}
		t.Run(name, func(t *testing.T) { testEIO3Allowed(t, tr) })
	}
	t.Run("refused", func(t *testing.T) {
		eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
			c := startClient(t)
			c.connect("a", srv.url, connectOpts{V2: true, Manager: "v2", Transports: polling})
			c.wait("connect_error", "a")
			if c.log.seen(func(e event) bool { return e.Type == "connect" }) {
				t.Fatal("a 2.x client connected without allow_eio3")
			}
		})
	})
}

func testEIO3Allowed(t *testing.T, transports []string) {
	eachServer(t, serverConfig{AllowEIO3: true}, func(t *testing.T, srv *target) {
		c := startClient(t)
		conn := c.connectV2(t, "a", srv.url, "/", transports)
		srv.waitConnection(t, conn.ID)
		if transports == nil {
			c.log.wait(t, "upgrade", is("upgrade"))
		}
		if st := c.state("a"); st.Transport != "websocket" {
			t.Errorf("transport = %q, want websocket", st.Transport)
		}

		sameJSON(t, "echo ack", c.call("a", "echo", "v2", 3), []any{"v2", 3})
		c.emit("a", "echo", "no ack")
		sameJSON(t, "echo", c.waitEvent("a", "echo").Args, []any{"no ack"})

		c.call("a", "bin")
		sameJSON(t, "bin", c.waitEvent("a", "bin").Args, []any{binary{[]byte{1, 2, 3}}, map[string]any{"nested": binary{[]byte("hi")}}})
		args := []any{binary{[]byte{4, 5}}, "s"}
		sameJSON(t, "binary echo ack", c.call("a", "echo", args...), args)

		req := c.emitAck("a", 0, "ask", map[string]any{"event": "question", "args": []any{"q"}})
		q := c.waitEvent("a", "question")
		c.send(map[string]any{"cmd": "ack", "ack": q.Ack, "args": []any{"a"}})
		e := c.log.wait(t, "ask result", func(e event) bool { return e.Type == "ack" && e.Req == req })
		sameJSON(t, "server got ack", e.Args, []any{map[string]any{"error": nil, "args": []any{"a"}}})

		// A second namespace on the same connection, and a rejected one.
		chat := c.connectV2(t, "chat", srv.url, "/chat", transports)
		if chat.ID != "/chat#"+conn.ID {
			t.Errorf("2.x /chat socket id = %q, want %q", chat.ID, "/chat#"+conn.ID)
		}
		srv.waitConnection(t, chat.ID)
		sameJSON(t, "/chat echo", c.call("chat", "echo", "in chat"), []any{"in chat"})
		c.connect("admin", srv.url, connectOpts{V2: true, NSP: "/admin", Manager: "v2", Transports: transports})
		e = c.wait("error", "admin")
		sameJSON(t, "2.x namespace error", e.Data, map[string]any{"code": 4001, "reason": "bad token"})
		c.connect("nope", srv.url, connectOpts{V2: true, NSP: "/nope", Manager: "v2", Transports: transports})
		e = c.wait("error", "nope")
		sameJSON(t, "2.x invalid namespace", e.Data, map[string]any{"message": "Invalid namespace"})

		c.do("disconnect", "a")
		if d := srv.waitDisconnect(t, conn.ID); d.Reason != "client namespace disconnect" {
			t.Errorf("server disconnect reason = %q, want client namespace disconnect", d.Reason)
		}
		sameJSON(t, "/chat echo after / left", c.call("chat", "echo", 2), []any{2})
		c.emit("chat", "disconnect-me", false)
		if d := c.wait("disconnect", "chat"); d.Reason != "io server disconnect" {
			t.Errorf("2.x client disconnect reason = %q, want io server disconnect", d.Reason)
		}
	})
}

// connectV2 connects a socket.io-client 2.x socket on the shared manager "v2".
func (c *client) connectV2(t *testing.T, name, url, nsp string, transports []string) event {
	t.Helper()
	c.connect(name, url, connectOpts{V2: true, NSP: nsp, Manager: "v2", Transports: transports})
	return c.wait("connect", name)
}

func TestHandshakeValues(t *testing.T) {
	tests := []struct {
		name string
		cfg  serverConfig
		want [3]int // pingInterval, pingTimeout, maxPayload
	}{
		{"defaults", serverConfig{}, [3]int{25000, 20000, 1000000}},
		{"configured", serverConfig{PingInterval: 1500 * time.Millisecond, PingTimeout: 1200 * time.Millisecond, MaxHTTPBufferSize: 5000}, [3]int{1500, 1200, 5000}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachServer(t, tc.cfg, func(t *testing.T, srv *target) {
				c := startClient(t)
				conn := connected(t, c, "a", srv.url, connectOpts{Transports: polling})
				st := c.state("a")
				if got := [3]int{st.PingInterval, st.PingTimeout, st.MaxPayload}; got != tc.want {
					t.Errorf("handshake pingInterval, pingTimeout, maxPayload = %v, want %v", got, tc.want)
				}
				if len(st.SID) != 20 {
					t.Errorf("Engine.IO sid %q has %d chars, want 20", st.SID, len(st.SID))
				}
				if st.SID == conn.ID {
					t.Errorf("socket id equals the Engine.IO sid %q; v4 socket ids are their own", st.SID)
				}
			})
		})
	}
}

func TestBurstKeepsOrder(t *testing.T) {
	const n = 100
	for _, tr := range [][]string{polling, websocket, nil} {
		name := "upgrade during the burst"
		if tr != nil {
			name = tr[0]
		}
		t.Run(name, func(t *testing.T) {
			eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
				c := startClient(t)
				connected(t, c, "a", srv.url, connectOpts{Transports: tr})
				for i := range n {
					if i%10 == 0 {
						c.emit("a", "echo", i, binary{[]byte{byte(i)}})
					} else {
						c.emit("a", "echo", i)
					}
				}
				for i := range n {
					e := c.waitEvent("a", "echo")
					var args []json.RawMessage
					_ = json.Unmarshal(e.Args, &args)
					if len(args) == 0 {
						t.Fatalf("echo %d: %s", i, e.Args)
					}
					sameJSON(t, "echo number", args[0], i)
					if i%10 == 0 {
						sameJSON(t, "echo binary", args[1], binary{[]byte{byte(i)}})
					}
				}
			})
		})
	}
}

func TestServerShutdown(t *testing.T) {
	eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
		c := startClient(t)
		ws := connected(t, c, "ws", srv.url, connectOpts{Transports: websocket})
		poll := connected(t, c, "poll", srv.url, connectOpts{Transports: polling})
		c.emit("ws", "shutdown")
		for _, s := range []struct {
			name, id string
			want     []string
		}{
			{"ws", ws.ID, []string{"transport close"}},
			// Over polling the reference races its close packet against
			// closing the HTTP server: either reason may come.
			{"poll", poll.ID, []string{"transport close", "transport error"}},
		} {
			if d := c.wait("disconnect", s.name); !slices.Contains(s.want, d.Reason) {
				t.Errorf("%s: client disconnect reason = %q, want one of %q", s.name, d.Reason, s.want)
			}
			if d := srv.waitDisconnect(t, s.id); d.Reason != "server shutting down" {
				t.Errorf("%s: server disconnect reason = %q, want server shutting down", s.name, d.Reason)
			}
		}
	})
}

func TestBroadcastWithAcks(t *testing.T) {
	tests := []struct {
		name      string
		timeout   time.Duration
		answer    []string // sockets that answer
		wantError bool
	}{
		{"every client answers", waitTimeout, []string{"a", "b", "c"}, false},
		{"one client never answers", 2 * time.Second, []string{"a", "b"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
				c := startClient(t)
				for _, name := range []string{"a", "b", "c"} {
					connected(t, c, name, srv.url, connectOpts{Transports: websocket})
				}
				req := c.emitAck("a", 0, "ask-all", map[string]any{"event": "poll", "args": []any{"q"}, "timeout": tc.timeout.Milliseconds()})
				want := []any{}
				for _, name := range []string{"a", "b", "c"} {
					q := c.waitEvent(name, "poll")
					sameJSON(t, "poll", q.Args, []any{"q"})
					if q.Ack == 0 {
						t.Fatalf("poll on %s carries no ack: %v", name, q)
					}
					if slices.Contains(tc.answer, name) {
						c.send(map[string]any{"cmd": "ack", "ack": q.Ack, "args": []any{"from-" + name}})
						want = append(want, "from-"+name)
					}
				}
				e := c.log.wait(t, "ask-all result", func(e event) bool { return e.Type == "ack" && e.Req == req })
				var res []struct {
					Error     *string         `json:"error"`
					Responses json.RawMessage `json:"responses"`
				}
				if err := json.Unmarshal(e.Args, &res); err != nil || len(res) != 1 {
					t.Fatalf("ask-all result %s", e.Args)
				}
				if (res[0].Error != nil) != tc.wantError {
					t.Errorf("ask-all error = %v, want error %v", res[0].Error, tc.wantError)
				}
				sameJSON(t, "responses", res[0].Responses, want)
			})
		})
	}
}

func TestLargePayloads(t *testing.T) {
	blob := make([]byte, 300_000)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	text := strings.Repeat("é", 100_000) // 200,000 bytes of UTF-8
	for _, tr := range [][]string{polling, websocket} {
		t.Run(tr[0], func(t *testing.T) {
			eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
				c := startClient(t)
				connected(t, c, "a", srv.url, connectOpts{Transports: tr})
				args := []any{binary{blob}, text}
				sameJSON(t, "large echo ack", c.call("a", "echo", args...), args)
				c.emit("a", "echo", text)
				sameJSON(t, "large echo", c.waitEvent("a", "echo").Args, []any{text})
			})
		})
	}
}

func TestNoRecoveryWithoutWindow(t *testing.T) {
	eachServer(t, serverConfig{}, func(t *testing.T, srv *target) {
		c := startClient(t)
		first := connected(t, c, "a", srv.url, connectOpts{Transports: websocket})
		srv.waitConnection(t, first.ID)
		c.emit("a", "echo", "x")
		sameJSON(t, "echo", c.waitEvent("a", "echo").Args, []any{"x"}) // no offset appended
		c.do("close_engine", "a")
		c.wait("disconnect", "a")
		if d := srv.waitDisconnect(t, first.ID); d.Reason != "transport close" {
			t.Errorf("server disconnect reason = %q, want transport close", d.Reason)
		}
		c.do("reconnect", "a")
		again := c.wait("connect", "a")
		if again.Recovered || again.ID == first.ID {
			t.Fatalf("reconnect without recovery: %v, want a new, unrecovered socket (old id %s)", again, first.ID)
		}
		if e := srv.waitConnection(t, again.ID); e.Recovered {
			t.Errorf("server connection %v, want not recovered", e)
		}
	})
}
