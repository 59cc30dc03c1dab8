package interop

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/translate/stream"
)

// startStreamFor subscribes the executor of a running sidecar to url.
func startStreamFor(t *testing.T, cfg stream.Config) *stream.Stream {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	s, err := stream.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

// TestStreamSSEClient: a backend's SSE stream reaches real clients: rooms,
// arrays, binary, a malformed message skipped, and a reconnect that sends
// Last-Event-ID.
func TestStreamSSEClient(t *testing.T) {
	t.Parallel()
	msgs := make(chan string, 16)
	lastIDs := make(chan string, 4)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastIDs <- r.Header.Get("Last-Event-ID")
		w.Header().Set("Content-Type", "text/event-stream")
		w.(http.Flusher).Flush()
		for {
			select {
			case m := <-msgs:
				if m == "" {
					return // end this answer
				}
				io.WriteString(w, m)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(be.Close)

	url, exec := bridgeSidecar(t, nil)
	c := startClient(t)
	c.connect("a", url, connectOpts{})
	ida := c.wait("connect", "a").ID
	c.connect("b", url, connectOpts{})
	c.wait("connect", "b")

	s := startStreamFor(t, stream.Config{URL: be.URL + "/events", Executor: exec})
	if id := <-lastIDs; id != "" {
		t.Fatalf("first request Last-Event-ID %q", id)
	}
	msgs <- fmt.Sprintf("id: 7\ndata: {\"to\":[%q],\"event\":\"private\",\"args\":[\"just a\"]}\n\n", ida)
	sameJSON(t, "private", c.waitEvent("a", "private").Args, []any{"just a"})
	msgs <- "data: this is not an instruction\n\n"
	msgs <- "id: 8\ndata: [{\"event\":\"all\",\"args\":[1]},{\"event\":\"bin\",\"args\":[{\"_binary\":\"AQID\"}]}]\n\n"
	for _, name := range []string{"a", "b"} {
		sameJSON(t, "all", c.waitEvent(name, "all").Args, []any{1})
		sameJSON(t, "bin", c.waitEvent(name, "bin").Args, []any{binary{B: []byte{1, 2, 3}}})
	}
	if c.log.seen(func(e event) bool { return e.Event == "private" && e.Socket == "b" }) {
		t.Fatal(`b got a's private event`)
	}

	msgs <- "" // the backend ends the answer; the stream reconnects
	if id := <-lastIDs; id != "8" {
		t.Fatalf("reconnect Last-Event-ID %q, want 8", id)
	}
	msgs <- "data: {\"event\":\"back\"}\n\n"
	c.waitEvent("b", "back")
	if st := s.Stats(); st.Skipped != 1 || st.Connects != 2 {
		t.Fatalf("Stats %+v, want 1 skipped, 2 connects", st)
	}
}

// TestStreamWebSocketClient: instruction frames on a backend WebSocket
// reach real clients.
func TestStreamWebSocketClient(t *testing.T) {
	t.Parallel()
	conns := make(chan *gws.Conn, 4)
	up := gws.Upgrader{}
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		conns <- ws
	}))
	t.Cleanup(be.Close)

	url, exec := bridgeSidecar(t, nil)
	c := startClient(t)
	c.connect("a", url, connectOpts{Transports: polling})
	c.wait("connect", "a")
	startStreamFor(t, stream.Config{URL: "ws" + strings.TrimPrefix(be.URL, "http"), Executor: exec})
	var ws *gws.Conn
	select {
	case ws = <-conns:
		t.Cleanup(func() { ws.Close() })
	case <-time.After(waitTimeout):
		t.Fatal("the stream did not connect")
	}
	if err := ws.WriteMessage(gws.TextMessage, []byte(`{"event":"tick","args":[{"n":1}],"volatile":false}`)); err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "tick", c.waitEvent("a", "tick").Args, []any{map[string]any{"n": 1}})
}
