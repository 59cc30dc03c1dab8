package translate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// waitTimeout bounds every wait; generous for -race on two cores.
const waitTimeout = 10 * time.Second

// sidecar is a real Socket.IO server with a Translator, on 127.0.0.1.
type sidecar struct {
	srv *socketio.Server
	tr  *translate.Translator
	url string
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startSidecar(t *testing.T, cfg translate.Config) *sidecar {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	srv := socketio.NewServer(socketio.Config{
		Engine:  engineio.Config{Path: "/socket.io/", Logger: cfg.Logger},
		Adapter: adapter.New,
		Logger:  cfg.Logger,
	})
	tr, err := translate.New(cfg, srv)
	if err != nil {
		t.Fatalf("translate.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = tr.Shutdown(ctx)
		hs.Close()
	})
	return &sidecar{srv: srv, tr: tr, url: hs.URL}
}

// hook is a webhook backend: handler answers, deliveries are recorded.
type hook struct {
	*httptest.Server
	got chan delivery
}

type delivery struct {
	Header http.Header
	Body   []byte
	Env    envelope
}

// envelope decodes what the sidecar sends.
type envelope struct {
	Type      string            `json:"type"`
	ID        string            `json:"id"`
	Time      string            `json:"time"`
	Namespace string            `json:"namespace"`
	Socket    socketJSON        `json:"socket"`
	Event     string            `json:"event"`
	Args      []json.RawMessage `json:"args"`
	Ack       *bool             `json:"ack"`
	Reason    string            `json:"reason"`
	Recovered *bool             `json:"recovered"`
}

type socketJSON struct {
	ID        string              `json:"id"`
	Rooms     []string            `json:"rooms"`
	Data      json.RawMessage     `json:"data"`
	Handshake translate.Handshake `json:"handshake"`
}

func startHook(t *testing.T, handler func(w http.ResponseWriter, d delivery)) *hook {
	t.Helper()
	h := &hook{got: make(chan delivery, 1024)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		d := delivery{Header: r.Header.Clone(), Body: body}
		if err := json.Unmarshal(body, &d.Env); err != nil {
			http.Error(w, "bad envelope", http.StatusBadRequest)
			return
		}
		select {
		case h.got <- d:
		default:
		}
		handler(w, d)
	}))
	t.Cleanup(h.Close)
	return h
}

// blockingHook is a backend that answers every event with the ack
// ["done"], except that a delivery of the event "block" waits until
// release is called. started returns once such a delivery has reached it.
func blockingHook(t *testing.T) (h *hook, started, release func()) {
	t.Helper()
	gate := make(chan struct{})
	arrived := make(chan struct{}, 16)
	h = startHook(t, func(w http.ResponseWriter, d delivery) {
		if d.Env.Type == "event" && d.Env.Event == "block" {
			arrived <- struct{}{}
			<-gate
		}
		jsonAnswer(w, 200, `{"ack":["done"]}`)
	})
	started = func() {
		t.Helper()
		select {
		case <-arrived:
		case <-time.After(waitTimeout):
			t.Fatal("the blocking delivery never reached the backend")
		}
	}
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return h, started, release
}

// next returns the next delivery of type typ (others are skipped).
func (h *hook) next(t *testing.T, typ string) delivery {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case d := <-h.got:
			if d.Env.Type == typ {
				return d
			}
		case <-deadline:
			t.Fatalf("no %s delivery within %v", typ, waitTimeout)
		}
	}
}

func jsonAnswer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func newClient(t *testing.T, url string, cfg webhook.Config) *webhook.Client {
	t.Helper()
	cfg.URL = url
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	c, err := webhook.New(cfg)
	if err != nil {
		t.Fatalf("webhook.New: %v", err)
	}
	return c
}

// wsClient is a minimal Socket.IO v5 client over the Engine.IO WebSocket
// transport: enough to drive the sidecar from Go tests. The interop
// package drives it with the real socket.io-client.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	nsp  string
	sid  string
	wmu  sync.Mutex
	in   chan frame
	ackN int
}

type frame struct {
	text   string
	binary []byte
}

func dial(t *testing.T, base, nsp, auth string) *wsClient {
	t.Helper()
	c, connErr := dialRaw(t, base, nsp, auth)
	if connErr != "" {
		t.Fatalf("connect %s: CONNECT_ERROR %s", nsp, connErr)
	}
	return c
}

