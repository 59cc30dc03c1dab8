package translate_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// waitTimeout bounds every wait; generous for -race on two cores.
const waitTimeout = 10 * time.Second

// sidecar is a real Socket.IO server with a Translator, on 127.0.0.1.
type sidecar struct {
	srv *socketio.Server
	tr  *translate.Translator
	url string
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startSidecar(t *testing.T, cfg translate.Config) *sidecar {
	t.Helper()
	return startSidecarWith(t, cfg, socketio.Config{})
}

// startSidecarWith is startSidecar with server options (recovery).
func startSidecarWith(t *testing.T, cfg translate.Config, scfg socketio.Config) *sidecar {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	scfg.Engine = engineio.Config{Path: "/socket.io/", Logger: cfg.Logger}
	scfg.Adapter = adapter.New
	scfg.Logger = cfg.Logger
	srv := socketio.NewServer(scfg)
	tr, err := translate.New(cfg, srv)
	if err != nil {
		t.Fatalf("translate.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = tr.Shutdown(ctx)
		hs.Close()
	})
	return &sidecar{srv: srv, tr: tr, url: hs.URL}
}

// hook is a webhook backend: handler answers, deliveries are recorded.
type hook struct {
	*httptest.Server
	got chan delivery
}

type delivery struct {
	Header http.Header
	Body   []byte
	Env    envelope
}

// envelope decodes what the sidecar sends.
type envelope struct {
	Type      string            `json:"type"`
	ID        string            `json:"id"`
	Time      string            `json:"time"`
	Namespace string            `json:"namespace"`
	Socket    socketJSON        `json:"socket"`
	Event     string            `json:"event"`
	Args      []json.RawMessage `json:"args"`
	Ack       *bool             `json:"ack"`
	Reason    string            `json:"reason"`
	Recovered *bool             `json:"recovered"`
}

type socketJSON struct {
	ID        string              `json:"id"`
	Rooms     []string            `json:"rooms"`
	Data      json.RawMessage     `json:"data"`
	Handshake translate.Handshake `json:"handshake"`
}

func startHook(t *testing.T, handler func(w http.ResponseWriter, d delivery)) *hook {
	t.Helper()
	h := &hook{got: make(chan delivery, 1024)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		d := delivery{Header: r.Header.Clone(), Body: body}
		if err := json.Unmarshal(body, &d.Env); err != nil {
			http.Error(w, "bad envelope", http.StatusBadRequest)
			return
		}
		select {
		case h.got <- d:
		default:
		}
		handler(w, d)
	}))
	t.Cleanup(h.Close)
	return h
}

// blockingHook is a backend that answers every event with the ack
// ["done"], except that a delivery of the event "block" waits until
// release is called. started returns once such a delivery has reached it.
func blockingHook(t *testing.T) (h *hook, started, release func()) {
	t.Helper()
	gate := make(chan struct{})
	arrived := make(chan struct{}, 16)
	h = startHook(t, func(w http.ResponseWriter, d delivery) {
		if d.Env.Type == "event" && d.Env.Event == "block" {
			arrived <- struct{}{}
			<-gate
		}
		jsonAnswer(w, 200, `{"ack":["done"]}`)
	})
	started = func() {
		t.Helper()
		select {
		case <-arrived:
		case <-time.After(waitTimeout):
			t.Fatal("the blocking delivery never reached the backend")
		}
	}
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return h, started, release
}

// next returns the next delivery of type typ (others are skipped).
func (h *hook) next(t *testing.T, typ string) delivery {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case d := <-h.got:
			if d.Env.Type == typ {
				return d
			}
		case <-deadline:
			t.Fatalf("no %s delivery within %v", typ, waitTimeout)
		}
	}
}

func jsonAnswer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func newClient(t *testing.T, url string, cfg webhook.Config) *webhook.Client {
	t.Helper()
	cfg.URL = url
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	c, err := webhook.New(cfg)
	if err != nil {
		t.Fatalf("webhook.New: %v", err)
	}
	return c
}

// sameJSON fails unless got and want are the same JSON value.
func sameJSON(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: want %q is not JSON: %v", what, want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("%s = %s, want %s", what, gb, wb)
	}
}
