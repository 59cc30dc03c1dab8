package adminui

import (
	"encoding/json"
	"testing"

	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// decodeSent reads back what either wire format writes for an event.
func TestDecodeSent(t *testing.T) {
	event := &socketio.Packet{
		Type:        socketio.PacketEvent,
		Namespace:   "/chat",
		Data:        json.RawMessage(`["news",{"_placeholder":true,"num":0},2]`),
		Attachments: [][]byte{{1, 2, 3}},
	}
	msgpackPkts, err := socketio.MsgpackParser().Encode(event)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		pkts     []engineio.Packet
		wantData string
		wantAtts int
	}{
		{"default format", socketio.Encode(event), `["news",{"_placeholder":true,"num":0},2]`, 1},
		{"default format, text only", socketio.Encode(&socketio.Packet{Type: socketio.PacketEvent, Namespace: "/", Data: json.RawMessage(`["a"]`)}), `["a"]`, 0},
		{"msgpack", msgpackPkts, `["news",{"_placeholder":true,"num":0},2]`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, atts := decodeSent(tt.pkts)
			if p == nil {
				t.Fatal("not decoded")
			}
			var got, want any
			_ = json.Unmarshal(p.Data, &got)
			_ = json.Unmarshal([]byte(tt.wantData), &want)
			if gb, wb := mustJSON(got), mustJSON(want); string(gb) != string(wb) || len(atts) != tt.wantAtts {
				t.Fatalf("decoded %s with %d attachments, want %s with %d", gb, len(atts), wb, tt.wantAtts)
			}
		})
	}
}
