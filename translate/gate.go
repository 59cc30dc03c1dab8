package translate

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Route.Concurrency: the adaptive bound's constants.
const (
	// DefaultMaxConcurrency is the most deliveries an adaptive bound lets
	// a route's backend have at once.
	DefaultMaxConcurrency = 1024
	// limitInitial is where an adaptive bound starts.
	limitInitial = 32
	// limitMin is the lowest an adaptive bound goes: enough parallel
	// deliveries to keep a backend's cores busy while answers travel. At
	// 8, a Go backend on the sidecar's two-core machine answered a fifth
	// fewer echo events than at 16; above 16 it answered no more.
	limitMin = 16
	// limitWindow and limitWindowSamples bound a measuring window: the
	// bound moves at most once per window, on the mean answer time of at
	// least that many answers.
	limitWindow        = 100 * time.Millisecond
	limitWindowSamples = 16
	// limitTolerance and limitSlack define a backend that queues: its
	// mean answer time at the bound exceeds limitTolerance times its mean
	// answer time at half the bound (the last probe's) plus limitSlack.
	// A backend that does one request at a time answers twice as slowly
	// at twice the load, one that waits on something else as fast; the
	// tolerance sits between, so that doubling the deliveries must buy a
	// third more throughput. The answer time includes the sidecar's own
	// part of a delivery (encoding, signing, system calls: tens of
	// microseconds, more on a busy machine); the slack keeps that from
	// reading as queueing when the backend answers in as little.
	limitTolerance = 1.5
	limitSlack     = 100 * time.Microsecond
	// limitProbeEvery is how often, while deliveries wait for the bound,
	// a probe runs at half the bound to measure the backend's answer time
	// at half the load. A probe's mean counts for limitProbeValid, and
	// while the bound stays within a quarter of the one it halved.
	limitProbeEvery = 4 * time.Second
	limitProbeValid = 10 * time.Second
)

// gate bounds the deliveries a route has awaiting its backend's answer
// (Route.Concurrency). Deliveries over the bound wait in arrival order.
//
// Why: a backend given every delivery at once (hundreds of sockets with
// one event in flight each) answers them in no particular order, since
// its scheduler picks among hundreds of ready connections, so some wait
// many times longer than others. Held in the sidecar instead, in a FIFO
// line, each waits its turn, and a backend that cannot keep up is not
// buried under requests that will time out. HAProxy's per-server maxconn
// queue does the same.
//
// An event waits as data, not as a goroutine: the caller puts an entry E
// (to the gate, opaque: the translator's is a socket and its next job) in
// the line, and the goroutine that ends a delivery gets the head of the
// line back from leave or turn, slot and all, and delivers it itself. So
// at the bound a handful of goroutines deliver back to back, and neither
// the wait nor the hand-over costs a goroutine switch; a line of
// goroutines parked on a semaphore cost a tenth of the sidecar's CPU at an
// echo load. turn puts the caller's next entry at the back of the line
// first, so that a busy socket takes its turn with the others. Connect and
// disconnect deliveries, whose callers wait for them anyway, wait parked
// in the same line (acquire).
//
// The gate never runs an entry: what it lets in it hands back (leave,
// turn, admit), and what waited past the bound it hands to the expired
// function given to newGate. Its methods are safe for concurrent use.
//
// The adaptive bound finds how many parallel deliveries still make a
// backend answer more per second. While deliveries wait for the bound, a
// probe every few seconds lets only half the bound through for a while
// and takes the mean answer time of the deliveries sent during it. Then,
// each window: if the mean answer time at the full bound is over
// limitTolerance times the probe's (plus limitSlack), the extra
// deliveries only queue in the backend and the bound shrinks by a tenth;
// otherwise, if deliveries had to wait, it grows by an eighth. Means, not
// the fastest answer (as TCP Vegas and Netflix's concurrency-limits use),
// because a backend's answers differ by request: a few cache hits would
// make every database call look like queueing.
type gate[E any] struct {
	wait time.Duration // how long a delivery may wait for a slot
	// expired receives the entries that waited past wait, with their
	// error, on the expiry timer's goroutine.
	expired func([]E, error)

	mu       sync.Mutex
	fixed    bool
	limit    float64
	max      float64
	inflight int
	line     []gateEntry[E]
	head     int // line[head:] is waiting
	waiting  int // live entries in line[head:]
	// expiry fails the entries that waited past wait; armed while the
	// line has entries.
	expiry *time.Timer
	armed  bool

	// The current window.
	winStart time.Time
	winN     int
	winSum   time.Duration
	winBound bool // a delivery found the bound reached

	// The probe: running since probeStart, or next at nextProbe.
	probing    bool
	probeStart time.Time
	probeN     int
	probeSum   time.Duration
	nextProbe  time.Time
	// half is the last probe's mean answer time, taken at halfAt under
	// the bound halfOf.
	half   time.Duration
	halfAt time.Time
	halfOf float64
}

