package bridge_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/bridge"
)

// pingBackend upgrades each bridge and hands it to the test without
// reading it: the test decides whether pings are answered.
func pingBackend(t *testing.T) (url string, conns chan *websocket.Conn, reqs chan *http.Request) {
	t.Helper()
	conns, reqs = make(chan *websocket.Conn, 4), make(chan *http.Request, 4)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		reqs <- r
		conns <- ws
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/bridge", conns, reqs
}

func nextConn(t *testing.T, conns chan *websocket.Conn) *websocket.Conn {
	t.Helper()
	select {
	case ws := <-conns:
		t.Cleanup(func() { ws.Close() })
		return ws
	case <-time.After(waitTimeout):
		t.Fatal("no bridge dialed")
		return nil
	}
}

// TestBridgePingsKeepIdleBridgeAlive: an idle bridge is pinged every
// PingInterval; a backend that answers (its WebSocket library does, while
// it reads) keeps it open well past PingInterval plus Timeout.
func TestBridgePingsKeepIdleBridgeAlive(t *testing.T) {
	url, conns, _ := pingBackend(t)
	sc := startSidecar(t, translate.Route{OnConnect: translate.OnConnectAccept},
		// Timeout leaves room for a loaded machine to schedule the
		// pong late without the bridge counting the backend silent.
		bridge.Config{URL: url, PingInterval: 100 * time.Millisecond, Timeout: 400 * time.Millisecond})
	cl := siotest.Dial(t, sc.url, "/b", nil)
	ws := nextConn(t, conns)
	pings := make(chan struct{}, 64)
	ws.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	frames := make(chan string, 16)
	go func() {
		defer close(frames)
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			frames <- string(msg)
		}
	}()
	<-frames // the connect frame
	// Twelve pings: the bridge has been idle for twelve intervals, over
	// twice PingInterval plus Timeout.
	for i := range 12 {
		select {
		case <-pings:
		case <-time.After(waitTimeout):
			t.Fatalf("ping %d did not come", i+1)
		}
	}
	cl.Send(`42/b,["still there?"]`)
	select {
	case f, ok := <-frames:
		if !ok || f != `{"type":"event","event":"still there?","args":[]}` {
			t.Fatalf("frame %q (open %v) after the pings, want the event", f, ok)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no event frame after the pings")
	}
}

// TestBridgeSilentBackendClosed: a backend that answers no ping is
// closed after PingInterval plus Timeout, and its socket disconnected as
// when the backend closes.
func TestBridgeSilentBackendClosed(t *testing.T) {
	url, conns, _ := pingBackend(t)
	sc := startSidecar(t, translate.Route{OnConnect: translate.OnConnectAccept},
		bridge.Config{URL: url, PingInterval: 20 * time.Millisecond, Timeout: 40 * time.Millisecond})
	cl := siotest.Dial(t, sc.url, "/b", nil)
	ws := nextConn(t, conns) // never read: pings stay unanswered
	if got := cl.Text(); got != "41/b," {
		t.Fatalf("frame %q, want the DISCONNECT of /b", got)
	}
	// The backend's side sees the connection go.
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the bridge stayed open")
			}
			break
		}
	}
	if sc.br.Len() != 0 {
		t.Fatalf("Len = %d, want 0", sc.br.Len())
	}
}

// TestBridgeForwardHeaders: the headers named in ForwardHeaders go from
// the client's handshake onto the dial, over the static Header; others
// do not, and the connect frame still carries the whole handshake.
func TestBridgeForwardHeaders(t *testing.T) {
	url, conns, reqs := pingBackend(t)
	sc := startSidecar(t, translate.Route{OnConnect: translate.OnConnectAccept}, bridge.Config{
		URL:            url,
		Header:         http.Header{"X-Static": {"1"}, "Authorization": {"Bearer static"}},
		ForwardHeaders: []string{"authorization", "X-Tenant", "x-absent"},
	})
	_, connErr := siotest.DialRaw(t, sc.url, "/b", &siotest.Options{Header: http.Header{
		"Authorization": {"Bearer client"}, "X-Tenant": {"acme"}, "Cookie": {"session=s"},
	}})
	if connErr != "" {
		t.Fatalf("connect_error %s", connErr)
	}
	ws := nextConn(t, conns)
	r := <-reqs
	for name, want := range map[string]string{"Authorization": "Bearer client", "X-Tenant": "acme", "X-Static": "1", "Cookie": "", "X-Absent": ""} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("dial header %s = %q, want %q", name, got, want)
		}
	}
	_, first, err := ws.ReadMessage()
	if err != nil || !strings.Contains(string(first), `"cookie":"session=s"`) {
		t.Fatalf("connect frame %s (%v), want the whole handshake", first, err)
	}
}

func TestForwardableHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"Authorization", true}, {"cookie", true}, {"X-Request-Id", true},
		{"Host", false}, {"connection", false}, {"Upgrade", false},
		{"Sec-WebSocket-Protocol", false}, {"sec-websocket-key", false},
		{"", false}, {"bad name", false}, {"a:b", false},
	} {
		if got := bridge.ForwardableHeader(tc.name); got != tc.ok {
			t.Errorf("ForwardableHeader(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}
