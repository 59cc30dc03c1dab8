package bridge_test

import (
	"testing"
	"time"

	"github.com/iobridge/iobridge/telemetry/otelsdk/spantest"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/bridge"
)

func newSpanRecorder(t *testing.T) (*spantest.Recorder, trace.TracerProvider) {
	rec, tp := spantest.New(t)
	rec.Timeout = waitTimeout
	return rec, tp
}

var attrs = spantest.Attrs

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
	ack := rec.First(t, "/b ack receive")
	send := rec.First(t, "/b ask send")
	event := rec.First(t, "/b ask receive")
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
	emit := rec.First(t, "/b["+cl.SID+"] send")
	ins := rec.First(t, "/b news receive")
	if !isChild(emit, ins) || ins.Parent().IsValid() || ins.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("instruction frame span parent %v kind %v; emit span parent %s, want a consumer root span and the emit under it",
			ins.Parent(), ins.SpanKind(), emit.Parent().SpanID())
	}
	wantAttrs(t, ins, map[string]string{"messaging.socket.io.event_name": "news", "iobridge.bridge.frame": "emit"})

	// Failures: a malformed frame, an instruction that fails, an ack that
	// does not come.
	bc.send(`nope`)
	if s := rec.First(t, "/b malformed receive"); s.Status().Code != codes.Error || len(s.Events()) == 0 {
		t.Errorf("malformed frame span status %v events %v, want Error and an exception", s.Status(), s.Events())
	}
	bc.send(`{"event":"connect"}`)
	if s := rec.First(t, "/b connect receive"); s.Status().Code != codes.Error {
		t.Errorf("failed instruction span status %v, want Error", s.Status())
	}
	cl.Send(`42/b,6["unanswered"]`)
	bc.frame()
	if s := rec.First(t, "/b unanswered send"); s.Status().Code != codes.Error {
		t.Errorf("event frame span without its ack: status %v, want Error", s.Status())
	}
}
