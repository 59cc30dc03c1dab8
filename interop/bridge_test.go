package interop

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/bridge"
)

// bridgeSidecar runs iobridge's Socket.IO server on 127.0.0.1 with the
// translator, namespace "/" accepted without a backend, and each name in
// bridges bridged to its ws:// URL. It returns the URL and the
// translator's executor.
func bridgeSidecar(t *testing.T, bridges map[string]string) (string, *translate.Executor) {
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
	exec := translate.NewExecutor(srv)
	routes := []translate.Route{{Name: "/", OnConnect: translate.OnConnectAccept}}
	brs := map[string]*bridge.Bridge{}
	for name, url := range bridges {
		br, err := bridge.New(bridge.Config{URL: url, Executor: exec, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		brs[name] = br
		routes = append(routes, translate.Route{Name: name, OnConnect: translate.OnConnectAccept, Backend: br})
	}
	tr, err := translate.New(translate.Config{Routes: routes, Logger: logger}, srv)
	if err != nil {
		t.Fatal(err)
	}
	for name, br := range brs {
		br.Attach(srv.Of(name))
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		for _, br := range brs {
			if err := br.Shutdown(ctx); err != nil {
				t.Errorf("bridge Shutdown: %v", err)
			}
		}
		_ = tr.Shutdown(ctx)
		ts.Close()
	})
	return ts.URL, tr.Executor()
}

// bridgeConn is what the bridge backend saw of one socket's bridge.
type bridgeConn struct {
	connect struct {
		Namespace string `json:"namespace"`
		Socket    struct {
			ID        string              `json:"id"`
			Rooms     []string            `json:"rooms"`
			Handshake translate.Handshake `json:"handshake"`
		} `json:"socket"`
	}
	events chan string          // event names, in order
	closed chan *gws.CloseError // the sidecar's close frame
}

// chatBridge is a plain WebSocket backend written as a backend team would:
// it answers "echo" with an ack of its args, "whoami" with an event to the
// socket, "join" with a join frame, "room" with an emit to a room, and
// "bye" by closing the WebSocket.
type chatBridge struct {
	ws    string
	mu    sync.Mutex
	conns map[string]*bridgeConn // by socket id
	got   chan *bridgeConn
}

func startChatBridge(t *testing.T) *chatBridge {
	t.Helper()
	b := &chatBridge{conns: map[string]*bridgeConn{}, got: make(chan *bridgeConn, 64)}
	up := gws.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		bc := &bridgeConn{events: make(chan string, 64), closed: make(chan *gws.CloseError, 1)}
		_, first, err := ws.ReadMessage()
		if err != nil || json.Unmarshal(first, &bc.connect) != nil {
			t.Errorf("bridge backend: first frame %q, %v", first, err)
			return
		}
		b.mu.Lock()
		b.conns[bc.connect.Socket.ID] = bc
		b.mu.Unlock()
		b.got <- bc
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				var ce *gws.CloseError
				errors.As(err, &ce)
				bc.closed <- ce
				return
			}
			var ev struct {
				Type  string            `json:"type"`
				Event string            `json:"event"`
				Args  []json.RawMessage `json:"args"`
				ID    *int              `json:"id"`
			}
			if err := json.Unmarshal(msg, &ev); err != nil || ev.Type != "event" {
				t.Errorf("bridge backend: frame %q", msg)
				return
			}
			bc.events <- ev.Event
			var out any
			switch ev.Event {
			case "echo":
				out = map[string]any{"type": "ack", "id": ev.ID, "args": ev.Args}
			case "whoami":
				out = map[string]any{"event": "you", "args": []string{bc.connect.Socket.ID}}
			case "join":
				var room string
				_ = json.Unmarshal(ev.Args[0], &room)
				out = []any{map[string]any{"type": "join", "rooms": []string{room}}, map[string]any{"event": "joined", "args": []string{room}}}
			case "room":
				var room string
				_ = json.Unmarshal(ev.Args[0], &room)
				out = map[string]any{"to": room, "event": "said", "args": ev.Args[1:]}
			case "bye":
				_ = ws.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
				return
			}
			if out != nil {
				b, _ := json.Marshal(out)
				if ws.WriteMessage(gws.TextMessage, b) != nil {
					return
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	b.ws = "ws" + strings.TrimPrefix(srv.URL, "http") + "/bridge"
	return b
}

func (b *chatBridge) next(t *testing.T) *bridgeConn {
	t.Helper()
	select {
	case bc := <-b.got:
		return bc
	case <-time.After(waitTimeout):
		t.Fatal("bridge backend: no bridge")
		return nil
	}
}

func (bc *bridgeConn) closeFrame(t *testing.T) *gws.CloseError {
	t.Helper()
	select {
	case ce := <-bc.closed:
		return ce
	case <-time.After(waitTimeout):
		t.Fatal("bridge backend: bridge not closed")
		return nil
	}
}

// TestBridgeClient: the real socket.io-client against a bridged namespace:
// connect frame, acks through ack frames (binary included), events from
// instructions, rooms, and close reasons both ways.
func TestBridgeClient(t *testing.T) {
	t.Parallel()
	be := startChatBridge(t)
	url, _ := bridgeSidecar(t, map[string]string{"/chat": be.ws})
	c := startClient(t)

	c.connect("a", url, connectOpts{NSP: "/chat", Manager: "m", Auth: map[string]any{"token": "t"}})
	id := c.wait("connect", "a").ID
	bc := be.next(t)
	if bc.connect.Namespace != "/chat" || bc.connect.Socket.ID != id || string(bc.connect.Socket.Handshake.Auth) != `{"token":"t"}` {
		t.Fatalf("connect frame %+v, want socket %s with its auth", bc.connect, id)
	}
	c.connect("root", url, connectOpts{Manager: "m"}) // same connection, namespace "/"
	c.wait("connect", "root")

	sameJSON(t, "echo ack", c.call("a", "echo", "héllo", map[string]any{"n": 1}), []any{"héllo", map[string]any{"n": 1}})
	sameJSON(t, "binary echo ack", c.call("a", "echo", binary{B: []byte{1, 2, 3}}), []any{binary{B: []byte{1, 2, 3}}})
	c.emit("a", "whoami")
	sameJSON(t, "you", c.waitEvent("a", "you").Args, []any{id})

	c.connect("b", url, connectOpts{NSP: "/chat"})
	c.wait("connect", "b")
	bcB := be.next(t)
	c.emit("a", "join", "lobby")
	c.waitEvent("a", "joined")
	c.emit("b", "room", "lobby", "hi all")
	sameJSON(t, "said", c.waitEvent("a", "said").Args, []any{"hi all"})

	// The client leaves: the backend gets a close frame with the reason.
	c.do("disconnect", "b")
	c.wait("disconnect", "b")
	if ce := bcB.closeFrame(t); ce == nil || ce.Code != gws.CloseNormalClosure || ce.Text != "client namespace disconnect" {
		t.Fatalf("close frame %v, want 1000 client namespace disconnect", ce)
	}

	// The backend closes: only that namespace's socket is disconnected.
	c.emit("a", "bye")
	if e := c.wait("disconnect", "a"); e.Reason != "io server disconnect" {
		t.Fatalf("disconnect reason %q, want io server disconnect", e.Reason)
	}
	if st := c.state("root"); !st.Connected {
		t.Fatalf(`"/" on the same connection: %v, want connected`, st)
	}
}

// TestBridgeDialFailure: a bridge that cannot be dialed rejects the
// connect with a connect_error saying so.
func TestBridgeDialFailure(t *testing.T) {
	t.Parallel()
	gone := httptest.NewServer(http.NotFoundHandler())
	down := "ws" + strings.TrimPrefix(gone.URL, "http") + "/bridge"
	gone.Close()
	url, _ := bridgeSidecar(t, map[string]string{"/down": down})
	c := startClient(t)
	c.connect("a", url, connectOpts{NSP: "/down"})
	e := c.wait("connect_error", "a")
	if e.Message == nil || *e.Message != "bridge unavailable" {
		t.Fatalf("connect_error %v, want bridge unavailable", e)
	}
	sameJSON(t, "connect_error data", e.Data, map[string]any{"status": 502})
}
