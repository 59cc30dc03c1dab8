package plugins_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iobridge/iobridge/plugins"
	"github.com/iobridge/iobridge/translate"
)

// redact drops emits to sockets in room "muted" and rewrites the args
// for the others.
type redact struct{}

func (redact) Name() string { return "redact" }

func (redact) OnOutbound(_ context.Context, e plugins.OutboundEvent) (plugins.OutboundReply, error) {
	for _, r := range e.Socket.Rooms() {
		if r == "muted" {
			return plugins.OutboundReply{Drop: true}, nil
		}
	}
	return plugins.OutboundReply{Args: []json.RawMessage{json.RawMessage(`"for ` + e.Socket.ID() + `"`)}}, nil
}

// TestOutbound: an instruction's emit goes through the outbound hook once
// per recipient, through translate's executor.
func TestOutbound(t *testing.T) {
	s := newSockets(t)
	tr, err := translate.New(translate.Config{Logger: quietLogger(), Routes: []translate.Route{{
		Name: "/", Plugins: plugins.NewChain(quietLogger(), []plugins.Plugin{redact{}}),
	}}}, s.srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	a, ca := s.connectConn(t, "192.0.2.1:1", nil)
	b, cb := s.connectConn(t, "192.0.2.1:2", nil)
	b.Join("muted")
	drain := func(c *memConn) {
		for len(c.sent) > 0 {
			<-c.sent
		}
	}
	drain(ca)
	drain(cb)
	if _, err := tr.Executor().Execute(t.Context(), &translate.Instruction{Event: "news", Args: []json.RawMessage{json.RawMessage(`"x"`)}}, translate.ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ca.sent:
		if want := `2["news","for ` + a.ID() + `"]`; got != want {
			t.Fatalf("a got %s, want %s", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a got nothing")
	}
	// a marker after the emit: b's queue holds it alone if the emit was dropped
	if err := b.Emit("marker", nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := <-cb.sent; !strings.Contains(got, "marker") {
		t.Fatalf("muted b got %s before the marker", got)
	}
}
