package plugins_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/iobridge/iobridge/plugins"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// eventPath is what translate does for each client event: the chain runs
// only when it has inbound hooks.
func eventPath(ch *plugins.Chain, e plugins.InboundEvent) error {
	if !ch.HasInbound() {
		return nil
	}
	_, err := ch.Inbound(context.Background(), e)
	return err
}

// fullChain is jwt + ratelimit + filter, as a typical [[namespace]] has
// them. Its bucket never runs dry in a benchmark: the rate is huge.
func fullChain(tb testing.TB) *plugins.Chain {
	tb.Helper()
	j, err := plugins.NewJWT(plugins.JWTConfig{Secret: []byte("0123456789abcdef0123456789abcdef"), Rooms: []string{"user:{sub}"}, Claims: []string{"sub"}})
	if err != nil {
		tb.Fatal(err)
	}
	rl, err := plugins.NewRateLimit(plugins.RateLimitConfig{EventsPerSecond: 1e12, Burst: 1 << 30})
	if err != nil {
		tb.Fatal(err)
	}
	f, err := plugins.NewFilter(plugins.FilterConfig{Allow: []string{"chat", "file.*"}, Deny: []string{"file.secret"}, MaxArgsBytes: 65536, MaxDepth: 16})
	if err != nil {
		tb.Fatal(err)
	}
	return plugins.NewChain(quietLogger(), []plugins.Plugin{j, rl, f})
}

func benchEvent(so *socketio.Socket) plugins.InboundEvent {
	return plugins.InboundEvent{
		Socket: so,
		Name:   "chat",
		Args:   []json.RawMessage{json.RawMessage(`{"room":"lobby","text":"hello there","meta":{"n":[1,2,3]}}`)},
		Ack:    true,
	}
}

// TestEventPathAllocs: the event path allocates nothing without plugins,
// and nothing per event with jwt + ratelimit + filter once the socket has
// its bucket.
func TestEventPathAllocs(t *testing.T) {
	s := newSockets(t)
	so := s.connect(t, "192.0.2.1:1000", nil)
	e := benchEvent(so)
	for _, tc := range []struct {
		name string
		ch   *plugins.Chain
	}{
		{"none", nil},
		{"empty", plugins.NewChain(quietLogger(), nil)},
		{"jwt+ratelimit+filter", fullChain(t)},
	} {
		_ = eventPath(tc.ch, e) // the socket's first event makes its bucket
		if n := testing.AllocsPerRun(1000, func() {
			if err := eventPath(tc.ch, e); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocs per event, want 0", tc.name, n)
		}
	}
}

func BenchmarkEventPath(b *testing.B) {
	s := newSockets(b)
	so := s.connect(b, "192.0.2.1:1000", nil)
	e := benchEvent(so)
	for _, bc := range []struct {
		name string
		ch   *plugins.Chain
	}{
		{"none", nil},
		{"jwt+ratelimit+filter", fullChain(b)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_ = eventPath(bc.ch, e)
			b.ReportAllocs()
			for b.Loop() {
				if err := eventPath(bc.ch, e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
