package interop

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDrain stops the real binary with SIGTERM while 200 real
// clients (half on polling, half on WebSocket) are connected and two
// webhook deliveries are held by a slow backend. The drain must go in the
// order a load balancer and a client expect: /readyz 503 and new
// handshakes refused at once; the held deliveries finish and their acks
// reach the clients, as does an event sent during the drain; then every
// client is disconnected and every disconnect delivery reaches the
// backend; then the process exits 0.
func TestSIGTERMDrain(t *testing.T) {
	const clients = 200
	release := make(chan struct{})
	held := make(chan string, 2)
	var mu sync.Mutex
	disconnects := map[string]string{} // socket id -> reason
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var env struct {
			Type   string            `json:"type"`
			Event  string            `json:"event"`
			Args   []json.RawMessage `json:"args"`
			Reason string            `json:"reason"`
			Socket struct {
				ID string `json:"id"`
			} `json:"socket"`
		}
		_ = json.NewDecoder(req.Body).Decode(&env)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case env.Type == "disconnect":
			mu.Lock()
			disconnects[env.Socket.ID] = env.Reason
			mu.Unlock()
		case env.Type == "event" && env.Event == "slow":
			held <- env.Socket.ID
			<-release
			b, _ := json.Marshal(map[string]any{"ack": []any{"done", env.Args[0]}})
			_, _ = w.Write(b)
			return
		case env.Type == "event":
			b, _ := json.Marshal(map[string]any{"ack": env.Args})
			_, _ = w.Write(b)
			return
		}
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(backend.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	apiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startProcess(t, buildIOBridge(t), "drain", fmt.Sprintf(`[server]
listen = %q
shutdown_timeout = "10s"

[api]
listen = %q
token = %q

[[namespace]]
name = "/"
webhook = %q
on_connect = "accept"
`, addr, apiAddr, apiToken, backend.URL+"/hooks"))

	c := startClient(t)
	url := "http://" + addr
	names := make([]string, clients)
	for i := range names {
		names[i] = fmt.Sprintf("s%d", i)
		transports := []string{"polling"}
		if i%2 == 1 {
			transports = []string{"websocket"}
		}
		c.connect(names[i], url, connectOpts{Transports: transports})
	}
	ids := map[string]string{} // name -> socket id
	for _, name := range names {
		ids[name] = c.wait("connect", name).ID
	}
	// s0 polls, s1 is on WebSocket: one held delivery each.
	slowPolling := c.emitAck("s0", 0, "slow", "p")
	slowWS := c.emitAck("s1", 0, "slow", "w")
	for range 2 {
		select {
		case <-held:
		case <-time.After(waitTimeout):
			t.Fatal("the slow deliveries did not reach the backend")
		}
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Draining: /readyz 503 and new handshakes refused, while the
	// connections in place are served.
	waitFor(t, "/readyz 503 while draining", func() bool {
		resp, err := http.Get("http://" + apiAddr + "/readyz")
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body), "shutting down")
	})
	resp, err := http.Get(url + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatalf("handshake while draining: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"message":"Server shutting down"`) {
		t.Fatalf("handshake while draining: %d %s, want 503 with the JSON error body", resp.StatusCode, body)
	}
	// An event sent during the drain is delivered and answered.
	sameJSON(t, "echo during the drain (polling)", c.call("s2", "echo", "late"), []any{"late"})
	sameJSON(t, "echo during the drain (websocket)", c.call("s3", "echo", "late"), []any{"late"})
	for _, name := range names {
		if c.log.seen(func(e event) bool { return e.Type == "disconnect" && e.Socket == name }) {
			t.Fatalf("%s disconnected while deliveries were still in flight", name)
		}
	}

	close(release)
	for _, tc := range []struct{ req, arg string }{{slowPolling, "p"}, {slowWS, "w"}} {
		ack := c.log.wait(t, "ack of the held delivery "+tc.arg, func(e event) bool {
			return (e.Type == "ack" || e.Type == "ack_error") && e.Req == tc.req
		})
		if ack.Type != "ack" {
			t.Fatalf("held delivery %s: %v", tc.arg, ack)
		}
		sameJSON(t, "ack of the held delivery", ack.Args, []any{"done", tc.arg})
	}
	for _, name := range names {
		c.wait("disconnect", name)
	}
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0:\n%s", code, lockedString(p.logs))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, name := range names {
		reason, ok := disconnects[ids[name]]
		if !ok {
			t.Errorf("%s (%s): no disconnect delivery", name, ids[name])
		} else if reason != "server shutting down" {
			t.Errorf("%s: disconnect reason %q, want %q", name, reason, "server shutting down")
		}
	}
	if len(disconnects) != clients {
		t.Errorf("%d disconnect deliveries, want %d", len(disconnects), clients)
	}
	logs := lockedString(p.logs)
	for _, want := range []string{"msg=\"shutting down\"", "msg=\"shutdown: deliveries in flight finished\"", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}
