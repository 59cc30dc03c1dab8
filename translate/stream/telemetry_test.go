package stream_test

import (
	"testing"

	"github.com/iobridge/iobridge/telemetry/otelsdk/spantest"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate/stream"
)

func newSpanRecorder(t *testing.T) (*spantest.Recorder, trace.TracerProvider) {
	rec, tp := spantest.New(t)
	rec.Timeout = waitTimeout
	return rec, tp
}

var attrs = spantest.Attrs

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
	emit := rec.First(t, "/feed send")
	msg := rec.First(t, "news receive")
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
	bad := rec.Nth(t, "news receive", 2)
	if bad.Status().Code != codes.Error || len(bad.Events()) == 0 || bad.Events()[0].Name != "exception" {
		t.Errorf("malformed message span status %v events %v, want Error and an exception", bad.Status(), bad.Events())
	}
	be.msgs <- "data: [{\"event\":\"a\"},{\"event\":\"connect\"}]\n\n"
	c.Expect("a", `[]`)
	partly := rec.Nth(t, "news receive", 3)
	if partly.Status().Code != codes.Error {
		t.Errorf("message span with a failed instruction: status %v, want Error", partly.Status())
	}
	if _, ok := attrs(partly)["messaging.socket.io.event_name"]; ok {
		t.Errorf("a message of two instructions names an event: %v", attrs(partly))
	}
}
