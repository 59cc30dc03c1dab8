package bridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/bridge"
)

// backend is a gorilla WebSocket server; each bridge is handed to the
// test as a backendConn whose frames arrive on a channel.
type backend struct {
	*httptest.Server
	ws    string
	conns chan *backendConn
}

type backendConn struct {
	t      testing.TB
	ws     *websocket.Conn
	req    *http.Request
	frames chan string
	closed chan *websocket.CloseError // the sidecar's close frame, or nil
	wmu    sync.Mutex
}

func startBackend(t testing.TB, refuse int) *backend {
	t.Helper()
	b := &backend{conns: make(chan *backendConn, 64)}
	up := websocket.Upgrader{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse != 0 {
			http.Error(w, "no", refuse)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &backendConn{t: t, ws: ws, req: r, frames: make(chan string, 256), closed: make(chan *websocket.CloseError, 1)}
		go func() {
			for {
				_, msg, err := ws.ReadMessage()
				if err != nil {
					var ce *websocket.CloseError
					errors.As(err, &ce)
					c.closed <- ce
					close(c.frames)
					return
				}
				c.frames <- string(msg)
			}
		}()
		b.conns <- c
	}))
	t.Cleanup(b.Close)
	b.ws = "ws" + strings.TrimPrefix(b.URL, "http") + "/bridge"
	return b
}

func (b *backend) conn(t testing.TB) *backendConn {
	t.Helper()
	select {
	case c := <-b.conns:
		t.Cleanup(func() { c.ws.Close() })
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no bridge dialed")
		return nil
	}
}

func (c *backendConn) frame() string {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatal("bridge closed while waiting for a frame")
		}
		return f
	case <-time.After(waitTimeout):
		c.t.Fatal("no frame from the sidecar")
		return ""
	}
}

func (c *backendConn) send(msg string) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		c.t.Fatal(err)
	}
}

// closeFrame waits for the sidecar's close frame.
func (c *backendConn) closeFrame() *websocket.CloseError {
	c.t.Helper()
	for {
		select {
		case _, ok := <-c.frames:
			if ok {
				continue
			}
			return <-c.closed
		case <-time.After(waitTimeout):
			c.t.Fatal("bridge not closed")
			return nil
		}
	}
}

// connectFrame is the first frame of every bridge.
type connectFrame struct {
	Type      string `json:"type"`
	Namespace string `json:"namespace"`
	Socket    struct {
		ID        string              `json:"id"`
		Rooms     []string            `json:"rooms"`
		Data      json.RawMessage     `json:"data"`
		Handshake translate.Handshake `json:"handshake"`
	} `json:"socket"`
	Recovered *bool `json:"recovered"`
}

func (c *backendConn) connect() connectFrame {
	c.t.Helper()
	var f connectFrame
	raw := c.frame()
	if err := json.Unmarshal([]byte(raw), &f); err != nil || f.Type != "connect" {
		c.t.Fatalf("first frame %s, want a connect frame", raw)
	}
	return f
}

