package otelsdk_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iobridge/iobridge/telemetry"
	"github.com/iobridge/iobridge/telemetry/otelsdk"
)

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
	tel, err := otelsdk.New(ctx, otelsdk.Config{OTLPEndpoint: url, Protocol: otelsdk.ProtocolHTTP, SampleRatio: 1})
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
		cfg      otelsdk.Config
		env      map[string]string
		wantOn   bool
		wantFail bool
	}{
		{name: "off by default", cfg: otelsdk.Config{}},
		{name: "endpoint in the file", cfg: otelsdk.Config{OTLPEndpoint: "127.0.0.1:4317"}, wantOn: true},
		{name: "endpoint from OTEL_EXPORTER_OTLP_ENDPOINT", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, wantOn: true},
		{name: "OTEL_SDK_DISABLED", cfg: otelsdk.Config{OTLPEndpoint: "127.0.0.1:4317"}, env: map[string]string{"OTEL_SDK_DISABLED": "true"}},
		{name: "OTEL_TRACES_EXPORTER none", cfg: otelsdk.Config{OTLPEndpoint: "127.0.0.1:4317"}, env: map[string]string{"OTEL_TRACES_EXPORTER": "none"}},
		{name: "bad protocol", cfg: otelsdk.Config{Protocol: "udp"}, wantFail: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Getenv = func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			tel, err := otelsdk.New(t.Context(), tc.cfg)
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
	tel, err := otelsdk.New(t.Context(), otelsdk.Config{})
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

func TestRuntimeMetrics(t *testing.T) {
	for _, on := range []bool{false, true} {
		tel, err := otelsdk.New(t.Context(), otelsdk.Config{RuntimeMetrics: on})
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
