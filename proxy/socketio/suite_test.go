package socketio_test

// A port of the Socket.IO v5 black-box suite
// (docs/socket.io-protocol/v5-test-suite/test-suite.js in socketio/socket.io)
// run over real HTTP and WebSocket against Server.ServeHTTP. The server is
// scripted as the suite assumes: namespaces "/" and "/custom" emit "auth"
// with the handshake's auth on connection, echo "message" as
// "message-back", and answer "message-with-ack" with its arguments.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

const (
	suitePingInterval = 300 * time.Millisecond
	suitePingTimeout  = 200 * time.Millisecond
)

type suite struct {
	t       *testing.T
	http    string
	ws      string
	arrived chan string // the sid of each polling GET reaching the server
}

// with returns the suite bound to a subtest.
func (s *suite) with(t *testing.T) *suite {
	c := *s
	c.t = t
	return &c
}

func newSuite(t *testing.T) *suite {
	t.Helper()
	srv := newServer(t, socketio.Config{
		Engine: engineio.Config{
			PingInterval: suitePingInterval,
			PingTimeout:  suitePingTimeout,
		},
	})
	for _, name := range []string{"/", "/custom"} {
		srv.Of(name).OnConnection(func(s *socketio.Socket) {
			_ = s.Emit("auth", []json.RawMessage{s.Handshake().Auth}, nil)
			s.On("message", func(e socketio.Event) {
				_ = s.Emit("message-back", e.Args, e.Attachments)
			})
			s.On("message-with-ack", func(e socketio.Event) {
				_ = e.Ack(e.Args, e.Attachments)
			})
		})
	}
	arrived := make(chan string, 64)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sid := r.URL.Query().Get("sid"); sid != "" && r.Method == http.MethodGet && r.URL.Query().Get("transport") == "polling" {
			select {
			case arrived <- sid:
			default:
			}
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return &suite{t: t, http: hs.URL, ws: "ws" + strings.TrimPrefix(hs.URL, "http"), arrived: arrived}
}

func (s *suite) get(query string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.http + "/socket.io/?" + query)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *suite) do(method, query, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.http+"/socket.io/?"+query, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *suite) pollingSession() string {
	s.t.Helper()
	code, body := s.get("EIO=4&transport=polling")
	if code != 200 || !strings.HasPrefix(body, "0") {
		s.t.Fatalf("handshake: %d %q", code, body)
	}
	var open struct{ Sid string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil {
		s.t.Fatal(err)
	}
	return open.Sid
}

type wsConn struct {
	t *testing.T
	c *websocket.Conn
}

func (s *suite) dial(query string) (*wsConn, error) {
	c, _, err := websocket.DefaultDialer.Dial(s.ws+"/socket.io/?"+query, nil)
	if err != nil {
		return nil, err
	}
	s.t.Cleanup(func() { c.Close() })
	return &wsConn{t: s.t, c: c}, nil
}

func (s *suite) mustDial(query string) *wsConn {
	s.t.Helper()
	c, err := s.dial(query)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// read returns the next message (text, or binary prefixed with "b:").
func (w *wsConn) read() (string, error) {
	_ = w.c.SetReadDeadline(time.Now().Add(waitTimeout))
	typ, b, err := w.c.ReadMessage()
	if err != nil {
		return "", err
	}
	if typ == websocket.BinaryMessage {
		return "b:" + string(b), nil
	}
	return string(b), nil
}

func (w *wsConn) next() string {
	w.t.Helper()
	m, err := w.read()
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return m
}

// packets returns the next n messages, pings left out.
func (w *wsConn) packets(n int) []string {
	w.t.Helper()
	var out []string
	for len(out) < n {
		if m := w.next(); m != "2" {
			out = append(out, m)
		}
	}
	return out
}

func (w *wsConn) send(s string) {
	w.t.Helper()
	if err := w.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsConn) sendBinary(b []byte) {
	w.t.Helper()
	if err := w.c.WriteMessage(websocket.BinaryMessage, b); err != nil {
		w.t.Fatal(err)
	}
}

// waitClose reads until the server closes the connection.
func (w *wsConn) waitClose() {
	w.t.Helper()
	for {
		if _, err := w.read(); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				w.t.Fatal("connection not closed in time")
			}
			return
		}
	}
}

// socketIO opens a WebSocket and connects the main namespace, consuming
// the handshake and the "auth" event (initSocketIOConnection).
func (s *suite) socketIO() *wsConn {
	s.t.Helper()
	w := s.mustDial("EIO=4&transport=websocket")
	w.next()
	w.send("40")
	w.next()
	w.next()
	return w
}

