package redis

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// requests are one namespace adapter's queries waiting for other nodes'
// answers, and its broadcasts waiting for acks, by request id.
type requests struct {
	mu   sync.Mutex
	reqs map[string]*request
	acks map[string]*socketio.BroadcastAck
}

// request is a query sent to the other nodes: it completes when want
// answers arrived.
type request struct {
	typ     int
	want    int
	got     int
	sockets []socketio.SocketInfo
	rooms   []string
	done    chan struct{}
}

func newRequests() *requests {
	return &requests{reqs: make(map[string]*request), acks: make(map[string]*socketio.BroadcastAck)}
}

// add registers a query expecting want answers.
func (r *requests) add(id string, typ, want int) *request {
	q := &request{typ: typ, want: want, done: make(chan struct{})}
	r.mu.Lock()
	r.reqs[id] = q
	r.mu.Unlock()
	return q
}

// answer records one answer to query id through fn (under the lock);
// unknown ids (answered, timed out, another node's) are ignored.
func (r *requests) answer(id string, fn func(q *request)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.reqs[id]
	if !ok {
		return
	}
	if fn != nil {
		fn(q)
	}
	q.got++
	if q.got >= q.want {
		delete(r.reqs, id)
		close(q.done)
	}
}

// has reports whether id is one of this adapter's pending queries or ack
// broadcasts.
func (r *requests) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, q := r.reqs[id]
	_, a := r.acks[id]
	return q || a
}

// wait waits for query id's answers until timeout or ctx ends; on timeout
// the answers so far are kept and the error says how many came.
func (r *requests) wait(ctx context.Context, c *Cluster, id string, q *request, timeout time.Duration) error {
	start := time.Now()
	c.met.requests.Add(c.ctx, 1)
	t := time.NewTimer(timeout)
	defer t.Stop()
	var err error
	select {
	case <-q.done:
	case <-t.C:
		err = ErrTimeout
	case <-ctx.Done():
		err = ctx.Err()
	}
	r.mu.Lock()
	delete(r.reqs, id)
	got, want := q.got, q.want
	r.mu.Unlock()
	c.met.roundTrip.Record(c.ctx, time.Since(start).Seconds())
	if err == ErrTimeout {
		c.met.timeouts.Add(c.ctx, 1)
		return fmt.Errorf("%w (only %d responses received out of %d)", ErrTimeout, got, want)
	}
	return err
}

// addAck registers a broadcast waiting for acks; it is forgotten after
// keep, as socket.io-adapter forgets it after the broadcast's timeout.
func (r *requests) addAck(id string, acks *socketio.BroadcastAck, keep time.Duration) {
	r.mu.Lock()
	r.acks[id] = acks
	r.mu.Unlock()
	time.AfterFunc(keep, func() {
		r.mu.Lock()
		delete(r.acks, id)
		r.mu.Unlock()
	})
}

func (r *requests) ack(id string) *socketio.BroadcastAck {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acks[id]
}
