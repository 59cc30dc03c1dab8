package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/api"
)

const (
	waitTimeout = 10 * time.Second
	token       = "s3cret-token"
)

var discard = slog.New(slog.DiscardHandler)

// fixture is a real Socket.IO server on a real listener, with the API in
// front of it.
type fixture struct {
	t       *testing.T
	srv     *socketio.Server
	api     *api.API
	sioURL  string // ws://…/socket.io/
	apiURL  string
	reasons chan string // "<socket id> <reason>" of every disconnect in /chat
}

func newFixture(t *testing.T, cfg api.Config) *fixture {
	t.Helper()
	srv := socketio.NewServer(socketio.Config{
		Engine:  engineio.Config{Path: "/socket.io/", Logger: discard},
		Adapter: adapter.New,
		Logger:  discard,
	})
	f := &fixture{t: t, srv: srv, reasons: make(chan string, 64)}
	chat := srv.Of("/chat")
	// socket.data from the auth's "user", as a connect answer would set
	// it.
	chat.Use(func(ctx context.Context, s *socketio.Socket) error {
		var auth struct {
			User string `json:"user"`
		}
		if json.Unmarshal(s.Handshake().Auth, &auth) == nil && auth.User != "" {
			s.SetData(json.RawMessage(`{"user":` + strconv.Quote(auth.User) + `}`))
		}
		return nil
	})
	chat.OnConnection(func(s *socketio.Socket) {
		id := s.ID()
		s.OnDisconnect(func(r socketio.DisconnectReason) { f.reasons <- id + " " + string(r) })
	})
	sio := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
		sio.Close()
	})
	f.sioURL = "ws" + strings.TrimPrefix(sio.URL, "http") + "/socket.io/?EIO=4&transport=websocket"

	cfg.Token = token
	cfg.Server = srv
	cfg.Executor = translate.NewExecutor(srv)
	if cfg.Logger == nil {
		cfg.Logger = discard
	}
	a, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.api = a
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(hs.Close)
	f.apiURL = hs.URL
	return f
}

// do sends a request to the API with the token and returns the status
// and body.
func (f *fixture) do(method, path, body string) (int, string) {
	f.t.Helper()
	return f.doAuth(method, path, body, "Bearer "+token)
}

func (f *fixture) doAuth(method, path, body, auth string) (int, string) {
	f.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.apiURL+path, r)
	if err != nil {
		f.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// expect checks an answer's status and JSON body.
func (f *fixture) expect(method, path, body string, status int, want string) {
	f.t.Helper()
	gotStatus, got := f.do(method, path, body)
	if gotStatus != status || !sameJSON(got, want) {
		f.t.Fatalf("%s %s %s = %d %s, want %d %s", method, path, body, gotStatus, got, status, want)
	}
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// client is a minimal Socket.IO client over a real WebSocket: enough to
// connect to a namespace, receive events and answer acks.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	nsp    string
	id     string
	frames chan frame
	mu     sync.Mutex // writes
}

type frame struct {
	text   string
	binary []byte
	closed bool
}

// dial connects a client to nsp with auth (a JSON object or "").
func (f *fixture) dial(nsp, auth string) *client {
	f.t.Helper()
	ws, _, err := websocket.DefaultDialer.DialContext(f.t.Context(), f.sioURL, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	c := &client{t: f.t, ws: ws, nsp: nsp, frames: make(chan frame, 256)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			typ, b, err := ws.ReadMessage()
			if err != nil {
				c.frames <- frame{closed: true}
				return
			}
			if typ == websocket.BinaryMessage {
				c.frames <- frame{binary: b}
				continue
			}
			if string(b) == "2" { // ping
				c.send("3")
				continue
			}
			c.frames <- frame{text: string(b)}
		}
	}()
	f.t.Cleanup(func() { ws.Close(); <-done })
	if open := c.next(); !strings.HasPrefix(open.text, "0{") {
		f.t.Fatalf("open packet %q", open.text)
	}
	c.send("40" + c.prefix() + auth)
	ack := c.next().text
	want := "40" + c.prefix() + `{"sid":"`
	if !strings.HasPrefix(ack, want) {
		f.t.Fatalf("CONNECT answer %q, want prefix %q", ack, want)
	}
	c.id = ack[len(want) : len(want)+20]
	return c
}

// prefix is the namespace part of a packet ("/chat," or "").
func (c *client) prefix() string {
	if c.nsp == "/" {
		return ""
	}
	return c.nsp + ","
}

func (c *client) send(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Errorf("write %q: %v", s, err)
	}
}

func (c *client) next() frame {
	c.t.Helper()
	select {
	case fr := <-c.frames:
		return fr
	case <-time.After(waitTimeout):
		c.t.Fatalf("client %s: nothing within %v", c.id, waitTimeout)
		return frame{}
	}
}

// event reads the next frame, which must be an EVENT of the namespace, and
// returns its ack id (-1 without) and payload.
func (c *client) event() (int, string) {
	c.t.Helper()
	fr := c.next()
	rest, ok := strings.CutPrefix(fr.text, "42"+c.prefix())
	if !ok {
		c.t.Fatalf("client %s: got %q, want an EVENT", c.id, fr.text)
	}
	i := strings.IndexByte(rest, '[')
	if i == 0 {
		return -1, rest
	}
	id, err := strconv.Atoi(rest[:i])
	if err != nil {
		c.t.Fatalf("client %s: bad ack id in %q", c.id, fr.text)
	}
	return id, rest[i:]
}

// nothing checks that no frame is waiting. It is only meaningful after a
// later frame proved the earlier ones arrived (frames keep order).
func (c *client) nothing() {
	c.t.Helper()
	select {
	case fr := <-c.frames:
		c.t.Fatalf("client %s: unexpected %+v", c.id, fr)
	default:
	}
}

func (c *client) ack(id int, args string) {
	c.send("43" + c.prefix() + strconv.Itoa(id) + args)
}

// recv waits for a value on ch.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("nothing within %v", waitTimeout)
		var zero T
		return zero
	}
}
