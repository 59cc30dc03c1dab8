package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a redis-server process owned by one test, on 127.0.0.1,
// with no persistence. Kill and Restart let a test cut Redis under a
// running cluster and bring it back on the same port.
type redisServer struct {
	t    testing.TB
	Addr string // 127.0.0.1:port
	Port int
	dir  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	output *lockedBuffer // stdout and stderr of every run, for failures
}

// redisServerPath finds redis-server or fails the test: the cluster tests
// never skip (make test installs it, see the Makefile's redis-deps).
func redisServerPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("interop: redis-server is not on PATH; the cluster tests need Redis 7.0 or later: " +
			"run `make redis-deps` as root, or install the redis-server package")
	}
	return p
}

// startRedis starts redis-server on a free port of 127.0.0.1 and waits
// until it answers PING. It is killed when the test ends.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	path := redisServerPath(t)
	port := freePort(t)
	r := &redisServer{
		t:      t,
		Addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Port:   port,
		dir:    t.TempDir(),
		output: &lockedBuffer{},
	}
	t.Cleanup(r.Kill)
	r.start(path)
	return r
}

// URL is the redis:// URL of database 0.
func (r *redisServer) URL() string { return "redis://" + r.Addr + "/0" }

func (r *redisServer) start(path string) {
	r.t.Helper()
	cmd := exec.Command(path,
		"--port", strconv.Itoa(r.Port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", r.dir,
	)
	cmd.Stdout, cmd.Stderr = r.output, r.output
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	r.mu.Lock()
	r.cmd, r.exited = cmd, exited
	r.mu.Unlock()
	r.waitPing(exited)
}

// waitPing polls PING until redis-server answers, fails the test if it
// exits first or does not answer within waitTimeout.
func (r *redisServer) waitPing(exited chan struct{}) {
	r.t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:            r.Addr,
		DialTimeout:     time.Second,
		ReadTimeout:     time.Second,
		MaxRetries:      -1,
		PoolSize:        1,
		DisableIdentity: true,
	})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return
		}
		select {
		case <-exited:
			r.t.Fatalf("redis-server on %s exited before answering PING:\n%s", r.Addr, lockedString(r.output))
		case <-ctx.Done():
			r.t.Fatalf("redis-server on %s: no answer to PING within %v (last error: %v):\n%s", r.Addr, waitTimeout, err, lockedString(r.output))
		case <-tick.C:
		}
	}
}

// Kill stops redis-server with SIGKILL (no shutdown, no goodbye to its
// clients) and waits for it to exit. Killing a stopped server does
// nothing.
func (r *redisServer) Kill() {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts redis-server again on the same port (after Kill), empty,
// and waits until it answers PING.
func (r *redisServer) Restart() {
	r.t.Helper()
	r.mu.Lock()
	running := r.cmd != nil
	r.mu.Unlock()
	if running {
		r.t.Fatal("redisServer.Restart: redis-server is still running; Kill it first")
	}
	r.start(redisServerPath(r.t))
}

// Client returns a go-redis client for the test's own checks (PUBSUB
// counts), closed when the test ends.
func (r *redisServer) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr, DisableIdentity: true})
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

// lockedString reads a lockedBuffer while its process may still write.
func lockedString(b *lockedBuffer) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRedisServerKillRestart checks the helper itself: SIGKILL makes the
// port refuse connections, Restart serves it again.
func TestRedisServerKillRestart(t *testing.T) {
	t.Parallel()
	r := startRedis(t)
	c := r.Client()
	ctx := t.Context()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	r.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after SIGKILL")
	}
	r.Restart()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET k after a restart without persistence = %v, want redis.Nil", err)
	}
	if got := fmt.Sprint(r.Port); r.Addr != "127.0.0.1:"+got {
		t.Fatalf("Addr %s, port %s", r.Addr, got)
	}
}
