package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/translate/webhook"
)

func newTracerProvider(tb testing.TB) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	tb.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	tb.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp, exp
}

// TestTracing: with a TracerProvider each attempt is a client span
// ("POST", the HTTP client attributes, an Error status from 400 on), a
// child of the delivery's span, whose context the backend receives as
// traceparent; on the direct route (http://) and on net/http's
// (https://) alike.
func TestTracing(t *testing.T) {
	type received struct{ traceparent, ua string }
	got := make(chan received, 1)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got <- received{r.Header.Get("Traceparent"), r.Header.Get("User-Agent")}
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	})
	plain := httptest.NewServer(handler)
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(handler)
	defer tlsSrv.Close()
	tp, exp := newTracerProvider(t)
	routes := []struct {
		name string
		url  string
		rt   http.RoundTripper
	}{
		{"direct", plain.URL, nil},
		{"net-http", tlsSrv.URL, &webhook.Transport{Fallback: tlsSrv.Client().Transport}},
	}
	for _, r := range routes {
		for _, tc := range []struct {
			path       string
			wantStatus codes.Code
			wantCode   string
		}{{"/ok", codes.Unset, "200"}, {"/fail", codes.Error, "503"}} {
			t.Run(r.name+tc.path, func(t *testing.T) {
				exp.Reset()
				c := newClient(t, webhook.Config{URL: r.url + tc.path, Transport: r.rt, TracerProvider: tp})
				ctx, parent := tp.Tracer("test").Start(t.Context(), "parent")
				_, err := c.Deliver(ctx, env("event"))
				parent.End()
				if (err != nil) != (tc.path == "/fail") {
					t.Fatalf("Deliver: %v", err)
				}
				rcv := <-got
				spans := exp.GetSpans()
				if len(spans) != 2 {
					t.Fatalf("%d spans, want 2 (the attempt's and its parent)", len(spans))
				}
				s := spans[0]
				sc := s.SpanContext
				if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; rcv.traceparent != want {
					t.Errorf("the backend received traceparent %q, want the span's %s", rcv.traceparent, want)
				}
				if rcv.ua != "iobridge" {
					t.Errorf("User-Agent %q, want iobridge", rcv.ua)
				}
				if s.Parent.SpanID() != parent.SpanContext().SpanID() {
					t.Errorf("span parent %s, want the delivery's span %s", s.Parent.SpanID(), parent.SpanContext().SpanID())
				}
				if s.Name != "POST" || s.SpanKind != trace.SpanKindClient || s.Status.Code != tc.wantStatus {
					t.Errorf("span %q %v status %v, want POST, client, %v", s.Name, s.SpanKind, s.Status.Code, tc.wantStatus)
				}
				a := map[string]string{}
				for _, kv := range s.Attributes {
					a[string(kv.Key)] = kv.Value.Emit()
				}
				if a["http.request.method"] != "POST" || a["url.full"] != r.url+tc.path || a["server.address"] != "127.0.0.1" ||
					a["http.response.status_code"] != tc.wantCode || (tc.wantStatus == codes.Error) != (a["error.type"] == tc.wantCode) {
					t.Errorf("attributes %v", a)
				}
			})
		}
	}
}

// TestTracingRefused: an attempt that gets no answer ends its span with
// the error.
func TestTracingRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	tp, exp := newTracerProvider(t)
	c := newClient(t, webhook.Config{URL: u, TracerProvider: tp})
	if _, err := c.Deliver(t.Context(), env("event")); err == nil {
		t.Fatal("no error")
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Status.Code != codes.Error || len(s.Events) == 0 {
		t.Errorf("status %v, %d events, want Error and the recorded error", s.Status, len(s.Events))
	}
	for _, kv := range s.Attributes {
		if kv.Key == "error.type" && kv.Value.Emit() != "transport" {
			t.Errorf("error.type %s, want transport", kv.Value.Emit())
		}
	}
}