func checkOpen(t *testing.T, data string, upgrades []string) {
	t.Helper()
	if !strings.HasPrefix(data, "0") {
		t.Fatalf("open packet %q", data)
	}
	var v map[string]json.RawMessage
	if err := json.Unmarshal([]byte(data[1:]), &v); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"}) {
		t.Fatalf("keys %v", keys)
	}
	var up []string
	_ = json.Unmarshal(v["upgrades"], &up)
	if !slices.Equal(up, upgrades) && !(len(up) == 0 && len(upgrades) == 0) {
		t.Fatalf("upgrades %v", up)
	}
	if string(v["pingInterval"]) != "300" || string(v["pingTimeout"]) != "200" || string(v["maxPayload"]) != "1000000" {
		t.Fatalf("open %s", data)
	}
}

func TestSuiteEngineIOHandshake(t *testing.T) {
	s := newSuite(t)
	t.Run("polling opens a session", func(t *testing.T) {
		s := s.with(t)
		code, body := s.get("EIO=4&transport=polling")
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		checkOpen(t, body, []string{"websocket"})
	})
	t.Run("polling invalid EIO", func(t *testing.T) {
		s := s.with(t)
		for _, q := range []string{"transport=polling", "EIO=abc&transport=polling"} {
			if code, _ := s.get(q); code != 400 {
				t.Errorf("%s: %d", q, code)
			}
		}
	})
	t.Run("polling invalid transport", func(t *testing.T) {
		s := s.with(t)
		for _, q := range []string{"EIO=4", "EIO=4&transport=abc"} {
			if code, _ := s.get(q); code != 400 {
				t.Errorf("%s: %d", q, code)
			}
		}
	})
	t.Run("polling invalid method", func(t *testing.T) {
		s := s.with(t)
		for _, m := range []string{"POST", "PUT"} {
			if code, _ := s.do(m, "EIO=4&transport=polling", ""); code != 400 {
				t.Errorf("%s: %d", m, code)
			}
		}
	})
	t.Run("websocket opens a session", func(t *testing.T) {
		s := s.with(t)
		w := s.mustDial("EIO=4&transport=websocket")
		checkOpen(t, w.next(), nil)
	})
	t.Run("websocket invalid query", func(t *testing.T) {
		s := s.with(t)
		for _, q := range []string{"transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc"} {
			w, err := s.dial(q)
			if err == nil {
				w.waitClose()
			}
		}
	})
}

func TestSuiteEngineIOHeartbeat(t *testing.T) {
	s := newSuite(t)
	t.Run("polling ping/pong", func(t *testing.T) {
		s := s.with(t)
		sid := s.pollingSession()
		for range 3 {
			code, body := s.get("EIO=4&transport=polling&sid=" + sid)
			if code != 200 || body != "2" {
				t.Fatalf("poll: %d %q", code, body)
			}
			if code, _ := s.do("POST", "EIO=4&transport=polling&sid="+sid, "3"); code != 200 {
				t.Fatalf("pong: %d", code)
			}
		}
	})
	t.Run("polling ping timeout", func(t *testing.T) {
		s := s.with(t)
		sid := s.pollingSession()
		if _, body := s.get("EIO=4&transport=polling&sid=" + sid); body != "2" {
			t.Fatalf("ping %q", body)
		}
		// no pong: the session ends; a poll sees the close or a 400
		for {
			code, body := s.get("EIO=4&transport=polling&sid=" + sid)
			if code == 400 {
				return
			}
			if code != 200 || (body != "1" && body != "6") {
				t.Fatalf("poll after timeout: %d %q", code, body)
			}
		}
	})
	t.Run("websocket ping/pong", func(t *testing.T) {
		s := s.with(t)
		w := s.mustDial("EIO=4&transport=websocket")
		w.next()
		for range 3 {
			if m := w.next(); m != "2" {
				t.Fatalf("got %q", m)
			}
			w.send("3")
		}
	})
	t.Run("websocket ping timeout", func(t *testing.T) {
		s := s.with(t)
		w := s.mustDial("EIO=4&transport=websocket")
		w.waitClose()
	})
}

