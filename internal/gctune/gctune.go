// Package gctune tunes the Go collector for a sidecar whose live heap is
// small: Tune raises the heap goal while the live heap is small, and
// ReleaseWhenIdle hands the heap back to the OS once allocation stops
// after a burst. main calls both once at start; nothing else in iobridge
// needs them.
package gctune

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// gcFloor is how far the heap may grow past the live heap before the next
// collection, at the least.
const gcFloor = 32 << 20

// Tune keeps the collector from running every few megabytes while the
// live heap is small. Go's default goal is twice the live heap; a sidecar
// serving a hundred busy connections holds a few megabytes, so every
// event's garbage (an envelope, a request, spans when tracing) triggers a
// collection that often: with tracing on, that was a fifth of the CPU of
// an echo load. After each collection the goal is raised to the live heap
// plus gcFloor when that is more than twice the live heap; from a live heap
// of gcFloor on, the default applies unchanged, so a sidecar holding many
// connections uses no more memory per connection than before. A GOGC in
// the environment turns this off.
func Tune() {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	t := &gcTuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}, percent: 100}
	t.arm()
}

type gcTuner struct {
	sample  []metrics.Sample
	percent int
}

// gcTick is garbage whose cleanup runs after the collection that frees it.
// It is larger than the tiny allocator's 16 bytes, whose blocks are freed
// together.
type gcTick [32]byte

func (t *gcTuner) arm() {
	runtime.AddCleanup(new(gcTick), func(t *gcTuner) { t.adjust(); t.arm() }, t)
}

// adjust sets the goal from the live heap the last collection left.
func (t *gcTuner) adjust() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := gcPercent(t.sample[0].Value.Uint64())
	if p != t.percent {
		t.percent = p
		debug.SetGCPercent(p)
	}
}

// gcPercent is the GOGC that puts the heap goal at live+gcFloor, never
// below Go's default of 100 and never above 1000.
func gcPercent(live uint64) int {
	if live >= gcFloor {
		return 100
	}
	if live < gcFloor/10 {
		return 1000
	}
	// Rounded to tens, so small changes of the live heap change nothing.
	return int(gcFloor*100/live) / 10 * 10
}

// The idle release: after a burst the collector frees the burst's garbage
// but keeps the pages, up to gcFloor past the live heap, and the runtime's
// background scavenger hands them back to the OS only slowly (measured: 2,000
// connect/disconnect cycles took RSS from 26 to 59 MB and it stayed there).
// Once allocation stops, the heap is returned at once by one
// debug.FreeOSMemory.
const (
	// idleTick is how often the allocation counter is read.
	idleTick = time.Second
	// idleQuietTicks is how many ticks in a row must be quiet before the
	// heap is returned.
	idleQuietTicks = 2
	// idleQuietBytes is the allocation in one tick that still counts as
	// quiet: pings and the odd event of idle connections stay below it.
	idleQuietBytes = 1 << 20
	// idleArmBytes is how much must have been allocated since the last
	// release before another is worth its cost (a full collection and a
	// scavenge): an idle process returns its heap once, not every tick, and
	// a trickle of load makes one release per idleArmBytes allocated at most.
	idleArmBytes = 16 << 20
)

// idleRelease decides, one tick at a time, when the process has gone quiet
// after allocating enough to be worth returning the heap. It is used by one
// goroutine only.
type idleRelease struct {
	allocs  func() uint64 // cumulative bytes allocated
	release func()        // debug.FreeOSMemory outside tests
	last    uint64        // allocs at the previous tick
	since   uint64        // allocs at the last release
	quiet   int           // quiet ticks in a row
}

// step reads the allocation counter and releases the heap when the last
// idleQuietTicks ticks were quiet and idleArmBytes were allocated since the
// last release. It reports whether it released.
func (r *idleRelease) step() bool {
	a := r.allocs()
	grew := a - r.last
	r.last = a
	if grew > idleQuietBytes {
		r.quiet = 0
		return false
	}
	r.quiet++
	if r.quiet < idleQuietTicks || a-r.since < idleArmBytes {
		return false
	}
	r.since = a
	r.release()
	return true
}

// run steps every idleTick until ctx is done.
func (r *idleRelease) run(ctx context.Context) {
	r.last = r.allocs()
	r.since = r.last
	t := time.NewTicker(idleTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.step()
		}
	}
}

// ReleaseWhenIdle returns the heap to the OS once allocation stops after a
// burst (see idleRelease) until ctx is done; the returned channel is closed
// when its goroutine has ended. It reads one runtime metric a second and
// is never on a request's path. Rejected: a lower GOGC or a memory limit,
// which would collect more often under load, the cost Tune removes, and
// would still not hand the pages back; and debug.FreeOSMemory on every
// disconnect, a full collection on a hot path.
func ReleaseWhenIdle(ctx context.Context) <-chan struct{} {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	r := &idleRelease{
		allocs: func() uint64 {
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return 0
			}
			return sample[0].Value.Uint64()
		},
		release: debug.FreeOSMemory,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run(ctx)
	}()
	return done
}
