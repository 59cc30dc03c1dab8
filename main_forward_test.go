package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// TestServeForward: two sidecars on one redis-server, as main wires them
// with the Redis adapter: each registers its listener's real address, a
// polling request for one's session sent to the other is served by the
// owner, and a node that shuts down removes its registration.
func TestServeForward(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not on PATH: install the redis-server package (make test does)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	redis := exec.CommandContext(t.Context(), "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := redis.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = redis.Process.Kill(); _ = redis.Wait() })
	rdb := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(t.Context()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	cfgFile := writeFile(t, "forward.toml", goodConfig+fmt.Sprintf("[adapter]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:%d/0\"\n", port))
	type node struct {
		url    string
		cancel context.CancelFunc
		exited chan int
		logs   *logWatch
	}
	start := func() *node {
		ctx, cancel := context.WithCancel(t.Context())
		n := &node{cancel: cancel, exited: make(chan int, 1), logs: newLogWatch()}
		go func() { n.exited <- run(ctx, []string{"-config", cfgFile, "-log-format", "json"}, io.Discard, n.logs) }()
		n.url, _ = n.logs.waitRecord(t, "listening", n.exited)["url"].(string)
		t.Cleanup(cancel)
		return n
	}
	stop := func(n *node) {
		n.cancel()
		select {
		case code := <-n.exited:
			if code != 0 {
				t.Errorf("exit %d after shutdown, want 0:\n%s", code, n.logs.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("did not stop within 15s:\n%s", n.logs.String())
		}
	}
	a, b := start(), start()

	sid := pollHandshake(t, a.url+"rt/?EIO=4&transport=polling")
	key := "socket.io:node:" + sid[:4]
	if got := rdb.Get(t.Context(), key).Val(); got+"/" != a.url {
		t.Fatalf("%s = %q, want a's listener %q", key, got, strings.TrimSuffix(a.url, "/"))
	}
	// CONNECT to "/" through b; the CONNECT answer comes back through b.
	q := b.url + "rt/?EIO=4&transport=polling&sid=" + sid
	resp, err := http.Post(q, "text/plain", strings.NewReader("40"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("POST through b = %d %q, want 200 ok from a", resp.StatusCode, body)
	}
	resp, err = http.Get(q)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), `40{"sid":"`) {
		t.Fatalf("GET through b = %d %q, want a's CONNECT answer", resp.StatusCode, body)
	}

	// b counted both forwards on /metrics.
	apiURL, _ := b.logs.waitRecord(t, "control API listening", b.exited)["url"].(string)
	resp, err = http.Get(apiURL + "metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "\niobridge_forward_requests_total 2\n") {
		t.Errorf("b's /metrics has no iobridge_forward_requests_total 2:\n%s", grepLines(string(body), "forward"))
	}

	stop(a)
	if n := rdb.Exists(t.Context(), key).Val(); n != 0 {
		t.Errorf("%s still registered after a's shutdown", key)
	}
	// a is gone: b answers its sids as unknown, at once.
	resp, err = http.Get(q)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || string(body) != `{"code":1,"message":"Session ID unknown"}` {
		t.Errorf("GET through b after a stopped = %d %q, want 400 Session ID unknown", resp.StatusCode, body)
	}
	stop(b)
}

// grepLines returns the lines of s containing sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
