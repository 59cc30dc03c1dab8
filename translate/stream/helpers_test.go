package stream_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
)

// waitTimeout bounds every wait; generous for -race on two cores.
const waitTimeout = 10 * time.Second

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sidecar is a real Socket.IO server on 127.0.0.1 with the given
// namespaces and an Executor over it.
type sidecar struct {
	srv  *socketio.Server
	exec *translate.Executor
	url  string
}

func startSidecar(t testing.TB, namespaces ...string) *sidecar {
	t.Helper()
	logger := quietLogger()
	srv := socketio.NewServer(socketio.Config{
		Engine:  engineio.Config{Path: "/socket.io/", Logger: logger},
		Adapter: adapter.New,
		Logger:  logger,
	})
	for _, n := range namespaces {
		srv.Of(n)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return &sidecar{srv: srv, exec: translate.NewExecutor(srv), url: hs.URL}
}

// join makes the client's socket join room through the executor.
func (s *sidecar) join(t testing.TB, nsp, sid, room string) {
	t.Helper()
	if _, err := s.exec.Join(t.Context(), nsp, []string{sid}, []string{room}); err != nil {
		t.Fatal(err)
	}
}
