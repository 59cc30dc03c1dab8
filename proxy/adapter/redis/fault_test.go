package redis

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// node is one sidecar's Socket.IO server on its own Cluster.
type node struct {
	c      *Cluster
	srv    *socketio.Server
	nsp    *socketio.Namespace
	got    chan string
	reader *metric.ManualReader
}

func newNode(t *testing.T, url, prefix, mode string) *node {
	t.Helper()
	reader := metric.NewManualReader()
	c, err := Open(context.Background(), Config{URL: url, KeyPrefix: prefix, Mode: mode, RequestTimeout: time.Second,
		Logger: slog.New(slog.DiscardHandler), MeterProvider: metric.NewMeterProvider(metric.WithReader(reader))})
	if err != nil {
		t.Fatal(err)
	}
	srv := socketio.NewServer(socketio.Config{Adapter: c.Factory(), Logger: slog.New(slog.DiscardHandler)})
	n := &node{c: c, srv: srv, nsp: srv.Of("/"), got: make(chan string, 1024), reader: reader}
	n.nsp.OnServerSideEmit(func(event string, args []json.RawMessage) { n.got <- event })
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = c.Close()
	})
	return n
}

// counter returns the sum of a counter's points.
func (n *node) counter(t *testing.T, name string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := n.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			if s, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, p := range s.DataPoints {
					total += p.Value
				}
			}
		}
	}
	return total
}

// reaches emits from a to the other nodes until b hears it.
func reaches(t *testing.T, a, b *node, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if err := a.nsp.ServerSideEmit(context.Background(), "ping", nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-b.got:
			for len(b.got) > 0 {
				<-b.got
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing from the other node within %v", within)
		}
	}
}

func waitReady(t *testing.T, n *node, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for (n.c.Ready() == nil) != want {
		if time.Now().After(deadline) {
			t.Fatalf("Ready() = %v, want ready=%v", n.c.Ready(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisRestart: Redis killed mid-run and started again on the same
// port. While it is down the nodes say so, count what they could not
// publish and do not block; once it is back they resubscribe by
// themselves.
func TestRedisRestart(t *testing.T) {
	for _, mode := range []string{ModeClassic, ModeSharded, ModeStreams} {
		t.Run(mode, func(t *testing.T) {
			r := startRedis(t)
			prefix := uniquePrefix()
			a, b := newNode(t, r.url(), prefix, mode), newNode(t, r.url(), prefix, mode)
			waitReady(t, a, true)
			reaches(t, a, b, 10*time.Second)
			reaches(t, b, a, 10*time.Second)

			r.kill()
			waitReady(t, a, false)
			if err := a.c.Ready(); !errorsIs(err, ErrUnavailable) {
				t.Fatalf("Ready() = %v, want ErrUnavailable", err)
			}
			start := time.Now()
			for range 50 {
				_ = a.nsp.Emit("lost", nil, nil)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("50 emits with Redis down took %v: publishing must not block the emitter", d)
			}
			if n, err := a.nsp.Adapter().(socketio.ServerCounter).ServerCount(context.Background()); err != nil || n != 1 {
				t.Fatalf("ServerCount with Redis down = %d, %v; want 1 (this node alone)", n, err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for a.counter(t, "iobridge.redis.publish.failed") == 0 {
				if time.Now().After(deadline) {
					t.Fatal("no failed publish counted while Redis was down")
				}
				time.Sleep(50 * time.Millisecond)
			}

			r.start()
			waitReady(t, a, true)
			waitReady(t, b, true)
			reaches(t, a, b, 15*time.Second)
			reaches(t, b, a, 15*time.Second)
			if mode == ModeStreams {
				// The stream readers read again (the restarted Redis has
				// a new, empty stream).
				base := b.counter(t, "iobridge.redis.received")
				_ = a.nsp.Emit("after", nil, nil)
				waitCounter(t, b, "iobridge.redis.received", base+1)
			}
		})
	}
}

// TestRedisDownAtStart: a node opened while Redis is not there serves
// and joins the cluster once Redis comes.
func TestRedisDownAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &redisServer{t: t, port: port, dir: t.TempDir()}
	t.Cleanup(r.kill)
	prefix := uniquePrefix()
	a := newNode(t, r.url(), prefix, ModeClassic)
	if a.c.Ready() == nil {
		t.Fatal("Ready() = nil with no Redis")
	}
	if err := a.nsp.Emit("local", nil, nil); err != nil {
		t.Fatalf("Emit with no Redis: %v", err)
	}
	r.start()
	b := newNode(t, r.url(), prefix, ModeClassic)
	waitReady(t, a, true)
	reaches(t, b, a, 15*time.Second)
	reaches(t, a, b, 15*time.Second)
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
