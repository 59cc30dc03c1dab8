package interop

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/bridge"
)

// bridgeSidecarWith runs the Socket.IO server with namespace "/" accepted
// and "/legacy" bridged as cfg says (URL, headers, pings).
func bridgeSidecarWith(t *testing.T, cfg bridge.Config) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(&testWriter{t: t}, nil))
	}
	srv := socketio.NewServer(socketio.Config{
		Engine:  engineio.Config{Path: "/socket.io/", Logger: logger},
		Adapter: adapter.New,
		Logger:  logger,
	})
	cfg.Executor, cfg.Logger = translate.NewExecutor(srv), logger
	br, err := bridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := translate.New(translate.Config{Logger: logger, Routes: []translate.Route{
		{Name: "/", OnConnect: translate.OnConnectAccept},
		{Name: "/legacy", OnConnect: translate.OnConnectAccept, Backend: br},
	}}, srv)
	if err != nil {
		t.Fatal(err)
	}
	br.Attach(srv.Of("/legacy"))
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := br.Shutdown(ctx); err != nil {
			t.Errorf("bridge Shutdown: %v", err)
		}
		_ = tr.Shutdown(ctx)
		ts.Close()
	})
	return ts.URL
}

// legacyBridge is what a legacy chat backend's WebSocket endpoint sees of
// one bridge.
type legacyBridge struct {
	header  http.Header
	connect struct {
		Socket struct {
			ID        string              `json:"id"`
			Handshake translate.Handshake `json:"handshake"`
		} `json:"socket"`
	}
	pings  chan struct{}
	closed chan *gws.CloseError // the sidecar's close frame (nil: none)
	close  chan string          // tells the backend to close with this reason
}

// legacyBackend answers "echo" with an ack frame, "garbage" with
// malformed frames and then a good one, and closes on request.
func legacyBackend(t *testing.T) (http.Handler, chan *legacyBridge) {
	got := make(chan *legacyBridge, 8)
	up := gws.Upgrader{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		lb := &legacyBridge{header: r.Header, pings: make(chan struct{}, 256), closed: make(chan *gws.CloseError, 1), close: make(chan string, 1)}
		ws.SetPingHandler(func(data string) error {
			select {
			case lb.pings <- struct{}{}:
			default:
			}
			return ws.WriteControl(gws.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		_, first, err := ws.ReadMessage()
		if err != nil || json.Unmarshal(first, &lb.connect) != nil {
			t.Errorf("legacy backend: first frame %q, %v", first, err)
			return
		}
		got <- lb
		frames := make(chan []byte)
		go func() {
			defer close(frames)
			for {
				_, msg, err := ws.ReadMessage()
				if err != nil {
					var ce *gws.CloseError
					errors.As(err, &ce)
					lb.closed <- ce
					return
				}
				frames <- msg
			}
		}()
		write := func(s string) { _ = ws.WriteMessage(gws.TextMessage, []byte(s)) }
		for {
			select {
			case reason := <-lb.close:
				_ = ws.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseNormalClosure, reason), time.Now().Add(time.Second))
				for range frames { // until the sidecar's answer ends the connection
				}
				return
			case msg, ok := <-frames:
				if !ok {
					return
				}
				var ev struct {
					Event string            `json:"event"`
					Args  []json.RawMessage `json:"args"`
					ID    *int              `json:"id"`
				}
				_ = json.Unmarshal(msg, &ev)
				switch ev.Event {
				case "echo":
					b, _ := json.Marshal(map[string]any{"type": "ack", "id": ev.ID, "args": ev.Args})
					write(string(b))
				case "garbage":
					for _, bad := range []string{`{"name":"Chat","msg":{}}`, `not json`, `{"type":"ack"}`, `[{"event":"half"},7]`, `{"type":"join","rooms":"nope"}`} {
						write(bad)
					}
					write(`{"event":"after garbage","args":["still here"]}`)
				}
			}
		}
	}), got
}

func nextLegacy(t *testing.T, got chan *legacyBridge) *legacyBridge {
	t.Helper()
	select {
	case lb := <-got:
		return lb
	case <-time.After(waitTimeout):
		t.Fatal("legacy backend: no bridge")
		return nil
	}
}

