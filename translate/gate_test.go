package translate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// concurrency reads the namespace's iobridge.webhook.concurrency and
// iobridge.webhook.waiting gauges.
func concurrency(t *testing.T, reader *sdkmetric.ManualReader, ns string) (limit, waiting int64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	limit, _ = gaugeOf(t, rm, "iobridge.webhook.concurrency", attribute.String("namespace", ns))
	waiting, _ = gaugeOf(t, rm, "iobridge.webhook.waiting", attribute.String("namespace", ns))
	return limit, waiting
}

func meter(t *testing.T) (*sdkmetric.ManualReader, *sdkmetric.MeterProvider) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	return reader, mp
}

// recorder is a backend that records the events it is sent (by their
// first argument) and how many it held at once, and answers each once
// released.
type recorder struct {
	mu      sync.Mutex
	now     int
	most    int
	arrived []string
	release chan struct{}
}

func startRecorder(t *testing.T) (*recorder, *hook) {
	r := &recorder{release: make(chan struct{})}
	h := startHook(t, func(w http.ResponseWriter, d delivery) {
		if d.Env.Type != "event" {
			jsonAnswer(w, 200, `{}`)
			return
		}
		var arg string
		_ = json.Unmarshal(d.Env.Args[0], &arg)
		r.mu.Lock()
		r.now++
		r.most = max(r.most, r.now)
		r.arrived = append(r.arrived, arg)
		r.mu.Unlock()
		<-r.release
		r.mu.Lock()
		r.now--
		r.mu.Unlock()
		jsonAnswer(w, 200, `{"ack":["ok"]}`)
	})
	t.Cleanup(func() { close(r.release) })
	return r, h
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.arrived)
}

// recorded starts a recorder backend and a sidecar whose namespace "/"
// sends it events under a fixed bound of n, with its gauges in reader.
func recorded(t *testing.T, n int) (*recorder, *sidecar, *sdkmetric.ManualReader) {
	rec, h := startRecorder(t)
	reader, mp := meter(t)
	sc := startSidecar(t, translate.Config{
		Routes:        []translate.Route{{Name: "/", Backend: newWebhook(t, h.URL), Concurrency: n, OnConnect: translate.OnConnectAccept}},
		MeterProvider: mp,
	})
	return rec, sc, reader
}

func newWebhook(t *testing.T, url string) *webhook.Client {
	return newClient(t, url, webhook.Config{Timeout: 10 * time.Second})
}

// TestConcurrencyFixed: with a fixed bound of 2, no more events than that
// reach a real backend at once, and the others reach it in the order
// they were sent, each as a slot frees.
func TestConcurrencyFixed(t *testing.T) {
	rec, sc, reader := recorded(t, 2)
	var clients []*siotest.Client
	var want []string
	for i := range 6 {
		c := siotest.Dial(t, sc.url, "/", nil)
		clients = append(clients, c)
		name := fmt.Sprintf("c%d", i)
		want = append(want, name)
		c.EmitWithAck("e", `"`+name+`"`)
		// One at a time, so that the line's order is the sending order.
		waitFor(t, func() bool {
			_, waiting := concurrency(t, reader, "/")
			return len(rec.got())+int(waiting) == i+1
		})
	}
	if limit, waiting := concurrency(t, reader, "/"); limit != 2 || waiting != 4 {
		t.Fatalf("gauges: concurrency %d, waiting %d; want 2 and 4", limit, waiting)
	}
	// Each answer lets the next in line in.
	for i := range 6 {
		rec.release <- struct{}{}
		waitFor(t, func() bool { return len(rec.got()) == min(6, i+3) })
	}
	for _, c := range clients {
		if got := c.WaitAck(1); got != `["ok"]` {
			t.Fatalf("ack %s, want [\"ok\"]", got)
		}
	}
	if rec.most != 2 {
		t.Fatalf("the backend held %d events at once, want 2", rec.most)
	}
	if got := rec.got(); !slices.Equal(got, want) {
		t.Fatalf("arrival order %v, want the sending order %v", got, want)
	}
}