func TestBridge(t *testing.T) {
	be := startBackend(t, 0)
	sc := startSidecar(t, translate.Route{OnConnect: translate.OnConnectAccept}, bridge.Config{URL: be.ws})
	cl := siotest.Dial(t, sc.url, "/b", nil)
	bc := be.conn(t)

	f := bc.connect()
	if f.Namespace != "/b" || f.Socket.ID != cl.SID || len(f.Socket.Rooms) != 1 || f.Socket.Rooms[0] != cl.SID ||
		string(f.Socket.Data) != "{}" || f.Socket.Handshake.Query["EIO"] != "4" || string(f.Socket.Handshake.Auth) != "{}" ||
		f.Recovered == nil || *f.Recovered {
		t.Fatalf("connect frame %+v", f)
	}
	if sc.br.Len() != 1 {
		t.Fatalf("Len = %d, want 1", sc.br.Len())
	}

	// Client events become frames, args byte for byte.
	cl.Send(`42/b,["hello",{"b":1, "a":2},"x"]`)
	if got, want := bc.frame(), `{"type":"event","event":"hello","args":[{"b":1, "a":2},"x"]}`; got != want {
		t.Fatalf("event frame %s, want %s", got, want)
	}
	// With an ack: an id, answered by an ack frame.
	cl.Send(`42/b,5["ask","q"]`)
	if got, want := bc.frame(), `{"type":"event","event":"ask","args":["q"],"id":1}`; got != want {
		t.Fatalf("event frame %s, want %s", got, want)
	}
	bc.send(`{"type":"ack","id":1,"args":["answer",{"n":2}]}`)
	if got, want := cl.Text(), `43/b,5["answer",{"n":2}]`; got != want {
		t.Fatalf("ack %s, want %s", got, want)
	}
	// Binary from the client reaches the backend as {"_binary":…}.
	cl.Send(`451-/b,6["bin",{"_placeholder":true,"num":0}]`)
	cl.SendBinary([]byte{1, 2, 3})
	if got, want := bc.frame(), `{"type":"event","event":"bin","args":[{"_binary":"AQID"}],"id":2}`; got != want {
		t.Fatalf("binary event frame %s, want %s", got, want)
	}
	bc.send(`{"type":"ack","id":2}`) // an ack without args
	if got, want := cl.Text(), `43/b,6[]`; got != want {
		t.Fatalf("ack %s, want %s", got, want)
	}

	// Instructions: "to" defaults to this socket; join and leave; arrays.
	other := siotest.Dial(t, sc.url, "/b", nil)
	obc := be.conn(t)
	obc.connect()
	bc.send(`{"event":"just you","args":[1]}`)
	cl.Expect("just you", `[1]`)
	bc.send(`{"type":"join","rooms":["lobby"]}`)
	bc.send(`{"event":"joined"}`)
	cl.Expect("joined", `[]`)
	obc.send(`[{"type":"emit","event":"to lobby","to":["lobby"]},{"event":"to all","to":["lobby","` + other.SID + `"]}]`)
	cl.Expect("to lobby", `[]`)
	cl.Expect("to all", `[]`)
	other.Expect("to all", `[]`)
	// Malformed frames are skipped; the bridge stays.
	for _, bad := range []string{`nope`, `{"type":"ack"}`, `{"type":"shout"}`, `{"args":[1]}`, `{"event":"connect"}`, `{"event":"e","args":[{"_binary":"!"}]}`} {
		bc.send(bad)
	}
	bc.send(`{"type":"leave","rooms":["lobby"]}`)
	bc.send(`{"event":"left"}`)
	cl.Expect("left", `[]`)
	obc.send(`{"event":"lobby again","to":"lobby"}`)
	obc.send(`{"event":"after"}`) // to the other socket only
	bc.send(`{"event":"still here"}`)
	cl.Expect("still here", `[]`)
	other.Expect("after", `[]`)

	// Events without ack are not answered; ack frames for nothing are
	// ignored.
	bc.send(`{"type":"ack","id":99,"args":[]}`)
	cl.Send(`42/b,["ping"]`)
	if got := bc.frame(); got != `{"type":"event","event":"ping","args":[]}` {
		t.Fatalf("event frame %s", got)
	}
}

func TestBridgeClientLeaves(t *testing.T) {
	for _, tc := range []struct {
		name   string
		leave  func(c *siotest.Client)
		reason string
	}{
		{"namespace disconnect", func(c *siotest.Client) { c.Send("41/b,") }, "client namespace disconnect"},
		{"transport close", func(c *siotest.Client) { c.Close() }, "transport close"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := startBackend(t, 0)
			sc := startSidecar(t, translate.Route{OnConnect: translate.OnConnectAccept}, bridge.Config{URL: be.ws})
			cl := siotest.Dial(t, sc.url, "/b", nil)
			bc := be.conn(t)
			bc.connect()
			tc.leave(cl)
			ce := bc.closeFrame()
			if ce == nil || ce.Code != websocket.CloseNormalClosure || ce.Text != tc.reason {
				t.Fatalf("close frame %v, want 1000 %q", ce, tc.reason)
			}
		})
	}
}

