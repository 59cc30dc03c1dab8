package adminui

import (
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// queueSize bounds the admin events waiting to be broadcast.
const queueSize = 4096

// adminEvent is one broadcast to the admin namespace.
type adminEvent struct {
	name        string
	args        []json.RawMessage
	attachments [][]byte
}

// emitter broadcasts admin events from one goroutine, in the order they
// were queued. The Observer's callers (connection readers, broadcasters)
// must not wait for a broadcast, which a distributed adapter may make
// slow: they queue, and when the queue is full the event is dropped and
// counted.
type emitter struct {
	nsp     *socketio.Namespace
	log     *slog.Logger
	queue   chan adminEvent
	dropped atomic.Int64
	done    chan struct{}
	once    sync.Once
	stopped chan struct{}
}

func newEmitter(nsp *socketio.Namespace, log *slog.Logger) *emitter {
	e := &emitter{
		nsp:     nsp,
		log:     log,
		queue:   make(chan adminEvent, queueSize),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go e.run()
	return e
}

// emit queues an event for every admin socket of the cluster.
func (e *emitter) emit(name string, attachments [][]byte, args ...json.RawMessage) {
	select {
	case <-e.done:
		return
	default:
	}
	select {
	case e.queue <- adminEvent{name: name, args: args, attachments: attachments}:
	default:
		if e.dropped.Add(1) == 1 {
			e.log.Warn("adminui: event queue full, admin events are dropped", "bound", queueSize, "event", name)
		}
	}
}

func (e *emitter) run() {
	defer close(e.stopped)
	for {
		select {
		case <-e.done:
			return
		case ev := <-e.queue:
			if err := e.nsp.Emit(ev.name, ev.args, ev.attachments); err != nil {
				e.log.Debug("adminui: broadcast failed", "event", ev.name, "err", err)
			}
		}
	}
}

// stop ends the goroutine; queued events are dropped.
func (e *emitter) stop() {
	e.once.Do(func() { close(e.done) })
	<-e.stopped
}
