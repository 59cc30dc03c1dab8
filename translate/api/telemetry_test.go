package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry/otelsdk"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/api"
	"github.com/iobridge/iobridge/translate/webhook"
)

// otelFixture is the whole path with OpenTelemetry on: a Socket.IO server,
// a Translator delivering /chat to a webhook backend that acks every
// event, and the API serving the SDK's /metrics.
type otelFixture struct {
	*fixture
	disconnects chan string
}

func newOTelFixture(t *testing.T, tel *otelsdk.Telemetry, tp trace.TracerProvider) *otelFixture {
	t.Helper()
	disconnects := make(chan string, 16)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Type   string            `json:"type"`
			Args   []json.RawMessage `json:"args"`
			Reason string            `json:"reason"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &env)
		w.Header().Set("Content-Type", "application/json")
		switch env.Type {
		case "event":
			a, _ := json.Marshal(env.Args)
			io.WriteString(w, `{"ack":`+string(a)+`}`)
		case "disconnect":
			io.WriteString(w, `{}`)
			disconnects <- env.Reason
		default:
			io.WriteString(w, `{}`)
		}
	}))
	t.Cleanup(backend.Close)
	wh, err := webhook.New(webhook.Config{URL: backend.URL, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	srv := socketio.NewServer(socketio.Config{
		Engine:  engineio.Config{Path: "/socket.io/", Logger: discard},
		Adapter: adapter.New,
		Logger:  discard,
	})
	tr, err := translate.New(translate.Config{
		Routes:         []translate.Route{{Name: "/chat", Backend: wh}},
		Logger:         discard,
		TracerProvider: tp,
		MeterProvider:  tel.MeterProvider(),
	}, srv)
	if err != nil {
		t.Fatal(err)
	}
	sio := httptest.NewServer(srv)
	a, err := api.New(api.Config{
		Token: token, Server: srv, Executor: tr.Executor(), Logger: discard,
		Metrics: tel.MetricsHandler(), MeterProvider: tel.MeterProvider(), TracerProvider: tp,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		hs.Close()
		_ = a.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
		_ = tr.Shutdown(ctx)
		sio.Close()
	})
	f := &fixture{t: t, srv: srv, api: a, apiURL: hs.URL, reasons: make(chan string, 64),
		sioURL: "ws" + strings.TrimPrefix(sio.URL, "http") + "/socket.io/?EIO=4&transport=websocket"}
	return &otelFixture{fixture: f, disconnects: disconnects}
}

// TestOTelMetrics reads /metrics after known traffic: two sockets connect,
// one sends three events (each acked by the backend), the API emits once,
// and one socket leaves (its disconnect delivery is under way: the backend
// saw it, its answer may not be counted yet).
func TestOTelMetrics(t *testing.T) {
	tel, err := otelsdk.New(t.Context(), otelsdk.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	f := newOTelFixture(t, tel, nil)

	a := f.dial("/chat", "")
	b := f.dial("/chat", "")
	for i := 1; i <= 3; i++ {
		send(t, a, "42/chat,"+string(rune('0'+i))+`["ping",`+string(rune('0'+i))+`]`)
		if got, want := a.Frame().Text, "43/chat,"+string(rune('0'+i))+"["+string(rune('0'+i))+"]"; got != want {
			t.Fatalf("ack %q, want %q", got, want)
		}
	}
	f.expect("POST", "/v1/emit", `{"namespace":"/chat","event":"news","args":[1]}`, 202, `{"recipients":2}`)
	event(t, a)
	event(t, b)
	send(t, b, "41/chat,")
	if r := recv(t, f.disconnects); r != "client namespace disconnect" {
		t.Fatalf("disconnect reason %q", r)
	}

	status, body := f.do("GET", "/metrics", "")
	if status != 200 {
		t.Fatalf("/metrics = %d", status)
	}
	for _, want := range []string{
		`iobridge_sockets{namespace="/chat",transport="websocket"} 1`,
		`iobridge_connects_total{namespace="/chat",outcome="accepted"} 2`,
		`iobridge_disconnects_total{namespace="/chat",reason="client namespace disconnect"} 1`,
		`iobridge_events_in_total{namespace="/chat"} 3`,
		`iobridge_events_out_total{namespace="/chat"} 1`,
		`iobridge_webhook_deliveries_total{namespace="/chat",outcome="ok",type="connect"} 2`,
		`iobridge_webhook_deliveries_total{namespace="/chat",outcome="ok",type="event"} 3`,
		`iobridge_webhook_duration_seconds_count{namespace="/chat",outcome="ok",type="event"} 3`,
		`iobridge_api_requests_total{code="202",route="/v1/emit"} 1`,
		`iobridge_connections 2`,
		`iobridge_deliveries_in_flight 0`,
		`iobridge_deliveries_queued 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// TestOTelEmitSpan: POST /v1/emit is a server span whose parent is the
// request's traceparent, and the emit is its child.
func TestOTelEmitSpan(t *testing.T) {
	tel, err := otelsdk.New(t.Context(), otelsdk.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	f := newOTelFixture(t, tel, tp)
	f.dial("/chat", "")

	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ := http.NewRequestWithContext(t.Context(), "POST", f.apiURL+"/v1/emit", strings.NewReader(`{"namespace":"/chat","to":["room1"],"event":"news"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Traceparent", parent)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 202 {
		t.Fatalf("emit = %d", res.StatusCode)
	}
	// The 202 goes out before the fan-out: the spans end once the
	// handler returns, shortly after.
	var server, emit tracetest.SpanStub
	deadline := time.Now().Add(5 * time.Second)
	for server.Name == "" || emit.Name == "" {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
		for _, s := range exp.GetSpans() {
			switch {
			case s.SpanKind == trace.SpanKindServer:
				server = s
			case s.Name == "/chat[room1] send":
				emit = s
			}
		}
	}
	if server.Name != "POST /v1/emit" || server.Parent.SpanID().String() != "00f067aa0ba902b7" || server.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("server span %q parent %s trace %s, want POST /v1/emit under the request's traceparent", server.Name, server.Parent.SpanID(), server.SpanContext.TraceID())
	}
	if emit.Parent.SpanID() != server.SpanContext.SpanID() || emit.SpanKind != trace.SpanKindProducer {
		t.Fatalf("emit span %q parent %s kind %v, want a producer under the server span", emit.Name, emit.Parent.SpanID(), emit.SpanKind)
	}
}