// TestConcurrencyTakesTurns: a socket with several events queued goes to
// the back of the line after each one, so another socket's event is not
// held behind all of them; each socket's events keep their order.
func TestConcurrencyTakesTurns(t *testing.T) {
	rec, sc, reader := recorded(t, 1)
	a, b := siotest.Dial(t, sc.url, "/", nil), siotest.Dial(t, sc.url, "/", nil)
	a.EmitWithAck("e", `"a0"`)
	waitFor(t, func() bool { return len(rec.got()) == 1 })
	a.EmitWithAck("e", `"a1"`)
	a.EmitWithAck("e", `"a2"`)
	b.EmitWithAck("e", `"b0"`)
	waitFor(t, func() bool { _, waiting := concurrency(t, reader, "/"); return waiting == 1 })
	for range 4 {
		rec.release <- struct{}{}
	}
	for id := 1; id <= 3; id++ {
		if got := a.WaitAck(id); got != `["ok"]` {
			t.Fatalf("a's ack %d: %s", id, got)
		}
	}
	if got := b.WaitAck(1); got != `["ok"]` {
		t.Fatalf("b's ack: %s", got)
	}
	if got, want := rec.got(), []string{"a0", "b0", "a1", "a2"}; !slices.Equal(got, want) {
		t.Fatalf("arrival order %v, want %v", got, want)
	}
	if rec.most != 1 {
		t.Fatalf("the backend held %d events at once, want 1", rec.most)
	}
}

// TestConcurrencyWaitTimeout: an event that waits for a slot longer than
// the route's Timeout fails with status 504, and so does a connect; the
// socket's next event waits its own turn.
func TestConcurrencyWaitTimeout(t *testing.T) {
	h, started, release := blockingHook(t)
	sc := startSidecar(t, translate.Config{
		Routes: []translate.Route{{Name: "/", Backend: newWebhook(t, h.URL), Concurrency: 1, Timeout: 300 * time.Millisecond}},
	})
	holder, waiter := siotest.Dial(t, sc.url, "/", nil), siotest.Dial(t, sc.url, "/", nil)
	holder.EmitWithAck("block", "")
	started()
	begun := time.Now()
	waiter.EmitWithAck("e", "1")
	waiter.EmitWithAck("e", "2")
	for id := 1; id <= 2; id++ {
		var got struct {
			Error struct {
				Status  int    `json:"status"`
				Message string `json:"message"`
			} `json:"error"`
		}
		ack := waiter.WaitAck(id)
		if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(ack, "["), "]")), &got); err != nil {
			t.Fatalf("ack %d %s: %v", id, ack, err)
		}
		if got.Error.Status != 504 {
			t.Fatalf("ack %d: %s, want status 504", id, ack)
		}
	}
	// Each waited the route's 300ms, not the webhook's 10s timeout.
	if d := time.Since(begun); d < 600*time.Millisecond || d > 5*time.Second {
		t.Fatalf("two waits of 300ms ended after %v", d)
	}
	// A connect delivery waits in the same line.
	if _, connErr := siotest.DialRaw(t, sc.url, "/", nil); !strings.Contains(connErr, "backend unavailable") || !strings.Contains(connErr, "504") {
		t.Fatalf("connect while the slot is held: %q, want backend unavailable with status 504", connErr)
	}
	release()
	if got := holder.WaitAck(1); got != `["done"]` {
		t.Fatalf("holder's ack %s", got)
	}
	waiter.EmitWithAck("e", "3")
	if got := waiter.WaitAck(3); got != `["done"]` {
		t.Fatalf("ack after the slot freed: %s", got)
	}
	siotest.Dial(t, sc.url, "/", nil)
}

