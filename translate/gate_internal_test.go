package translate

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestGateModels runs the adaptive bound for a simulated minute (one
// answer every 6.25ms, whatever the limit, which makes growing slow)
// against models of a backend under steady load: each answer's time is a
// function of how many requests the backend holds when it answers (the
// limit then, or half of it during a probe) and of chance.
func TestGateModels(t *testing.T) {
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
			l := newGate(0, time.Minute, noExpiry)
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

// TestGateParked checks first-come first-served hand-over to parked
// callers, that one that gives up takes no slot with it, and that one
// that waits past the bound fails with ErrTimeout.
func TestGateParked(t *testing.T) {
	g := newGate(2, 50*time.Millisecond, noExpiry)
	ctx := context.Background()
	for range 2 {
		if !g.enter() {
			t.Fatal("enter refused a free slot")
		}
	}
	if g.enter() {
		t.Fatal("enter took a third slot of 2")
	}
	if err := g.acquire(ctx, true); !errors.Is(err, ErrTimeout) {
		t.Fatalf("acquire past the wait bound: %v, want ErrTimeout", err)
	}
	order := make(chan int, 3)
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- g.acquire(cctx, false) }()
	waitWaiting(t, g, 1)
	for i := 1; i <= 3; i++ {
		go func() {
			if err := g.acquire(ctx, false); err != nil {
				t.Error(err)
			}
			order <- i
		}()
		waitWaiting(t, g, 1+i)
	}
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled acquire returned %v", err)
	}
	waitWaiting(t, g, 3)
	for want := 1; want <= 3; want++ {
		g.leave(0)
		if got := <-order; got != want {
			t.Fatalf("waiter %d got the slot, want %d", got, want)
		}
	}
	g.leave(0)
	g.leave(0)
	if g.inflight != 0 || g.waiting != 0 || g.head != len(g.line) {
		t.Fatalf("after all left: %d in flight, %d waiting, %d in line", g.inflight, g.waiting, len(g.line)-g.head)
	}
}

// noExpiry is the expired function of gates whose entries are ints.
func noExpiry([]int, error) {}

// TestGateHandsBack checks that the gate hands its entries back rather
// than running them: in arrival order, one per free slot, turn's own
// entry at once when no one waits and behind the others when some do,
// with parked callers woken in their turn.
func TestGateHandsBack(t *testing.T) {
	g := newGate(2, time.Minute, noExpiry)
	defer g.stop()
	if !g.enter() || !g.enter() {
		t.Fatal("enter refused a free slot")
	}
	if e, ok, _ := g.turn(0, 7); !ok || e != 7 {
		t.Fatalf("turn with no one waiting = %d, %v; want 7, true", e, ok)
	}
	for i := 1; i <= 3; i++ {
		g.enqueue(i)
	}
	if e, ok, more := g.turn(0, 4); !ok || e != 1 || more {
		t.Fatalf("turn with 3 waiting = %d, %v, %v; want 1, true, false", e, ok, more)
	}
	parked := make(chan error, 1)
	go func() { parked <- g.acquire(context.Background(), false) }()
	waitWaiting(t, g, 4) // 2, 3, 4 and the parked caller
	// A larger bound lets three in at once: leave hands back the first
	// and says more follow; admit hands back the others.
	g.mu.Lock()
	g.limit = 5
	g.mu.Unlock()
	var got []int
	e, ok, more := g.leave(0)
	for {
		if ok {
			got = append(got, e)
		}
		if !more {
			break
		}
		e, ok, more = g.admit()
	}
	if want := []int{2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("entries let in %v, want %v", got, want)
	}
	if err := <-parked; err != nil {
		t.Fatalf("parked acquire = %v", err)
	}
	if g.inflight != 5 || g.waiting != 0 {
		t.Fatalf("%d in flight, %d waiting; want 5 and 0", g.inflight, g.waiting)
	}
	if _, ok, _ := g.admit(); ok {
		t.Fatal("admit handed back an entry from an empty line")
	}
}

// TestGateExpired checks that entries waiting past the bound go to the
// gate's expired function with ErrTimeout, and that their places in the
// line are skipped.
func TestGateExpired(t *testing.T) {
	type got struct {
		entries []int
		err     error
	}
	ch := make(chan got, 1)
	g := newGate(1, 20*time.Millisecond, func(es []int, err error) { ch <- got{es, err} })
	defer g.stop()
	if !g.enter() {
		t.Fatal("enter refused a free slot")
	}
	g.enqueue(1)
	g.enqueue(2)
	select {
	case x := <-ch:
		if !slices.Equal(x.entries, []int{1, 2}) || !errors.Is(x.err, ErrTimeout) {
			t.Fatalf("expired(%v, %v), want [1 2] and ErrTimeout", x.entries, x.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no entry expired")
	}
	if _, ok, _ := g.leave(0); ok {
		t.Fatal("leave handed back an expired entry")
	}
	if g.inflight != 0 || g.waiting != 0 {
		t.Fatalf("%d in flight, %d waiting; want 0 and 0", g.inflight, g.waiting)
	}
}

func waitWaiting[E any](t *testing.T, g *gate[E], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, w := g.state(); w == n {
			return
		}
		if time.Now().After(deadline) {
			_, w := g.state()
			t.Fatalf("%d waiting, want %d", w, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkGate is a slot taken and given back with no one waiting, as
// on every delivery under the bound.
func BenchmarkGate(b *testing.B) {
	g := newGate(0, time.Minute, noExpiry)
	b.ReportAllocs()
	for b.Loop() {
		if !g.enter() {
			b.Fatal("no slot")
		}
		g.leave(time.Millisecond)
	}
}

// BenchmarkGateHandOver is a delivery at the bound: the socket's next job
// joins the back of the line and the line's head comes out, slot and all.
func BenchmarkGateHandOver(b *testing.B) {
	g := newGate(1, time.Minute, func([]gateJob, error) {})
	st := &socketState{}
	if !g.enter() {
		b.Fatal("no slot")
	}
	g.enqueue(gateJob{st: st})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, _ := g.turn(time.Millisecond, gateJob{st: st}); !ok {
			b.Fatal("nothing handed over")
		}
	}
	g.expiry.Stop()
}
