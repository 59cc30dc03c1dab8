package adapter_test

import (
	"context"
	"log/slog"
	"testing"
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
