package engineio

import (
	"runtime"
	"slices"
	"sync"
	"time"
)

// batcher writes the packets that sessions got from SendDeferred
// (broadcasts) in rounds: a round starts Config.BatchDelay after the first
// of them and writes each waiting connection's packets in one write
// (corkConn), which its client reads in one read.
//
// Starting a writer goroutine per recipient at once instead costs a system
// call per broadcast per recipient on both ends, and a burst of broadcasts
// keeps a thousand writer goroutines runnable, which starves the network
// poller that reads the next broadcast's request. A round is written by
// at most GOMAXPROCS goroutines (writeAll) instead.
//
// When broadcasts keep coming while rounds write (a streak of them), the
// wait before the next round doubles with each, up to as long as the last
// round took and at most maxBatchWait: under a heavy fan-out connections
// get their packets in fewer, larger writes, and the processors are free
// part of the time for reading requests and for the clients. A broadcast
// after a quiet spell waits BatchDelay again. One timer serves every
// session; a waiting session costs a slot in a slice.
type batcher struct {
	delay  time.Duration // Config.BatchDelay
	mu     sync.Mutex
	armed  bool // the timer will fire
	streak int  // rounds in a row that broadcasts came during, or soon after
	// lastArm is when the last broadcast came that found no round
	// waiting, lastWait the wait it set, lastEnd when the last round of
	// writes ended.
	lastArm, lastEnd time.Time
	lastWait         time.Duration
	firing           bool // a round of writes is under way; it arms the timer after
	timer            *time.Timer
	// waiting are the sessions to write at the next firing; spare is the
	// slice a firing used, kept for the next.
	waiting, spare []*Session
}

// maxBatchWait bounds the wait a long round of writes sets.
const maxBatchWait = 20 * time.Millisecond

// streamGap is how soon after a round, and after the last wait, the next
// broadcast must come to count as part of a stream.
const streamGap = 15 * time.Millisecond

// add schedules s to be written at the next firing. The caller holds s.mu.
func (b *batcher) add(s *Session) {
	b.mu.Lock()
	b.waiting = append(b.waiting, s)
	if !b.armed && !b.firing {
		// A broadcast soon after the last round ended, itself soon after
		// the one that started that round, is part of a stream of them,
		// each slower to arrive than a round takes, so that none comes
		// during the writes: the wait grows as for a backlog. A slower
		// stream (a gap of streamGap beyond the last wait, as for 40 a
		// second) and a broadcast after a quiet spell wait BatchDelay.
		now := time.Now()
		if !b.lastArm.IsZero() && now.Sub(b.lastEnd) < streamGap && now.Sub(b.lastArm) < b.lastWait+streamGap {
			b.streak = min(b.streak+1, 8)
		} else {
			b.streak = 0
		}
		b.lastArm = now
		b.lastWait = min(b.delay<<b.streak, max(b.delay, maxBatchWait))
		b.armLocked(b.lastWait)
	}
	b.mu.Unlock()
}

func (b *batcher) armLocked(d time.Duration) {
	b.armed = true
	if b.timer == nil {
		b.timer = time.AfterFunc(d, b.fire)
	} else {
		b.timer.Reset(d)
	}
}

// fire writes the waiting sessions' packets (flushDeferred). A session
// that started a writer in the meantime (a Send), or closed, is passed
// over: its writer or its close takes care of the queue. Sessions added
// while it writes wait for the next firing.
func (b *batcher) fire() {
	b.mu.Lock()
	list := b.waiting
	b.waiting, b.spare = b.spare[:0], nil
	b.armed, b.firing = false, true
	b.mu.Unlock()
	start := time.Now()
	writeAll(list)
	took := time.Since(start)
	clear(list)
	b.mu.Lock()
	b.firing = false
	b.lastEnd = time.Now()
	if b.spare == nil && cap(list) <= 1<<16 {
		b.spare = list[:0]
	}
	if len(b.waiting) > 0 && !b.armed {
		// Broadcasts came while this round wrote: a backlog.
		b.streak = min(b.streak+1, 8)
		b.lastArm = b.lastEnd
		b.lastWait = max(b.delay, min(took, b.delay<<b.streak, maxBatchWait))
		b.armLocked(b.lastWait)
	}
	b.mu.Unlock()
}

// writeAll writes the sessions' packets, sharing the list among up to
// GOMAXPROCS goroutines when it is long enough to be worth it.
func writeAll(list []*Session) {
	n := min(runtime.GOMAXPROCS(0), len(list)/minPerWriter)
	if n <= 1 {
		for _, s := range list {
			s.flushDeferred()
		}
		return
	}
	var wg sync.WaitGroup
	per := (len(list) + n - 1) / n
	for part := range slices.Chunk(list, per) {
		wg.Go(func() {
			for _, s := range part {
				s.flushDeferred()
			}
		})
	}
	wg.Wait()
}

// minPerWriter is the fewest sessions a goroutine of writeAll takes.
const minPerWriter = 128
