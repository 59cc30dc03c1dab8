package socketio_test

import (
	"testing"

	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// TestOnUpgrade: the connected sockets of a connection are told when its
// transport changes; a Conn without a Transport method reports "".
func TestOnUpgrade(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	ready := newRecorder[*socketio.Socket]()
	upgrades := newRecorder[string]()
	for _, name := range []string{"/", "/chat"} {
		srv.Of(name).OnConnection(func(s *socketio.Socket) {
			s.OnUpgrade(func(transport string) { upgrades.add(s.Namespace().Name() + " " + transport) })
			ready.add(s)
		})
	}
	c, _ := connect(t, srv, "/")
	c.join(t, "/chat")
	for range 2 {
		if s := ready.next(t); s.Transport() != "" {
			t.Errorf("Transport() over a Conn that does not say = %q, want empty", s.Transport())
		}
	}
	uh, ok := c.h.(engineio.UpgradeHandler)
	if !ok {
		t.Fatal("the Handler Attach returns is not an engineio.UpgradeHandler")
	}
	c.dispatch.Lock() // as the engine calls it: not during OnMessage
	uh.OnUpgrade("websocket")
	c.dispatch.Unlock()
	got := map[string]bool{upgrades.next(t): true, upgrades.next(t): true}
	if !got["/ websocket"] || !got["/chat websocket"] {
		t.Errorf("OnUpgrade calls %v, want / and /chat told of websocket", got)
	}
	if st := srv.EngineStats(); st != (engineio.Stats{}) {
		t.Errorf("EngineStats() before any request = %+v, want zeros", st)
	}
}
