package socketio_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSocketLogAttrs: records of a socket carry namespace, sid and socket,
// in that order and outside any group, whether written by the server or
// through Socket.Logger.
func TestSocketLogAttrs(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := newServer(t, socketio.Config{Logger: log})
	got := newRecorder[*socketio.Socket]()
	srv.Of("/").OnConnection(got.add)
	c, id := connect(t, srv, "/")
	s := got.next(t)
	scope := "namespace=/ sid=" + c.ID() + " socket=" + id

	tests := []struct {
		name string
		log  func()
		want string
	}{
		{"Logger", func() { s.Logger().Info("one", "k", 1) }, "msg=one " + scope + " k=1"},
		{"Logger.With", func() { s.Logger().With("a", "b").Info("two") }, "msg=two " + scope + " a=b"},
		{"Logger.WithGroup", func() { s.Logger().WithGroup("g").Info("three", "k", 2) }, "msg=three " + scope + " g.k=2"},
		{"server", func() { c.msg(`2["ev"]`) }, `msg="socketio: event" ` + scope + " event=ev"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.log()
			if out := buf.String(); !strings.Contains(out, tc.want) {
				t.Fatalf("log %q does not contain %q", out, tc.want)
			}
		})
	}
}
