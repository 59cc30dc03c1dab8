package bridge_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/bridge"
)

// waitTimeout bounds every wait; generous for -race on two cores.
const waitTimeout = 10 * time.Second

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sidecar is a real Socket.IO server on 127.0.0.1 whose namespace "/b"
// is bridged (a translate route with the Bridge as Backend).
type sidecar struct {
	srv  *socketio.Server
	tr   *translate.Translator
	br   *bridge.Bridge
	exec *translate.Executor
	url  string
}

func startSidecar(t testing.TB, route translate.Route, cfg bridge.Config) *sidecar {
	t.Helper()
	logger := quietLogger()
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := socketio.NewServer(socketio.Config{
		Engine:  engineio.Config{Path: "/socket.io/", Logger: logger},
		Adapter: adapter.New,
		Logger:  logger,
	})
	sc := &sidecar{srv: srv}
	// The executor exists before the bridge (the translator's); the
	// bridge exists before the translator (its route's Backend).
	var tr *translate.Translator
	// With a TracerProvider, the executor and the translator trace too,
	// as main wires them.
	cfg.Executor = translate.NewExecutor(srv).WithTelemetry(cfg.TracerProvider, nil)
	if cfg.Logger == nil {
		cfg.Logger = logger
	}
	br, err := bridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if route.Name == "" {
		route.Name = "/b"
	}
	route.Backend = br
	tr, err = translate.New(translate.Config{Routes: []translate.Route{route}, Logger: logger, TracerProvider: cfg.TracerProvider}, srv)
	if err != nil {
		t.Fatal(err)
	}
	br.Attach(srv.Of(route.Name))
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := br.Shutdown(ctx); err != nil {
			t.Errorf("bridge Shutdown: %v", err)
		}
		_ = tr.Shutdown(ctx)
		hs.Close()
	})
	sc.tr, sc.br, sc.exec, sc.url = tr, br, cfg.Executor, hs.URL
	return sc
}

// sioClient is a minimal Socket.IO client over a WebSocket, one namespace.
type sioClient struct {
	t    testing.TB
	conn *websocket.Conn
	nsp  string
	sid  string
	wmu  sync.Mutex
	in   chan string
}

func dialSIO(t testing.TB, base, nsp string) *sioClient {
	t.Helper()
	c, connErr := dialRaw(t, base, nsp)
	if connErr != "" {
		t.Fatalf("connect %s: CONNECT_ERROR %s", nsp, connErr)
	}
	return c
}

// dialRaw connects and returns the client, or the CONNECT_ERROR payload.
func dialRaw(t testing.TB, base, nsp string) (*sioClient, string) {
	t.Helper()
	return dialRawHeader(t, base, nsp, nil)
}

// dialRawHeader is dialRaw with headers on the handshake request.
func dialRawHeader(t testing.TB, base, nsp string, h http.Header) (*sioClient, string) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	c := &sioClient{t: t, conn: conn, nsp: nsp, in: make(chan string, 1<<16)}
	t.Cleanup(func() { conn.Close() })
	go c.readLoop()
	if f := c.frame(); !strings.HasPrefix(f, "0{") {
		t.Fatalf("first frame %q, want OPEN", f)
	}
	c.send("40" + c.prefix())
	f := c.frame()
	if strings.HasPrefix(f, "44"+c.prefix()) {
		return c, strings.TrimPrefix(f, "44"+c.prefix())
	}
	if !strings.HasPrefix(f, "40"+c.prefix()+"{") {
		t.Fatalf("CONNECT answered %q", f)
	}
	var v struct {
		SID string `json:"sid"`
	}
	_ = json.Unmarshal([]byte(strings.TrimPrefix(f, "40"+c.prefix())), &v)
	c.sid = v.SID
	return c, ""
}

func (c *sioClient) prefix() string {
	if c.nsp == "/" || c.nsp == "" {
		return ""
	}
	return c.nsp + ","
}

func (c *sioClient) readLoop() {
	defer close(c.in)
	for {
		typ, b, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.TextMessage {
			continue
		}
		if string(b) == "2" {
			c.send("3")
			continue
		}
		c.in <- string(b)
	}
}

func (c *sioClient) sendBinary(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.WriteMessage(websocket.BinaryMessage, b)
}

func (c *sioClient) send(s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.WriteMessage(websocket.TextMessage, []byte(s))
}

func (c *sioClient) frame() string {
	c.t.Helper()
	select {
	case f, ok := <-c.in:
		if !ok {
			c.t.Fatalf("connection closed")
		}
		return f
	case <-time.After(waitTimeout):
		c.t.Fatalf("no frame within %v", waitTimeout)
		return ""
	}
}

// event waits for the next EVENT of the client's namespace and returns
// its name and args array.
func (c *sioClient) event() (string, string) {
	c.t.Helper()
	for {
		f := c.frame()
		p := "42" + c.prefix()
		if !strings.HasPrefix(f, p) {
			continue
		}
		var arr []json.RawMessage
		if err := json.Unmarshal([]byte(f[len(p):]), &arr); err != nil || len(arr) == 0 {
			c.t.Fatalf("event payload %q", f)
		}
		var name string
		_ = json.Unmarshal(arr[0], &name)
		b, _ := json.Marshal(arr[1:])
		return name, string(b)
	}
}

// expect waits for the next event and checks its name and args.
func (c *sioClient) expect(name, args string) {
	c.t.Helper()
	gotName, gotArgs := c.event()
	if gotName != name || gotArgs != args {
		c.t.Fatalf("event = %s %s, want %s %s", gotName, gotArgs, name, args)
	}
}