// TestBridgeDownAtStartThenUp: the real socket.io-client connects to a
// bridged namespace whose backend is down (connect_error "bridge
// unavailable"), connects again once it is up, with its Authorization
// header forwarded on the dial, its query and auth in the connect frame;
// pings keep the idle bridge open; malformed backend frames are skipped.
func TestBridgeDownAtStartThenUp(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	url := bridgeSidecarWith(t, bridge.Config{
		URL:            "ws://" + addr + "/legacy",
		ForwardHeaders: []string{"authorization"},
		PingInterval:   20 * time.Millisecond,
		Timeout:        2 * time.Second,
	})
	c := startClient(t)
	c.send(map[string]any{"cmd": "connect", "socket": "a", "url": url, "nsp": "/legacy", "auth": map[string]string{"user": "ann"},
		"opts": map[string]any{
			"reconnection": false, "timeout": int(waitTimeout / time.Millisecond),
			"transports":   websocket,
			"extraHeaders": map[string]string{"authorization": "Bearer legacy-token", "x-not-forwarded": "1"},
			"query":        map[string]string{"room": "ops"},
		}})
	e := c.wait("connect_error", "a")
	if e.Message == nil || *e.Message != "bridge unavailable" {
		t.Fatalf("connect_error %v, want bridge unavailable", e)
	}
	sameJSON(t, "connect_error data", e.Data, map[string]any{"status": 502})

	h, got := legacyBackend(t)
	serveAt(t, addr, h)
	c.do("reconnect", "a")
	id := c.wait("connect", "a").ID
	lb := nextLegacy(t, got)
	if lb.header.Get("Authorization") != "Bearer legacy-token" || lb.header.Get("X-Not-Forwarded") != "" {
		t.Fatalf("dial headers %v, want Authorization forwarded and nothing else of the client's", lb.header)
	}
	hs := lb.connect.Socket.Handshake
	if lb.connect.Socket.ID != id || hs.Query["room"] != "ops" || string(hs.Auth) != `{"user":"ann"}` {
		t.Fatalf("connect frame socket %+v, want %s with its query and auth", lb.connect.Socket, id)
	}
	for i := range 10 { // idle for ten ping intervals
		select {
		case <-lb.pings:
		case <-time.After(waitTimeout):
			t.Fatalf("ping %d did not come", i+1)
		}
	}
	sameJSON(t, "echo ack", c.call("a", "echo", "after the pings"), []any{"after the pings"})
	c.emit("a", "garbage")
	sameJSON(t, "after garbage", c.waitEvent("a", "after garbage").Args, []any{"still here"})
	if st := c.state("a"); !st.Connected {
		t.Fatalf("state after malformed frames %v, want connected", st)
	}
}

// TestBridgeCloseBothWays: the backend closing first disconnects the
// real client with "io server disconnect" (and only that namespace); the
// client closing first (its transport, then its namespace) reaches the
// backend as a close frame with the Socket.IO reason.
func TestBridgeCloseBothWays(t *testing.T) {
	t.Parallel()
	h, got := legacyBackend(t)
	be := httptest.NewServer(h)
	t.Cleanup(be.Close)
	url := bridgeSidecarWith(t, bridge.Config{URL: "ws" + be.URL[len("http"):] + "/legacy"})
	c := startClient(t)

	// The backend closes first.
	c.connect("a", url, connectOpts{NSP: "/legacy", Manager: "m"})
	c.wait("connect", "a")
	c.connect("root", url, connectOpts{Manager: "m"})
	c.wait("connect", "root")
	lb := nextLegacy(t, got)
	lb.close <- "backend restarting"
	if e := c.wait("disconnect", "a"); e.Reason != "io server disconnect" {
		t.Fatalf("client disconnect reason %q, want io server disconnect", e.Reason)
	}
	if st := c.state("root"); !st.Connected {
		t.Fatalf(`"/" on the same connection: %v, want connected`, st)
	}

	// The client closes first: its transport, then its namespace.
	for _, tc := range []struct{ socket, cmd, reason string }{
		{"b", "close_engine", "transport close"},
		{"c", "disconnect", "client namespace disconnect"},
	} {
		c.connect(tc.socket, url, connectOpts{NSP: "/legacy"})
		c.wait("connect", tc.socket)
		lb := nextLegacy(t, got)
		c.do(tc.cmd, tc.socket)
		select {
		case ce := <-lb.closed:
			if ce == nil || ce.Code != gws.CloseNormalClosure || ce.Text != tc.reason {
				t.Fatalf("%s: backend got close %v, want 1000 %q", tc.cmd, ce, tc.reason)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("%s: the backend saw no close", tc.cmd)
		}
	}
}
