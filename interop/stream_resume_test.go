package interop

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry/otelsdk"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/api"
	"github.com/iobridge/iobridge/translate/stream"
)

// logRecords is a slog.Handler that hands each record's message to a
// channel, so a test waits for what a stream logs instead of sleeping.
type logRecords chan string

func (r logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (r logRecords) Handle(_ context.Context, rec slog.Record) error {
	select {
	case r <- rec.Message:
	default:
	}
	return nil
}
func (r logRecords) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r logRecords) WithGroup(string) slog.Handler      { return r }

func (r logRecords) wait(t *testing.T, msg string) {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case m := <-r:
			if m == msg {
				return
			}
		case <-timeout:
			t.Fatalf("no %q log record", msg)
		}
	}
}

// freeAddr returns a loopback address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serveAt serves h on addr, which freeAddr returned: a backend that was
// down comes up.
func serveAt(t *testing.T, addr string, h http.Handler) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		srv.CloseClientConnections() // streams last
		srv.Close()
	})
}

// tickFeed is an SSE backend that keeps its history: each request gets
// the ticks after its Last-Event-ID. cut says, for the n-th request
// (from 1), after which tick the connection is dropped mid-message (0:
// the answer stays open after the last tick).
func tickFeed(t *testing.T, total int, cut func(n int) int, lastIDs chan<- string) http.Handler {
	n := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		lastIDs <- r.Header.Get("Last-Event-ID")
		from := 1
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			k, err := strconv.Atoi(id)
			if err != nil {
				http.Error(w, "bad Last-Event-ID", http.StatusBadRequest)
				return
			}
			from = k + 1
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "retry: 20\n\n: history kept; resuming\n\n")
		stop := cut(n)
		for i := from; i <= total; i++ {
			msg := fmt.Sprintf("id: %d\nevent: tick\ndata: {\"event\":\"tick\",\"args\":[%d]}\n\n", i, i)
			if i == stop+1 && stop > 0 {
				// The backend goes away halfway through a message.
				io.WriteString(w, msg[:len(msg)/2])
				w.(http.Flusher).Flush()
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			io.WriteString(w, msg)
		}
		io.WriteString(w, "data: {\"event\":\"done\"}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
}

// TestStreamSSEResumeNoGap: an SSE backend that drops the connection in
// the middle of a message, twice, and resumes from Last-Event-ID: the real
// client gets every tick once, in order.
func TestStreamSSEResumeNoGap(t *testing.T) {
	t.Parallel()
	const total = 30
	lastIDs := make(chan string, 8)
	be := httptest.NewServer(tickFeed(t, total, func(n int) int {
		switch n {
		case 1:
			return 10
		case 2:
			return 20
		}
		return 0
	}, lastIDs))
	t.Cleanup(func() {
		be.CloseClientConnections()
		be.Close()
	})

	url, exec := bridgeSidecar(t, nil)
	c := startClient(t)
	c.connect("a", url, connectOpts{Transports: websocket})
	c.wait("connect", "a")
	startStreamFor(t, stream.Config{Name: "ticks", URL: be.URL + "/ticks", Executor: exec})

	for i, want := range []string{"", "10", "20"} {
		select {
		case got := <-lastIDs:
			if got != want {
				t.Fatalf("request %d: Last-Event-ID %q, want %q", i+1, got, want)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("request %d did not come", i+1)
		}
	}
	for i := 1; i <= total; i++ {
		sameJSON(t, fmt.Sprintf("tick %d", i), c.waitEvent("a", "tick").Args, []any{i})
	}
	c.waitEvent("a", "done")
	ticks := 0
	c.log.mu.Lock()
	for _, e := range c.log.events {
		if e.Type == "event" && e.Event == "tick" {
			ticks++
		}
	}
	c.log.mu.Unlock()
	if ticks != total {
		t.Fatalf("%d ticks, want %d: a duplicate", ticks, total)
	}
}

// TestStreamDownAtStartThroughAPI: a stream whose backend is down at
// start: /readyz says so by name, the reconnects count on /metrics; once
// the backend is up the real client gets its events, a malformed message
// is skipped (and counted), and /readyz says the stream is ok.
func TestStreamDownAtStartThroughAPI(t *testing.T) {
	t.Parallel()
	tel, err := otelsdk.New(t.Context(), otelsdk.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	quiet := slog.New(slog.DiscardHandler)
	srv := socketio.NewServer(socketio.Config{Engine: engineio.Config{Path: "/socket.io/", Logger: quiet}, Adapter: adapter.New, Logger: quiet})
	exec := translate.NewExecutor(srv)
	sio := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
		sio.Close()
	})
	url := sio.URL

	addr := freeAddr(t)
	logs := make(logRecords, 256)
	s, err := stream.New(stream.Config{Name: "jobs", URL: "http://" + addr + "/jobs", Executor: exec,
		Logger: slog.New(logs), MeterProvider: tel.MeterProvider(), MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{Token: apiToken, Server: srv, Executor: exec, Metrics: tel.MetricsHandler(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	a.AddReadiness("stream "+s.Name(), s.Ready)
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(hs.Close)
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	c := startClient(t)
	c.connect("a", url, connectOpts{})
	c.wait("connect", "a")
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	logs.wait(t, "stream: disconnected; reconnecting")
	logs.wait(t, "stream: disconnected; reconnecting")
	status, body := get("/readyz")
	if status != 503 || !strings.Contains(body, `"stream jobs: stream: not connected`) || !strings.Contains(body, `"checks":{"stream jobs":"stream: not connected`) {
		t.Fatalf("/readyz while the backend is down = %d %s", status, body)
	}

	msgs := make(chan string, 4)
	serveAt(t, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.(http.Flusher).Flush()
		for {
			select {
			case m := <-msgs:
				io.WriteString(w, m)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	}))
	msgs <- "data: {\"args\":[\"an instruction needs an event\"]}\n\n"
	msgs <- "id: 1\ndata: {\"event\":\"job.update\",\"args\":[{\"job\":1,\"state\":\"running\"}]}\n\n"
	sameJSON(t, "job.update", c.waitEvent("a", "job.update").Args, []any{map[string]any{"job": 1, "state": "running"}})
	status, body = get("/readyz")
	if status != 200 {
		t.Fatalf("/readyz once connected = %d %s", status, body)
	}
	sameJSON(t, "/readyz", []byte(body), map[string]any{"status": "ready", "checks": map[string]string{"stream jobs": "ok"}})

	_, metrics := get("/metrics")
	st := s.Stats()
	for _, want := range []string{
		fmt.Sprintf(`^iobridge_stream_reconnects_total\{.*stream="jobs".*\} %d$`, st.Reconnects),
		`^iobridge_stream_skipped_total\{.*stream="jobs".*\} 1$`,
	} {
		if !regexp.MustCompile("(?m)" + want).MatchString(metrics) {
			t.Errorf("/metrics has no line matching %s (stats %+v):\n%s", want, st, grepLines(metrics, "iobridge_stream"))
		}
	}
	if st.Reconnects < 2 {
		t.Errorf("Reconnects = %d, want at least 2", st.Reconnects)
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestStreamWebSocketMalformedAndRestart: a WebSocket stream's malformed
// frames (not JSON, binary, an array with a bad instruction, an unknown
// event shape) are skipped while the stream stays; when the backend
// closes, the stream dials again and goes on.
func TestStreamWebSocketMalformedAndRestart(t *testing.T) {
	t.Parallel()
	conns := make(chan *gws.Conn, 4)
	up := gws.Upgrader{}
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ws, err := up.Upgrade(w, r, nil); err == nil {
			conns <- ws
		}
	}))
	t.Cleanup(be.Close)
	next := func() *gws.Conn {
		t.Helper()
		select {
		case ws := <-conns:
			t.Cleanup(func() { ws.Close() })
			return ws
		case <-time.After(waitTimeout):
			t.Fatal("the stream did not connect")
			return nil
		}
	}
	send := func(ws *gws.Conn, typ int, msg string) {
		t.Helper()
		if err := ws.WriteMessage(typ, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}

	url, exec := bridgeSidecar(t, nil)
	c := startClient(t)
	c.connect("a", url, connectOpts{})
	c.wait("connect", "a")
	s := startStreamFor(t, stream.Config{Name: "chat-feed", URL: "ws" + strings.TrimPrefix(be.URL, "http"), Executor: exec})
	ws := next()
	send(ws, gws.TextMessage, `not json`)
	send(ws, gws.BinaryMessage, `{"event":"binary"}`)
	send(ws, gws.TextMessage, `[{"event":"fine"},{"args":[1]}]`)
	send(ws, gws.TextMessage, `{"name":"Chat","msg":{"text":"legacy shape"}}`)
	send(ws, gws.TextMessage, `{"event":"chat","args":[{"text":"hi"}]}`)
	sameJSON(t, "chat", c.waitEvent("a", "chat").Args, []any{map[string]any{"text": "hi"}})

	ws.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseGoingAway, "restarting"), time.Now().Add(time.Second))
	ws.Close()
	ws = next()
	send(ws, gws.TextMessage, `{"event":"chat","args":[{"text":"back"}]}`)
	sameJSON(t, "chat after restart", c.waitEvent("a", "chat").Args, []any{map[string]any{"text": "back"}})
	if c.log.seen(func(e event) bool { return e.Type == "event" && (e.Event == "binary" || e.Event == "fine") }) {
		t.Fatal("an event from a malformed frame reached the client")
	}
	if st := s.Stats(); st.Skipped != 4 || st.Connects != 2 {
		t.Fatalf("Stats %+v, want 4 skipped, 2 connects", st)
	}
}
