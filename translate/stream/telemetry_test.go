package stream_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate/stream"
)

// spanRecorder keeps ended spans and reports each one as it ends, so a
// test waits for a span instead of sleeping.
type spanRecorder struct {
	*tracetest.SpanRecorder
	ended chan sdktrace.ReadOnlySpan
}

func (r *spanRecorder) OnEnd(s sdktrace.ReadOnlySpan) {
	r.SpanRecorder.OnEnd(s)
	select {
	case r.ended <- s:
	default:
	}
}

func newSpanRecorder(t *testing.T) (*spanRecorder, trace.TracerProvider) {
	t.Helper()
	rec := &spanRecorder{SpanRecorder: tracetest.NewSpanRecorder(), ended: make(chan sdktrace.ReadOnlySpan, 256)}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return rec, tp
}

// nth waits until n spans named name have ended and returns the nth
// (from 1) to end.
func (r *spanRecorder) nth(t *testing.T, name string, n int) sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.After(waitTimeout)
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
			t.Fatalf("%d spans %q ended within %v, want %d", k, name, waitTimeout, n)
			return nil
		}
	}
}

// span waits for the first span named name to end.
func (r *spanRecorder) span(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	return r.nth(t, name, 1)
}

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := make(map[string]string)
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// TestStreamSpans: a consumer span per message read, the emits of its
// instructions its children, and failures recorded with an Error status.
func TestStreamSpans(t *testing.T) {
	rec, tp := newSpanRecorder(t)
	sc := startSidecar(t, "/feed")
	c := siotest.Dial(t, sc.url, "/feed", nil)
	be := startSSE(t, nil)
	startStream(t, stream.Config{
		Name: "news", URL: be.URL + "/events", Namespace: "/feed",
		Executor:       sc.exec.WithTelemetry(tp, nil),
		TracerProvider: tp,
	})
	be.request(t)

	be.msgs <- "data: {\"event\":\"headline\",\"args\":[1]}\n\n"
	c.Expect("headline", `[1]`)
	emit := rec.span(t, "/feed send")
	msg := rec.span(t, "news receive")
	if msg.SpanKind() != trace.SpanKindConsumer || msg.Parent().IsValid() || msg.Status().Code == codes.Error {
		t.Errorf("message span kind %v parent %v status %v, want a consumer root span, no error", msg.SpanKind(), msg.Parent(), msg.Status())
	}
	want := map[string]string{
		"messaging.destination": "news", "messaging.operation": "receive",
		"iobridge.stream": "news", "messaging.socket.io.event_name": "headline",
	}
	got := attrs(msg)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("message span %s = %q, want %q", k, got[k], v)
		}
	}
	if emit.Parent().SpanID() != msg.SpanContext().SpanID() || emit.SpanKind() != trace.SpanKindProducer {
		t.Errorf("emit span parent %s kind %v, want the message span %s, producer", emit.Parent().SpanID(), emit.SpanKind(), msg.SpanContext().SpanID())
	}
	if a := attrs(emit); a["messaging.socket.io.event_name"] != "headline" || a["messaging.destination"] != "/feed" {
		t.Errorf("emit span attributes %v", a)
	}

	// A malformed message, and a message whose second instruction fails.
	be.msgs <- "data: not json\n\n"
	bad := rec.nth(t, "news receive", 2)
	if bad.Status().Code != codes.Error || len(bad.Events()) == 0 || bad.Events()[0].Name != "exception" {
		t.Errorf("malformed message span status %v events %v, want Error and an exception", bad.Status(), bad.Events())
	}
	be.msgs <- "data: [{\"event\":\"a\"},{\"event\":\"connect\"}]\n\n"
	c.Expect("a", `[]`)
	partly := rec.nth(t, "news receive", 3)
	if partly.Status().Code != codes.Error {
		t.Errorf("message span with a failed instruction: status %v, want Error", partly.Status())
	}
	if _, ok := attrs(partly)["messaging.socket.io.event_name"]; ok {
		t.Errorf("a message of two instructions names an event: %v", attrs(partly))
	}
}