// TestConcurrencyStreamFreesSlot: a streamed answer gives its slot back
// when its headers arrive, so another socket's event goes through while
// the stream is relayed.
func TestConcurrencyStreamFreesSlot(t *testing.T) {
	end := make(chan struct{})
	var once sync.Once
	finish := func() { once.Do(func() { close(end) }) }
	h := startHook(t, func(w http.ResponseWriter, d delivery) {
		if d.Env.Event != "ask" {
			jsonAnswer(w, 200, `{"ack":["quick"]}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: token\ndata: \"one\"\n\n")
		w.(http.Flusher).Flush()
		<-end
		fmt.Fprint(w, "event: ack\ndata: \"all\"\n\n")
	})
	t.Cleanup(finish) // before the backend's Close, which waits for the handler
	sc := startSidecar(t, translate.Config{
		Routes: []translate.Route{{Name: "/", Backend: newWebhook(t, h.URL), Concurrency: 1, OnConnect: translate.OnConnectAccept}},
	})
	a, b := siotest.Dial(t, sc.url, "/", nil), siotest.Dial(t, sc.url, "/", nil)
	a.EmitWithAck("ask", "")
	if data, _ := a.WaitEvent("token"); data != `["one"]` {
		t.Fatalf("token %s", data)
	}
	b.EmitWithAck("e", "")
	if got := b.WaitAck(1); got != `["quick"]` {
		t.Fatalf("b's ack while a's stream is open: %s", got)
	}
	finish()
	if got := a.WaitAck(1); got != `["all"]` {
		t.Fatalf("a's ack: %s", got)
	}
}

// TestConcurrencyAdapts runs the adaptive bound against two real
// backends, with real sockets sending events in a closed loop: one
// backend serves a request at a time (its answers slow down with every
// request added, so the bound must fall to its minimum), the other's
// handlers wait on something else (its answers take as long at any load,
// so the bound must grow to let every socket through at once).
func TestConcurrencyAdapts(t *testing.T) {
	tests := []struct {
		name    string
		handler func()
		sockets int
		done    func(limit int64) bool
		want    string
	}{
		{
			name: "one at a time",
			handler: func() func() {
				var mu sync.Mutex
				return func() {
					mu.Lock()
					time.Sleep(2 * time.Millisecond)
					mu.Unlock()
				}
			}(),
			sockets: 48,
			done:    func(limit int64) bool { return limit <= 16 },
			want:    "≤ 16 (the minimum)",
		},
		{
			name:    "waits elsewhere",
			handler: func() { time.Sleep(200 * time.Millisecond) },
			sockets: 200,
			done:    func(limit int64) bool { return limit >= 200 },
			want:    "≥ 200",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := startHook(t, func(w http.ResponseWriter, d delivery) {
				tc.handler()
				jsonAnswer(w, 200, `{"ack":["ok"]}`)
			})
			reader, mp := meter(t)
			sc := startSidecar(t, translate.Config{
				Routes:        []translate.Route{{Name: "/", Backend: newClient(t, h.URL, webhook.Config{Timeout: 30 * time.Second}), Timeout: 30 * time.Second, OnConnect: translate.OnConnectAccept}},
				MeterProvider: mp,
			})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var failed atomic.Value
			for range tc.sockets {
				c := siotest.Dial(t, sc.url, "/", nil)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := closedLoop(ctx, c); err != nil {
						failed.Store(err)
					}
				}()
			}
			deadline := time.Now().Add(20 * time.Second)
			var limit int64
			for time.Now().Before(deadline) {
				if limit, _ = concurrency(t, reader, "/"); tc.done(limit) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			wg.Wait()
			if err, _ := failed.Load().(error); err != nil {
				t.Fatal(err)
			}
			if !tc.done(limit) {
				t.Fatalf("bound %d after 20s, want %s", limit, tc.want)
			}
		})
	}
}

// closedLoop sends c's events one after another, each once the last one's
// ack came, until ctx ends. An ack other than ["ok"] is an error.
func closedLoop(ctx context.Context, c *siotest.Client) error {
	for id := 1; ctx.Err() == nil; id++ {
		c.Send(fmt.Sprintf(`42%d["e"]`, id))
		want := fmt.Sprintf(`43%d`, id)
		for {
			f, err := c.Receive(ctx)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return fmt.Errorf("connection closed waiting for ack %d", id)
			}
			if !strings.HasPrefix(f.Text, want) {
				continue
			}
			if got := strings.TrimPrefix(f.Text, want); got != `["ok"]` {
				return fmt.Errorf("ack %d: %s", id, got)
			}
			break
		}
	}
	return nil
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", waitTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestConcurrencyDisconnectWaits: a disconnect delivery waits in line for
// as long as the slot is held, past the route's Timeout, and is sent once
// it frees: the backend must learn that the socket left.
func TestConcurrencyDisconnectWaits(t *testing.T) {
	h, started, release := blockingHook(t)
	sc := startSidecar(t, translate.Config{
		Routes: []translate.Route{{Name: "/", Backend: newWebhook(t, h.URL), Concurrency: 1, Timeout: 200 * time.Millisecond, OnConnect: translate.OnConnectAccept}},
	})
	holder, leaver := siotest.Dial(t, sc.url, "/", nil), siotest.Dial(t, sc.url, "/", nil)
	holder.EmitWithAck("block", "")
	started()
	leaver.Close()
	// Three times the Timeout: the disconnect still waits, and has not
	// failed.
	deadline := time.After(600 * time.Millisecond)
	for waiting := true; waiting; {
		select {
		case d := <-h.got:
			if d.Env.Type == "disconnect" {
				t.Fatal("the disconnect delivery reached the backend while the only slot was held")
			}
		case <-deadline:
			waiting = false
		}
	}
	release()
	if d := h.next(t, "disconnect"); d.Env.Socket.ID != leaver.SID {
		t.Fatalf("disconnect delivery for %q, want the socket that left (%q)", d.Env.Socket.ID, leaver.SID)
	}
}