func TestBridgeServerShutdown(t *testing.T) {
	be := startBackend(t, 0)
	sc := startSidecar(t, translate.Route{OnConnect: translate.OnConnectAccept}, bridge.Config{URL: be.ws})
	siotest.Dial(t, sc.url, "/b", nil)
	bc := be.conn(t)
	bc.connect()
	if err := sc.srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ce := bc.closeFrame(); ce == nil || ce.Text != "server shutting down" {
		t.Fatalf("close frame %v, want server shutting down", ce)
	}
	if err := sc.br.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sc.br.Len() != 0 {
		t.Fatalf("Len after Shutdown = %d", sc.br.Len())
	}
}

func TestBridgeBackendCloses(t *testing.T) {
	be := startBackend(t, 0)
	sc := startSidecar(t, translate.Route{OnConnect: translate.OnConnectAccept}, bridge.Config{URL: be.ws})
	cl := siotest.Dial(t, sc.url, "/b", nil)
	bc := be.conn(t)
	bc.connect()
	// The same connection also joins "/": it must stay.
	cl.Send("40")
	if f := cl.Text(); !strings.HasPrefix(f, "40{") {
		t.Fatalf(`CONNECT "/" answered %q`, f)
	}
	cl.Send(`42/b,1["pending"]`)
	bc.frame()
	bc.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	bc.ws.Close()
	// The socket is disconnected, the pending ack fails (the client has
	// left the namespace: it ignores it), and "/" stays.
	for got := cl.Text(); got != "41/b,"; got = cl.Text() {
		if !strings.HasPrefix(got, `43/b,1[{"error":{"status":502`) {
			t.Fatalf("frame %q, want the failed ack or DISCONNECT", got)
		}
	}
	if _, err := sc.exec.Execute(t.Context(), &translate.Instruction{Namespace: "/", Event: "alive"}, translate.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	for got := cl.Text(); got != `42["alive"]`; got = cl.Text() {
		if !strings.HasPrefix(got, `43/b,1[{"error":{"status":502`) {
			t.Fatalf(`frame %q after the bridge closed, want the event on "/"`, got)
		}
	}
}

func TestBridgeDialFails(t *testing.T) {
	refused := startBackend(t, http.StatusForbidden)
	gone := startBackend(t, 0)
	gone.Close()
	for _, tc := range []struct {
		name, url, want string
	}{
		{"refused upgrade", refused.ws, `{"message":"bridge unavailable","data":{"status":403}}`},
		{"unreachable", gone.ws, `{"message":"bridge unavailable","data":{"status":502}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := startSidecar(t, translate.Route{OnConnect: translate.OnConnectAccept}, bridge.Config{URL: tc.url})
			_, connErr := siotest.DialRaw(t, sc.url, "/b", nil)
			if connErr != tc.want {
				t.Fatalf("connect_error %s, want %s", connErr, tc.want)
			}
		})
	}
}

func TestBridgeAckTimeout(t *testing.T) {
	be := startBackend(t, 0)
	sc := startSidecar(t, translate.Route{OnConnect: translate.OnConnectAccept}, bridge.Config{URL: be.ws, Timeout: 50 * time.Millisecond})
	cl := siotest.Dial(t, sc.url, "/b", nil)
	bc := be.conn(t)
	bc.connect()
	cl.Send(`42/b,3["slow"]`)
	bc.frame()
	if got := cl.Text(); !strings.HasPrefix(got, `43/b,3[{"error":{"status":504,`) {
		t.Fatalf("ack %q, want a 504 error", got)
	}
	// A late ack is dropped; the next event works.
	bc.send(`{"type":"ack","id":1,"args":["late"]}`)
	cl.Send(`42/b,4["fast"]`)
	if got := bc.frame(); got != `{"type":"event","event":"fast","args":[],"id":2}` {
		t.Fatalf("frame %s", got)
	}
	bc.send(`{"type":"ack","id":2,"args":["ok"]}`)
	if got := cl.Text(); got != `43/b,4["ok"]` {
		t.Fatalf("ack %q", got)
	}
}

// fakeWebhook is a translate.Backend deciding connects and recording
// deliveries.
type fakeWebhook struct {
	reject bool
	got    chan *translate.Envelope
}

func (w *fakeWebhook) Deliver(ctx context.Context, env *translate.Envelope) (*translate.Reply, error) {
	e := *env
	w.got <- &e
	if env.Type == translate.TypeConnect {
		if w.reject {
			return nil, &translate.StatusError{Status: 403, Message: "not you"}
		}
		return &translate.Reply{Rooms: []string{"vip"}, Data: json.RawMessage(`{"user":"ann"}`)}, nil
	}
	return &translate.Reply{}, nil
}

func (w *fakeWebhook) next(t *testing.T, typ string) *translate.Envelope {
	t.Helper()
	for {
		select {
		case e := <-w.got:
			if e.Type == typ {
				return e
			}
		case <-time.After(waitTimeout):
			t.Fatalf("no %s delivery", typ)
			return nil
		}
	}
}

func TestBridgeWithWebhook(t *testing.T) {
	t.Run("accepts", func(t *testing.T) {
		be := startBackend(t, 0)
		wh := &fakeWebhook{got: make(chan *translate.Envelope, 16)}
		sc := startSidecar(t, translate.Route{OnConnect: translate.OnConnectWebhook}, bridge.Config{URL: be.ws, Webhook: wh})
		cl := siotest.Dial(t, sc.url, "/b", nil)
		wh.next(t, translate.TypeConnect)
		f := be.conn(t).connect()
		if strings.Join(f.Socket.Rooms, ",") != strings.Join(sortedPair(cl.SID, "vip"), ",") || string(f.Socket.Data) != `{"user":"ann"}` {
			t.Fatalf("connect frame after the webhook's answer: %+v", f.Socket)
		}
		cl.Send("41/b,")
		if e := wh.next(t, translate.TypeDisconnect); e.Reason != "client namespace disconnect" {
			t.Fatalf("disconnect delivery reason %q", e.Reason)
		}
	})
	t.Run("rejects", func(t *testing.T) {
		be := startBackend(t, 0)
		wh := &fakeWebhook{reject: true, got: make(chan *translate.Envelope, 16)}
		sc := startSidecar(t, translate.Route{OnConnect: translate.OnConnectWebhook}, bridge.Config{URL: be.ws, Webhook: wh})
		if _, connErr := siotest.DialRaw(t, sc.url, "/b", nil); connErr != `{"message":"not you"}` {
			t.Fatalf("connect_error %s", connErr)
		}
		select {
		case <-be.conns:
			t.Fatal("a rejected socket was bridged")
		default:
		}
	})
}

func sortedPair(a, b string) []string {
	if a < b {
		return []string{a, b}
	}
	return []string{b, a}
}

func TestNewErrors(t *testing.T) {
	exec := translate.NewExecutor(socketio.NewServer(socketio.Config{Adapter: func(*socketio.Namespace) socketio.Adapter { return nil }}))
	for _, tc := range []struct {
		name string
		cfg  bridge.Config
	}{
		{"http url", bridge.Config{URL: "http://127.0.0.1/", Executor: exec}},
		{"no url", bridge.Config{Executor: exec}},
		{"no executor", bridge.Config{URL: "ws://127.0.0.1/"}},
		{"forwarding Host", bridge.Config{URL: "ws://127.0.0.1/", Executor: exec, ForwardHeaders: []string{"host"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := bridge.New(tc.cfg); !errors.Is(err, bridge.ErrConfig) {
				t.Fatalf("New = %v, want ErrConfig", err)
			}
		})
	}
}
