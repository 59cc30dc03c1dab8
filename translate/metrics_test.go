package translate_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// sumOf returns the value of the Int64 sum named name at the point with
// attrs (0 when there is none), and whether the metric was collected.
func sumOf(t *testing.T, rm metricdata.ResourceMetrics, name string, attrs ...attribute.KeyValue) (int64, bool) {
	t.Helper()
	v, collected, _ := pointOf(t, rm, name, true, attrs...)
	return v, collected
}

// gaugeOf returns the value of the Int64 gauge named name at the point
// with attrs, and whether there is such a point.
func gaugeOf(t *testing.T, rm metricdata.ResourceMetrics, name string, attrs ...attribute.KeyValue) (int64, bool) {
	t.Helper()
	v, _, found := pointOf(t, rm, name, false, attrs...)
	return v, found
}

// pointOf finds the point with attrs of the Int64 sum (or gauge) named
// name: its value, whether the metric was collected, and whether the
// point was.
func pointOf(t *testing.T, rm metricdata.ResourceMetrics, name string, sum bool, attrs ...attribute.KeyValue) (v int64, collected, found bool) {
	t.Helper()
	want := attribute.NewSet(attrs...)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			}
			if _, isSum := m.Data.(metricdata.Sum[int64]); isSum != sum {
				t.Fatalf("%s is a %T", name, m.Data)
			}
			for _, p := range points {
				if p.Attributes.Equals(&want) {
					return p.Value, true, true
				}
			}
			return 0, true, false
		}
	}
	return 0, false, false
}

// TestSocketsGaugeFollowsUpgrade: a socket connected over polling is
// counted under polling, moves to websocket when its connection upgrades,
// and leaves from there; the engine's drop counters are collected.
func TestSocketsGaugeFollowsUpgrade(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	sc := startSidecar(t, translate.Config{
		Routes:        []translate.Route{{Name: "/", OnConnect: translate.OnConnectAccept}},
		MeterProvider: mp,
	})
	// Handlers added after the translator's run after its own.
	connected, upgraded, left := make(chan string, 1), make(chan string, 1), make(chan struct{})
	sc.srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.OnUpgrade(func(tr string) { upgraded <- tr })
		s.OnDisconnect(func(socketio.DisconnectReason) { close(left) })
		connected <- s.Transport()
	})
	gauge := func(transport string) int64 {
		t.Helper()
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		v, ok := sumOf(t, rm, "iobridge.sockets", attribute.String("namespace", "/"), attribute.String("transport", transport))
		if !ok {
			t.Fatal("iobridge.sockets not collected")
		}
		for _, name := range []string{"iobridge.volatile.dropped", "iobridge.queue_full.dropped", "iobridge.slow_consumers"} {
			if _, ok := sumOf(t, rm, name); !ok {
				t.Errorf("%s not collected", name)
			}
		}
		return v
	}

	base := sc.url + "/socket.io/?EIO=4&transport=polling"
	body := func(method, url, in string) string {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(in))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	open := body("GET", base, "")
	i := strings.Index(open, `"sid":"`)
	if i < 0 {
		t.Fatalf("handshake %q", open)
	}
	sid := open[i+7 : i+27]
	body("POST", base+"&sid="+sid, "40")
	select {
	case tr := <-connected:
		if tr != "polling" {
			t.Errorf("Transport() = %q, want polling", tr)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no connection")
	}
	if p, w := gauge("polling"), gauge("websocket"); p != 1 || w != 0 {
		t.Fatalf("sockets polling %d websocket %d, want 1 and 0", p, w)
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(sc.url, "http")+"/socket.io/?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, m, err := ws.ReadMessage(); err != nil || string(m) != "3probe" {
		t.Fatalf("probe answer %q, %v", m, err)
	}
	ws.WriteMessage(websocket.TextMessage, []byte("5"))
	select {
	case tr := <-upgraded:
		if tr != "websocket" {
			t.Errorf("OnUpgrade(%q), want websocket", tr)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no upgrade")
	}
	if p, w := gauge("polling"), gauge("websocket"); p != 0 || w != 1 {
		t.Fatalf("after the upgrade: sockets polling %d websocket %d, want 0 and 1", p, w)
	}

	ws.Close()
	select {
	case <-left:
	case <-time.After(waitTimeout):
		t.Fatal("the socket did not leave")
	}
	if p, w := gauge("polling"), gauge("websocket"); p != 0 || w != 0 {
		t.Fatalf("after the close: sockets polling %d websocket %d, want 0 and 0", p, w)
	}
}

// TestWebhookConcurrencyGauges: each namespace with a bounded webhook
// reports the deliveries its webhook gets at once and those waiting,
// labelled with the namespace's name or pattern.
func TestWebhookConcurrencyGauges(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(backend.Close)
	wh, err := webhook.New(webhook.Config{URL: backend.URL})
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	startSidecar(t, translate.Config{
		Routes: []translate.Route{
			{Name: "/a", Backend: wh, Concurrency: 3},
			{Pattern: regexp.MustCompile(`^/b-\w+$`), Backend: wh},
			{Name: "/c", Backend: wh, Concurrency: -1},
		},
		MeterProvider: mp,
	})
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ns string
		want     int64
	}{
		{"iobridge.webhook.concurrency", "/a", 3},
		{"iobridge.webhook.concurrency", `^/b-\w+$`, 32},
		{"iobridge.webhook.waiting", "/a", 0},
		{"iobridge.webhook.waiting", `^/b-\w+$`, 0},
	} {
		if v, ok := gaugeOf(t, rm, tc.name, attribute.String("namespace", tc.ns)); !ok || v != tc.want {
			t.Errorf("%s{namespace=%q} = %d (collected: %v), want %d", tc.name, tc.ns, v, ok, tc.want)
		}
	}
	// A namespace without a bound reports none.
	if v, ok := gaugeOf(t, rm, "iobridge.webhook.concurrency", attribute.String("namespace", "/c")); ok {
		t.Errorf("iobridge.webhook.concurrency{namespace=\"/c\"} = %d, want no such gauge (Concurrency -1)", v)
	}
}
