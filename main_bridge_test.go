package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/iobridge/iobridge/proxy/socketio/siotest"
)

// TestServeBridgeOnPattern: a bridge configured on a namespace given by
// pattern dials its backend for each child namespace's socket, and the
// connect frame names the child.
func TestServeBridgeOnPattern(t *testing.T) {
	frames := make(chan map[string]any, 4)
	up := websocket.Upgrader{}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			var f map[string]any
			if json.Unmarshal(msg, &f) == nil {
				frames <- f
			}
		}
	}))
	defer backend.Close()

	cfgFile := writeFile(t, "bridge.toml", strings.Replace(goodConfig,
		"pattern = \"^/tenant-[a-z]+$\"\non_connect = \"accept\"\n",
		"pattern = \"^/tenant-[a-z]+$\"\non_connect = \"accept\"\nbridge = \"ws"+strings.TrimPrefix(backend.URL, "http")+"\"\n", 1))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := newLogWatch()
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"-config", cfgFile, "-log-format", "json"}, io.Discard, logs) }()
	url, _ := logs.waitRecord(t, "listening", exited)["url"].(string)

	c, connErr := siotest.DialRaw(t, url, "/tenant-abc", &siotest.Options{Transport: siotest.Polling, Path: "/rt/"})
	if connErr != "" || c.SID == "" {
		t.Fatalf("CONNECT /tenant-abc: CONNECT_ERROR %q, sid %q; want a CONNECT ack", connErr, c.SID)
	}
	select {
	case f := <-frames:
		if f["type"] != "connect" {
			t.Fatalf("first bridge frame %v, want a connect frame", f)
		}
		if ns, _ := f["namespace"].(string); ns != "" && ns != "/tenant-abc" {
			t.Fatalf("connect frame namespace %q, want /tenant-abc", ns)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no bridge frame within 10s:\n%s", logs.String())
	}
	cancel()
	<-exited
}
