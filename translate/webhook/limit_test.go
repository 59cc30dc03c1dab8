package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// TestConcurrencyFixed checks a fixed webhook_concurrency against a real
// backend: no more requests than the limit reach it at once, and the
// others reach it in the order they were delivered.
func TestConcurrencyFixed(t *testing.T) {
	var (
		mu      sync.Mutex
		now     int
		most    int
		arrived []string
	)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now++
		most = max(most, now)
		arrived = append(arrived, r.Header.Get("webhook-id"))
		mu.Unlock()
		<-release
		mu.Lock()
		now--
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ack":["ok"]}`))
	}))
	defer srv.Close()
	defer close(release)
	c := newClient(t, webhook.Config{URL: srv.URL, Concurrency: 2, Timeout: 10 * time.Second})

	var ids []string
	errs := make(chan error, 6)
	for i := range 6 {
		e := env(translate.TypeEvent)
		ids = append(ids, e.ID)
		go func() {
			_, err := c.Deliver(context.Background(), e)
			errs <- err
		}()
		// One at a time, so that the line's order is the delivery order.
		waitFor(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			_, waiting := c.Concurrency()
			return len(arrived)+waiting == i+1
		})
	}
	if limit, waiting := c.Concurrency(); limit != 2 || waiting != 4 {
		t.Fatalf("Concurrency() = %d, %d; want 2, 4", limit, waiting)
	}
	// Answer one request at a time: each answer lets the next in line in.
	for i := range 6 {
		release <- struct{}{}
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(arrived) == min(6, i+3) })
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatalf("Deliver: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if most != 2 {
		t.Fatalf("the backend had %d requests at once, want 2", most)
	}
	if strings.Join(arrived, ",") != strings.Join(ids, ",") {
		t.Fatalf("arrival order %v, want the delivery order %v", arrived, ids)
	}
}

// TestConcurrencyAdapts runs the adaptive limit against two real
// backends: one that serves a request at a time (its answers slow down
// with every request added, so the limit must fall to its minimum) and
// one whose handlers wait on something else (its answers take as long at
// any load, so the limit must grow to let everyone through at once).
func TestConcurrencyAdapts(t *testing.T) {
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter)
		senders int
		done    func(limit int) bool
		want    string
	}{
		{
			name: "one at a time",
			handler: func() func(w http.ResponseWriter) {
				var mu sync.Mutex
				return func(w http.ResponseWriter) {
					mu.Lock()
					time.Sleep(2 * time.Millisecond)
					mu.Unlock()
				}
			}(),
			senders: 48,
			done:    func(limit int) bool { return limit <= 8 },
			want:    "≤ 8",
		},
		{
			name:    "waits elsewhere",
			handler: func(w http.ResponseWriter) { time.Sleep(20 * time.Millisecond) },
			senders: 200,
			done:    func(limit int) bool { return limit >= 200 },
			want:    "≥ 200",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.handler(w)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"ack":["ok"]}`))
			}))
			defer srv.Close()
			c := newClient(t, webhook.Config{URL: srv.URL, Timeout: 30 * time.Second})
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var failed atomic.Value
			for range tc.senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for ctx.Err() == nil {
						if _, err := c.Deliver(ctx, env(translate.TypeEvent)); err != nil && ctx.Err() == nil {
							failed.Store(err)
						}
					}
				}()
			}
			deadline := time.Now().Add(20 * time.Second)
			limit := 0
			for time.Now().Before(deadline) {
				if limit, _ = c.Concurrency(); tc.done(limit) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			wg.Wait()
			if err, _ := failed.Load().(error); err != nil {
				t.Fatalf("a delivery failed: %v", err)
			}
			if !tc.done(limit) {
				t.Fatalf("limit %d after 20s, want %s", limit, tc.want)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
