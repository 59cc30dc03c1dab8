package interop

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	redisadapter "github.com/iobridge/iobridge/proxy/adapter/redis"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// Recovery expiry with the real client: a socket that loses its transport
// and does not come back within the recovery window makes its namespace's
// webhook get one "expired" delivery; one that comes back, to the node it
// left or (streams mode) to another, makes none.

// expiryWindow is the recovery window of these tests.
const expiryWindow = time.Second

// startExpiryBackend is a webhook backend whose connect answer puts the
// socket in room-x with data, and emits hello to it (so that the client
// holds an offset to recover with).
func startExpiryBackend(t *testing.T) *whBackend {
	t.Helper()
	return startWebhookBackend(t, func(w http.ResponseWriter, _ *http.Request, req *whRequest) {
		if req.env.Type == "connect" {
			answerJSON(w, 200, `{"rooms":["room-x"],"data":{"user":"u1"},"emit":[{"to":["`+req.env.Socket.ID+`"],"event":"hello","args":[1]}]}`)
			return
		}
		answerJSON(w, 200, `{}`)
	})
}

// expired returns the expired deliveries the backend got for socket sid.
func (b *whBackend) expired(sid string) []*whRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*whRequest
	for _, r := range b.all {
		if r.env.Type == "expired" && r.env.Socket.ID == sid {
			out = append(out, r)
		}
	}
	return out
}

// startExpiryNode runs an iobridge Socket.IO server with recovery on and
// the translator sending "/" to backend, on adapters made by factory.
func startExpiryNode(t *testing.T, factory socketio.AdapterFactory, backend string) string {
	t.Helper()
	return startTranslated(t, socketio.Config{Adapter: factory, Recovery: expiryWindow},
		translate.Route{Name: "/", Backend: whClient(t, backend, webhook.Config{})})
}

// startTranslated runs iobridge's Socket.IO server configured by cfg (the
// engine's path and the loggers set here) with the translator on routes,
// on 127.0.0.1, and returns its URL.
func startTranslated(t *testing.T, cfg socketio.Config, routes ...translate.Route) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(&testWriter{t: t}, nil))
	}
	cfg.Engine.Path, cfg.Engine.Logger, cfg.Logger = "/socket.io/", logger, logger
	srv := socketio.NewServer(cfg)
	tr, err := translate.New(translate.Config{Routes: routes, Logger: logger}, srv)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = tr.Shutdown(ctx)
		ts.Close()
	})
	return ts.URL
}

// leaveAfterHello connects socket name through url, waits for hello (its
// offset), and drops its transport.
func leaveAfterHello(t *testing.T, c *client, name, url string) event {
	t.Helper()
	first := connected(t, c, name, url, connectOpts{Transports: websocket})
	c.waitEvent(name, "hello")
	c.do("close_engine", name)
	c.wait("disconnect", name)
	return first
}

// checkExpired fails unless the backend got exactly one expired delivery
// for sid, with its rooms, data and reason.
func checkExpired(t *testing.T, b *whBackend, sid string) {
	t.Helper()
	got := b.expired(sid)
	if len(got) != 1 {
		t.Fatalf("%d expired deliveries for %s, want 1", len(got), sid)
	}
	e := got[0].env
	rooms := slices.Clone(e.Socket.Rooms)
	slices.Sort(rooms)
	want := []string{sid, "room-x"}
	slices.Sort(want)
	if e.Namespace != "/" || !slices.Equal(rooms, want) || e.Reason != "transport close" || e.Ack {
		t.Fatalf("expired delivery %s", got[0].body)
	}
	sameJSON(t, "data", e.Socket.Data, map[string]any{"user": "u1"})
}

// waitNoExpired waits past the window and fails if sid got an expired
// delivery.
func waitNoExpired(t *testing.T, b *whBackend, sid string) {
	t.Helper()
	time.Sleep(2*expiryWindow + 500*time.Millisecond)
	if got := b.expired(sid); len(got) != 0 {
		t.Fatalf("expired delivery for %s, which recovered: %s", sid, got[0].body)
	}
}

