package translate

import (
	"sync"
	"time"
)

// workerIdle is how long a worker waits for a next task before it exits.
const workerIdle = 5 * time.Second

// workers runs the translator's tasks (a socket's deliveries, a
// disconnect delivery) on goroutines it waits for. A worker outlives its
// task for workerIdle, so a busy sidecar reuses goroutines whose stacks
// have already grown to the depth of an HTTP round trip, rather than a
// new goroutine per event growing its stack again (copystack was a tenth
// of the CPU of an echo benchmark). The number of workers is not bounded
// here: the bounds on deliveries (Config.MaxInFlight,
// Config.MaxPendingDisconnects) bound the tasks.
//
// Lifecycle: spawn until close; finished tells when the tasks under way
// have returned; once done (the translator's context) is closed, idle
// workers exit and wait waits for them. Its methods are safe for
// concurrent use.
type workers struct {
	done <-chan struct{} // closed: idle workers exit

	mu     sync.RWMutex
	closed bool
	tasks  sync.WaitGroup // tasks under way
	idle   chan func()    // hands a task to an idle worker
	active sync.WaitGroup // worker goroutines
}

func newWorkers(done <-chan struct{}) *workers {
	return &workers{done: done, idle: make(chan func())}
}

// spawn runs fn on a worker, unless close was called (false).
func (w *workers) spawn(fn func()) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return false
	}
	w.tasks.Add(1)
	task := func() {
		defer w.tasks.Done()
		fn()
	}
	select {
	case w.idle <- task:
	default:
		w.active.Add(1)
		go w.work(task)
	}
	return true
}

func (w *workers) work(task func()) {
	defer w.active.Done()
	var idle *time.Timer
	for {
		task()
		if idle == nil {
			idle = time.NewTimer(workerIdle)
		} else {
			idle.Reset(workerIdle)
		}
		select {
		case task = <-w.idle:
			idle.Stop()
		case <-idle.C:
			return
		case <-w.done:
			return
		}
	}
}

// close makes spawn refuse new tasks.
func (w *workers) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// finished returns a channel closed once the tasks spawned have returned.
// Call it after close.
func (w *workers) finished() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		w.tasks.Wait()
		close(done)
	}()
	return done
}

// wait waits for the workers to exit; call it once done is closed and
// the tasks have finished.
func (w *workers) wait() { w.active.Wait() }
