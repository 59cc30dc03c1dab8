package translate_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/iobridge/iobridge/telemetry/otelsdk/spantest"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

func newSpanRecorder(t *testing.T) (*spantest.Recorder, trace.TracerProvider) {
	rec, tp := spantest.New(t)
	rec.Timeout = waitTimeout
	return rec, tp
}

var spanAttrs = spantest.Attrs

func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[string]string) {
	t.Helper()
	got := spanAttrs(s)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("span %q: %s = %q, want %q", s.Name(), k, got[k], v)
		}
	}
}

// TestTraceTree follows one client event through a webhook answered with
// an emit: the connect span (its parent the handshake's traceparent), the
// event span under it, the webhook client span under the event span
// (whose traceparent the backend received), and the emit span.
func TestTraceTree(t *testing.T) {
	rec, tp := newSpanRecorder(t)
	h := startHook(t, func(w http.ResponseWriter, d delivery) {
		switch {
		case d.Env.Type == "event" && d.Env.Event == "hello":
			jsonAnswer(w, 200, `{"ack":["ok"],"emit":[{"event":"reply","to":["`+d.Env.Socket.ID+`"],"args":["hi"]}]}`)
		case d.Env.Type == "event":
			jsonAnswer(w, 500, `{"message":"broken"}`)
		default:
			jsonAnswer(w, 200, `{}`)
		}
	})
	prop := propagation.TraceContext{}
	// The webhook client as main builds it: its spans made inside it.
	wh := newClient(t, h.URL, webhook.Config{TracerProvider: tp, Propagator: prop})
	sc := startSidecar(t, translate.Config{
		Routes:         []translate.Route{{Name: "/chat", OnConnect: "webhook", Backend: wh}},
		TracerProvider: tp,
		Propagator:     prop,
	})

	const (
		clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		clientSpan  = "00f067aa0ba902b7"
	)
	c := siotest.Dial(t, sc.url, "/chat", &siotest.Options{Header: http.Header{"Traceparent": {"00-" + clientTrace + "-" + clientSpan + "-01"}}})
	if d := h.next(t, "connect"); d.Header.Get("Traceparent") == "" {
		t.Error("the connect delivery has no traceparent")
	}
	ack := c.WaitAck(c.EmitWithAck("hello", `"x"`))
	sameJSON(t, "ack", ack, `["ok"]`)
	args, _ := c.WaitEvent("reply")
	sameJSON(t, "reply", args, `["hi"]`)
	ev := h.next(t, "event")
	rec.First(t, "/chat hello receive")

	// The connect span: a child of the client's span, in its trace.
	conn := rec.Only(t, "/chat connection receive")
	if got := conn.SpanContext().TraceID().String(); got != clientTrace {
		t.Errorf("connect span trace %s, want the handshake's %s", got, clientTrace)
	}
	if got := conn.Parent().SpanID().String(); got != clientSpan || !conn.Parent().IsRemote() {
		t.Errorf("connect span parent %s (remote %v), want the handshake's %s", got, conn.Parent().IsRemote(), clientSpan)
	}
	if conn.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("connect span kind %v, want consumer", conn.SpanKind())
	}
	wantAttrs(t, conn, map[string]string{
		"messaging.system": "socket.io", "messaging.destination": "/chat", "messaging.operation": "receive",
		"messaging.socket.io.event_name": "connection", "iobridge.socket.id": c.SID,
	})
	if n := len(rec.Children(conn, trace.SpanKindClient)); n != 1 {
		t.Errorf("connect span has %d webhook client spans, want 1", n)
	}

	// The event span: a child of the connect span.
	evSpan := rec.Only(t, "/chat hello receive")
	if evSpan.Parent().SpanID() != conn.SpanContext().SpanID() {
		t.Errorf("event span parent %s, want the connect span %s", evSpan.Parent().SpanID(), conn.SpanContext().SpanID())
	}
	if evSpan.SpanKind() != trace.SpanKindConsumer || evSpan.Status().Code == codes.Error {
		t.Errorf("event span kind %v status %v, want consumer, not an error", evSpan.SpanKind(), evSpan.Status())
	}
	wantAttrs(t, evSpan, map[string]string{
		"messaging.system": "socket.io", "messaging.destination": "/chat", "messaging.operation": "receive",
		"messaging.socket.io.event_name": "hello", "iobridge.socket.id": c.SID, "iobridge.delivery.id": ev.Env.ID,
	})

	// The webhook delivery: a client span under the event span, and the
	// backend received its context as traceparent.
	clients := rec.Children(evSpan, trace.SpanKindClient)
	if len(clients) != 1 {
		t.Fatalf("event span has %d client spans, want 1", len(clients))
	}
	cs := clients[0].SpanContext()
	wantTP := "00-" + cs.TraceID().String() + "-" + cs.SpanID().String() + "-01"
	if got := ev.Header.Get("Traceparent"); got != wantTP {
		t.Errorf("the backend received traceparent %q, want the client span's %q", got, wantTP)
	}
	wantAttrs(t, clients[0], map[string]string{"http.request.method": "POST", "http.response.status_code": "200"})

	// The emit of the answer: a producer span under the event span.
	emit := rec.Only(t, "/chat["+c.SID+"] send")
	if emit.Parent().SpanID() != evSpan.SpanContext().SpanID() || emit.SpanKind() != trace.SpanKindProducer {
		t.Errorf("emit span parent %s kind %v, want the event span, producer", emit.Parent().SpanID(), emit.SpanKind())
	}
	wantAttrs(t, emit, map[string]string{
		"messaging.system": "socket.io", "messaging.destination_kind": "topic", "messaging.destination": "/chat",
		"messaging.socket.io.namespace": "/chat", "messaging.socket.io.event_name": "reply",
		"messaging.socket.io.rooms": `["` + c.SID + `"]`,
	})

	// A failed delivery is recorded on the event span with an Error status.
	c.WaitAck(c.EmitWithAck("boom", ""))
	rec.First(t, "/chat boom receive")
	boom := rec.Only(t, "/chat boom receive")
	if boom.Status().Code != codes.Error || !strings.Contains(boom.Status().Description, "broken") {
		t.Errorf("failed event span status %v, want Error naming the backend's message", boom.Status())
	}
	if len(boom.Events()) == 0 || boom.Events()[0].Name != "exception" {
		t.Errorf("failed event span events %v, want an exception", boom.Events())
	}
}
