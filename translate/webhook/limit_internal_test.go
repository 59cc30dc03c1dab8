package webhook

import (
	"context"
	"testing"
	"time"
)

// TestLimiterAdapts feeds answer times window by window and checks where
// the limit moves.
func TestLimiterAdapts(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		fastest time.Duration // one answer this fast, before the first window (every case ends within the floor's 10s)
		mean    time.Duration // every other answer
		bound   bool          // a request waited for the limit in each window
		windows int
		want    float64
	}{
		{"queueing backend shrinks to the minimum", 1 * ms, 10 * ms, true, 30, limitMin},
		{"queueing backend shrinks by a tenth", 1 * ms, 10 * ms, true, 1, 32 * 0.9},
		{"steady backend grows while bound", 50 * ms, 50 * ms, true, 1, 36},
		{"steady backend grows up to the bound", 50 * ms, 50 * ms, true, 60, 1024},
		{"steady backend stays when not bound", 50 * ms, 50 * ms, false, 10, limitInitial},
		{"fast backend's noise is within the slack", 50 * time.Microsecond, 900 * time.Microsecond, true, 1, 36},
		{"just over tolerance and slack", 50 * time.Microsecond, 1200 * time.Microsecond, true, 1, 32 * 0.9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(0, 1024)
			now := time.Unix(1_000_000, 0)
			l.sample(now, tc.fastest)
			for w := 0; w < tc.windows; w++ {
				l.winBound = tc.bound
				for i := 0; i < limitWindowSamples; i++ {
					now = now.Add(limitWindow / limitWindowSamples)
					l.sample(now, tc.mean)
				}
			}
			if l.limit != tc.want {
				t.Fatalf("limit = %v after %d windows, want %v", l.limit, tc.windows, tc.want)
			}
		})
	}
}

// TestLimiterModels runs the adaptive limit for a simulated minute
// against two models of a backend under steady load, where every answer
// waits behind others: one serving a request at a time (answers take 1 to
// 3 ms per request it holds), and one waiting on something else (50 to
// 60ms whatever it holds). Past the floor's 10 seconds only the probes
// tell the first from the second.
func TestLimiterModels(t *testing.T) {
	ms := float64(time.Millisecond)
	tests := []struct {
		name   string
		rtt    func(held int, u float64) time.Duration // u in [0, 1)
		lo, hi float64                                 // the limit's range over the last 50s
	}{
		{"one at a time", func(held int, u float64) time.Duration {
			return time.Duration(float64(held) * (1 + 2*u) * ms)
		}, limitMin, limitMin},
		{"waits elsewhere", func(held int, u float64) time.Duration {
			return time.Duration((50 + 10*u) * ms)
		}, 1024, 1024},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(0, 1024)
			now := time.Unix(1_000_000, 0)
			lo, hi := l.limit*100, 0.0
			for w := 0; now.Before(time.Unix(1_000_060, 0)); w++ {
				l.winBound = true
				for i := range limitWindowSamples {
					now = now.Add(limitWindow / limitWindowSamples)
					l.sample(now, tc.rtt(l.slots(), float64((i*7+w)%limitWindowSamples)/limitWindowSamples))
				}
				if now.After(time.Unix(1_000_010, 0)) {
					lo, hi = min(lo, l.limit), max(hi, l.limit)
				}
			}
			if lo < tc.lo || hi > tc.hi {
				t.Fatalf("limit ranged over [%v, %v] after the first 10s, want within [%v, %v]", lo, hi, tc.lo, tc.hi)
			}
		})
	}
}

// TestLimiterFloorExpires checks that a fast answer older than the floor's
// slots no longer counts: a backend that became slow for good is not held
// to its old speed.
func TestLimiterFloorExpires(t *testing.T) {
	l := newLimiter(0, 1024)
	now := time.Unix(1_000_000, 0)
	l.sample(now, time.Millisecond)
	now = now.Add(limitFloorSlots * time.Second)
	l.winBound = true
	for i := 0; i < limitWindowSamples; i++ {
		now = now.Add(limitWindow / limitWindowSamples)
		l.sample(now, 50*time.Millisecond)
	}
	if l.limit != 36 {
		t.Fatalf("limit = %v, want 36 (the 1ms answer is %v old)", l.limit, limitFloorSlots*time.Second)
	}
}

// TestLimiterQueue checks first-come first-served hand-over and that a
// waiter that gives up takes no slot with it.
func TestLimiterQueue(t *testing.T) {
	l := newLimiter(2, 1024)
	ctx := context.Background()
	for range 2 {
		if err := l.acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	order := make(chan int, 3)
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- l.acquire(cctx) }()
	waitWaiting(t, l, 1)
	for i := 1; i <= 3; i++ {
		go func() {
			if err := l.acquire(ctx); err != nil {
				t.Error(err)
			}
			order <- i
		}()
		waitWaiting(t, l, 1+i)
	}
	cancel()
	if err := <-gaveUp; err == nil {
		t.Fatal("a cancelled acquire returned no error")
	}
	for want := 1; want <= 3; want++ {
		l.release(0)
		if got := <-order; got != want {
			t.Fatalf("waiter %d got the slot, want %d", got, want)
		}
	}
	l.release(0)
	l.release(0)
	if l.inflight != 0 || l.head != len(l.queue) {
		t.Fatalf("after all released: %d in flight, %d queued", l.inflight, len(l.queue)-l.head)
	}
}

func waitWaiting(t *testing.T, l *limiter, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, w := l.state(); w == n {
			return
		}
		if time.Now().After(deadline) {
			_, w := l.state()
			t.Fatalf("%d waiting, want %d", w, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkLimiter is a slot taken and returned with no one waiting, as
// on every delivery under the limit.
func BenchmarkLimiter(b *testing.B) {
	l := newLimiter(0, 1024)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := l.acquire(ctx); err != nil {
			b.Fatal(err)
		}
		l.release(time.Millisecond)
	}
}
