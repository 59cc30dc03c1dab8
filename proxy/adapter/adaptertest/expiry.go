package adaptertest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// expiryWindow is RunRecoveryExpiry's recovery window, in real time (the
// adapter under test may talk to a real Redis).
const expiryWindow = 400 * time.Millisecond

// RunRecoveryExpiry checks that a SessionStore reports each lapsed session
// once and never a recovered one (Namespace.OnSessionExpired), on two
// nodes made by newFactory:
//
//   - a socket of node A that leaves and does not come back is reported
//     once, by A, with its id, rooms, data and reason;
//   - a socket that comes back to A within the window is not reported;
//
// and with shared (sessions in shared storage, so that a session recovers
// on any node):
//
//   - a socket of A that recovers on B is reported by neither;
//   - a socket of A that recovers on B and leaves B for good is reported
//     once, by B, at the end of B's window, not by A.
func RunRecoveryExpiry(t *testing.T, newFactory func(t *testing.T) socketio.AdapterFactory, shared bool) {
	t.Helper()
	a := newEnv(t, newFactory(t), expiryWindow, 0)
	b := newEnv(t, newFactory(t), expiryWindow, 0)
	nodes := map[*env]string{a: "A", b: "B"}
	if _, ok := a.nsp.Adapter().(socketio.SessionStore); !ok {
		t.Skip("adapter does not implement SessionStore")
	}
	if _, ok := a.nsp.Adapter().(socketio.ServerCounter); ok {
		waitFor(t, "both nodes counted", func() bool {
			for e := range nodes {
				n, err := e.nsp.Adapter().(socketio.ServerCounter).ServerCount(context.Background())
				if err != nil || n != 2 {
					return false
				}
			}
			return true
		})
	}
	var mu sync.Mutex
	reports := map[string][]string{} // socket id -> reporting nodes
	sessions := map[string]*socketio.Session{}
	for e, name := range nodes {
		e.nsp.OnSessionExpired(func(_ *socketio.Namespace, s *socketio.Session) {
			mu.Lock()
			defer mu.Unlock()
			reports[s.SID] = append(reports[s.SID], name)
			sessions[s.SID] = s
		})
	}

	type client struct {
		c        *conn
		sid, pid string
		s        *socketio.Socket
	}
	connect := func(e *env, auth string) client {
		t.Helper()
		c := e.dial()
		c.h.OnMessage([]byte("0"+auth), false)
		var m string
		for m = c.next(t); !strings.HasPrefix(m, "0"); m = c.next(t) {
			// replayed packets of a recovered session come first
		}
		var ack struct{ Sid, Pid string }
		if err := json.Unmarshal([]byte(m[1:]), &ack); err != nil || ack.Pid == "" {
			t.Fatalf("CONNECT ack %q: %v", m, err)
		}
		select {
		case s := <-e.got:
			return client{c, ack.Sid, ack.Pid, s}
		case <-time.After(wait):
			t.Fatal("no connection")
			return client{}
		}
	}
	offset := func(e *env, cl client) string {
		t.Helper()
		_ = e.nsp.To(cl.sid).Emit("o", nil, nil)
		return offsetIn(t, cl.c.next(t))
	}
	leave := func(cl client) {
		t.Helper()
		left := make(chan struct{})
		cl.s.OnDisconnect(func(socketio.DisconnectReason) { close(left) })
		cl.c.Close(engineio.ReasonTransportClose)
		select {
		case <-left:
		case <-time.After(wait):
			t.Fatal("socket did not leave")
		}
	}
	recoverOn := func(e *env, cl client, off string) client {
		t.Helper()
		back := connect(e, `{"pid":"`+cl.pid+`","offset":"`+off+`"}`)
		if back.sid != cl.sid {
			t.Fatalf("not recovered on node %s: %s, want %s", nodes[e], back.sid, cl.sid)
		}
		return back
	}

	gone := connect(a, "")
	gone.s.Join("r")
	gone.s.SetData(json.RawMessage(`{"k":1}`))
	offset(a, gone)
	leave(gone)

	back := connect(a, "")
	off := offset(a, back)
	leave(back)
	recoverOn(a, back, off)

	var moved, movedAndGone client
	if shared {
		moved = connect(a, "")
		off = offset(a, moved)
		leave(moved)
		recoverOn(b, moved, off)

		movedAndGone = connect(a, "")
		off = offset(a, movedAndGone)
		leave(movedAndGone)
		// Held past A's window, so that A's claim runs while the session
		// is B's.
		again := recoverOn(b, movedAndGone, off)
		time.Sleep(expiryWindow / 2)
		leave(again)
	}
	time.Sleep(2*expiryWindow + time.Second)

	mu.Lock()
	defer mu.Unlock()
	want := map[string][]string{gone.sid: {"A"}}
	if shared {
		want[movedAndGone.sid] = []string{"B"}
	}
	for sid, by := range reports {
		if !slices.Equal(by, want[sid]) {
			t.Errorf("socket %s reported by %v, want %v", sid, by, want[sid])
		}
	}
	for sid, by := range want {
		if _, ok := reports[sid]; !ok {
			t.Errorf("socket %s not reported, want by %v", sid, by)
		}
	}
	if t.Failed() {
		return
	}
	s := sessions[gone.sid]
	if data, _ := s.Data.(json.RawMessage); !slices.Contains(s.Rooms, "r") || string(data) != `{"k":1}` ||
		s.Reason != socketio.ReasonTransportClose || s.Handshake == nil {
		t.Fatalf("reported session %+v", s)
	}
}
