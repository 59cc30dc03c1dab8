package redis

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/forward"
)

func TestNodes(t *testing.T) {
	r := startRedis(t)
	c, err := Open(context.Background(), Config{URL: r.url(), KeyPrefix: "nodes-test", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	reg := c.Nodes()
	if got, err := reg.Lookup(ctx, "abcd"); got != "" || err != nil {
		t.Fatalf("Lookup of nobody = %q, %v; want \"\", nil", got, err)
	}
	if err := reg.Register(ctx, "abcd", "http://10.0.0.1:8080", 200*time.Millisecond); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if err := reg.Register(ctx, "abcd", "http://10.0.0.2:8080", time.Minute); !errors.Is(err, forward.ErrTaken) {
		t.Fatalf("Register of a held id by another URL = %v, want ErrTaken", err)
	}
	if got, err := reg.Lookup(ctx, "abcd"); got != "http://10.0.0.1:8080" || err != nil {
		t.Fatalf("Lookup = %q, %v", got, err)
	}
	if ttl := c.rdb.PTTL(ctx, "nodes-test:node:abcd").Val(); ttl <= 0 || ttl > 200*time.Millisecond {
		t.Fatalf("PTTL = %v, want at most 200ms", ttl)
	}
	// Refresh with the same URL extends the TTL.
	if err := reg.Register(ctx, "abcd", "http://10.0.0.1:8080", time.Minute); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if ttl := c.rdb.PTTL(ctx, "nodes-test:node:abcd").Val(); ttl < 30*time.Second {
		t.Fatalf("PTTL after refresh = %v, want about a minute", ttl)
	}
	// Unregister by another URL leaves it; by the holder removes it.
	_ = reg.Unregister(ctx, "abcd", "http://10.0.0.2:8080")
	if got, _ := reg.Lookup(ctx, "abcd"); got == "" {
		t.Fatal("Unregister by another URL removed the entry")
	}
	if err := reg.Unregister(ctx, "abcd", "http://10.0.0.1:8080"); err != nil {
		t.Fatal(err)
	}
	if got, _ := reg.Lookup(ctx, "abcd"); got != "" {
		t.Fatalf("Lookup after Unregister = %q", got)
	}
	// A lapsed registration is gone.
	_ = reg.Register(ctx, "efgh", "http://10.0.0.3:8080", 50*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := reg.Lookup(ctx, "efgh")
		if got == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("registration did not lapse")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
