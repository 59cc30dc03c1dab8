package translate

import "errors"

// Sentinel errors of boundedQueue.push, one per bound.
var (
	errQueueCount = errors.New("translate: queue count bound reached")
	errQueueBytes = errors.New("translate: queue bytes bound reached")
)

// boundedQueue is a FIFO bounded by its number of items and by the sum of
// their sizes, as nats-server's ipQueue (ipqLimitByLen, ipqLimitBySize):
// push returns errQueueCount or errQueueBytes at a bound, and the caller
// decides what a full queue means (the socket queue fails the event with
// status 429). An item of any size fits an empty queue, so that one large
// item is never refused for its size alone.
//
// It is not safe for concurrent use: its owner holds a lock around it (the
// socket's, which also guards whether a delivery is in flight). The zero
// value is not usable; see newBoundedQueue.
//
// A pop that finds it empty releases the backing array, which keeps an
// idle socket small; while the socket stays busy the array is reused (a
// pop that empties it rewinds it, a push into a full array first moves
// the live items to its front), so a socket that keeps events queued
// allocates nothing per event. The alternative, keeping the array for
// good, would pin the largest burst's array to every socket that ever
// had one.
type boundedQueue[T any] struct {
	items    []queued[T]
	head     int // items[head:] are queued
	bytes    int
	maxCount int
	maxBytes int
}

type queued[T any] struct {
	v    T
	size int
}

// newBoundedQueue returns a queue of at most maxCount items and maxBytes
// bytes (both positive).
func newBoundedQueue[T any](maxCount, maxBytes int) boundedQueue[T] {
	return boundedQueue[T]{maxCount: maxCount, maxBytes: maxBytes}
}

// push appends v, counted as size bytes, or returns errQueueCount when the
// queue holds maxCount items, errQueueBytes when v would take it past
// maxBytes (unless it is empty).
func (q *boundedQueue[T]) push(v T, size int) error {
	n := q.len()
	if n >= q.maxCount {
		return errQueueCount
	}
	if n > 0 && q.bytes+size > q.maxBytes {
		return errQueueBytes
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, queued[T]{v: v, size: size})
	q.bytes += size
	return nil
}

// pop takes the oldest item. With none, it releases the backing array
// and reports false.
func (q *boundedQueue[T]) pop() (T, bool) {
	if q.len() == 0 {
		q.items, q.head, q.bytes = nil, 0, 0
		var zero T
		return zero, false
	}
	e := q.items[q.head]
	q.items[q.head] = queued[T]{}
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	q.bytes -= e.size
	return e.v, true
}

// len returns the number of items queued.
func (q *boundedQueue[T]) len() int { return len(q.items) - q.head }

// size returns the sum of the queued items' sizes.
func (q *boundedQueue[T]) size() int { return q.bytes }
