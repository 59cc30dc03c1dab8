package stream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate/stream"
)

// sseBackend serves text/event-stream: each request takes messages from
// msgs until it gets end (the answer ends) or the client goes away.
type sseBackend struct {
	*httptest.Server
	msgs chan string
	reqs chan *http.Request
}

const end = "\x00end"

func startSSE(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, n int) bool) *sseBackend {
	t.Helper()
	b := &sseBackend{msgs: make(chan string, 64), reqs: make(chan *http.Request, 64)}
	n := 0
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		b.reqs <- r
		if answer != nil && !answer(w, r, n) {
			return
		}
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for {
			select {
			case m := <-b.msgs:
				if m == end {
					return
				}
				io.WriteString(w, m)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *sseBackend) request(t *testing.T) *http.Request {
	t.Helper()
	select {
	case r := <-b.reqs:
		return r
	case <-time.After(waitTimeout):
		t.Fatal("no request from the stream")
		return nil
	}
}

func startStream(t *testing.T, cfg stream.Config) *stream.Stream {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	}
	s, err := stream.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

func TestSSE(t *testing.T) {
	sc := startSidecar(t, "/feed", "/other")
	member := siotest.Dial(t, sc.url, "/feed", nil)
	other := siotest.Dial(t, sc.url, "/feed", nil)
	elsewhere := siotest.Dial(t, sc.url, "/other", nil)
	sc.join(t, "/feed", member.SID, "news")

	be := startSSE(t, nil)
	s := startStream(t, stream.Config{Name: "news", URL: be.URL + "/events", Namespace: "/feed", Executor: sc.exec})
	if r := be.request(t); r.Header.Get("Accept") != "text/event-stream" || r.Header.Get("Last-Event-ID") != "" {
		t.Fatalf("first request headers %v", r.Header)
	}

	be.msgs <- "id: 1\ndata: {\"to\":[\"news\"],\"event\":\"headline\",\"args\":[{\"n\":1}]}\n\n"
	member.Expect("headline", `[{"n":1}]`)
	if err := s.Ready(t.Context()); err != nil {
		t.Fatalf("Ready while connected = %v", err)
	}

	// Malformed messages are skipped; the connection stays.
	be.msgs <- "data: not json\n\n"
	be.msgs <- "data: {\"to\":\"news\"}\n\n"
	be.msgs <- "data: {\"event\":\"connect\"}\n\n"
	// An array, applied in order; an instruction naming its namespace; data
	// split over lines; a comment.
	be.msgs <- ": keep-alive\nid: 2\nevent: ignored\ndata: [{\"event\":\"a\",\"args\":[1]},\n" +
		"data: {\"event\":\"b\",\"args\":[\"x\"],\"except\":[\"news\"]},\n" +
		"data: {\"namespace\":\"/other\",\"event\":\"c\"}]\n\n"
	member.Expect("a", `[1]`)
	other.Expect("a", `[1]`)
	other.Expect("b", `["x"]`) // the member is in news: excepted
	elsewhere.Expect("c", `[]`)
	be.msgs <- "data: {\"event\":\"last\"}\n\n"
	member.Expect("last", `[]`)
	other.Expect("last", `[]`)

	st := s.Stats()
	if st.Connects != 1 || st.Messages != 6 || st.Instructions != 5 || st.Skipped != 3 {
		t.Fatalf("Stats = %+v", st)
	}

	// The backend ends the answer: the stream reconnects with the last id.
	be.msgs <- end
	if r := be.request(t); r.Header.Get("Last-Event-ID") != "2" {
		t.Fatalf("reconnect Last-Event-ID = %q, want 2", r.Header.Get("Last-Event-ID"))
	}
	be.msgs <- "data: {\"event\":\"again\"}\n\n"
	other.Expect("again", `[]`)
}

func TestSSEFailuresReconnect(t *testing.T) {
	sc := startSidecar(t, "/")
	c := siotest.Dial(t, sc.url, "/", nil)
	be := startSSE(t, func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch n {
		case 1:
			http.Error(w, "later", http.StatusServiceUnavailable)
			return false
		case 2:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{}`)
			return false
		case 3:
			// A line over MaxMessageBytes ends the connection.
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "retry: 1\ndata: "+strings.Repeat("x", 300)+"\n\n")
			return false
		}
		return true
	})
	s := startStream(t, stream.Config{URL: be.URL, Executor: sc.exec, MaxMessageBytes: 256,
		MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	for range 4 {
		be.request(t)
	}
	be.msgs <- "data: {\"event\":\"up\"}\n\n"
	c.Expect("up", `[]`)
	if err := s.Ready(t.Context()); err != nil {
		t.Fatalf("Ready = %v", err)
	}
	if st := s.Stats(); st.Connects != 2 {
		t.Fatalf("Connects = %d, want 2 (the third answer and this one)", st.Connects)
	}
}

func TestReadyBeforeConnect(t *testing.T) {
	sc := startSidecar(t, "/")
	s, err := stream.New(stream.Config{URL: "http://127.0.0.1:1/never", Executor: sc.exec, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(t.Context()); !errors.Is(err, stream.ErrNotConnected) {
		t.Fatalf("Ready = %v, want ErrNotConnected", err)
	}
	if err := s.Shutdown(t.Context()); err != nil { // never started
		t.Fatal(err)
	}
}

func TestNewErrors(t *testing.T) {
	sc := startSidecar(t, "/")
	for _, tc := range []struct {
		name string
		cfg  stream.Config
	}{
		{"no url", stream.Config{Executor: sc.exec}},
		{"bad scheme", stream.Config{URL: "ftp://x/", Executor: sc.exec}},
		{"no executor", stream.Config{URL: "http://127.0.0.1/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := stream.New(tc.cfg); !errors.Is(err, stream.ErrConfig) {
				t.Fatalf("New = %v, want ErrConfig", err)
			}
		})
	}
}

// wsBackend is a gorilla WebSocket server: each connection is handed to
// the test.
type wsBackend struct {
	*httptest.Server
	conns chan *websocket.Conn
	reqs  chan *http.Request
}

func startWS(t *testing.T) *wsBackend {
	t.Helper()
	b := &wsBackend{conns: make(chan *websocket.Conn, 16), reqs: make(chan *http.Request, 16)}
	up := websocket.Upgrader{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		b.reqs <- r
		b.conns <- c
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *wsBackend) conn(t *testing.T) *websocket.Conn {
	t.Helper()
	select {
	case c := <-b.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no WebSocket from the stream")
		return nil
	}
}

func TestWebSocket(t *testing.T) {
	sc := startSidecar(t, "/")
	c := siotest.Dial(t, sc.url, "/", nil)
	be := startWS(t)
	s := startStream(t, stream.Config{URL: "ws" + strings.TrimPrefix(be.URL, "http") + "/ws",
		Executor: sc.exec, Header: http.Header{"Authorization": {"Bearer t"}}})
	ws := be.conn(t)
	if r := <-be.reqs; r.Header.Get("Authorization") != "Bearer t" {
		t.Fatalf("Authorization = %q", r.Header.Get("Authorization"))
	}
	send := func(typ int, msg string) {
		t.Helper()
		if err := ws.WriteMessage(typ, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	send(websocket.TextMessage, `{"event":"one","args":[1,"two"]}`)
	c.Expect("one", `[1,"two"]`)
	send(websocket.BinaryMessage, `{"event":"binary frame"}`)
	send(websocket.TextMessage, `{"event":"bad","args":[{"_binary":"%%%"}]}`)
	send(websocket.TextMessage, `[{"event":"x"},{"event":"y","to":["`+c.SID+`"]}]`)
	c.Expect("x", `[]`)
	c.Expect("y", `[]`)
	if st := s.Stats(); st.Skipped != 2 || st.Instructions != 3 {
		t.Fatalf("Stats = %+v", st)
	}

	// The backend closes: the stream dials again.
	ws.Close()
	ws = be.conn(t)
	<-be.reqs
	send(websocket.TextMessage, `{"event":"back"}`)
	c.Expect("back", `[]`)

	// Shutdown says goodbye with a close frame.
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != "server shutting down" {
		t.Fatalf("backend read after Shutdown: %v, want close 1001", err)
	}
	if err := s.Ready(t.Context()); err == nil {
		t.Fatal("Ready after Shutdown = nil")
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		events   string // the decoded events, comma-separated
		err      bool
	}{
		{"object", `{"event":"e"}`, "e", false},
		{"array", ` [{"event":"a"},{"event":"b","to":"r"}] `, "a,b", false},
		{"empty array", `[]`, "", false},
		{"no event", `{"args":[1]}`, "", true},
		{"null in array", `[{"event":"a"},null]`, "", true},
		{"string", `"e"`, "", true},
		{"empty", ``, "", true},
		{"bad json", `{"event":`, "", true},
		{"bad to", `{"event":"e","to":1}`, "", true},
		{"bad ack", `{"event":"e","ack":{"timeout":"soon"}}`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ins, err := stream.Decode([]byte(tc.in))
			if tc.err {
				if !errors.Is(err, stream.ErrMalformed) {
					t.Fatalf("Decode(%q) error = %v, want ErrMalformed", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q) = %v", tc.in, err)
			}
			var names []string
			for _, in := range ins {
				names = append(names, in.Event)
			}
			if got := strings.Join(names, ","); got != tc.events {
				t.Fatalf("Decode(%q) events = %q, want %q", tc.in, got, tc.events)
			}
		})
	}
}

func ExampleDecode() {
	ins, err := stream.Decode([]byte(`[{"to":"news","event":"headline","args":["hi"]},{"event":"tick"}]`))
	if err != nil {
		panic(err)
	}
	for _, in := range ins {
		fmt.Println(in.Event, in.To, len(in.Args))
	}
	// Output:
	// headline [news] 1
	// tick [] 0
}
