package socketio_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/proxy/socketio/siotest"
)

// lifeLog is an Observer writing down what it is told about sockets, as
// lines like "joined <room>", with the connections' opens and closes.
type lifeLog struct {
	mu    sync.Mutex
	lines []string
}

func (r *lifeLog) add(format string, args ...any) {
	r.mu.Lock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *lifeLog) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}

func (r *lifeLog) ConnOpened(c socketio.Conn, transport string) { r.add("open %s", transport) }
func (r *lifeLog) ConnUpgraded(c socketio.Conn, transport string) {
	r.add("upgraded %s", transport)
}
func (r *lifeLog) ConnClosed(c socketio.Conn, reason engineio.CloseReason) {
	r.add("closed %s", reason)
}
func (r *lifeLog) Received(socketio.Conn, []byte, bool) {}
func (r *lifeLog) Sent(_ socketio.Conn, s *socketio.Socket, pkts []engineio.Packet) {
	if s != nil && strings.HasPrefix(string(pkts[0].Data), "2") {
		r.add("sent %s", pkts[0].Data)
	}
}
func (r *lifeLog) SocketConnected(s *socketio.Socket) { r.add("connected") }
func (r *lifeLog) SocketDisconnected(s *socketio.Socket, reason socketio.DisconnectReason) {
	r.add("disconnected %s", reason)
}
func (r *lifeLog) RoomJoined(s *socketio.Socket, room string) { r.add("joined %s", own(s, room)) }
func (r *lifeLog) RoomLeft(s *socketio.Socket, room string)   { r.add("left %s", own(s, room)) }
func (r *lifeLog) EventReceived(s *socketio.Socket, e socketio.Event) {
	r.add("received %s", e.Name)
}
func (r *lifeLog) DataSet(s *socketio.Socket) { r.add("data %v", s.Data()) }

// own names a socket's own room "own".
func own(s *socketio.Socket, room string) string {
	if room == s.ID() {
		return "own"
	}
	return room
}

// The Observer hears of a socket's life in order: its rooms (each once),
// its events both ways, its data, and its rooms again as it leaves.
func TestObserverSeesASocketsLife(t *testing.T) {
	srv := socketio.NewServer(socketio.Config{Adapter: adapter.New, Logger: slog.New(slog.DiscardHandler)})
	rec := &lifeLog{}
	srv.SetObserver(rec)
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.Join("a", "a", "b")
		s.Join("a")
		s.On("bye", func(socketio.Event) {
			s.Leave("b")
			s.Leave("b")
			s.SetData("x")
			_ = s.Emit("ciao", nil, nil)
			s.Disconnect(false)
		})
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	c := siotest.Dial(t, ts.URL, "/", nil)
	c.Emit("bye", "")
	c.Expect("ciao", "[]")
	want := []string{
		"open websocket", "joined own", "connected", "joined a", "joined b",
		"received bye", "left b", "data x", `sent 2["ciao"]`,
		"disconnected server namespace disconnect", "left own", "left a",
	}
	deadline := time.Now().Add(waitTimeout)
	for !slices.Equal(rec.snapshot(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("observed\n%s\nwant\n%s", strings.Join(rec.snapshot(), "\n"), strings.Join(want, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Close()
	for !slices.Contains(rec.snapshot(), "closed transport close") {
		if time.Now().After(deadline) {
			t.Fatalf("no close observed: %v", rec.snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.SetObserver(nil)
}
