package redis

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/proxy/socketio/siotest"
)

// TestChildNamespaceCleanupUnsubscribes: with
// CleanupEmptyChildNamespaces, a pattern's child namespace that empties
// is removed and its adapter closed, which leaves every channel it had
// subscribed (as the Node adapters' close does), in every mode; a
// pattern with many short-lived children does not pile up subscriptions.
func TestChildNamespaceCleanupUnsubscribes(t *testing.T) {
	r := startRedis(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(r.url(), "redis://"), "/0")})
	t.Cleanup(func() { rdb.Close() })
	for _, m := range modes {
		t.Run(m.mode+"/"+m.sub, func(t *testing.T) {
			prefix := uniquePrefix()
			c := openCluster(t, r.url(), prefix, m.mode, m.sub)
			srv := socketio.NewServer(socketio.Config{
				Adapter:                     c.Factory(),
				CleanupEmptyChildNamespaces: true,
				Logger:                      slog.New(slog.DiscardHandler),
			})
			srv.OfPattern(regexp.MustCompile(`^/t-\d+$`)).OnConnection(func(s *socketio.Socket) { s.Join("room") })
			hs := httptest.NewServer(srv)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
				hs.Close()
			})
			// childRoutes are the channels (and stream routes) of /t-N
			// namespaces this node listens on; redisChannels those Redis
			// has subscribers for.
			childRoutes := func() []string {
				c.mu.RLock()
				defer c.mu.RUnlock()
				var out []string
				for k := range c.routes {
					if strings.Contains(k, "/t-") {
						out = append(out, k)
					}
				}
				return out
			}
			redisChannels := func() int {
				ctx := context.Background()
				plain, _ := rdb.PubSubChannels(ctx, prefix+"*/t-*").Result()
				shard, _ := rdb.PubSubShardChannels(ctx, prefix+"*/t-*").Result()
				return len(plain) + len(shard)
			}
			numpat := func() int64 { n, _ := rdb.PubSubNumPat(context.Background()).Result(); return n }
			patterns := numpat()

			for i := range 5 {
				name := "/t-" + string(rune('0'+i))
				cl := siotest.Dial(t, hs.URL, name, nil)
				if _, ok := srv.Namespace(name); !ok || len(childRoutes()) == 0 {
					t.Fatalf("%s: namespace or its routes missing (%v)", name, childRoutes())
				}
				cl.Close()
				waitUntil(t, name+" removed", func() bool {
					_, ok := srv.Namespace(name)
					return !ok && len(childRoutes()) == 0
				})
			}
			waitUntil(t, "Redis subscriptions released", func() bool {
				return redisChannels() == 0 && numpat() == patterns
			})
		})
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
