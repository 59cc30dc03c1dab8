package translate

import (
	"encoding/json"
	"errors"
	"time"
)

// gateJob is a socket's job as a route's gate holds it: to the gate an
// opaque entry, handed back to be run here.
type gateJob struct {
	st *socketState
	j  job
}

// start runs j, the job a socket starts with once idle (its in-flight
// slot taken), or after a stretch without a gate slot: on a worker at
// once, or, when the route's gate has no slot free, from the gate's line.
func (st *socketState) start(j job) {
	if g := st.r.gate; g != nil && !g.enter() {
		g.enqueue(gateJob{st: st, j: j})
		return
	}
	st.spawnRun(j)
}

// spawnRun runs j and what follows on a worker, with a slot of the
// route's gate if it has one. If the translator is shutting down, j and
// the socket's queued jobs fail with ErrClosed and the slot is given back.
func (st *socketState) spawnRun(j job) {
	if st.t.pool.spawn(func() { st.run(j) }) {
		return
	}
	for ok := true; ok; j, ok = st.next() {
		st.fail(j, deliveryID(j.id), ErrClosed)
		if j.span != nil {
			j.span.End()
		}
	}
	if g := st.r.gate; g != nil {
		releaseSlot(g, 0)
	}
}

// run delivers j and then every job queued behind it, holding one
// in-flight slot throughout. With a gate, run starts with one of its
// slots; after each delivery the socket's next job goes to the back of
// the gate's line, and run goes on with the line's head, whichever
// socket's it is, until the line is empty.
func (st *socketState) run(j job) {
	g := st.r.gate
	held := g != nil
	for {
		rtt, released := st.process(j, held)
		if j.span != nil {
			j.span.End()
		}
		nj, more := st.next()
		if g == nil {
			if !more {
				return
			}
			j = nj
			continue
		}
		if released {
			held = false
		}
		if !held {
			// A streamed answer gave the slot back at its headers.
			if !more {
				return
			}
			if !g.enter() {
				g.enqueue(gateJob{st: st, j: nj})
				return
			}
			j, held = nj, true
			continue
		}
		var (
			e          gateJob
			ok, others bool
		)
		if more {
			e, ok, others = g.turn(rtt, gateJob{st: st, j: nj})
		} else {
			e, ok, others = g.leave(rtt)
		}
		if others {
			runAdmitted(g, gateJob{}, false, true)
		}
		if !ok {
			return
		}
		st, j = e.st, e.j
	}
}

// process delivers j and applies the answer. held says whether it has a
// slot of the route's gate: it returns the backend's answer time (0 when
// it did not answer), and whether it gave the slot back early (a streamed
// answer holds none while it is relayed).
func (st *socketState) process(j job, held bool) (rtt time.Duration, released bool) {
	env := Envelope{
		Type:      j.kind,
		ID:        deliveryID(j.id),
		Time:      time.Now(),
		Namespace: st.ns,
		Socket:    socketInfo(st.s, st.handshake),
	}
	if j.kind == TypeConnect {
		env.Recovered = true
	} else {
		env.Event, env.Ack, env.Args = j.event, j.ack != nil, j.args
		if len(j.atts) > 0 {
			env.Args = make([]json.RawMessage, len(j.args))
			for i, a := range j.args {
				b, err := AttachmentsToBinary(a, j.atts)
				if err != nil {
					b = a
				}
				env.Args[i] = b
			}
		}
	}
	ctx := st.t.ctx
	if j.span != nil {
		ctx = st.spanContext(ctx, j.span)
	}
	reply, rtt, err := st.deliver(ctx, &env)
	switch {
	case j.kind == TypeConnect:
		st.applyRecovered(ctx, env.ID, reply, err)
	case err != nil:
		st.fail(j, env.ID, err)
	case reply.Stream != nil:
		if held {
			// The backend answered; relaying the stream is the
			// sidecar's work, which must not keep others waiting.
			releaseSlot(st.r.gate, rtt)
		}
		st.relay(j, env.ID, reply.Stream)
		return 0, held
	default:
		st.applyEvent(ctx, j, env.ID, reply)
	}
	return rtt, false
}

// releaseSlot gives back a gate slot (rtt as for gate.leave) and runs
// what the gate lets in, each on a worker.
func releaseSlot(g *gate[gateJob], rtt time.Duration) {
	e, ok, more := g.leave(rtt)
	runAdmitted(g, e, ok, more)
}

// runAdmitted runs e (if ok) and, while more, the further entries the
// gate lets in, each on a worker with its slot.
func runAdmitted(g *gate[gateJob], e gateJob, ok, more bool) {
	for {
		if ok {
			e.st.spawnRun(e.j)
		}
		if !more {
			return
		}
		e, ok, more = g.admit()
	}
}

// failExpired fails the jobs that waited in a gate's line past the route's
// timeout (err); each socket's next job starts over.
func failExpired(jobs []gateJob, err error) {
	for _, e := range jobs {
		e.st.fail(e.j, deliveryID(e.j.id), err)
		if e.j.span != nil {
			e.j.span.End()
		}
		if nj, ok := e.st.next(); ok {
			e.st.start(nj)
		}
	}
}

// answerTime is d if the backend answered (a 2xx answer, or an error
// status), else 0: a delivery that timed out or found no backend tells
// nothing of its answer time.
func answerTime(err error, d time.Duration) time.Duration {
	if err == nil || isStatusError(err) {
		return max(d, 1)
	}
	return 0
}

// isStatusError reports whether err is a backend's error status. (Its
// own function: the target errors.As fills is then allocated on errors
// only, not on every delivery.)
func isStatusError(err error) bool {
	var se *StatusError
	return errors.As(err, &se)
}
