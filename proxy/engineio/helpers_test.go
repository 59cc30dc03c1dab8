package engineio

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The black-box suite runs the reference server with these intervals.
const (
	suitePingInterval = 300 * time.Millisecond
	suitePingTimeout  = 200 * time.Millisecond
	waitLimit         = 5 * time.Second
)

type closeEvent struct {
	reason CloseReason
	err    error
}

// testHandler echoes every message back and records closes. A message
// "close" makes the handler close its own session from OnMessage.
type testHandler struct {
	s      *Session
	echo   bool
	msgs   chan []byte
	closed chan closeEvent
	// upgrades receives the transports OnUpgrade reports (buffered; the
	// handler never blocks on it).
	upgrades chan string
}

var _ UpgradeHandler = (*testHandler)(nil)

func (h *testHandler) OnUpgrade(transport string) {
	select {
	case h.upgrades <- transport:
	default:
	}
}

func (h *testHandler) OnMessage(data []byte, binary bool) {
	select {
	case h.msgs <- data:
	default:
	}
	if !binary && string(data) == "close" {
		h.s.Close(ReasonForcedClose)
		return
	}
	if h.echo {
		_ = h.s.Send([]Packet{{Type: PacketMessage, Data: data, Binary: binary}})
	}
}

func (h *testHandler) OnClose(reason CloseReason, err error) {
	h.closed <- closeEvent{reason, err}
}

type testEnv struct {
	t    *testing.T
	srv  *Server
	ts   *httptest.Server
	url  string // http://127.0.0.1:port/engine.io/
	ws   string // ws://127.0.0.1:port/engine.io/
	mu   sync.Mutex
	hs   map[string]*testHandler
	news chan *testHandler
	// parked and upgraded receive the sid of a session whose GET parks or
	// whose upgrade completes.
	parked   chan string
	upgraded chan string
	idle     chan string
}

func suiteConfig() Config {
	return Config{
		PingInterval: suitePingInterval,
		PingTimeout:  suitePingTimeout,
		Logger:       slog.New(slog.DiscardHandler),
	}
}

func newEnv(t *testing.T, cfg Config) *testEnv {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &testEnv{
		t:        t,
		hs:       map[string]*testHandler{},
		news:     make(chan *testHandler, 64),
		parked:   make(chan string, 64),
		upgraded: make(chan string, 64),
		idle:     make(chan string, 64),
	}
	e.srv = NewServer(cfg, func(s *Session) Handler {
		h := &testHandler{s: s, echo: true, msgs: make(chan []byte, 64), closed: make(chan closeEvent, 1), upgrades: make(chan string, 4)}
		e.mu.Lock()
		e.hs[s.ID()] = h
		e.mu.Unlock()
		e.news <- h
		return h
	})
	e.srv.hooks.parked = func(s *Session) { e.parked <- s.ID() }
	e.srv.hooks.upgraded = func(s *Session) { e.upgraded <- s.ID() }
	e.srv.hooks.idle = func(s *Session) {
		select {
		case e.idle <- s.ID():
		default:
		}
	}
	e.ts = httptest.NewServer(e.srv)
	e.url = e.ts.URL + "/engine.io/"
	e.ws = "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/engine.io/"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.ts.Close()
	})
	return e
}

func (e *testEnv) handler(sid string) *testHandler {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.hs[sid]
	if h == nil {
		e.t.Fatalf("no handler for sid %q", sid)
	}
	return h
}

func (e *testEnv) session(sid string) *Session { return e.handler(sid).s }

type response struct {
	status int
	body   string
	header http.Header
}

func (e *testEnv) do(method, url, body string, header http.Header) response {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return response{res.StatusCode, string(b), res.Header}
}

func (e *testEnv) get(query string) response {
	e.t.Helper()
	return e.do(http.MethodGet, e.url+"?"+query, "", nil)
}

func (e *testEnv) post(query, body string) response {
	e.t.Helper()
	return e.do(http.MethodPost, e.url+"?"+query, body, nil)
}

// asyncGet starts a GET and returns a channel with its response.
func (e *testEnv) asyncGet(query string) <-chan response {
	ch := make(chan response, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"?"+query, nil)
		res, err := e.ts.Client().Do(req)
		if err != nil {
			ch <- response{status: -1, body: err.Error()}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		ch <- response{res.StatusCode, string(b), res.Header}
	}()
	return ch
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

type openPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func parseOpen(t *testing.T, s string) (openPacket, map[string]any) {
	t.Helper()
	if !strings.HasPrefix(s, "0") {
		t.Fatalf("open packet %q does not start with 0", s)
	}
	var op openPacket
	var all map[string]any
	if err := json.Unmarshal([]byte(s[1:]), &op); err != nil {
		t.Fatalf("open packet %q: %v", s, err)
	}
	_ = json.Unmarshal([]byte(s[1:]), &all)
	return op, all
}

// openPolling handshakes over polling (v4) and returns the sid.
func (e *testEnv) openPolling() string {
	e.t.Helper()
	r := e.get("EIO=4&transport=polling")
	if r.status != 200 {
		e.t.Fatalf("handshake: status %d body %q", r.status, r.body)
	}
	op, _ := parseOpen(e.t, r.body)
	return op.SID
}

func (e *testEnv) dial(query string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: waitLimit}
	return d.Dial(e.ws+"?"+query, nil)
}

func (e *testEnv) mustDial(query string) *websocket.Conn {
	e.t.Helper()
	c, _, err := e.dial(query)
	if err != nil {
		e.t.Fatalf("dial %s: %v", query, err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

type frame struct {
	typ  int
	data []byte
	err  error
}

func readFrame(t *testing.T, c *websocket.Conn) frame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	mt, data, err := c.ReadMessage()
	return frame{mt, data, err}
}

func readText(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	f := readFrame(t, c)
	if f.err != nil {
		t.Fatalf("read: %v", f.err)
	}
	if f.typ != websocket.TextMessage {
		t.Fatalf("frame type %d, want text", f.typ)
	}
	return string(f.data)
}

// waitClosed reads until the server closes c and returns the read error.
func waitClosed(t *testing.T, c *websocket.Conn) error {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	_ = c.SetReadDeadline(deadline)
	for {
		_, _, err := c.ReadMessage()
		if err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatalf("connection not closed by the server: %v", err)
			}
			return err
		}
	}
}

func writeText(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatalf("write %q: %v", s, err)
	}
}

func (e *testEnv) waitClose(sid string) closeEvent {
	e.t.Helper()
	return recv(e.t, e.handler(sid).closed, "OnClose of "+sid)
}

func (e *testEnv) waitParked(sid string) {
	e.t.Helper()
	for recv(e.t, e.parked, "a parked GET of "+sid) != sid {
	}
}

// waitIdle waits until the WebSocket writer of sid has nothing to do.
func (e *testEnv) waitIdle(sid string) {
	e.t.Helper()
	for recv(e.t, e.idle, "the idle writer of "+sid) != sid {
	}
}

func (e *testEnv) waitUpgraded(sid string) {
	e.t.Helper()
	for recv(e.t, e.upgraded, "the upgrade of "+sid) != sid {
	}
}

// rawConn opens a plain TCP connection to the test server.
func (e *testEnv) rawConn() net.Conn {
	e.t.Helper()
	c, err := net.DialTimeout("tcp", e.ts.Listener.Addr().String(), waitLimit)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *testEnv) writeRaw(c net.Conn, s string) {
	e.t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(waitLimit))
	if _, err := io.WriteString(c, s); err != nil {
		e.t.Fatal(err)
	}
}