func TestSuiteEngineIOClose(t *testing.T) {
	s := newSuite(t)
	t.Run("polling", func(t *testing.T) {
		s := s.with(t)
		sid := s.pollingSession()
		var wg sync.WaitGroup
		var code int
		var body string
		wg.Go(func() { code, body = s.get("EIO=4&transport=polling&sid=" + sid) })
		for got := ""; got != sid; {
			got = <-s.arrived
		}
		// arrived is signalled before the server takes the GET: on a busy
		// machine the close could overtake it, and a GET after the close
		// is rightly a 400. Give the server a moment to hold it.
		time.Sleep(50 * time.Millisecond)
		s.do("POST", "EIO=4&transport=polling&sid="+sid, "1")
		wg.Wait()
		if code != 200 || body != "6" {
			t.Fatalf("poll: %d %q", code, body)
		}
		if code, _ := s.get("EIO=4&transport=polling&sid=" + sid); code != 400 {
			t.Fatalf("after close: %d", code)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		s := s.with(t)
		w := s.mustDial("EIO=4&transport=websocket")
		w.next()
		w.send("1")
		w.waitClose()
	})
}

func TestSuiteEngineIOUpgrade(t *testing.T) {
	s := newSuite(t)
	upgrade := func(s *suite) (string, *wsConn) {
		t := s.t
		sid := s.pollingSession()
		w := s.mustDial("EIO=4&transport=websocket&sid=" + sid)
		w.send("2probe")
		if m := w.next(); m != "3probe" {
			t.Fatalf("probe answer %q", m)
		}
		w.send("5")
		return sid, w
	}
	t.Run("upgrades", func(t *testing.T) { upgrade(s.with(t)) })
	t.Run("ignores polling after upgrade", func(t *testing.T) {
		s := s.with(t)
		sid, w := upgrade(s)
		if m := w.next(); m != "2" { // the upgrade is complete once pings come over the WebSocket
			t.Fatalf("got %q", m)
		}
		if code, _ := s.get("EIO=4&transport=polling&sid=" + sid); code != 400 {
			t.Fatalf("poll after upgrade: %d", code)
		}
	})
	t.Run("ignores a second websocket after upgrade", func(t *testing.T) {
		s := s.with(t)
		sid, w := upgrade(s)
		w.next()
		w2, err := s.dial("EIO=4&transport=websocket&sid=" + sid)
		if err == nil {
			w2.waitClose()
		}
	})
}

func TestSuiteConnect(t *testing.T) {
	s := newSuite(t)
	handshake := func(t *testing.T, w *wsConn, prefix string) {
		t.Helper()
		data := w.next()
		if !strings.HasPrefix(data, prefix) {
			t.Fatalf("got %q", data)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(data[len(prefix):]), &v); err != nil {
			t.Fatal(err)
		}
		if sid, ok := v["sid"].(string); !ok || len(v) != 1 || sid == "" {
			t.Fatalf("handshake %v", v)
		}
	}
	cases := []struct{ name, send, prefix, auth string }{
		{"main namespace", "40", "40", `42["auth",{}]`},
		{"main namespace with payload", `40{"token":"123"}`, "40", `42["auth",{"token":"123"}]`},
		{"custom namespace", "40/custom,", "40/custom,", `42/custom,["auth",{}]`},
		{"custom namespace with payload", `40/custom,{"token":"abc"}`, "40/custom,", `42/custom,["auth",{"token":"abc"}]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := s.with(t)
			w := s.mustDial("EIO=4&transport=websocket")
			w.next()
			w.send(tc.send)
			handshake(t, w, tc.prefix)
			if m := w.next(); m != tc.auth {
				t.Fatalf("auth packet %q, want %q", m, tc.auth)
			}
		})
	}
	t.Run("unknown namespace", func(t *testing.T) {
		s := s.with(t)
		w := s.mustDial("EIO=4&transport=websocket")
		w.next()
		w.send("40/random")
		if m := w.next(); m != `44/random,{"message":"Invalid namespace"}` {
			t.Fatalf("got %q", m)
		}
	})
	t.Run("invalid handshake", func(t *testing.T) {
		s := s.with(t)
		w := s.mustDial("EIO=4&transport=websocket")
		w.next()
		w.send("4abc")
		w.waitClose()
	})
	t.Run("no handshake", func(t *testing.T) {
		s := s.with(t)
		w := s.mustDial("EIO=4&transport=websocket")
		w.waitClose()
	})
}

func TestSuiteDisconnect(t *testing.T) {
	s := newSuite(t)
	t.Run("main namespace", func(t *testing.T) {
		s := s.with(t)
		w := s.socketIO()
		w.send("41")
		if m := w.next(); m != "2" {
			t.Fatalf("got %q", m)
		}
	})
	t.Run("custom namespace", func(t *testing.T) {
		s := s.with(t)
		w := s.socketIO()
		if m := w.next(); m != "2" {
			t.Fatalf("ping %q", m)
		}
		w.send("3")
		w.send("40/custom")
		w.next()
		w.next()
		w.send("41/custom")
		w.send(`42["message","message to main namespace"]`)
		if m := w.packets(1)[0]; m != `42["message-back","message to main namespace"]` {
			t.Fatalf("got %q", m)
		}
	})
}

func TestSuiteMessage(t *testing.T) {
	s := newSuite(t)
	t.Run("plain-text", func(t *testing.T) {
		s := s.with(t)
		w := s.socketIO()
		w.send(`42["message",1,"2",{"3":[true]}]`)
		if m := w.packets(1)[0]; m != `42["message-back",1,"2",{"3":[true]}]` {
			t.Fatalf("got %q", m)
		}
	})
	t.Run("binary attachments", func(t *testing.T) {
		s := s.with(t)
		w := s.socketIO()
		w.send(`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		w.sendBinary([]byte{1, 2, 3})
		w.sendBinary([]byte{4, 5, 6})
		got := w.packets(3)
		want := []string{`452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "b:\x01\x02\x03", "b:\x04\x05\x06"}
		if !slices.Equal(got, want) {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("plain-text with ack", func(t *testing.T) {
		s := s.with(t)
		w := s.socketIO()
		w.send(`42456["message-with-ack",1,"2",{"3":[false]}]`)
		if m := w.packets(1)[0]; m != `43456[1,"2",{"3":[false]}]` {
			t.Fatalf("got %q", m)
		}
	})
	t.Run("binary attachments with ack", func(t *testing.T) {
		s := s.with(t)
		w := s.socketIO()
		w.send(`452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
		w.sendBinary([]byte{1, 2, 3})
		w.sendBinary([]byte{4, 5, 6})
		got := w.packets(3)
		want := []string{`462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "b:\x01\x02\x03", "b:\x04\x05\x06"}
		if !slices.Equal(got, want) {
			t.Fatalf("got %q", got)
		}
	})
	for _, tc := range []struct{ name, msg string }{
		{"unknown packet type", "4abc"},
		{"invalid payload format", "42{}"},
		{"invalid ack id", `42abc["message-with-ack",1,"2",{"3":[false]}]`},
	} {
		t.Run("closes upon "+tc.name, func(t *testing.T) {
			s := s.with(t)
			w := s.socketIO()
			w.send(tc.msg)
			w.waitClose()
		})
	}
}

// TestEIO3OverWebSocket: a socket.io 2.x style session over a real
// WebSocket (EIO=3): the main namespace is connected implicitly, CONNECT
// acks carry no payload, a namespace query is the auth.
func TestEIO3OverWebSocket(t *testing.T) {
	srv := newServer(t, socketio.Config{Engine: engineio.Config{AllowEIO3: true}})
	auth := make(chan string, 1)
	for _, name := range []string{"/", "/custom"} {
		srv.Of(name).OnConnection(func(s *socketio.Socket) {
			if name == "/custom" {
				auth <- string(s.Handshake().Auth)
			}
			s.On("message", func(e socketio.Event) { _ = s.Emit("message-back", e.Args, nil) })
			s.On("message-with-ack", func(e socketio.Event) { _ = e.Ack(e.Args, nil) })
		})
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	s := &suite{t: t, http: hs.URL, ws: "ws" + strings.TrimPrefix(hs.URL, "http")}
	w := s.mustDial("EIO=3&transport=websocket")
	if m := w.next(); !strings.HasPrefix(m, "0{") {
		t.Fatalf("open %q", m)
	}
	if m := w.next(); m != "40" {
		t.Fatalf("implicit CONNECT ack %q", m)
	}
	w.send(`42["message","x"]`)
	if m := w.next(); m != `42["message-back","x"]` {
		t.Fatalf("got %q", m)
	}
	w.send("40/custom?token=1,")
	if m := w.next(); m != "40/custom," {
		t.Fatalf("custom CONNECT ack %q", m)
	}
	if a := <-auth; a != `{"token":"1"}` {
		t.Fatalf("auth %s", a)
	}
	w.send(`42/custom,1["message-with-ack",2]`)
	if m := w.next(); m != `43/custom,1[2]` {
		t.Fatalf("ack %q", m)
	}
}
