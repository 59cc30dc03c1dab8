package socketio_test

import (
	"encoding/json"
	"testing"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// decorator is an Observer that is also a RemoteDataDecorator: it wraps
// the data with the socket's connection id.
type decorator struct{ lifeLog }

func (d *decorator) RemoteData(s *socketio.Socket, data any) any {
	b, _ := json.Marshal(data)
	return json.RawMessage(`{"conn":"` + s.ConnID() + `","own":` + string(b) + `}`)
}

// TestRemoteInfo: RemoteInfo is Info until an Observer that decorates
// remote data is installed, then carries its data; the socket's own data
// and Info never change; a plain Observer or none decorates nothing.
func TestRemoteInfo(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	c, sid := connect(t, srv, "/")
	s := srv.Of("/").Socket(sid)
	s.SetData(json.RawMessage(`{"user":"bob"}`))
	data := func(info socketio.SocketInfo) string {
		b, _ := json.Marshal(info.Data)
		return string(b)
	}
	if got := data(s.RemoteInfo()); got != `{"user":"bob"}` {
		t.Fatalf("RemoteInfo without Observer: %s", got)
	}
	srv.SetObserver(&lifeLog{})
	if got := data(s.RemoteInfo()); got != `{"user":"bob"}` {
		t.Fatalf("RemoteInfo with a plain Observer: %s", got)
	}
	srv.SetObserver(&decorator{})
	want := `{"conn":"` + c.ID() + `","own":{"user":"bob"}}`
	if got := data(s.RemoteInfo()); got != want {
		t.Fatalf("RemoteInfo = %s, want %s", got, want)
	}
	if got := data(s.Info()); got != `{"user":"bob"}` {
		t.Fatalf("Info = %s", got)
	}
	if b, _ := json.Marshal(s.Data()); string(b) != `{"user":"bob"}` {
		t.Fatalf("Data = %s", b)
	}
	info := s.RemoteInfo()
	if info.ID != sid || len(info.Rooms) != 1 || info.Rooms[0] != sid {
		t.Fatalf("RemoteInfo %+v", info)
	}
	srv.SetObserver(nil)
	if got := data(s.RemoteInfo()); got != `{"user":"bob"}` {
		t.Fatalf("RemoteInfo after SetObserver(nil): %s", got)
	}
}

// TestRemoteInfoAllocs: without a decorator RemoteInfo allocates what
// Info does, nothing more.
func TestRemoteInfoAllocs(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	_, sid := connect(t, srv, "/")
	s := srv.Of("/").Socket(sid)
	info := testing.AllocsPerRun(100, func() { _ = s.Info() })
	remote := testing.AllocsPerRun(100, func() { _ = s.RemoteInfo() })
	if remote != info {
		t.Fatalf("RemoteInfo allocates %v, Info %v", remote, info)
	}
	srv.SetObserver(&lifeLog{})
	if remote := testing.AllocsPerRun(100, func() { _ = s.RemoteInfo() }); remote != info {
		t.Fatalf("RemoteInfo with a plain Observer allocates %v, Info %v", remote, info)
	}
}
