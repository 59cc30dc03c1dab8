package api_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/adminui"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/api"
)

// withRemote is the in-memory adapter answering fetches with this node's
// sockets and remote's, as a distributed adapter gets other nodes'.
type withRemote struct {
	socketio.Adapter
	nsp    *socketio.Namespace
	remote []socketio.SocketInfo
}

func (a *withRemote) FetchSockets(_ context.Context, opts *socketio.BroadcastOptions) ([]socketio.SocketInfo, error) {
	var out []socketio.SocketInfo
	for _, s := range a.nsp.LocalSockets(opts) {
		out = append(out, s.Info())
	}
	return append(out, a.remote...), nil
}

func (a *withRemote) AddSockets(context.Context, *socketio.BroadcastOptions, []string) error {
	return nil
}

func (a *withRemote) DelSockets(context.Context, *socketio.BroadcastOptions, []string) error {
	return nil
}

func (a *withRemote) DisconnectSockets(context.Context, *socketio.BroadcastOptions, bool) error {
	return nil
}

// TestSocketsDataWithoutAdmin: with the admin UI on, GET /v1/sockets
// shows a local socket's data as the backend set it, and other nodes'
// sockets (an iobridge node's with the admin UI, a Node server's with
// instrument()) without their data._admin, the other members in their
// order; data that is not an object, or has no _admin, as it is.
func TestSocketsDataWithoutAdmin(t *testing.T) {
	admin := `"_admin":{"clientId":"abcdefghijkl","transport":"websocket"}`
	remote := []socketio.SocketInfo{
		{ID: "remote-iobridge", Rooms: []string{"remote-iobridge"}, Data: json.RawMessage(`{` + admin + `,"user":"bob","n":1}`)},
		{ID: "remote-node", Rooms: []string{"remote-node"}, Data: json.RawMessage(`{` + admin + `}`)},
		{ID: "remote-plain", Rooms: []string{"remote-plain"}, Data: json.RawMessage(`{"user":"eve","nested":{"_admin":1}}`)},
		{ID: "remote-array", Rooms: []string{"remote-array"}, Data: json.RawMessage(`["_admin"]`)},
	}
	srv := socketio.NewServer(socketio.Config{
		Engine: engineio.Config{Path: "/socket.io/", Logger: discard},
		Adapter: func(nsp *socketio.Namespace) socketio.Adapter {
			return &withRemote{Adapter: adapter.New(nsp), nsp: nsp, remote: remote}
		},
		Logger: discard,
	})
	srv.Of("/").OnConnection(func(s *socketio.Socket) { s.SetData(json.RawMessage(`{"user":"ada"}`)) })
	stop, err := adminui.Instrument(t.Context(), srv, adminui.Config{Username: "admin", PasswordHash: "$2a$04$" + strings.Repeat("a", 53), Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	sio := httptest.NewServer(srv)
	t.Cleanup(func() {
		stop()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
		sio.Close()
	})
	a, err := api.New(api.Config{Token: token, Server: srv, Executor: translate.NewExecutor(srv), Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(hs.Close)
	f := &fixture{t: t, srv: srv, api: a, apiURL: hs.URL, sioURL: "ws" + strings.TrimPrefix(sio.URL, "http") + "/socket.io/?EIO=4&transport=websocket"}
	c := f.dial("/", "")
	local := srv.Of("/").Socket(c.SID)
	if local == nil {
		t.Fatalf("no socket %s", c.SID)
	}
	// What another node would get of it carries _admin.
	if d, _ := json.Marshal(local.RemoteInfo().Data); !strings.HasPrefix(string(d), `{"_admin":{"clientId":"`) {
		t.Fatalf("RemoteInfo data %s", d)
	}

	status, body := f.do("GET", "/v1/sockets", "")
	var got struct {
		Sockets []struct {
			ID   string          `json:"id"`
			Data json.RawMessage `json:"data"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(body), &got); status != 200 || err != nil {
		t.Fatalf("GET /v1/sockets = %d %s", status, body)
	}
	want := map[string]string{
		c.SID:             `{"user":"ada"}`,
		"remote-iobridge": `{"user":"bob","n":1}`,
		"remote-node":     `{}`,
		"remote-plain":    `{"user":"eve","nested":{"_admin":1}}`,
		"remote-array":    `["_admin"]`,
	}
	for _, s := range got.Sockets {
		if w, ok := want[s.ID]; !ok || string(s.Data) != w {
			t.Errorf("socket %s data %s, want %s", s.ID, s.Data, w)
		}
		delete(want, s.ID)
	}
	if len(want) != 0 {
		t.Fatalf("GET /v1/sockets misses %v: %s", slices.Collect(maps.Keys(want)), body)
	}
}
