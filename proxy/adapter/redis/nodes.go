package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iobridge/iobridge/proxy/forward"
)

// Nodes is the cluster's node registry for sticky-free polling
// (forward.Registry): one key per node, <key_prefix>:node:<id>, holding
// the node's base URL, with a TTL the node refreshes. It shares the
// Cluster's connection pool; each call is one round trip.
type Nodes struct{ c *Cluster }

var _ forward.Registry = Nodes{}

// Nodes returns the registry on this Cluster's Redis.
func (c *Cluster) Nodes() Nodes { return Nodes{c} }

func (n Nodes) key(id string) string { return n.c.cfg.KeyPrefix + ":node:" + id }

// registerScript sets the key unless another URL holds it.
var registerScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)

// unregisterScript deletes the key if it still holds the URL.
var unregisterScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Register records id → url for ttl (at least a millisecond), or returns
// forward.ErrTaken if another URL holds id.
func (n Nodes) Register(ctx context.Context, id, url string, ttl time.Duration) error {
	if n.c.closed.Load() {
		return ErrClosed
	}
	ms := max(ttl.Milliseconds(), 1)
	ok, err := registerScript.Run(ctx, n.c.rdb, []string{n.key(id)}, url, ms).Int()
	if err != nil {
		return err
	}
	if ok == 0 {
		return forward.ErrTaken
	}
	return nil
}

// Lookup returns id's URL, or "" when no node holds id.
func (n Nodes) Lookup(ctx context.Context, id string) (string, error) {
	if n.c.closed.Load() {
		return "", ErrClosed
	}
	v, err := n.c.rdb.Get(ctx, n.key(id)).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return v, err
}

// Unregister removes id if it still holds url.
func (n Nodes) Unregister(ctx context.Context, id, url string) error {
	if n.c.closed.Load() {
		return ErrClosed
	}
	return unregisterScript.Run(ctx, n.c.rdb, []string{n.key(id)}, url).Err()
}
