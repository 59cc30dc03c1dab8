package socketio_test

import (
	"encoding/json"
	"testing"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// The msgpack counterparts of bench_test.go's BenchmarkDecode,
// BenchmarkEncode and BenchmarkBroadcast, on the same packets, so the two
// parsers compare side by side:
//
//	go test -run '^$' -bench 'Decode|Encode|Broadcast' -benchmem ./proxy/socketio/

func BenchmarkMsgpackBroadcast(b *testing.B) { benchmarkBroadcast(b, socketio.MsgpackParser()) }

// TestMsgpackBroadcastAllocsDoNotGrow: with the msgpack parser too, the
// packet is encoded once and nothing is allocated per recipient.
func TestMsgpackBroadcastAllocsDoNotGrow(t *testing.T) {
	broadcastAllocsDoNotGrow(t, socketio.MsgpackParser())
}

// msgpackBenchMessages are BenchmarkDecode's messages as the msgpack
// client writes them.
func msgpackBenchMessages(tb testing.TB) map[string][]byte {
	enc := func(p *socketio.Packet) []byte { return encodeMsgpack(tb, p) }
	return map[string][]byte{
		"event": enc(&socketio.Packet{Type: socketio.PacketEvent, Namespace: "/chat", ID: 12, HasID: true,
			Data: json.RawMessage(`["message",{"id":42,"text":"hello world","tags":["a","b"]},3.14]`)}),
		"connect": enc(&socketio.Packet{Type: socketio.PacketConnect, Namespace: "/chat", Data: json.RawMessage(`{"token":"abcdef"}`)}),
		"binary": enc(&socketio.Packet{Type: socketio.PacketEvent, Namespace: "/",
			Data:        json.RawMessage(`["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`),
			Attachments: [][]byte{make([]byte, 1024), make([]byte, 1024)}}),
	}
}

func BenchmarkMsgpackDecode(b *testing.B) {
	parser := socketio.MsgpackParser()
	for name, in := range msgpackBenchMessages(b) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				p, err := parser.Decode(in, true)
				if err != nil {
					b.Fatal(err)
				}
				if p.Type == socketio.PacketEvent {
					if _, _, err := socketio.EventName(p.Data); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func BenchmarkMsgpackEncode(b *testing.B) {
	parser := socketio.MsgpackParser()
	b.ReportAllocs()
	for b.Loop() {
		p := &socketio.Packet{Type: socketio.PacketEvent, Namespace: "/chat", Data: socketio.AppendEventData(nil, "message", benchArgs)}
		if pk, err := parser.Encode(p); err != nil || len(pk) != 1 {
			b.Fatal("bad encode", err)
		}
	}
}
