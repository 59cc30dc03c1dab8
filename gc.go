package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// gcFloor is how far the heap may grow past the live heap before the next
// collection, at the least.
const gcFloor = 32 << 20

// tuneGC keeps the collector from running every few megabytes while the
// live heap is small. Go's default goal is twice the live heap; a sidecar
// serving a hundred busy connections holds a few megabytes, so every
// event's garbage (an envelope, a request, spans when tracing) triggers a
// collection that often: with tracing on, that was a fifth of the CPU of
// an echo load. After each collection the goal is raised to the live heap
// plus gcFloor when that is more than twice the live heap; from a live heap
// of gcFloor on, the default applies unchanged, so a sidecar holding many
// connections uses no more memory per connection than before. A GOGC in
// the environment turns this off.
func tuneGC() {
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
