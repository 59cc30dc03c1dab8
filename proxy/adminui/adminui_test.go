package adminui

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
)

func TestAuthentication(t *testing.T) {
	ts := newTestServer(t, Config{})
	tests := []struct {
		name string
		auth string
		ok   bool
	}{
		{"credentials", loginJSON(testUser, testPassword), true},
		{"wrong password", loginJSON(testUser, "nope"), false},
		{"wrong username", loginJSON("root", testPassword), false},
		{"no auth", "", false},
		{"password not a string", `{"username":"admin","password":1}`, false},
		{"unknown session", `{"sessionId":"0123456789abcdef"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, connErr := dialAdmin(t, ts.url, DefaultNamespace, tt.auth)
			if tt.ok != (a != nil) {
				t.Fatalf("connected = %v (%s), want %v", a != nil, connErr, tt.ok)
			}
			if !tt.ok && connErr != `{"message":"invalid credentials"}` {
				t.Fatalf("CONNECT_ERROR = %s", connErr)
			}
		})
	}
}

func TestSessionIDLogsIn(t *testing.T) {
	ts := newTestServer(t, Config{})
	a := login(t, ts)
	id := decode[string](t, a.wait("session", nil)[0])
	if len(id) != 16 {
		t.Fatalf("session id %q, want 16 hex digits", id)
	}
	again, connErr := dialAdmin(t, ts.url, DefaultNamespace, `{"sessionId":"`+id+`"}`)
	if again == nil {
		t.Fatalf("session id refused: %s", connErr)
	}
	again.wait("config", nil)
}

func TestConfigFeatures(t *testing.T) {
	all := []string{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"}
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"development", Config{}, all},
		{"production", Config{Mode: ModeProduction}, all[:8]},
		{"read-only", Config{ReadOnly: true}, []string{"AGGREGATED_EVENTS", "ALL_EVENTS"}},
		{"read-only production", Config{ReadOnly: true, Mode: ModeProduction}, []string{"AGGREGATED_EVENTS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, tt.cfg)
			a, connErr := dialAdmin(t, ts.url, DefaultNamespace, loginJSON(testUser, testPassword))
			if a == nil {
				t.Fatal(connErr)
			}
			got := decode[struct {
				SupportedFeatures []string `json:"supportedFeatures"`
			}](t, a.wait("config", nil)[0])
			if !slices.Equal(got.SupportedFeatures, tt.want) {
				t.Fatalf("supportedFeatures = %v, want %v", got.SupportedFeatures, tt.want)
			}
		})
	}
}

func TestAllSockets(t *testing.T) {
	ts := newTestServer(t, Config{})
	app := siotest.Dial(t, ts.url, "/", &siotest.Options{Auth: `{"room":"lobby"}`})
	a := login(t, ts)
	sockets := decode[[]serializedSocket](t, a.wait("all_sockets", nil)[0])
	i := slices.IndexFunc(sockets, func(s serializedSocket) bool { return s.ID == app.SID })
	if i < 0 {
		t.Fatalf("all_sockets %+v has no socket %s", sockets, app.SID)
	}
	s := sockets[i]
	slices.Sort(s.Rooms)
	if s.Nsp != "/" || s.Transport != "websocket" || len(s.ClientID) != 12 || !slices.Equal(s.Rooms, sortedPair(app.SID, "lobby")) {
		t.Fatalf("socket %+v", s)
	}
	if s.Handshake.Address != "127.0.0.1" || s.Handshake.Headers["host"] == nil || s.Handshake.Query["EIO"] != "4" || s.Handshake.Issued == 0 {
		t.Fatalf("handshake %+v", s.Handshake)
	}
	if string(s.Data) != "{}" {
		t.Fatalf("data %s, want {}", s.Data)
	}
	if !slices.ContainsFunc(sockets, func(s serializedSocket) bool { return s.ID == a.sid && s.Nsp == DefaultNamespace }) {
		t.Fatalf("all_sockets %+v has not the admin socket %s", sockets, a.sid)
	}
}

func sortedPair(a, b string) []string {
	s := []string{a, b}
	slices.Sort(s)
	return s
}

func TestDevelopmentEvents(t *testing.T) {
	ts := newTestServer(t, Config{})
	a := login(t, ts)
	a.wait("all_sockets", nil)

	app := siotest.Dial(t, ts.url, "/", &siotest.Options{Auth: `{"room":"lobby"}`})
	args := a.wait("socket_connected", func(args []json.RawMessage) bool {
		return decode[serializedSocket](t, args[0]).ID == app.SID
	})
	if len(args) != 2 || !isDate(args[1]) {
		t.Fatalf("socket_connected %s", args)
	}
	a.wait("room_joined", hasArg(1, "lobby"))

	app.Emit("echo", `"hi",1`)
	got := a.wait("event_received", hasArg(1, app.SID))
	if string(got[0]) != `"/"` || string(got[2]) != `["echo","hi",1]` || !isDate(got[3]) {
		t.Fatalf("event_received %s", got)
	}
	got = a.wait("event_sent", hasArg(1, app.SID))
	if string(got[0]) != `"/"` || string(got[2]) != `["echoed","hi",1]` || !isDate(got[3]) {
		t.Fatalf("event_sent %s", got)
	}

	app.Close()
	got = a.wait("socket_disconnected", hasArg(1, app.SID))
	if string(got[0]) != `"/"` || string(got[2]) != `"transport close"` || !isDate(got[3]) {
		t.Fatalf("socket_disconnected %s", got)
	}
	left := map[string]bool{}
	for len(left) < 2 {
		got := a.wait("room_left", hasArg(2, app.SID))
		left[decode[string](t, got[1])] = true
	}
	if !left["lobby"] || !left[app.SID] {
		t.Fatalf("room_left for %v", left)
	}
}

// isDate reports whether raw is a Date as JSON.stringify writes it.
func isDate(raw json.RawMessage) bool {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return false
	}
	_, err := time.Parse("2006-01-02T15:04:05.000Z", s)
	return err == nil
}

func TestProductionSendsStatsOnly(t *testing.T) {
	ts := newTestServer(t, Config{Mode: ModeProduction, interval: 100 * time.Millisecond})
	a := login(t, ts)
	a.wait("config", nil)
	app := siotest.Dial(t, ts.url, "/", &siotest.Options{Auth: `{"room":"lobby"}`})
	app.Emit("echo", `1`)
	app.Expect("echoed", `[1]`)
	// A later server_stats counts the app's connection and packets.
	a.wait("server_stats", func(args []json.RawMessage) bool {
		st := decode[serverStats](t, args[0])
		return slices.ContainsFunc(st.AggregatedEvents, func(e aggregatedEvent) bool { return e.Type == "packetsIn" })
	})
	a.none(300*time.Millisecond, nil, "all_sockets", "socket_connected", "room_joined", "event_received", "event_sent")
}

func TestServerStats(t *testing.T) {
	ts := newTestServer(t, Config{ServerID: "node-a", interval: 100 * time.Millisecond})
	a := login(t, ts)
	siotest.Dial(t, ts.url, "/", &siotest.Options{Transport: siotest.Polling})
	var raw map[string]json.RawMessage
	a.wait("server_stats", func(args []json.RawMessage) bool {
		raw = decode[map[string]json.RawMessage](t, args[0])
		return decode[int](t, raw["pollingClientsCount"]) == 1
	})
	for _, k := range []string{"serverId", "hostname", "pid", "uptime", "clientsCount", "pollingClientsCount", "aggregatedEvents", "namespaces"} {
		if raw[k] == nil {
			t.Fatalf("server_stats %v has no %s", raw, k)
		}
	}
	if string(raw["serverId"]) != `"node-a"` || decode[int](t, raw["clientsCount"]) != 2 {
		t.Fatalf("server_stats %v", raw)
	}
	nsps := decode[[]namespaceStats](t, raw["namespaces"])
	if !slices.Equal(nsps, []namespaceStats{{"/", 2}, {"/admin", 1}}) {
		t.Fatalf("namespaces %+v", nsps)
	}
}

func TestCommands(t *testing.T) {
	ts := newTestServer(t, Config{})
	a := login(t, ts)
	a.wait("all_sockets", nil)
	app := siotest.Dial(t, ts.url, "/", &siotest.Options{Auth: `{"room":"lobby"}`})
	other := siotest.Dial(t, ts.url, "/", nil)
	root := ts.srv.Of("/")

	a.emit("join", "/", "vip", app.SID)
	a.wait("room_joined", hasArg(1, "vip"))
	if !slices.Contains(root.Socket(app.SID).Rooms(), "vip") || slices.Contains(root.Socket(other.SID).Rooms(), "vip") {
		t.Fatal("join did not reach only the filtered socket")
	}
	a.emit("leave", "/", "vip", "lobby")
	a.wait("room_left", hasArg(1, "vip"))

	a.emit("emit", "/", "lobby", "news", map[string]int{"n": 1})
	app.Expect("news", `[{"n":1}]`)

	a.emit("_disconnect", "/", false, app.SID)
	if p := app.Next(); p.Type != '1' {
		t.Fatalf("after _disconnect the client got %c %s, want DISCONNECT", p.Type, p.Data)
	}
	a.wait("socket_disconnected", hasArg(1, app.SID))
	if root.Socket(other.SID) == nil {
		t.Fatal("the other socket was disconnected too")
	}
}

func TestReadOnlyIgnoresCommands(t *testing.T) {
	ts := newTestServer(t, Config{ReadOnly: true})
	a := login(t, ts)
	a.wait("all_sockets", nil)
	app := siotest.Dial(t, ts.url, "/", nil)
	a.emit("_disconnect", "/", true, app.SID)
	a.emit("join", "/", "vip", app.SID)
	a.emit("emit", "/", "", "news", 1)
	// The admin socket's events are handled in order: once this echo
	// of the app is seen, the commands before it were passed over.
	app.Emit("echo", `2`)
	app.Expect("echoed", `[2]`)
	time.Sleep(100 * time.Millisecond)
	s := ts.srv.Of("/").Socket(app.SID)
	if s == nil || slices.Contains(s.Rooms(), "vip") {
		t.Fatal("a read-only admin's command was applied")
	}
	a.none(200*time.Millisecond, func(ev receivedEvent) bool {
		if ev.name == "room_joined" {
			return hasArg(1, "vip")(ev.args)
		}
		return hasArg(1, app.SID)(ev.args)
	}, "room_joined", "socket_disconnected")
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no username", Config{PasswordHash: "$2b$10$abcdefghijklmnopqrstuuJ0FQ5Dx3V4nKk1xv2JZr0uXxq3GpX4e"}},
		{"password not hashed", Config{Username: "admin", PasswordHash: "admin"}},
		{"unknown mode", Config{Username: "admin", PasswordHash: testHash(t), Mode: "debug"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate = %v, want ErrConfig", err)
			}
			ts := newTestServer(t, Config{}) // any server
			if _, err := Instrument(t.Context(), ts.srv, tt.cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("Instrument = %v, want ErrConfig", err)
			}
		})
	}
}

func TestStopRefusesAdmins(t *testing.T) {
	ts := newTestServer(t, Config{})
	a := login(t, ts)
	ts.stop()
	for f := a.c.Text(); f != "41"+a.prefix; f = a.c.Text() {
	}
	if _, connErr := dialAdmin(t, ts.url, DefaultNamespace, loginJSON(testUser, testPassword)); connErr == "" {
		t.Fatal("an admin socket connected after stop")
	}
}
