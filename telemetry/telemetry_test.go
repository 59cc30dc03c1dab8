package telemetry_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

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

// otlpReceiver is a collector stand-in: it answers every OTLP/HTTP export
// with 200 and reports the paths it was sent to.
func otlpReceiver(t *testing.T) (url string, paths <-chan string) {
	t.Helper()
	ch := make(chan string, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case ch <- r.URL.Path:
		default:
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

func TestNewExportsSpansOverOTLPHTTP(t *testing.T) {
	url, paths := otlpReceiver(t)
	ctx := t.Context()
	tel, err := telemetry.New(ctx, telemetry.Config{OTLPEndpoint: url, Protocol: telemetry.ProtocolHTTP, SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !tel.Tracing() || tel.TracerProvider() == nil || tel.Propagator() == nil {
		t.Fatal("tracing is off with an endpoint")
	}
	_, span := telemetry.StartReceive(ctx, telemetry.Tracer(tel.TracerProvider()), "/", "e", "")
	span.End()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(paths) > 0 {
		got = append(got, <-paths)
	}
	if !slices.Contains(got, "/v1/traces") || !slices.Contains(got, "/v1/metrics") {
		t.Errorf("the collector got %v, want /v1/traces and /v1/metrics", got)
	}
}

func TestNewDecidesTracing(t *testing.T) {
	tests := []struct {
		name     string
		cfg      telemetry.Config
		env      map[string]string
		wantOn   bool
		wantFail bool
	}{
		{name: "off by default", cfg: telemetry.Config{}},
		{name: "endpoint in the file", cfg: telemetry.Config{OTLPEndpoint: "127.0.0.1:4317"}, wantOn: true},
		{name: "endpoint from OTEL_EXPORTER_OTLP_ENDPOINT", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, wantOn: true},
		{name: "OTEL_SDK_DISABLED", cfg: telemetry.Config{OTLPEndpoint: "127.0.0.1:4317"}, env: map[string]string{"OTEL_SDK_DISABLED": "true"}},
		{name: "OTEL_TRACES_EXPORTER none", cfg: telemetry.Config{OTLPEndpoint: "127.0.0.1:4317"}, env: map[string]string{"OTEL_TRACES_EXPORTER": "none"}},
		{name: "bad protocol", cfg: telemetry.Config{Protocol: "udp"}, wantFail: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Getenv = func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			tel, err := telemetry.New(t.Context(), tc.cfg)
			if tc.wantFail {
				if err == nil {
					t.Fatal("New succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				tel.Shutdown(ctx) // nothing listens: the flush may fail
			}()
			if tel.Tracing() != tc.wantOn || (tel.TracerProvider() != nil) != tc.wantOn {
				t.Errorf("Tracing() = %v, want %v", tel.Tracing(), tc.wantOn)
			}
			if tel.MeterProvider() == nil || tel.MetricsHandler() == nil {
				t.Error("no metrics without tracing")
			}
		})
	}
}

func TestMetricsHandler(t *testing.T) {
	tel, err := telemetry.New(t.Context(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	m := telemetry.NewMetrics(tel.MeterProvider())
	ctx := context.Background()
	chat := m.Namespace("/chat")
	chat.EventIn(ctx)
	chat.EventIn(ctx)
	chat.EventOut(ctx)
	chat.Connect(ctx, telemetry.ConnectAccepted)
	chat.SocketOpened(ctx, "websocket")
	chat.SocketOpened(ctx, "websocket")
	chat.SocketClosed(ctx, "websocket", "transport close")
	chat.Delivery(ctx, "event", "ok", 3*time.Millisecond)
	chat.Dropped(ctx, telemetry.BoundSocketQueue)
	chat.AcksTimedOut(ctx, 2)
	m.StreamReconnect(ctx, "orders")
	m.APIRequest(ctx, "/v1/emit", 202)
	depth := int64(7)
	unregister, err := m.RegisterGauges(telemetry.Gauge{Name: telemetry.MetricQueued, Description: "queued", Unit: "{event}", Observe: func() int64 { return depth }})
	if err != nil {
		t.Fatal(err)
	}
	defer unregister()

	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`iobridge_events_in_total{namespace="/chat"} 2`,
		`iobridge_events_out_total{namespace="/chat"} 1`,
		`iobridge_connects_total{namespace="/chat",outcome="accepted"} 1`,
		`iobridge_sockets{namespace="/chat",transport="websocket"} 1`,
		`iobridge_disconnects_total{namespace="/chat",reason="transport close"} 1`,
		`iobridge_webhook_deliveries_total{namespace="/chat",outcome="ok",type="event"} 1`,
		`iobridge_webhook_duration_seconds_count{namespace="/chat",outcome="ok",type="event"} 1`,
		`iobridge_dropped_total{bound="socket_queue",namespace="/chat"} 1`,
		`iobridge_acks_timed_out_total{namespace="/chat"} 2`,
		`iobridge_stream_reconnects_total{stream="orders"} 1`,
		`iobridge_api_requests_total{code="202",route="/v1/emit"} 1`,
		`iobridge_deliveries_queued 7`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
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

func TestTransport(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Traceparent")
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	tr, exp := newTracer(t)
	rt := telemetry.Transport(http.DefaultTransport, tr, nil)
	for _, tc := range []struct {
		path       string
		wantStatus codes.Code
	}{{"/ok", codes.Unset}, {"/fail", codes.Error}} {
		t.Run(tc.path, func(t *testing.T) {
			exp.Reset()
			req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+tc.path, strings.NewReader("{}"))
			res, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if req.Header.Get("Traceparent") != "" {
				t.Error("the caller's request was modified")
			}
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
	if telemetry.Transport(http.DefaultTransport, nil, nil) != http.DefaultTransport {
		t.Error("Transport with a nil tracer wraps")
	}
}

func TestRuntimeMetrics(t *testing.T) {
	for _, on := range []bool{false, true} {
		tel, err := telemetry.New(t.Context(), telemetry.Config{RuntimeMetrics: on})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body := rec.Body.String()
		tel.Shutdown(context.Background())
		for _, name := range []string{"\ngo_goroutines ", "\ngo_memstats_heap_alloc_bytes "} {
			if got := strings.Contains(body, name); got != on {
				t.Errorf("RuntimeMetrics %v: /metrics has %q = %v", on, strings.TrimSpace(name), got)
			}
		}
		if on && runtime.GOOS == "linux" && !strings.Contains(body, "\nprocess_open_fds ") {
			t.Errorf("RuntimeMetrics true: /metrics lacks process_open_fds")
		}
	}
}
