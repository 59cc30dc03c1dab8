package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter/adaptertest"
	"github.com/iobridge/iobridge/proxy/socketio"
)

var prefixes atomic.Int64

// uniquePrefix keeps each test's channels apart from the messages others
// left in flight.
func uniquePrefix() string { return fmt.Sprintf("test%d", prefixes.Add(1)) }

func openCluster(t testing.TB, url, prefix, mode, sub string) *Cluster {
	t.Helper()
	c, err := Open(context.Background(), Config{URL: url, KeyPrefix: prefix, Mode: mode, SubscriptionMode: sub,
		RequestTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// modes are every mode and subscription mode.
var modes = []struct{ mode, sub string }{
	{ModeClassic, ""},
	{ModeSharded, SubscribeDynamic},
	{ModeSharded, SubscribeStatic},
	{ModeSharded, SubscribeDynamicPrivate},
	{ModeStreams, ""},
}

// TestConformance runs the adapter suite on a node of a Redis cluster, in
// every mode.
func TestConformance(t *testing.T) {
	r := startRedis(t)
	for _, m := range modes {
		t.Run(m.mode+"/"+m.sub, func(t *testing.T) {
			// A node of its own for each server the suite makes.
			adaptertest.Run(t, func(nsp *socketio.Namespace) socketio.Adapter {
				return openCluster(t, r.url(), uniquePrefix(), m.mode, m.sub).Factory()(nsp)
			})
		})
	}
}

// TestCluster runs the distributed suite on two nodes of one Redis, in
// every mode.
func TestCluster(t *testing.T) {
	r := startRedis(t)
	for _, m := range modes {
		t.Run(m.mode+"/"+m.sub, func(t *testing.T) {
			prefix := uniquePrefix()
			adaptertest.RunCluster(t, func(t *testing.T) socketio.AdapterFactory {
				return openCluster(t, r.url(), prefix, m.mode, m.sub).Factory()
			})
		})
	}
}

// TestStreamsRecovery restores on one node a session persisted by another,
// in the streams mode.
func TestStreamsRecovery(t *testing.T) {
	r := startRedis(t)
	prefix := uniquePrefix()
	adaptertest.RunClusterRecovery(t, func(t *testing.T) socketio.AdapterFactory {
		return openCluster(t, r.url(), prefix, ModeStreams, "").Factory()
	})
}

// TestRecoveryExpiry: in every mode a lapsed session is reported once, by
// the node that kept it, and a recovered one never; in the streams mode,
// where a session recovers on any node, neither node reports a session
// that recovered on the other, and a session that moved is reported by
// the node it last left.
func TestRecoveryExpiry(t *testing.T) {
	r := startRedis(t)
	for _, m := range modes {
		t.Run(m.mode+"/"+m.sub, func(t *testing.T) {
			prefix := uniquePrefix()
			adaptertest.RunRecoveryExpiry(t, func(t *testing.T) socketio.AdapterFactory {
				return openCluster(t, r.url(), prefix, m.mode, m.sub).Factory()
			}, m.mode == ModeStreams)
		})
	}
}
