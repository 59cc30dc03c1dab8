package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/plugins"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
)

// job is one delivery waiting in a socket's queue.
type job struct {
	kind  string // TypeEvent or TypeConnect (a recovered socket's)
	id    string // the delivery id when made before (tracing), else ""
	event string
	args  []json.RawMessage
	atts  [][]byte
	ack   socketio.AckFunc
	span  trace.Span // the event's span; failures are recorded on it
}

// size is what j counts against Config.MaxQueueBytes.
func (j *job) size() int {
	n := 0
	for _, a := range j.args {
		n += len(a)
	}
	for _, a := range j.atts {
		n += len(a)
	}
	return n
}

// socketState is a routed socket's delivery queue: one delivery in flight
// at a time, the others waiting in order (Config.MaxQueue,
// Config.MaxQueueBytes). A goroutine runs only while the queue is not
// empty (run.go).
type socketState struct {
	t         *Translator
	r         *route
	s         *socketio.Socket
	ns        string
	handshake json.RawMessage
	left      chan struct{} // closed when the socket starts leaving

	mu      sync.Mutex
	running bool // a job is in flight (or waits in the gate's line); it holds an in-flight slot
	queue   boundedQueue[job]

	pctx      context.Context      // Background with the connect span's context; nil without tracing
	mns       *telemetry.Namespace // nil without metrics
	transport string               // the connection's, for metrics; under mu
}

// onConnection sets up a connected socket: its event handler, its
// disconnect delivery, and the connect answer's emits.
func (t *Translator) onConnection(s *socketio.Socket) {
	nsName := s.Namespace().Name()
	r := t.routeFor(nsName)
	if r == nil {
		return
	}
	st := &socketState{t: t, r: r, s: s, ns: nsName, left: make(chan struct{}),
		queue: newBoundedQueue[job](t.maxQueue, t.maxQBytes)}
	var hs *socketio.Handshake
	if r.Backend != nil {
		h := s.Handshake()
		hs = &h
		st.handshake = EncodeHandshake(h)
		s.OnAny(st.onEvent)
	}
	st.observeConnection(hs)
	s.OnDisconnecting(st.onDisconnecting)
	var delivered bool
	if a, ok := t.connects.take(s); ok {
		delivered = true
		t.applyEmits(st.parent(t.ctx), s, nsName, a.emit, "")
	}
	if s.Recovered() && r.OnConnect == OnConnectWebhook && !delivered {
		st.enqueue(job{kind: TypeConnect})
	}
}

func (st *socketState) onEvent(e socketio.Event) {
	// With tracing the delivery id is made now, so that the event's span
	// gets every attribute at its start.
	var id string
	if st.t.tracer != nil {
		id = NewDeliveryID()
	}
	span := st.startEvent(e.Name, id)
	queued := false
	defer func() {
		if !queued {
			span.End()
		}
	}()
	if st.r.Plugins.HasInbound() {
		rep, err := st.r.Plugins.Inbound(st.t.ctx, plugins.InboundEvent{
			Socket: st.s, Name: e.Name, Args: e.Args, Attachments: e.Attachments, Ack: e.Ack != nil,
		})
		if err != nil {
			st.fail(job{event: e.Name, ack: e.Ack, span: span}, deliveryID(id), err)
			var pe *plugins.Error
			if errors.As(err, &pe) && pe.Disconnect {
				st.s.Disconnect(false)
			}
			return
		}
		if rep.Handled {
			if e.Ack != nil {
				_ = e.Ack(rep.AckArgs, nil)
			}
			return
		}
		if rep.Args != nil {
			e.Args = rep.Args
		}
	}
	if !st.r.forwards(e.Name) {
		st.fail(job{event: e.Name, ack: e.Ack, span: span}, deliveryID(id), fmt.Errorf("%w: %q", ErrNotForwarded, e.Name))
		return
	}
	queued = st.enqueue(job{kind: TypeEvent, id: id, event: e.Name, args: e.Args, atts: e.Attachments, ack: e.Ack, span: span})
}

// deliveryID returns id, or a new delivery id when id is empty.
func deliveryID(id string) string {
	if id != "" {
		return id
	}
	return NewDeliveryID()
}

// enqueue hands j to the socket's queue and reports whether it was taken
// (its span is then ended with the job), else it has failed: at the
// queue's bounds with ErrQueueFull, at Config.MaxInFlight with
// ErrOverloaded.
func (st *socketState) enqueue(j job) bool {
	st.mu.Lock()
	if st.running {
		err := st.queue.push(j, j.size())
		if err == nil {
			st.t.queued.Add(1)
		}
		st.mu.Unlock()
		if err != nil {
			st.fail(j, deliveryID(j.id), st.queueFull(err))
			return false
		}
		return true
	}
	if !st.t.inflight.take() {
		st.mu.Unlock()
		st.fail(j, deliveryID(j.id), fmt.Errorf("%w (bound %d)", ErrOverloaded, st.t.inflight.max))
		return false
	}
	st.running = true
	st.mu.Unlock()
	st.start(j)
	return true
}

// queueFull is the failure of an event the socket's queue refused with
// err (errQueueCount or errQueueBytes).
func (st *socketState) queueFull(err error) error {
	if errors.Is(err, errQueueBytes) {
		return fmt.Errorf("%w (bound %d bytes)", ErrQueueFull, st.t.maxQBytes)
	}
	return fmt.Errorf("%w (bound %d events)", ErrQueueFull, st.t.maxQueue)
}

// next takes the socket's next queued job. With none, the socket stops
// running and gives back its in-flight slot.
func (st *socketState) next() (job, bool) {
	st.mu.Lock()
	j, ok := st.queue.pop()
	if !ok {
		st.running = false
		st.mu.Unlock()
		st.t.inflight.done()
		return job{}, false
	}
	st.t.queued.Add(-1)
	st.mu.Unlock()
	return j, true
}

// socketInfo describes s for an envelope.
func socketInfo(s *socketio.Socket, handshake json.RawMessage) SocketInfo {
	rooms := s.Rooms()
	slices.Sort(rooms)
	if rooms == nil {
		rooms = []string{}
	}
	return SocketInfo{ID: s.ID(), Rooms: rooms, Data: EncodeData(s.Data()), Handshake: handshake}
}

// EncodeData encodes socket.data for an envelope: raw JSON as is,
// anything else with encoding/json; nil (and what cannot be encoded)
// becomes nil, which envelopes write as {}.
func EncodeData(v any) json.RawMessage {
	switch d := v.(type) {
	case nil:
		return nil
	case json.RawMessage:
		return d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return nil
		}
		return b
	}
}
