package interop

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestCleanupEmptyChildNamespaces: with cleanupEmptyChildNamespaces, a
// namespace made from a pattern is removed once its last socket has left
// (the server no longer lists it) and made afresh by the next connect, so
// that what it held is gone: a session kept for recovery there is lost,
// and the client reconnects as a new socket. Without the option the child
// stays and the session recovers. The same on the reference and iobridge.
func TestCleanupEmptyChildNamespaces(t *testing.T) {
	for _, cleanup := range []bool{true, false} {
		t.Run(fmt.Sprintf("cleanup=%v", cleanup), func(t *testing.T) {
			eachServer(t, serverConfig{CleanupEmptyChildNamespaces: cleanup, Recovery: time.Minute}, func(t *testing.T, srv *target) {
				c := startClient(t)
				connected(t, c, "main", srv.url, connectOpts{Transports: websocket})
				namespaces := func() []string {
					t.Helper()
					var args [][]string
					raw := c.call("main", "namespaces")
					if err := json.Unmarshal(raw, &args); err != nil || len(args) != 1 {
						t.Fatalf("namespaces ack %s: %v", raw, err)
					}
					return args[0]
				}
				listed := func() bool { return slices.Contains(namespaces(), "/dyn-1") }

				first := connected(t, c, "d1", srv.url, connectOpts{NSP: "/dyn-1", Transports: websocket})
				kept := connected(t, c, "d2", srv.url, connectOpts{NSP: "/dyn-1", Transports: websocket})
				if !listed() {
					t.Fatalf("namespaces %v, want /dyn-1 among them", namespaces())
				}
				c.do("disconnect", "d1")
				srv.waitDisconnect(t, first.ID)
				if !listed() {
					t.Fatalf("a child with a socket left is gone: %v", namespaces())
				}

				// d2 gets an offset (recovery on: an emit carries one),
				// then loses its transport: the child has no socket left.
				c.emit("d2", "echo", "x")
				c.waitEvent("d2", "echo")
				c.do("close_engine", "d2")
				c.wait("disconnect", "d2")
				srv.waitDisconnect(t, kept.ID)
				if got := listed(); got == cleanup {
					t.Fatalf("/dyn-1 listed = %v after its last socket left (%v)", got, namespaces())
				}

				c.do("reconnect", "d2")
				again := c.wait("connect", "d2")
				if recovered := again.Recovered && again.ID == kept.ID; recovered == cleanup {
					t.Fatalf("reconnect to /dyn-1: %v, recovered %v, want %v", again, recovered, !cleanup)
				}
				if !listed() {
					t.Fatalf("namespaces %v after a connect, want /dyn-1 among them", namespaces())
				}
				sameJSON(t, "echo in the new child", c.call("d2", "echo", "y"), []any{"y"})
			})
		})
	}
}
