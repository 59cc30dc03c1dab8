package otelsdk

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Bounds of the span export (batcher).
const (
	// spanQueue bounds the spans waiting for export; a span that ends
	// past it is dropped and counted (telemetry.MetricSpansDropped). At a sample
	// ratio of 1 a busy sidecar ends tens of thousands of spans a second:
	// the bound is a fraction of a second of them, 64 KiB of pointers.
	spanQueue = 8192
	// spanBatch is the most spans one export carries; a full batch is
	// exported at once. Larger than the SDK's 512: fewer, larger requests
	// cost the collector and the sidecar less per span.
	spanBatch = 2048
	// spanInterval is the longest a span waits for export when batches
	// do not fill up (the SDK's default).
	spanInterval = 5 * time.Second
	// exportTimeout bounds one export.
	exportTimeout = 30 * time.Second
)

// batcher is the span processor in front of the span exporter. Ended
// spans go into a queue of at most spanQueue spans; one goroutine exports
// them in batches of up to spanBatch, as soon as a batch is full or every
// spanInterval. Ending a span never waits: past the bound the span is
// dropped and counted.
//
// sdktrace's BatchSpanProcessor drops at its bound as well (unless told
// to block) but keeps its count of drops to itself; this one's feeds
// telemetry.MetricSpansDropped. It also takes a whole queue per wakeup, one lock
// per span and no channel send.
type batcher struct {
	exp sdktrace.SpanExporter

	mu     sync.Mutex
	queue  []sdktrace.ReadOnlySpan
	closed bool

	kick    chan struct{}      // a batch is full (capacity 1)
	flush   chan chan struct{} // ForceFlush: closed once exported
	stop    chan struct{}      // Shutdown
	done    chan struct{}      // run returned
	dropped atomic.Uint64
}

var _ sdktrace.SpanProcessor = (*batcher)(nil)

func newBatcher(exp sdktrace.SpanExporter) *batcher {
	b := &batcher{
		exp:   exp,
		queue: make([]sdktrace.ReadOnlySpan, 0, spanBatch),
		kick:  make(chan struct{}, 1),
		flush: make(chan chan struct{}),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go b.run()
	return b
}

// OnStart implements sdktrace.SpanProcessor; it does nothing.
func (b *batcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues s for export, or drops and counts it at the bound.
func (b *batcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	if b.closed || len(b.queue) >= spanQueue {
		b.mu.Unlock()
		b.dropped.Add(1)
		return
	}
	b.queue = append(b.queue, s)
	full := len(b.queue) == spanBatch
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// Dropped returns the number of spans dropped at the bound.
func (b *batcher) Dropped() uint64 { return b.dropped.Load() }

// run exports what is queued whenever a batch fills, the interval passes,
// or ForceFlush or Shutdown asks.
func (b *batcher) run() {
	defer close(b.done)
	t := time.NewTimer(spanInterval)
	defer t.Stop()
	spare := make([]sdktrace.ReadOnlySpan, 0, spanBatch)
	for {
		var ack chan struct{}
		stopping := false
		select {
		case <-b.kick:
		case <-t.C:
		case ack = <-b.flush:
		case <-b.stop:
			stopping = true
		}
		spare = b.exportQueued(spare)
		if ack != nil {
			close(ack)
		}
		if stopping {
			return
		}
		t.Reset(spanInterval)
	}
}

// exportQueued takes the queue (leaving spare in its place) and exports
// it batch by batch; it returns the emptied slice, the next spare.
func (b *batcher) exportQueued(spare []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	b.mu.Lock()
	spans := b.queue
	b.queue = spare
	b.mu.Unlock()
	for rest := spans; len(rest) > 0; {
		n := min(len(rest), spanBatch)
		ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
		if err := b.exp.ExportSpans(ctx, rest[:n]); err != nil {
			otel.Handle(err)
		}
		cancel()
		rest = rest[n:]
	}
	clear(spans)
	return spans[:0]
}

// ForceFlush exports what is queued, or gives up when ctx ends.
func (b *batcher) ForceFlush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case b.flush <- ack:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is queued, stops, and shuts the exporter down;
// spans that end afterwards are dropped. It gives up waiting when ctx
// ends.
func (b *batcher) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	select {
	case <-b.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.exp.Shutdown(ctx)
}
