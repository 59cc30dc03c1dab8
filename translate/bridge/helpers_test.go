package bridge_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/bridge"
)

// waitTimeout bounds every wait; generous for -race on two cores.
const waitTimeout = 10 * time.Second

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sidecar is a real Socket.IO server on 127.0.0.1 whose namespace "/b"
// is bridged (a translate route with the Bridge as Backend).
type sidecar struct {
	srv  *socketio.Server
	tr   *translate.Translator
	br   *bridge.Bridge
	exec *translate.Executor
	url  string
}

func startSidecar(t testing.TB, route translate.Route, cfg bridge.Config) *sidecar {
	t.Helper()
	logger := quietLogger()
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := socketio.NewServer(socketio.Config{
		Engine:  engineio.Config{Path: "/socket.io/", Logger: logger},
		Adapter: adapter.New,
		Logger:  logger,
	})
	sc := &sidecar{srv: srv}
	// The executor exists before the bridge (the translator's); the
	// bridge exists before the translator (its route's Backend).
	var tr *translate.Translator
	// With a TracerProvider, the executor and the translator trace too,
	// as main wires them.
	cfg.Executor = translate.NewExecutor(srv).WithTelemetry(cfg.TracerProvider, nil)
	if cfg.Logger == nil {
		cfg.Logger = logger
	}
	br, err := bridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if route.Name == "" {
		route.Name = "/b"
	}
	route.Backend = br
	tr, err = translate.New(translate.Config{Routes: []translate.Route{route}, Logger: logger, TracerProvider: cfg.TracerProvider}, srv)
	if err != nil {
		t.Fatal(err)
	}
	br.Attach(srv.Of(route.Name))
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := br.Shutdown(ctx); err != nil {
			t.Errorf("bridge Shutdown: %v", err)
		}
		_ = tr.Shutdown(ctx)
		hs.Close()
	})
	sc.tr, sc.br, sc.exec, sc.url = tr, br, cfg.Executor, hs.URL
	return sc
}
