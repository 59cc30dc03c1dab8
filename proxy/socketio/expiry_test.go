package socketio_test

import (
	"regexp"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// expiredSessions records what OnSessionExpired reports, with the
// namespace it came from.
type expiredSession struct {
	nsp  string
	sess *socketio.Session
}

// recordExpired returns what the namespace's OnSessionExpired handler
// got so far.
func recordExpired(n *socketio.Namespace) func() []expiredSession {
	var mu sync.Mutex
	var got []expiredSession
	n.OnSessionExpired(func(nsp *socketio.Namespace, s *socketio.Session) {
		mu.Lock()
		got = append(got, expiredSession{nsp.Name(), s})
		mu.Unlock()
	})
	return func() []expiredSession {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

func TestSessionExpiredReportedOnce(t *testing.T) {
	tests := []struct {
		name    string
		reason  engineio.CloseReason
		want    socketio.DisconnectReason
		recover bool
	}{
		{"lapsed after a ping timeout", engineio.ReasonPingTimeout, socketio.ReasonPingTimeout, false},
		{"lapsed after a transport close", engineio.ReasonTransportClose, socketio.ReasonTransportClose, false},
		{"recovered within the window", engineio.ReasonTransportClose, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := newServer(t, socketio.Config{Recovery: 2 * time.Minute})
				nsp := srv.Of("/")
				got := recordExpired(nsp)
				sockets := newRecorder[*socketio.Socket]()
				nsp.OnConnection(sockets.add)
				c := newFakeConn(4).attach(srv)
				ack := connectWithAck(t, c, "")
				s := sockets.next(t)
				s.Join("news")
				s.SetData("d1")
				_ = nsp.Emit("e", nil, nil)
				offset := lastArg(t, c.expectPrefix(t, `2["e","`))
				c.clientClose(tt.reason)
				synctest.Wait()

				if tt.recover {
					time.Sleep(time.Minute)
					c2 := newFakeConn(4).attach(srv)
					if a := connectWithAck(t, c2, `{"pid":"`+ack.Pid+`","offset":"`+offset+`"}`); a != ack {
						t.Fatalf("not recovered: %+v, want %+v", a, ack)
					}
				}
				time.Sleep(2*time.Minute + time.Second)
				synctest.Wait()
				reports := got()
				if tt.recover {
					if len(reports) != 0 {
						t.Fatalf("a recovered session was reported expired: %+v", reports[0].sess)
					}
					return
				}
				if len(reports) != 1 {
					t.Fatalf("%d reports, want 1", len(reports))
				}
				e := reports[0]
				rooms := slices.Clone(e.sess.Rooms)
				slices.Sort(rooms)
				want := []string{ack.Sid, "news"}
				slices.Sort(want)
				if e.nsp != "/" || e.sess.SID != ack.Sid || e.sess.Data != "d1" || !slices.Equal(rooms, want) ||
					e.sess.Reason != tt.want || e.sess.Handshake == nil {
					t.Fatalf("reported %s %+v", e.nsp, e.sess)
				}
				// Too late: the session is gone, and no second report.
				c3 := newFakeConn(4).attach(srv)
				if a := connectWithAck(t, c3, `{"pid":"`+ack.Pid+`","offset":"`+offset+`"}`); a.Sid == ack.Sid {
					t.Fatal("restored after the window")
				}
				time.Sleep(3 * time.Minute)
				synctest.Wait()
				if n := len(got()); n != 1 {
					t.Fatalf("%d reports, want 1", n)
				}
			})
		})
	}
}

func TestSessionExpiredNotForUnrecoverableReasons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(t, socketio.Config{Recovery: time.Minute})
		nsp := srv.Of("/")
		got := recordExpired(nsp)
		sockets := newRecorder[*socketio.Socket]()
		nsp.OnConnection(sockets.add)
		c := newFakeConn(4).attach(srv)
		connectWithAck(t, c, "")
		sockets.next(t).Disconnect(false) // server namespace disconnect: no session
		synctest.Wait()
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if r := got(); len(r) != 0 {
			t.Fatalf("reported %+v", r[0].sess)
		}
	})
}

func TestSessionExpiredReachesPatternParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(t, socketio.Config{Recovery: time.Minute})
		parent := srv.OfPattern(regexp.MustCompile(`^/room-\d+$`))
		got := recordExpired(parent)
		c := newFakeConn(4).attach(srv)
		sid := c.join(t, "/room-7")
		c.clientClose(engineio.ReasonTransportError)
		synctest.Wait()
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		if r := got(); len(r) != 1 || r[0].nsp != "/room-7" || r[0].sess.SID != sid {
			t.Fatalf("reports %+v", r)
		}
	})
}

// A server shutting down reports nothing: its sockets leave with a
// recoverable reason, and their sessions are another node's to restore.
func TestSessionExpiredNothingAfterShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newServer(t, socketio.Config{Recovery: time.Minute})
		got := recordExpired(srv.Of("/"))
		c := newFakeConn(4).attach(srv)
		connectWithAck(t, c, "")
		ctx, cancel := contextWithTimeout()
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if r := got(); len(r) != 0 {
			t.Fatalf("reported %+v", r[0].sess)
		}
	})
}
