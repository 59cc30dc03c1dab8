package socketio_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// closeCounting is the in-memory adapter counting its Close calls.
type closeCounting struct {
	*adapter.Memory
	closed *atomic.Int32
}

func (a closeCounting) Close() error { a.closed.Add(1); return nil }

func newCleanupServer(t *testing.T, cleanup bool) (*socketio.Server, *socketio.Namespace, *atomic.Int32) {
	t.Helper()
	closed := new(atomic.Int32)
	srv := newServer(t, socketio.Config{
		CleanupEmptyChildNamespaces: cleanup,
		Adapter: func(n *socketio.Namespace) socketio.Adapter {
			return closeCounting{adapter.NewMemory(n, adapter.Options{}), closed}
		},
	})
	parent := srv.OfPattern(regexp.MustCompile(`^/t-\d+$`))
	parent.OnConnection(func(s *socketio.Socket) { s.Join("lobby") })
	return srv, parent, closed
}

// waitUntil polls cond until it holds or waitTimeout passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitTimeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func namespaceNames(srv *socketio.Server) []string {
	var out []string
	for _, n := range srv.Namespaces() {
		out = append(out, n.Name())
	}
	slices.Sort(out)
	return out
}

func TestCleanupEmptyChildNamespaces(t *testing.T) {
	for _, cleanup := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[cleanup], func(t *testing.T) {
			srv, parent, closed := newCleanupServer(t, cleanup)
			c1 := newFakeConn(4).attach(srv)
			c1.join(t, "/t-1")
			c2 := newFakeConn(4).attach(srv)
			c2.join(t, "/t-1")
			first, ok := srv.Namespace("/t-1")
			if !ok {
				t.Fatal("child not created")
			}
			c1.msg("1/t-1,")
			waitUntil(t, "first socket gone", func() bool { return first.Len() == 1 })
			if _, ok := srv.Namespace("/t-1"); !ok {
				t.Fatal("a child with a socket left was removed")
			}
			c2.msg("1/t-1,")
			if cleanup {
				waitUntil(t, "child removed", func() bool { _, ok := srv.Namespace("/t-1"); return !ok })
				if closed.Load() != 1 {
					t.Fatalf("adapter closed %d times, want 1", closed.Load())
				}
				if got := namespaceNames(srv); !slices.Equal(got, []string{"/"}) {
					t.Fatalf("namespaces %v", got)
				}
			} else {
				waitUntil(t, "second socket gone", func() bool { return first.Len() == 0 })
				if _, ok := srv.Namespace("/t-1"); !ok || closed.Load() != 0 {
					t.Fatal("child removed without the option")
				}
			}
			if parent.Len() != 0 {
				t.Fatalf("parent len %d", parent.Len())
			}

			// A later connect makes the child afresh: its rooms are gone.
			c3 := newFakeConn(4).attach(srv)
			c3.join(t, "/t-1")
			again, _ := srv.Namespace("/t-1")
			if (again != first) != cleanup {
				t.Fatalf("child made afresh: %v, want %v", again != first, cleanup)
			}
			rooms := again.Adapter().(closeCounting).Rooms()
			if cleanup && rooms["lobby"] != 1 {
				t.Fatalf("rooms of the new child %v", rooms)
			}
			if err := parent.Emit("hi", nil, nil); err != nil {
				t.Fatal(err)
			}
			c3.expect(t, `2/t-1,["hi"]`)
		})
	}
}

// A connect still in the middleware holds its child: the child is not
// removed under it when the last connected socket leaves.
func TestCleanupWaitsForConnectUnderWay(t *testing.T) {
	srv, parent, closed := newCleanupServer(t, true)
	hold := make(chan struct{})
	entered := make(chan struct{}, 1)
	parent.Use(func(ctx context.Context, s *socketio.Socket) error {
		if strings.Contains(string(s.Handshake().Auth), "hold") {
			entered <- struct{}{}
			<-hold
		}
		return nil
	})
	c1 := newFakeConn(4).attach(srv)
	c1.join(t, "/t-1")
	n, _ := srv.Namespace("/t-1")
	c2 := newFakeConn(4).attach(srv)
	c2.msg(`0/t-1,{"hold":true}`)
	<-entered
	c1.msg("1/t-1,")
	waitUntil(t, "first socket gone", func() bool { return n.Len() == 0 })
	if got, ok := srv.Namespace("/t-1"); !ok || got != n {
		t.Fatal("child removed while a connect was under way")
	}
	close(hold)
	c2.expectPrefix(t, `0/t-1,{"sid":"`)
	if n.Len() != 1 || closed.Load() != 0 {
		t.Fatalf("len %d, closed %d", n.Len(), closed.Load())
	}
	c2.msg("1/t-1,")
	waitUntil(t, "child removed", func() bool { _, ok := srv.Namespace("/t-1"); return !ok })
}

// A connect the middleware rejects leaves no child behind, as the
// reference (the rejected socket's cleanup removes it).
func TestCleanupAfterRejectedConnect(t *testing.T) {
	srv, parent, closed := newCleanupServer(t, true)
	parent.Use(func(ctx context.Context, s *socketio.Socket) error {
		return &socketio.ConnectError{Message: "no"}
	})
	c := newFakeConn(4).attach(srv)
	c.msg("0/t-2,")
	c.expect(t, `4/t-2,{"message":"no"}`)
	waitUntil(t, "child removed", func() bool { _, ok := srv.Namespace("/t-2"); return !ok })
	if closed.Load() != 1 {
		t.Fatalf("closed %d", closed.Load())
	}
}

// Static namespaces and the parent itself are never removed.
func TestCleanupLeavesStaticNamespaces(t *testing.T) {
	srv, _, closed := newCleanupServer(t, true)
	srv.Of("/static")
	c := newFakeConn(4).attach(srv)
	c.join(t, "/static")
	c.msg("1/static,")
	time.Sleep(20 * time.Millisecond)
	if _, ok := srv.Namespace("/static"); !ok || closed.Load() != 0 {
		t.Fatal("static namespace removed")
	}
}

// A session kept in a child that was then removed cannot be restored (the
// new child has a new adapter, as with the reference), and is reported
// expired when its window lapses, through the parent's handlers.
func TestCleanupReportsSessionsOfRemovedChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(t, socketio.Config{CleanupEmptyChildNamespaces: true, Recovery: time.Minute})
		parent := srv.OfPattern(regexp.MustCompile(`^/t-\d+$`))
		got := recordExpired(parent)
		c := newFakeConn(4).attach(srv)
		sid := c.join(t, "/t-1")
		c.clientClose(engineio.ReasonTransportClose)
		synctest.Wait()
		if _, ok := srv.Namespace("/t-1"); ok {
			t.Fatal("child not removed")
		}
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		if r := got(); len(r) != 1 || r[0].nsp != "/t-1" || r[0].sess.SID != sid {
			t.Fatalf("reports %+v", r)
		}
	})
}
