package webhook

import (
	"context"
	"testing"
	"time"
)

// TestLimiterModels runs the adaptive limit for a simulated minute (one
// answer every 6.25ms, whatever the limit, which makes growing slow)
// against models of a backend under steady load: each answer's time is a
// function of how many requests the backend holds when it answers (the
// limit then, or half of it during a probe) and of chance.
func TestLimiterModels(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	tests := []struct {
		name   string
		rtt    func(held int, u float64) time.Duration // u uniform in [0, 1)
		bound  bool                                    // requests wait for the limit
		lo, hi float64                                 // the limit's range over the last 20s
	}{
		{"one request at a time", func(held int, u float64) time.Duration { return ms(float64(held) * (1 + 2*u)) }, true, limitMin, limitMin},
		{"waits on something else", func(held int, u float64) time.Duration { return ms(50 + 10*u) }, true, 1024, 1024},
		{"cache hits and database calls", func(held int, u float64) time.Duration {
			if u < 0.3 {
				return ms(0.5)
			}
			return ms(20)
		}, true, 1024, 1024},
		{"fast, with noise", func(held int, u float64) time.Duration { return ms(0.2 + 0.8*u) }, true, 1024, 1024},
		{"ten workers", func(held int, u float64) time.Duration { return ms(max(5, float64(held)/10*5) * (0.9 + 0.2*u)) }, true, limitMin, 40},
		{"no one waits", func(held int, u float64) time.Duration { return ms(float64(held) * (1 + 2*u)) }, false, limitInitial, limitInitial},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(0, 1024)
			start := time.Unix(1_000_000, 0)
			now := start
			lo, hi := 1e9, 0.0
			for i := 0; now.Before(start.Add(time.Minute)); i++ {
				now = now.Add(limitWindow / limitWindowSamples)
				l.winBound = l.winBound || tc.bound
				l.sample(now, tc.rtt(l.slots(), float64(i*7%64)/64))
				if now.After(start.Add(40 * time.Second)) {
					lo, hi = min(lo, l.limit), max(hi, l.limit)
				}
			}
			if lo < tc.lo || hi > tc.hi {
				t.Fatalf("limit ranged over [%.1f, %.1f] in the last 20s, want within [%v, %v]", lo, hi, tc.lo, tc.hi)
			}
		})
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
