package interop

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRoundRobinSIGKILL is TestRoundRobinNodeKilled with the real
// binary: two iobridge processes, configured as an operator would
// ([adapter] type = "redis", a webhook backend answering acks), behind
// the round-robin proxy; one gets SIGKILL while its polling clients have
// requests in flight.
func TestRoundRobinSIGKILL(t *testing.T) {
	redisServerPath(t)
	r := startRedis(t)
	bin := buildIOBridge(t)
	// The backend: "echo" is acked with its args.
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var env struct {
			Type string            `json:"type"`
			Args []json.RawMessage `json:"args"`
		}
		_ = json.NewDecoder(req.Body).Decode(&env)
		w.Header().Set("Content-Type", "application/json")
		if env.Type == "event" {
			b, _ := json.Marshal(map[string]any{"ack": env.Args})
			_, _ = w.Write(b)
			return
		}
		_, _ = w.Write([]byte("{}"))
	}))
	t.Cleanup(backend.Close)

	type proc struct {
		*process
		addr string
	}
	start := func(name string) *proc {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		return &proc{addr: addr, process: startProcess(t, bin, name, fmt.Sprintf(`[server]
listen = %q
path = "/socket.io/"

[api]
listen = "127.0.0.1:%d"
token = %q

[[namespace]]
name = "/"
webhook = %q
on_connect = "accept"

[adapter]
type = "redis"
url = %q
`, addr, freePort(t), apiToken, backend.URL+"/hooks", r.URL()))}
	}
	procs := []*proc{start("A"), start("B")}
	rdb := r.Client()
	// Each process registers its listener: where the sid's node id says.
	ownerOf := func(sid string) *proc {
		url, _ := rdb.Get(t.Context(), "socket.io:node:"+sid[:4]).Result()
		for _, p := range procs {
			if strings.TrimPrefix(url, "http://") == p.addr {
				return p
			}
		}
		return nil
	}
	proxy := startRRProxy(t, []string{procs[0].addr, procs[1].addr})
	c := startClient(t)
	names := connectKillClients(t, c, proxy.url)
	owners := map[string]*proc{}
	for _, name := range names {
		sid := c.state(name).SID
		if owners[name] = ownerOf(sid); owners[name] == nil {
			t.Fatalf("%s: sid %q names no registered process", name, sid)
		}
		// Acks through the round robin, answered by the backend.
		sameJSON(t, name+" ack", c.call(name, "echo", name), []any{name})
	}
	victim := owners[names[0]]
	watchKill(t, c, names, func(name string) bool { return owners[name] == victim }, victim.name, func() {
		_ = victim.cmd.Process.Kill() // SIGKILL
	})
	live := procs[0]
	if live == victim {
		live = procs[1]
	}
	for _, name := range names {
		sameJSON(t, name+" ack after the kill", c.call(name, "echo", name), []any{name})
		if o := ownerOf(c.state(name).SID); o != live {
			t.Errorf("%s is not on the live process %s after the kill", name, live.name)
		}
	}
	for _, r := range proxy.requests() {
		if r.status >= 500 && r.backend != "" {
			t.Errorf("%s sid=%s: %d from %s", r.method, r.sid, r.status, r.backend)
		}
	}
}
