package adapter_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/adapter/adaptertest"
	"github.com/iobridge/iobridge/proxy/socketio"
)

func TestMemoryConformance(t *testing.T) {
	adaptertest.Run(t, adapter.New)
}

func TestMemoryConformanceWithCaps(t *testing.T) {
	adaptertest.Run(t, adapter.Factory(adapter.Options{MaxPackets: 3, MaxSessions: 1}))
}

// TestMemoryPacketCap: once more packets than MaxPackets were stored after
// a client's offset, its session can no longer be recovered.
func TestMemoryPacketCap(t *testing.T) {
	srv := socketio.NewServer(socketio.Config{
		Adapter:  adapter.Factory(adapter.Options{MaxPackets: 2}),
		Recovery: time.Minute,
		Logger:   slog.New(slog.DiscardHandler),
	})
	a := srv.Of("/").Adapter().(*adapter.Memory)
	emit := func() string {
		p := &socketio.Packet{Type: socketio.PacketEvent, Namespace: "/", Data: []byte(`["e"]`)}
		var stored *socketio.Packet
		_ = a.Broadcast(p, &socketio.BroadcastOptions{})
		stored = a.LastStored()
		args, _ := socketio.SplitArray(stored.Data)
		return string(args[len(args)-1][1 : len(args[len(args)-1])-1])
	}
	off := emit()
	a.PersistSession(&socketio.Session{SID: "s", PID: "p"})
	emit()
	if sess, _ := a.RestoreSession(context.Background(), "p", off); sess == nil || len(sess.MissedPackets) != 1 {
		t.Fatalf("within the cap: %+v", sess)
	}
	a.PersistSession(&socketio.Session{SID: "s", PID: "p"})
	emit()
	emit()
	if sess, _ := a.RestoreSession(context.Background(), "p", off); sess != nil {
		t.Fatalf("restored past the cap: %+v", sess)
	}
}

func TestMemoryRecoveryExpiry(t *testing.T) {
	adaptertest.RunRecoveryExpiry(t, func(*testing.T) socketio.AdapterFactory { return adapter.New }, false)
}

// TestMemorySessionCapReports: a session the cap drops can no longer be
// restored, so it is reported at once; a restore whose offset is gone
// leaves the session to lapse (and be reported) at the end of its window.
func TestMemorySessionCapReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := socketio.NewServer(socketio.Config{
			Adapter:  adapter.Factory(adapter.Options{MaxSessions: 1}),
			Recovery: time.Minute,
			Logger:   slog.New(slog.DiscardHandler),
		})
		nsp := srv.Of("/")
		var mu sync.Mutex
		var reported []string
		nsp.OnSessionExpired(func(_ *socketio.Namespace, s *socketio.Session) {
			mu.Lock()
			reported = append(reported, s.SID)
			mu.Unlock()
		})
		got := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(reported) }
		a := nsp.Adapter().(*adapter.Memory)
		a.PersistSession(&socketio.Session{SID: "s1", PID: "p1"})
		a.PersistSession(&socketio.Session{SID: "s2", PID: "p2"})
		if r := got(); !slices.Equal(r, []string{"s1"}) {
			t.Fatalf("reported %v after the cap, want [s1]", r)
		}
		if sess, _ := a.RestoreSession(context.Background(), "p2", "unknown"); sess != nil {
			t.Fatalf("restored with an unknown offset: %+v", sess)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if r := got(); len(r) != 1 {
			t.Fatalf("reported %v before the window's end", r)
		}
		time.Sleep(31 * time.Second)
		synctest.Wait()
		if r := got(); !slices.Equal(r, []string{"s1", "s2"}) {
			t.Fatalf("reported %v, want [s1 s2]", r)
		}
	})
}
