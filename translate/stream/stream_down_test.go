package stream_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/telemetry"
	"github.com/iobridge/iobridge/translate/stream"
)

// records is a slog.Handler that hands each record's message to a channel:
// the test waits on what the stream logs instead of sleeping.
type records chan string

func (r records) Enabled(context.Context, slog.Level) bool { return true }
func (r records) Handle(_ context.Context, rec slog.Record) error {
	select {
	case r <- rec.Message:
	default:
	}
	return nil
}
func (r records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r records) WithGroup(string) slog.Handler      { return r }

func (r records) wait(t *testing.T, msg string) {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case m := <-r:
			if m == msg {
				return
			}
		case <-timeout:
			t.Fatalf("no %q log record", msg)
		}
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serveOn starts h on addr, which was free a moment ago.
func serveOn(t *testing.T, addr string, h http.Handler) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		srv.CloseClientConnections() // a stream's answer lasts
		srv.Close()
	})
}

// counter sums the data points of the counter name whose stream label is
// stream.
func counter(t *testing.T, rd *sdkmetric.ManualReader, name, stream string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := rd.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if v, _ := dp.Attributes.Value(telemetry.LabelStream); v == attribute.StringValue(stream) {
					n += dp.Value
				}
			}
		}
	}
	return n
}

// TestBackendDownAtStart: a stream whose backend is down keeps trying
// (not ready, each retry counted) and delivers once the backend comes up;
// skipped messages are counted on the meter too.
func TestBackendDownAtStart(t *testing.T) {
	for _, scheme := range []string{"http", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			sc := startSidecar(t, "/")
			c := siotest.Dial(t, sc.url, "/", nil)
			rd := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(rd))
			t.Cleanup(func() { mp.Shutdown(context.Background()) })

			addr := freeAddr(t)
			logs := make(records, 256)
			s := startStream(t, stream.Config{Name: "feed", URL: scheme + "://" + addr + "/feed", Executor: sc.exec,
				Logger: slog.New(logs), MeterProvider: mp, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
			logs.wait(t, "stream: disconnected; reconnecting")
			logs.wait(t, "stream: disconnected; reconnecting")
			if err := s.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "not connected") {
				t.Fatalf("Ready while the backend is down = %v", err)
			}

			msgs := make(chan string, 4)
			if scheme == "http" {
				be := startSSE(t, nil)
				serveOn(t, addr, be.Config.Handler)
				msgs = be.msgs
			} else {
				be := startWS(t)
				serveOn(t, addr, be.Config.Handler)
				go func() {
					ws := <-be.conns
					defer ws.Close()
					for m := range msgs {
						ws.WriteMessage(1, []byte(m))
					}
				}()
				t.Cleanup(func() { close(msgs) })
			}
			frame := func(data string) string {
				if scheme == "http" {
					return "data: " + data + "\n\n"
				}
				return data
			}
			msgs <- frame(`{"event":"no event name"`)
			msgs <- frame(`{"event":"up","args":[1]}`)
			c.Expect("up", `[1]`)
			if err := s.Ready(t.Context()); err != nil {
				t.Fatalf("Ready once up = %v", err)
			}
			st := s.Stats()
			if st.Connects != 1 || st.Reconnects < 2 || st.Skipped != 1 {
				t.Fatalf("Stats = %+v, want 1 connect, at least 2 reconnects, 1 skipped", st)
			}
			if n := counter(t, rd, telemetry.MetricStreamReconnects, "feed"); n != int64(st.Reconnects) {
				t.Fatalf("%s{stream=feed} = %d, want %d", telemetry.MetricStreamReconnects, n, st.Reconnects)
			}
			if n := counter(t, rd, stream.MetricSkipped, "feed"); n != 1 {
				t.Fatalf("%s{stream=feed} = %d, want 1", stream.MetricSkipped, n)
			}
		})
	}
}
