package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	goredis "github.com/redis/go-redis/v9"
)

// TestServeStreamsDrainPersists: the sidecar in the streams mode with
// recovery on, stopped as by SIGTERM, persists its sockets' sessions in
// Redis (sio:session:<pid>, with the window as TTL) before it exits, so
// that their clients recover on another node.
func TestServeStreamsDrainPersists(t *testing.T) {
	addr := startTestRedis(t)
	cfg := strings.Replace(goodConfig, "max_http_buffer_size = 5000\n", "max_http_buffer_size = 5000\nrecovery = \"1m\"\n", 1)
	cfgFile := writeFile(t, "streams.toml", cfg+"[adapter]\ntype = \"redis\"\nurl = \"redis://"+addr+"/0\"\nmode = \"streams\"\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := newLogWatch()
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"-config", cfgFile, "-log-format", "json"}, io.Discard, logs) }()
	url, _ := logs.waitRecord(t, "listening", exited)["url"].(string)
	ack := siotest.Dial(t, url, "/", &siotest.Options{Transport: siotest.Polling, Path: "/rt/"})
	if ack.PID == "" {
		t.Fatalf("CONNECT answer: sid %q, no pid; want a pid (recovery on)", ack.SID)
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("exit %d after shutdown, want 0:\n%s", code, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("did not stop within 15s:\n%s", logs.String())
	}
	rc := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rc.Close()
	key := "sio:session:" + ack.PID
	raw, err := rc.Get(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("GET %s after the drain: %v", key, err)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || !strings.Contains(string(b), ack.SID) {
		t.Errorf("session %q: want base64 msgpack naming socket %s", raw, ack.SID)
	}
	// The key outlives the 1m window by 10s, so that this node's claim at
	// the window's end (the expired delivery) is never beaten by Redis.
	if ttl, err := rc.PTTL(context.Background(), key).Result(); err != nil || ttl <= time.Minute || ttl > time.Minute+10*time.Second {
		t.Errorf("PTTL %s = %v, %v; want the 1m window plus 10s", key, ttl, err)
	}
}

// startTestRedis starts redis-server on a free loopback port for the
// test and returns its address.
func startTestRedis(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not on PATH: install the redis-server package (make test does)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	rc := goredis.NewClient(&goredis.Options{Addr: addr})
	defer rc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rc.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr
}
