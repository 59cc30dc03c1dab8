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
	// mean answer time at the limit exceeds limitTolerance times its mean
	// answer time at half the limit (the last probe's) plus limitSlack.
	// A backend that does one request at a time answers twice as slowly
	// at twice the load, one that waits on something else as fast; the
	// tolerance sits between, so that doubling the requests must buy a
	// third more throughput. The slack keeps a fast backend's noise
	// (microseconds made a millisecond by a busy machine) from reading as
	// queueing.
	limitTolerance = 1.5
	limitSlack     = time.Millisecond
	// limitProbeEvery is how often, while requests wait for the limit, a
	// probe runs at half the limit to measure the backend's answer time
	// at half the load. A probe's mean counts for limitProbeValid, and
	// while the limit stays within a quarter of the one it halved.
	limitProbeEvery = 4 * time.Second
	limitProbeValid = 10 * time.Second
)

// limiter bounds a Client's requests awaiting an answer from the backend.
// Requests over the limit wait in arrival order.
//
// Why: a backend given every delivery at once (hundreds of sockets with
// one event in flight each) answers them in no particular order, since
// its scheduler picks among hundreds of ready connections, so some wait
// many times longer than others. Held in the sidecar instead, in a FIFO
// queue, each waits its turn, and a backend that cannot keep up is not
// buried under requests that will time out. HAProxy's per-server maxconn
// queue does the same.
//
// The adaptive limit finds how many parallel requests still make a
// backend answer more per second. While requests wait for the limit, a
// probe every few seconds sends only half the limit for a while and takes
// the mean answer time of the requests sent during it. Then, each window:
// if the mean answer time at the full limit is over limitTolerance times
// the probe's (plus limitSlack), the extra requests only queue in the
// backend and the limit shrinks by a tenth; otherwise, if requests had to
// wait for the limit, it grows by an eighth. Means, not the fastest
// answer (as TCP Vegas and Netflix's concurrency-limits use), because a
// backend's answers differ by request: a few cache hits would make every
// database call look like queueing.
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

	// The probe: running since probeStart, or next at nextProbe.
	probing    bool
	probeStart time.Time
	probeN     int
	probeSum   time.Duration
	nextProbe  time.Time
	// half is the last probe's mean answer time, taken at halfAt under
	// the limit halfOf.
	half   time.Duration
	halfAt time.Time
	halfOf float64
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
	if l.probing {
		// Only requests sent during the probe tell the answer time at
		// half the limit.
		if !now.Add(-rtt).Before(l.probeStart) {
			l.probeN++
			l.probeSum += rtt
		}
		if l.probeN < max(limitWindowSamples, l.slots()) {
			return
		}
		l.half, l.halfAt, l.halfOf = l.probeSum/time.Duration(l.probeN), now, l.limit
		l.probing, l.nextProbe = false, now.Add(limitProbeEvery)
		l.winN, l.winSum, l.winBound = 0, 0, false
		return
	}
	if l.winN == 0 {
		l.winStart = now
	}
	l.winN++
	l.winSum += rtt
	if l.winN < limitWindowSamples || now.Sub(l.winStart) < limitWindow {
		return
	}
	mean, bound := l.winSum/time.Duration(l.winN), l.winBound
	l.winN, l.winSum, l.winBound = 0, 0, false
	// A probe compares half the limit it ran under; once the limit has
	// moved a quarter away, it no longer tells about this one.
	valid := l.half > 0 && now.Sub(l.halfAt) < limitProbeValid &&
		l.limit < l.halfOf*1.25 && l.limit > l.halfOf*0.75
	if valid {
		switch {
		case mean > time.Duration(limitTolerance*float64(l.half))+limitSlack:
			l.limit = max(min(limitMin, l.max), l.limit*0.9)
		case bound:
			l.limit = min(l.max, l.limit+max(1, l.limit/8))
		}
	}
	if bound && (!valid || !now.Before(l.nextProbe)) {
		l.probing, l.probeStart, l.probeN, l.probeSum = true, now, 0, 0
	}
}

// state reports the limit and how many requests wait for it.
func (l *limiter) state() (limit, waiting int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit), len(l.queue) - l.head
}
