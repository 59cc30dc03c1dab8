package gctune

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestGCPercent(t *testing.T) {
	tests := []struct {
		live uint64
		want int
	}{
		{0, 1000},
		{1 << 20, 1000},        // a small heap: the cap
		{gcFloor / 10, 1000},   // goal live+floor is 11× live
		{gcFloor / 4, 400},     // goal live+floor = 5× live
		{gcFloor / 2, 200},     // 3× live
		{gcFloor*2/3 + 1, 140}, // rounded down to tens
		{gcFloor, 100},         // the default from here on
		{4 * gcFloor, 100},
	}
	for _, tt := range tests {
		if got := gcPercent(tt.live); got != tt.want {
			t.Errorf("gcPercent(%d) = %d, want %d", tt.live, got, tt.want)
		}
	}
}

// TestIdleRelease drives the idle release with a fake allocation counter
// under synctest's clock: no release while allocating, one after
// idleQuietTicks quiet ticks, none more while idle or after a trickle
// below idleArmBytes, and one again after the next burst.
func TestIdleRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var allocs atomic.Uint64
		allocs.Store(5 << 20)
		var releases atomic.Int32
		r := &idleRelease{allocs: allocs.Load, release: func() { releases.Add(1) }}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); r.run(ctx) }()

		// tick advances the fake clock by n ticks, adding perTick bytes
		// before each, and returns the releases counted so far.
		tick := func(n int, perTick uint64) int32 {
			for range n {
				allocs.Add(perTick)
				time.Sleep(idleTick)
				synctest.Wait()
			}
			return releases.Load()
		}
		synctest.Wait()
		if got := tick(10, 4<<20); got != 0 {
			t.Fatalf("releases while allocating 4 MiB a tick = %d, want 0", got)
		}
		if got := tick(idleQuietTicks-1, 0); got != 0 {
			t.Fatalf("releases after %d quiet tick(s) = %d, want 0", idleQuietTicks-1, got)
		}
		if got := tick(1, 0); got != 1 {
			t.Fatalf("releases after %d quiet ticks = %d, want 1", idleQuietTicks, got)
		}
		if got := tick(30, 0); got != 1 {
			t.Fatalf("releases after 30 more idle ticks = %d, want 1", got)
		}
		if got := tick(10, idleQuietBytes/2); got != 1 {
			t.Fatalf("releases after a trickle below idleArmBytes = %d, want 1", got)
		}
		if got := tick(3, 8<<20); got != 1 {
			t.Fatalf("releases during a second burst = %d, want 1", got)
		}
		if got := tick(idleQuietTicks, 0); got != 2 {
			t.Fatalf("releases after the second burst went quiet = %d, want 2", got)
		}
		cancel()
		<-done
	})
}

// TestIdleReleaseSmallBurst: a burst smaller than idleArmBytes is not worth
// a full collection; nothing is released.
func TestIdleReleaseSmallBurst(t *testing.T) {
	var allocs uint64
	released := 0
	r := &idleRelease{allocs: func() uint64 { return allocs }, release: func() { released++ }}
	for range 3 {
		allocs += 2 << 20
		r.step()
	}
	for range 10 {
		if r.step() {
			t.Fatalf("step() released after a %d MiB burst, want no release below %d MiB", 6, idleArmBytes>>20)
		}
	}
	if released != 0 {
		t.Fatalf("releases = %d, want 0", released)
	}
}
