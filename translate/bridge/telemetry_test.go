package bridge_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/bridge"
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
	rec := &spanRecorder{SpanRecorder: tracetest.NewSpanRecorder(), ended: make(chan sdktrace.ReadOnlySpan, 1024)}
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

func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[string]string) {
	t.Helper()
	got := attrs(s)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("span %q: %s = %q, want %q", s.Name(), k, got[k], v)
		}
	}
}

func isChild(child, parent sdktrace.ReadOnlySpan) bool {
	return child.Parent().SpanID() == parent.SpanContext().SpanID() && child.SpanContext().TraceID() == parent.SpanContext().TraceID()
}

// TestBridgeSpans follows a client event with an ack over a bridge: the
// event frame's producer span under the client event's span, the ack
// frame's consumer span under it; an instruction frame's consumer span
// with the emit's span under it; failures with an Error status.
func TestBridgeSpans(t *testing.T) {
	rec, tp := newSpanRecorder(t)
	be := startBackend(t, 0)
	sc := startSidecar(t, translate.Route{OnConnect: translate.OnConnectAccept},
		bridge.Config{URL: be.ws, TracerProvider: tp, Timeout: 2 * time.Second})
	cl := siotest.Dial(t, sc.url, "/b", nil)
	bc := be.conn(t)
	bc.connect()

	cl.Send(`42/b,5["ask","q"]`)
	if got, want := bc.frame(), `{"type":"event","event":"ask","args":["q"],"id":1}`; got != want {
		t.Fatalf("event frame %s, want %s", got, want)
	}
	bc.send(`{"type":"ack","id":1,"args":["answer"]}`)
	if got, want := cl.Text(), `43/b,5["answer"]`; got != want {
		t.Fatalf("ack %s, want %s", got, want)
	}
	ack := rec.span(t, "/b ack receive")
	send := rec.span(t, "/b ask send")
	event := rec.span(t, "/b ask receive")
	if !isChild(send, event) || send.SpanKind() != trace.SpanKindProducer || send.Status().Code == codes.Error {
		t.Errorf("event frame span parent %s kind %v status %v, want the client event's span %s, producer, no error",
			send.Parent().SpanID(), send.SpanKind(), send.Status(), event.SpanContext().SpanID())
	}
	wantAttrs(t, send, map[string]string{
		"messaging.system": "socket.io", "messaging.destination": "/b", "messaging.operation": "send",
		"messaging.socket.io.event_name": "ask", "iobridge.socket.id": cl.SID, "iobridge.bridge.frame": "event",
	})
	if !isChild(ack, send) || ack.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("ack frame span parent %s kind %v, want the event frame's span %s, consumer", ack.Parent().SpanID(), ack.SpanKind(), send.SpanContext().SpanID())
	}
	wantAttrs(t, ack, map[string]string{"messaging.operation": "receive", "iobridge.bridge.frame": "ack", "iobridge.socket.id": cl.SID})

	// An instruction frame: its span, and the emit's under it.
	bc.send(`{"event":"news","args":[1]}`)
	cl.Expect("news", `[1]`)
	emit := rec.span(t, "/b["+cl.SID+"] send")
	ins := rec.span(t, "/b news receive")
	if !isChild(emit, ins) || ins.Parent().IsValid() || ins.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("instruction frame span parent %v kind %v; emit span parent %s, want a consumer root span and the emit under it",
			ins.Parent(), ins.SpanKind(), emit.Parent().SpanID())
	}
	wantAttrs(t, ins, map[string]string{"messaging.socket.io.event_name": "news", "iobridge.bridge.frame": "emit"})

	// Failures: a malformed frame, an instruction that fails, an ack that
	// does not come.
	bc.send(`nope`)
	if s := rec.span(t, "/b malformed receive"); s.Status().Code != codes.Error || len(s.Events()) == 0 {
		t.Errorf("malformed frame span status %v events %v, want Error and an exception", s.Status(), s.Events())
	}
	bc.send(`{"event":"connect"}`)
	if s := rec.span(t, "/b connect receive"); s.Status().Code != codes.Error {
		t.Errorf("failed instruction span status %v, want Error", s.Status())
	}
	cl.Send(`42/b,6["unanswered"]`)
	bc.frame()
	if s := rec.span(t, "/b unanswered send"); s.Status().Code != codes.Error {
		t.Errorf("event frame span without its ack: status %v, want Error", s.Status())
	}
}
