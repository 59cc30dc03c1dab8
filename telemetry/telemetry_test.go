package telemetry_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/iobridge/iobridge/telemetry"
)

func newTracer(t *testing.T) (trace.Tracer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return telemetry.Tracer(tp), exp
}

func attrs(s tracetest.SpanStub) map[string]string {
	m := make(map[string]string)
	for _, kv := range s.Attributes {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func TestSpans(t *testing.T) {
	tests := []struct {
		name     string
		start    func(ctx context.Context, tr trace.Tracer) (context.Context, trace.Span)
		wantName string
		wantKind trace.SpanKind
		want     map[string]string
	}{
		{
			name: "event in the main namespace",
			start: func(ctx context.Context, tr trace.Tracer) (context.Context, trace.Span) {
				return telemetry.StartReceive(ctx, tr, "/", "chat", "sid1")
			},
			wantName: "chat receive",
			wantKind: trace.SpanKindConsumer,
			want: map[string]string{
				"messaging.system": "socket.io", "messaging.destination": "/", "messaging.operation": "receive",
				"messaging.socket.io.event_name": "chat", "iobridge.socket.id": "sid1",
			},
		},
		{
			name: "event in another namespace",
			start: func(ctx context.Context, tr trace.Tracer) (context.Context, trace.Span) {
				return telemetry.StartReceive(ctx, tr, "/chat", "message", "sid2")
			},
			wantName: "/chat message receive",
			wantKind: trace.SpanKindConsumer,
			want:     map[string]string{"messaging.destination": "/chat", "messaging.socket.io.event_name": "message"},
		},
		{
			name: "connect",
			start: func(ctx context.Context, tr trace.Tracer) (context.Context, trace.Span) {
				return telemetry.StartReceive(ctx, tr, "/chat", telemetry.ConnectEvent, "sid3")
			},
			wantName: "/chat connection receive",
			wantKind: trace.SpanKindConsumer,
			want:     map[string]string{"messaging.socket.io.event_name": "connection"},
		},
		{
			name: "emit to the whole namespace",
			start: func(ctx context.Context, tr trace.Tracer) (context.Context, trace.Span) {
				return telemetry.StartSend(ctx, tr, "/", "news", nil)
			},
			wantName: "/ send",
			wantKind: trace.SpanKindProducer,
			want: map[string]string{
				"messaging.system": "socket.io", "messaging.destination_kind": "topic", "messaging.destination": "/",
				"messaging.socket.io.namespace": "/", "messaging.socket.io.event_name": "news",
			},
		},
		{
			name: "emit to rooms",
			start: func(ctx context.Context, tr trace.Tracer) (context.Context, trace.Span) {
				return telemetry.StartSend(ctx, tr, "/chat", "news", []string{"a", "b"})
			},
			wantName: "/chat[a,b] send",
			wantKind: trace.SpanKindProducer,
			want:     map[string]string{"messaging.socket.io.rooms": `["a","b"]`, "messaging.socket.io.namespace": "/chat"},
		},
		{
			name: "stream message",
			start: func(ctx context.Context, tr trace.Tracer) (context.Context, trace.Span) {
				return telemetry.StartStreamSpan(ctx, tr, "orders", "update")
			},
			wantName: "orders receive",
			wantKind: trace.SpanKindConsumer,
			want:     map[string]string{"iobridge.stream": "orders", "messaging.destination": "orders", "messaging.socket.io.event_name": "update"},
		},
		{
			name: "bridge frame out",
			start: func(ctx context.Context, tr trace.Tracer) (context.Context, trace.Span) {
				return telemetry.StartBridgeSpan(ctx, tr, telemetry.OperationSend, "/b", "msg", "sid4")
			},
			wantName: "/b msg send",
			wantKind: trace.SpanKindProducer,
			want:     map[string]string{"messaging.operation": "send", "iobridge.socket.id": "sid4"},
		},
		{
			name: "bridge frame in",
			start: func(ctx context.Context, tr trace.Tracer) (context.Context, trace.Span) {
				return telemetry.StartBridgeSpan(ctx, tr, telemetry.OperationReceive, "/", "msg", "sid5")
			},
			wantName: "msg receive",
			wantKind: trace.SpanKindConsumer,
			want:     map[string]string{"messaging.operation": "receive"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, exp := newTracer(t)
			_, span := tc.start(context.Background(), tr)
			telemetry.End(span, nil)
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("got %d spans, want 1", len(spans))
			}
			s := spans[0]
			if s.Name != tc.wantName || s.SpanKind != tc.wantKind {
				t.Errorf("span = %q (%v), want %q (%v)", s.Name, s.SpanKind, tc.wantName, tc.wantKind)
			}
			got := attrs(s)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("attribute %s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestEndRecordsError(t *testing.T) {
	tr, exp := newTracer(t)
	_, span := telemetry.StartReceive(context.Background(), tr, "/", "e", "")
	telemetry.End(span, errors.New("backend timed out"))
	s := exp.GetSpans()[0]
	if s.Status.Code != codes.Error || s.Status.Description != "backend timed out" {
		t.Errorf("status = %v %q, want Error with the message", s.Status.Code, s.Status.Description)
	}
	if len(s.Events) != 1 || s.Events[0].Name != "exception" {
		t.Errorf("events = %v, want one exception", s.Events)
	}
}

func TestNilTracer(t *testing.T) {
	if tr := telemetry.Tracer(nil); tr != nil {
		t.Fatalf("Tracer(nil) = %v, want nil", tr)
	}
	ctx := context.Background()
	rooms := []string{"r"}
	allocs := testing.AllocsPerRun(100, func() {
		c, span := telemetry.StartReceive(ctx, nil, "/chat", "message", "sid")
		telemetry.End(span, nil)
		_, span = telemetry.StartSend(c, nil, "/chat", "message", rooms)
		telemetry.End(span, nil)
	})
	if allocs != 0 {
		t.Errorf("spans with a nil tracer allocate %v times, want 0", allocs)
	}
}

func TestNilMetrics(t *testing.T) {
	m := telemetry.NewMetrics(nil)
	if m != nil {
		t.Fatal("NewMetrics(nil) is not nil")
	}
	ctx := context.Background()
	n := m.Namespace("/")
	n.EventIn(ctx)
	n.Delivery(ctx, "event", "ok", time.Millisecond)
	m.StreamReconnect(ctx, "s")
	if _, err := m.RegisterGauges(telemetry.Gauge{Name: "x", Observe: func() int64 { return 0 }}); err != nil {
		t.Fatal(err)
	}
}

// TestClientSpans: a request's client span ("POST", the HTTP client
// attributes, an Error status from 400 on) whose context the server
// receives as traceparent.
func TestClientSpans(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Traceparent")
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	for _, tc := range []struct {
		path       string
		wantStatus codes.Code
	}{{"/ok", codes.Unset}, {"/fail", codes.Error}} {
		t.Run(tc.path, func(t *testing.T) {
			exp.Reset()
			req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+tc.path, strings.NewReader("{}"))
			cs := telemetry.NewClientSpans(tp, nil, req.URL)
			ctx, span := cs.Start(req.Context(), req.Method, propagation.HeaderCarrier(req.Header))
			res, err := http.DefaultTransport.RoundTrip(req.WithContext(ctx))
			if err != nil {
				cs.End(span, req.Method, 0, err)
				t.Fatal(err)
			}
			res.Body.Close()
			cs.End(span, req.Method, res.StatusCode, nil)
			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			s := spans[0]
			sc := s.SpanContext
			if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; <-got != want {
				t.Errorf("the server did not receive the span's traceparent %s", want)
			}
			if s.Name != "POST" || s.SpanKind != trace.SpanKindClient || s.Status.Code != tc.wantStatus {
				t.Errorf("span %q %v status %v, want POST, client, %v", s.Name, s.SpanKind, s.Status.Code, tc.wantStatus)
			}
			a := attrs(s)
			if a["http.request.method"] != "POST" || a["url.full"] != srv.URL+tc.path || a["server.address"] != "127.0.0.1" || a["http.response.status_code"] == "" {
				t.Errorf("attributes %v", a)
			}
		})
	}
	t.Run("error", func(t *testing.T) {
		exp.Reset()
		u, _ := url.Parse(srv.URL)
		cs := telemetry.NewClientSpans(tp, nil, u)
		_, span := cs.Start(t.Context(), "POST", propagation.HeaderCarrier(http.Header{}))
		cs.End(span, "POST", 0, &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded})
		s := exp.GetSpans()[0]
		if a := attrs(s); a["error.type"] != "timeout" || s.Status.Code != codes.Error {
			t.Errorf("attributes %v status %v, want error.type timeout, Error", a, s.Status.Code)
		}
	})
	if telemetry.NewClientSpans(nil, nil, &url.URL{}) != nil {
		t.Error("NewClientSpans with a nil provider makes spans")
	}
	if telemetry.NewClientSpans(noop.NewTracerProvider(), nil, &url.URL{}) != nil {
		t.Error("NewClientSpans with a no-op provider makes spans")
	}
}