// gateEntry is a delivery waiting in the line: an entry, a parked caller
// (w), or the tombstone of an entry that expired.
type gateEntry[E any] struct {
	v    E
	w    *gateWaiter
	dead bool      // expired: pop skips it
	at   time.Time // when it joined the line
}

// gateWaiter is a parked caller's place in the line.
type gateWaiter struct {
	ready     chan struct{}
	granted   bool // under gate.mu
	abandoned bool // under gate.mu
}

// newGate returns the gate of a route with Concurrency n: fixed at n
// deliveries, adaptive up to DefaultMaxConcurrency when n is 0, nil (no
// bound) when n is negative. expired gets the entries that waited longer
// than wait.
func newGate[E any](n int, wait time.Duration, expired func([]E, error)) *gate[E] {
	g := &gate[E]{wait: wait, expired: expired, max: DefaultMaxConcurrency}
	switch {
	case n < 0:
		return nil
	case n > 0:
		g.fixed, g.limit = true, float64(n)
	default:
		g.limit = limitInitial
	}
	return g
}

// enter takes a slot if one is free and no one waits for it.
func (g *gate[E]) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.takeLocked()
}

// takeLocked is enter with g.mu held.
func (g *gate[E]) takeLocked() bool {
	if g.waiting > 0 || g.inflight >= g.slots() {
		return false
	}
	g.inflight++
	if g.inflight >= g.slots() {
		g.winBound = true
	}
	return true
}

// enqueue puts e at the back of the line; leave, turn or admit hands it
// back with a slot, or expired gets it after wait.
func (g *gate[E]) enqueue(e E) {
	g.mu.Lock()
	g.push(gateEntry[E]{v: e})
	g.mu.Unlock()
}

// push appends e to the line. Called with g.mu held.
func (g *gate[E]) push(e gateEntry[E]) {
	e.at = time.Now()
	g.line = append(g.line, e)
	g.waiting++
	g.winBound = true
	if e.w == nil && !g.armed {
		g.armed = true
		if g.expiry == nil {
			g.expiry = time.AfterFunc(g.wait, g.expire)
		} else {
			g.expiry.Reset(g.wait)
		}
	}
}

// acquire takes a slot for a caller that waits for its delivery (connect,
// disconnect), parked in the line until ctx ends or, when wait is true,
// until the gate's wait bound; the caller gives the slot back with leave.
// A slot granted as the wait ended is the caller's (nil error), as if
// the grant had come first: giving it back here would let in an entry no
// one runs.
func (g *gate[E]) acquire(ctx context.Context, wait bool) error {
	g.mu.Lock()
	if g.takeLocked() {
		g.mu.Unlock()
		return nil
	}
	w := &gateWaiter{ready: make(chan struct{})}
	g.push(gateEntry[E]{w: w})
	g.mu.Unlock()
	var timeout <-chan time.Time
	if wait {
		tm := time.NewTimer(g.wait)
		defer tm.Stop()
		timeout = tm.C
	}
	var err error
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout:
		err = g.waitError()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.granted {
		return nil
	}
	w.abandoned = true
	g.waiting--
	return err
}

// waitError is the failure of a delivery that waited past the bound.
func (g *gate[E]) waitError() error {
	limit, waiting := g.state()
	return fmt.Errorf("%w after %v, waiting for a backend slot (limit %d, %d waiting)", ErrTimeout, g.wait, limit, waiting)
}

// leave gives back the slot of a delivery the backend answered in rtt (0:
// it did not answer, no sample) and lets the line in: parked callers are
// woken, and the first entry let in is returned with its slot, for the
// caller to run. more reports that further entries may be let in: the
// caller takes them with admit until it reports none.
func (g *gate[E]) leave(rtt time.Duration) (e E, ok, more bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leaveLocked(rtt)
	return g.admitLocked()
}

// turn is leave for a caller with a next entry of its own (its socket's
// next job): back joins the back of the line first, or is returned at
// once if no one waits.
func (g *gate[E]) turn(rtt time.Duration, back E) (e E, ok, more bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leaveLocked(rtt)
	if g.waiting == 0 && g.inflight < g.slots() {
		g.inflight++
		return back, true, false
	}
	g.push(gateEntry[E]{v: back})
	return g.admitLocked()
}

// admit lets in the line's next entry if a slot is free, as leave does.
func (g *gate[E]) admit() (e E, ok, more bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.admitLocked()
}

