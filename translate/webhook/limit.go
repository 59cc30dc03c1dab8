package webhook

import (
	"context"
	"sync"
	"time"
)

// Adaptive concurrency limit: the constants of limiter.
const (
	// limitInitial is where an adaptive limit starts.
	limitInitial = 32
	// limitMin is the lowest an adaptive limit goes: enough parallel
	// requests to keep a backend's cores busy while answers travel.
	limitMin = 8
	// limitWindow and limitWindowSamples bound a measuring window: the
	// limit moves at most once per window, on the mean answer time of at
	// least that many answers.
	limitWindow        = 100 * time.Millisecond
	limitWindowSamples = 16
	// limitTolerance and limitSlack define a backend that queues: its
	// mean answer time in a window exceeds limitTolerance times its
	// fastest answer of the last limitFloorSlots seconds plus limitSlack.
	// The slack keeps a fast backend's scheduling noise (tens of
	// microseconds made milliseconds by a busy machine) from reading as
	// queueing.
	limitTolerance  = 2
	limitSlack      = time.Millisecond
	limitFloorSlots = 10
	// limitProbeEvery is how often, while requests wait for the limit, a
	// probe runs at half the limit to measure the backend's answer time
	// with less load: under steady load every answer waits behind others
	// in the backend, and the fastest of them no longer tells how fast
	// the backend is unloaded. It is shorter than the floor's
	// limitFloorSlots seconds so that a probe always counts.
	limitProbeEvery = 4 * time.Second
)

// limiter bounds a Client's requests awaiting an answer from the backend.
// Requests over the limit wait in arrival order.
//
// Why: a backend given every delivery at once (hundreds of sockets with
// one event in flight each) answers them in no particular order, since
// its scheduler picks among hundreds of ready connections, so some wait
// many times longer than others. Held in the sidecar instead, in a FIFO
// queue, each waits its turn: with the same throughput, the slowest
// answers come much sooner. HAProxy's per-server maxconn queue does the
// same.
//
// The adaptive limit finds how many parallel requests a backend serves
// without queueing them itself. Each window it compares the mean answer
// time with the fastest answer of the last seconds: above
// limitTolerance×fastest+limitSlack the backend is queueing and the limit
// shrinks by a tenth; otherwise, if requests had to wait for the limit,
// it grows by an eighth. A backend whose answers take long because it
// waits on something else (a database, another service) does not slow
// down as requests are added, so its limit grows to the Client's bound.
// (Netflix's concurrency-limits and TCP Vegas use the same signal.) A
// probe window at half the limit every few seconds keeps the fastest
// answer honest: a backend that serves one request at a time answers
// twice as fast at half the load, and its limit stays at the minimum;
// one that waits elsewhere answers as fast, and its limit keeps growing.
type limiter struct {
	mu       sync.Mutex
	fixed    bool
	limit    float64
	max      float64
	inflight int
	queue    []*waiter
	head     int // queue[head:] is waiting

	// The current window.
	winStart time.Time
	winN     int
	winSum   time.Duration
	winBound bool // a request found the limit reached

	probing   bool // the current window runs at half the limit
	nextProbe time.Time

	// floors[i] is the fastest answer of the second slotAt[i].
	floors [limitFloorSlots]time.Duration
	slotAt [limitFloorSlots]int64
}

type waiter struct {
	ready     chan struct{}
	granted   bool // under limiter.mu
	abandoned bool // under limiter.mu
}

// newLimiter returns a limiter fixed at n requests, or adaptive up to max
// when n is 0.
func newLimiter(n, max int) *limiter {
	l := &limiter{max: float64(max)}
	switch {
	case n > 0:
		l.fixed, l.limit = true, float64(n)
	default:
		l.limit = min(limitInitial, l.max)
	}
	return l
}

// acquire takes a slot, waiting in line for one until ctx ends.
func (l *limiter) acquire(ctx context.Context) error {
	l.mu.Lock()
	if l.head == len(l.queue) && l.inflight < l.slots() {
		l.inflight++
		if l.inflight >= l.slots() {
			l.winBound = true
		}
		l.mu.Unlock()
		return nil
	}
	l.winBound = true
	w := &waiter{ready: make(chan struct{})}
	l.queue = append(l.queue, w)
	l.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		granted := w.granted
		w.abandoned = true
		l.mu.Unlock()
		if granted {
			l.release(0)
		}
		return ctx.Err()
	}
}

// release returns a slot. rtt, when positive, is how long the backend
// took to answer; 0 means it did not answer (no sample).
func (l *limiter) release(rtt time.Duration) {
	l.mu.Lock()
	l.inflight--
	if rtt > 0 && !l.fixed {
		l.sample(time.Now(), rtt)
	}
	for l.head < len(l.queue) && l.inflight < l.slots() {
		w := l.queue[l.head]
		l.queue[l.head] = nil
		l.head++
		if w.abandoned {
			continue
		}
		w.granted = true
		l.inflight++
		close(w.ready)
	}
	if l.head == len(l.queue) {
		l.queue, l.head = l.queue[:0], 0
	} else if l.head > 1024 && l.head*2 > len(l.queue) {
		n := copy(l.queue, l.queue[l.head:])
		clear(l.queue[n:])
		l.queue, l.head = l.queue[:n], 0
	}
	l.mu.Unlock()
}

// slots is how many requests may await an answer now. Called with l.mu
// held.
func (l *limiter) slots() int {
	if l.probing {
		return max(1, int(l.limit)/2)
	}
	return int(l.limit)
}

// sample records one answer time and, at the end of a window, moves the
// limit. Called with l.mu held.
func (l *limiter) sample(now time.Time, rtt time.Duration) {
	sec := now.Unix()
	i := sec % limitFloorSlots
	if l.slotAt[i] != sec {
		l.slotAt[i], l.floors[i] = sec, rtt
	} else if rtt < l.floors[i] {
		l.floors[i] = rtt
	}
	if l.winN == 0 {
		l.winStart = now
	}
	l.winN++
	l.winSum += rtt
	if l.probing {
		// A probe lasts until twice the requests of the full limit have
		// answered: those sent before it began, then as many sent
		// under it. On a fast backend that is milliseconds, so the
		// probe costs the backend's throughput almost nothing.
		if l.winN < max(limitWindowSamples, 2*int(l.limit)) {
			return
		}
	} else if l.winN < limitWindowSamples || now.Sub(l.winStart) < limitWindow {
		return
	}
	mean, bound := l.winSum/time.Duration(l.winN), l.winBound
	l.winN, l.winSum, l.winBound = 0, 0, false
	if l.probing {
		// The probe's answers count as floors; the limit stays.
		l.probing = false
		l.nextProbe = now.Add(limitProbeEvery)
		return
	}
	floor := rtt
	for j, at := range l.slotAt {
		if at > sec-limitFloorSlots && l.floors[j] < floor {
			floor = l.floors[j]
		}
	}
	switch {
	case mean > limitTolerance*floor+limitSlack:
		l.limit = max(min(limitMin, l.max), l.limit*0.9)
	case bound:
		l.limit = min(l.max, l.limit+max(1, l.limit/8))
	}
	if bound && !now.Before(l.nextProbe) {
		l.probing = true
	}
}

// state reports the limit and how many requests wait for it.
func (l *limiter) state() (limit, waiting int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit), len(l.queue) - l.head
}
