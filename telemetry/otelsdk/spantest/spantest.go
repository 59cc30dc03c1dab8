// Package spantest records the spans a test makes, in the spirit of
// net/http/httptest: New returns a TracerProvider of the OpenTelemetry SDK
// whose ended spans the Recorder keeps, and the Recorder's methods wait
// for a span to end instead of sleeping.
//
// It is for tests only. It links the SDK, which library packages must not
// (see telemetry/deps_test.go); it sits under telemetry/otelsdk, the one
// place allowed to.
package spantest

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// DefaultTimeout is how long the Recorder's methods wait for a span.
const DefaultTimeout = 10 * time.Second

// Recorder keeps the ended spans of its TracerProvider.
type Recorder struct {
	*tracetest.SpanRecorder
	// Timeout bounds each wait; DefaultTimeout unless changed.
	Timeout time.Duration
	ended   chan struct{}
}

// New returns a Recorder and the TracerProvider it records, shut down
// when the test ends.
func New(t testing.TB) (*Recorder, trace.TracerProvider) {
	t.Helper()
	r := &Recorder{SpanRecorder: tracetest.NewSpanRecorder(), Timeout: DefaultTimeout, ended: make(chan struct{}, 1)}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return r, tp
}

// OnEnd implements sdktrace.SpanProcessor: it keeps s and wakes a waiter.
func (r *Recorder) OnEnd(s sdktrace.ReadOnlySpan) {
	r.SpanRecorder.OnEnd(s)
	select {
	case r.ended <- struct{}{}:
	default:
	}
}

// Nth waits until n spans named name have ended and returns the nth
// (from 1) to end. It fails the test after Timeout.
func (r *Recorder) Nth(t testing.TB, name string, n int) sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.After(r.Timeout)
	for {
		k := 0
		for _, s := range r.Ended() {
			if s.Name() == name {
				if k++; k == n {
					return s
				}
			}
		}
		select {
		case <-r.ended:
		case <-deadline:
			t.Fatalf("%d spans %q ended within %v, want %d", k, name, r.Timeout, n)
			return nil
		}
	}
}

// First waits for the first span named name to end.
func (r *Recorder) First(t testing.TB, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	return r.Nth(t, name, 1)
}

// Only returns the one ended span named name, failing the test if there
// are none or several.
func (r *Recorder) Only(t testing.TB, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	var names []string
	for _, s := range r.Ended() {
		names = append(names, s.Name())
		if s.Name() == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans named %q, want 1; spans: %q", len(found), name, names)
		return nil
	}
	return found[0]
}

// Children returns the ended spans of kind k whose parent is p.
func (r *Recorder) Children(p sdktrace.ReadOnlySpan, k trace.SpanKind) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.Ended() {
		if s.Parent().SpanID() == p.SpanContext().SpanID() && s.SpanKind() == k {
			out = append(out, s)
		}
	}
	return out
}

// Attrs returns s's attributes as strings by key.
func Attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := make(map[string]string)
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}