// dialRaw connects and returns the client, or the CONNECT_ERROR payload.
func dialRaw(t *testing.T, base, nsp, auth string) (*wsClient, string) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	c := &wsClient{t: t, conn: conn, nsp: nsp, in: make(chan frame, 4096)}
	t.Cleanup(func() { conn.Close() })
	go c.readLoop()
	open := c.nextFrame()
	if !strings.HasPrefix(open.text, "0{") {
		t.Fatalf("first frame %q, want OPEN", open.text)
	}
	c.send("40" + c.prefix() + auth)
	f := c.nextFrame()
	switch {
	case strings.HasPrefix(f.text, "40"+c.prefix()+"{"):
		var v struct {
			SID string `json:"sid"`
		}
		_ = json.Unmarshal([]byte(strings.TrimPrefix(f.text, "40"+c.prefix())), &v)
		c.sid = v.SID
		return c, ""
	case strings.HasPrefix(f.text, "44"+c.prefix()):
		return c, strings.TrimPrefix(f.text, "44"+c.prefix())
	default:
		t.Fatalf("CONNECT answered %q", f.text)
		return nil, ""
	}
}

func (c *wsClient) prefix() string {
	if c.nsp == "/" || c.nsp == "" {
		return ""
	}
	return c.nsp + ","
}

func (c *wsClient) readLoop() {
	defer close(c.in)
	for {
		typ, b, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		if typ == websocket.BinaryMessage {
			c.in <- frame{binary: b}
			continue
		}
		if string(b) == "2" {
			c.send("3")
			continue
		}
		c.in <- frame{text: string(b)}
	}
}

func (c *wsClient) send(s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.WriteMessage(websocket.TextMessage, []byte(s))
}

func (c *wsClient) sendBinary(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.WriteMessage(websocket.BinaryMessage, b)
}

func (c *wsClient) nextFrame() frame {
	c.t.Helper()
	select {
	case f, ok := <-c.in:
		if !ok {
			c.t.Fatalf("connection closed")
		}
		return f
	case <-time.After(waitTimeout):
		c.t.Fatalf("no frame within %v", waitTimeout)
		return frame{}
	}
}

// emit sends an event without ack. args is the JSON of the arguments
// after the event name, without brackets.
func (c *wsClient) emit(event, args string) {
	c.send("42" + c.prefix() + eventData(event, args))
}

// emitAck sends an event with an ack id and returns the id.
func (c *wsClient) emitAck(event, args string) int {
	c.ackN++
	c.send(fmt.Sprintf("42%s%d%s", c.prefix(), c.ackN, eventData(event, args)))
	return c.ackN
}

func eventData(event, args string) string {
	e, _ := json.Marshal(event)
	if args == "" {
		return "[" + string(e) + "]"
	}
	return "[" + string(e) + "," + args + "]"
}

// packet is a received Socket.IO packet (binary ones with attachments).
type packet struct {
	typ         byte
	id          int
	hasID       bool
	data        string
	attachments [][]byte
}

// next reads the next Socket.IO packet of the client's namespace.
func (c *wsClient) next() packet {
	c.t.Helper()
	for {
		f := c.nextFrame()
		if !strings.HasPrefix(f.text, "4") || len(f.text) < 2 {
			continue
		}
		s := f.text[1:]
		p := packet{typ: s[0]}
		s = s[1:]
		n := 0
		if p.typ == '5' || p.typ == '6' {
			i := strings.IndexByte(s, '-')
			fmt.Sscanf(s[:i], "%d", &n)
			s = s[i+1:]
			p.typ -= 3 // BINARY_EVENT → EVENT, BINARY_ACK → ACK
		}
		if pre := c.prefix(); pre != "" {
			if !strings.HasPrefix(s, pre) {
				continue
			}
			s = s[len(pre):]
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i > 0 {
			fmt.Sscanf(s[:i], "%d", &p.id)
			p.hasID = true
		}
		p.data = s[i:]
		for range n {
			f := c.nextFrame()
			p.attachments = append(p.attachments, f.binary)
		}
		return p
	}
}

// waitAck waits for the ACK with id and returns its args array.
func (c *wsClient) waitAck(id int) string {
	c.t.Helper()
	for {
		p := c.next()
		if p.typ == '3' && p.id == id {
			return p.data
		}
	}
}

// waitEvent waits for an EVENT named ev and returns its args array.
func (c *wsClient) waitEvent(ev string) (string, packet) {
	c.t.Helper()
	for {
		p := c.next()
		if p.typ != '2' {
			continue
		}
		var arr []json.RawMessage
		if err := json.Unmarshal([]byte(p.data), &arr); err != nil || len(arr) == 0 {
			c.t.Fatalf("event payload %q", p.data)
		}
		var name string
		_ = json.Unmarshal(arr[0], &name)
		if name == ev {
			b, _ := json.Marshal(arr[1:])
			return string(b), p
		}
	}
}

func (c *wsClient) close() { c.conn.Close() }

// sameJSON fails unless got and want are the same JSON value.
func sameJSON(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: want %q is not JSON: %v", what, want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("%s = %s, want %s", what, gb, wb)
	}
}
