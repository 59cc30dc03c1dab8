package bridge_test

import (
	"encoding/json"
	"testing"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/bridge"
)

// BenchmarkAckRoundTrip is a bridged event with ack: the frame written to
// a real loopback WebSocket backend, its ack frame read and resolved.
func BenchmarkAckRoundTrip(b *testing.B) {
	be := startBackend(b, 0)
	sc := startSidecar(b, translate.Route{OnConnect: translate.OnConnectAccept}, bridge.Config{URL: be.ws})
	cl := siotest.Dial(b, sc.url, "/b", nil)
	bc := be.conn(b)
	bc.connect()
	go func() {
		var ev struct {
			ID   uint64            `json:"id"`
			Args []json.RawMessage `json:"args"`
		}
		for f := range bc.frames {
			if json.Unmarshal([]byte(f), &ev) != nil {
				return
			}
			out, _ := json.Marshal(map[string]any{"type": "ack", "id": ev.ID, "args": ev.Args})
			bc.wmu.Lock()
			err := bc.ws.WriteMessage(1, out)
			bc.wmu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	env := &translate.Envelope{Type: translate.TypeEvent, Namespace: "/b", Event: "echo", Ack: true,
		Args:   []json.RawMessage{json.RawMessage(`"0123456789012345678901234567890123456789012345678901234567890123"`)},
		Socket: translate.SocketInfo{ID: cl.SID}}
	b.ReportAllocs()
	for b.Loop() {
		r, err := sc.br.Deliver(b.Context(), env)
		if err != nil || len(r.Ack) != 1 {
			b.Fatalf("Deliver = %v, %v", r, err)
		}
	}
}
