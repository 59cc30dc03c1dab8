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
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/proxy/socketio/siotest"
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

// dial connects a client to nsp with auth (a JSON object or "").
func (f *fixture) dial(nsp, auth string) *siotest.Client {
	f.t.Helper()
	return siotest.Dial(f.t, f.sioURL, nsp, &siotest.Options{Auth: auth})
}

// event reads the next frame, which must be an EVENT of c's namespace, and
// returns its ack id (-1 without) and payload.
func event(t *testing.T, c *siotest.Client) (int, string) {
	t.Helper()
	fr := c.Frame()
	rest, ok := strings.CutPrefix(fr.Text, "42"+c.Prefix())
	if !ok {
		t.Fatalf("client %s: got %q, want an EVENT", c.SID, fr.Text)
	}
	i := strings.IndexByte(rest, '[')
	if i == 0 {
		return -1, rest
	}
	id, err := strconv.Atoi(rest[:i])
	if err != nil {
		t.Fatalf("client %s: bad ack id in %q", c.SID, fr.Text)
	}
	return id, rest[i:]
}

// send writes s, failing the test on a write error.
func send(t *testing.T, c *siotest.Client, s string) {
	t.Helper()
	if err := c.Send(s); err != nil {
		t.Errorf("write %q: %v", s, err)
	}
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