func TestRecoveryExpiry(t *testing.T) {
	b := startExpiryBackend(t)
	url := startExpiryNode(t, adapter.New, b.url)

	t.Run("Lapses", func(t *testing.T) {
		c := startClient(t)
		gone := leaveAfterHello(t, c, "gone", url)
		eventually(t, "expired delivery", func() (bool, string) {
			n := len(b.expired(gone.ID))
			return n > 0, fmt.Sprint(n)
		})
		time.Sleep(expiryWindow)
		checkExpired(t, b, gone.ID)
	})
	t.Run("ComesBack", func(t *testing.T) {
		c := startClient(t)
		first := leaveAfterHello(t, c, "back", url)
		c.do("reconnect", "back")
		if again := c.wait("connect", "back"); !again.Recovered || again.ID != first.ID {
			t.Fatalf("reconnect %v, want recovered with id %s", again, first.ID)
		}
		waitNoExpired(t, b, first.ID)
	})
}

// TestRecoveryExpiryCluster: two iobridge nodes on one Redis, one backend.
// In every mode a socket that does not come back is reported once across
// the cluster; in the streams mode a socket that recovers on the other
// node, iobridge or Node, is reported by neither.
func TestRecoveryExpiryCluster(t *testing.T) {
	redisServerPath(t) // fail, never skip, without redis-server
	r := startRedis(t)
	for _, mode := range []string{"streams", "classic"} {
		t.Run(mode, func(t *testing.T) {
			b := startExpiryBackend(t)
			var urls []string
			for range 2 {
				ac, err := redisadapter.Open(context.Background(), redisadapter.Config{
					URL: r.URL(), KeyPrefix: "expiry-" + mode, Mode: mode, RequestTimeout: 5 * time.Second,
					Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = ac.Close() })
				urls = append(urls, startExpiryNode(t, ac.Factory(), b.url))
			}
			p := startSwitchProxy(t, urls[0])

			c := startClient(t)
			gone := leaveAfterHello(t, c, "gone", p.url)
			eventually(t, "expired delivery", func() (bool, string) {
				n := len(b.expired(gone.ID))
				return n > 0, fmt.Sprint(n)
			})
			if mode != "streams" {
				time.Sleep(expiryWindow)
				checkExpired(t, b, gone.ID)
				return
			}

			moved := leaveAfterHello(t, c, "moved", p.url)
			p.to(t, urls[1])
			c.do("reconnect", "moved")
			if again := c.wait("connect", "moved"); !again.Recovered || again.ID != moved.ID {
				t.Fatalf("reconnect through node B %v, want recovered with id %s", again, moved.ID)
			}
			waitNoExpired(t, b, moved.ID)
			checkExpired(t, b, gone.ID)
		})
	}
	// A Node server of the mixed cluster restores with its own logic (GET
	// and DEL of the session key): the iobridge node that kept the session
	// finds it gone at the window's end and sends nothing.
	t.Run("streams/recovered-on-node", func(t *testing.T) {
		b := startExpiryBackend(t)
		node := startStreamsNode(t, r.URL(), expiryWindow)
		ac, err := redisadapter.Open(context.Background(), redisadapter.Config{
			URL: r.URL(), Mode: "streams", RequestTimeout: 5 * time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ac.Close() })
		p := startSwitchProxy(t, startExpiryNode(t, ac.Factory(), b.url))
		c := startClient(t)
		moved := leaveAfterHello(t, c, "to-node", p.url)
		p.to(t, node.url)
		c.do("reconnect", "to-node")
		if again := c.wait("connect", "to-node"); !again.Recovered || again.ID != moved.ID {
			t.Fatalf("reconnect through the Node server %v, want recovered with id %s", again, moved.ID)
		}
		waitNoExpired(t, b, moved.ID)
	})
}