// leaveLocked gives back a slot and records rtt. Called with g.mu held.
func (g *gate[E]) leaveLocked(rtt time.Duration) {
	g.inflight--
	if rtt > 0 && !g.fixed {
		g.sample(time.Now(), rtt)
	}
}

// admitLocked wakes parked callers at the line's head while slots are
// free, up to the first entry, which it returns with a slot. Called with
// g.mu held.
func (g *gate[E]) admitLocked() (e E, ok, more bool) {
	for g.head < len(g.line) && g.inflight < g.slots() {
		x := g.pop()
		if x.dead || x.w != nil && x.w.abandoned {
			continue
		}
		g.waiting--
		g.inflight++
		if x.w != nil {
			x.w.granted = true
			close(x.w.ready)
			continue
		}
		return x.v, true, g.head < len(g.line) && g.inflight < g.slots()
	}
	return e, false, false
}

// pop takes the line's head. Called with g.mu held.
func (g *gate[E]) pop() gateEntry[E] {
	e := g.line[g.head]
	g.line[g.head] = gateEntry[E]{}
	g.head++
	if g.head == len(g.line) {
		g.line, g.head = g.line[:0], 0
	} else if g.head > 1024 && g.head*2 > len(g.line) {
		n := copy(g.line, g.line[g.head:])
		clear(g.line[n:])
		g.line, g.head = g.line[:n], 0
	}
	return e
}

// expire hands the entries that waited longer than wait to g.expired and
// re-arms for the next one. The line is in arrival order, so they are the
// entries before the first still within wait; each is left in the line
// as a tombstone, which pop skips. Parked callers time out on their own.
func (g *gate[E]) expire() {
	var expired []E
	now := time.Now()
	g.mu.Lock()
	g.armed = false
	for i := g.head; i < len(g.line); i++ {
		e := &g.line[i]
		if left := e.at.Add(g.wait).Sub(now); left > 0 {
			g.armed = true
			g.expiry.Reset(left)
			break
		}
		if e.w == nil && !e.dead {
			expired = append(expired, e.v)
			var zero E
			e.v, e.dead = zero, true
			g.waiting--
		}
	}
	g.mu.Unlock()
	if len(expired) == 0 {
		return
	}
	g.expired(expired, g.waitError())
}

// slots is how many deliveries may await an answer now. Called with g.mu
// held.
func (g *gate[E]) slots() int {
	if g.probing {
		return max(1, int(g.limit)/2)
	}
	return int(g.limit)
}

// sample records one answer time and, at the end of a window, moves the
// bound. Called with g.mu held.
func (g *gate[E]) sample(now time.Time, rtt time.Duration) {
	if g.probing {
		// Only deliveries sent during the probe tell the answer time at
		// half the bound.
		if !now.Add(-rtt).Before(g.probeStart) {
			g.probeN++
			g.probeSum += rtt
		}
		if g.probeN < max(limitWindowSamples, g.slots()) {
			return
		}
		g.half, g.halfAt, g.halfOf = g.probeSum/time.Duration(g.probeN), now, g.limit
		g.probing, g.nextProbe = false, now.Add(limitProbeEvery)
		g.winN, g.winSum, g.winBound = 0, 0, false
		return
	}
	if g.winN == 0 {
		g.winStart = now
	}
	g.winN++
	g.winSum += rtt
	if g.winN < limitWindowSamples || now.Sub(g.winStart) < limitWindow {
		return
	}
	mean, bound := g.winSum/time.Duration(g.winN), g.winBound
	g.winN, g.winSum, g.winBound = 0, 0, false
	// A probe compares half the bound it ran under; once the bound has
	// moved a quarter away, it no longer tells about this one.
	valid := g.half > 0 && now.Sub(g.halfAt) < limitProbeValid &&
		g.limit < g.halfOf*1.25 && g.limit > g.halfOf*0.75
	if valid {
		switch {
		case mean > time.Duration(limitTolerance*float64(g.half))+limitSlack:
			g.limit = max(min(limitMin, g.max), g.limit*0.9)
		case bound:
			g.limit = min(g.max, g.limit+max(1, g.limit/8))
		}
	}
	if bound && (!valid || !now.Before(g.nextProbe)) {
		g.probing, g.probeStart, g.probeN, g.probeSum = true, now, 0, 0
	}
}

// stop ends the expiry timer for good (Translator.Shutdown): by then the
// line drains through the deliveries under way, which fail fast.
func (g *gate[E]) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed = true
	if g.expiry != nil {
		g.expiry.Stop()
	}
}

// state reports the bound and how many deliveries wait for it.
func (g *gate[E]) state() (limit, waiting int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return int(g.limit), g.waiting
}
