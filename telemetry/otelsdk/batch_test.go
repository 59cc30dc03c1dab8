package otelsdk

import (
	"context"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// gatedExporter holds every export until open is closed.
type gatedExporter struct {
	open    chan struct{}
	started chan int
	mu      sync.Mutex
	got     int
	batches []int
}

func (e *gatedExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	select {
	case e.started <- len(spans):
	default:
	}
	<-e.open
	e.mu.Lock()
	e.got += len(spans)
	e.batches = append(e.batches, len(spans))
	e.mu.Unlock()
	return nil
}

func (e *gatedExporter) Shutdown(context.Context) error { return nil }

// TestBatcher: full batches go at once, at most spanBatch per export;
// past spanQueue waiting spans, spans are dropped and counted, never
// waited for; ForceFlush and Shutdown export the rest.
func TestBatcher(t *testing.T) {
	exp := &gatedExporter{open: make(chan struct{}), started: make(chan int, 16)}
	b := newBatcher(exp)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))
	tr := tp.Tracer("test")
	end := func(n int) {
		for range n {
			_, s := tr.Start(context.Background(), "s")
			s.End()
		}
	}
	end(spanBatch) // a full batch: its export starts (and is held)
	select {
	case n := <-exp.started:
		if n != spanBatch {
			t.Fatalf("first export of %d spans, want %d", n, spanBatch)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a full batch was not exported")
	}
	end(spanQueue + 7) // the queue fills while the export is held
	if got := b.Dropped(); got != 7 {
		t.Fatalf("Dropped() = %d, want 7", got)
	}
	close(exp.open)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	exp.mu.Lock()
	got, batches := exp.got, exp.batches
	exp.mu.Unlock()
	if got != spanBatch+spanQueue {
		t.Errorf("exported %d spans, want %d", got, spanBatch+spanQueue)
	}
	for _, n := range batches {
		if n > spanBatch {
			t.Errorf("an export of %d spans, over %d", n, spanBatch)
		}
	}
	end(3)
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	exp.mu.Lock()
	got = exp.got
	exp.mu.Unlock()
	if got != spanBatch+spanQueue+3 {
		t.Errorf("after Shutdown, exported %d spans, want %d", got, spanBatch+spanQueue+3)
	}
	if err := b.ForceFlush(ctx); err != nil {
		t.Errorf("ForceFlush after Shutdown = %v", err)
	}
}
