package socketio_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// TestBroadcastPerMessageDeflate: with permessage-deflate on, gorilla's
// client, with compression and without, reads every broadcast (its
// messages compressed once for all recipients: engineio.Share), text and
// binary attachment over the threshold and a small one under it, on a
// WebSocket from the start, in bursts that the batcher writes together.
func TestBroadcastPerMessageDeflate(t *testing.T) {
	srv := newServer(t, socketio.Config{Engine: engineio.Config{PerMessageDeflate: true, PingInterval: time.Hour, PingTimeout: time.Hour}})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	ws := "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	var clients []*websocket.Conn
	for i := range 6 {
		compress := i%3 != 2
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, EnableCompression: compress}
		c, res, err := d.Dial(ws, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if got := res.Header.Get("Sec-WebSocket-Extensions") != ""; got != compress {
			t.Fatalf("permessage-deflate negotiated %v, want %v", got, compress)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, open, err := c.ReadMessage(); err != nil || !bytes.HasPrefix(open, []byte("0{")) {
			t.Fatalf("open %q, %v", open, err)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
			t.Fatal(err)
		}
		if _, ack, err := c.ReadMessage(); err != nil || !bytes.HasPrefix(ack, []byte("40{")) {
			t.Fatalf("CONNECT ack %q, %v", ack, err)
		}
		clients = append(clients, c)
	}
	big, _ := json.Marshal(strings.Repeat("compressed once for every recipient ", 200))
	blob := bytes.Repeat([]byte("attachment "), 300)
	nsp := srv.Of("/")
	type message struct {
		mt   int
		data string
	}
	var want []message
	for i := range 3 {
		if err := nsp.Emit("news", []json.RawMessage{big, json.RawMessage(`"small"`)}, nil); err != nil {
			t.Fatal(err)
		}
		if err := nsp.Emit("blob", []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`{"_placeholder":true,"num":0}`)}, [][]byte{blob}); err != nil {
			t.Fatal(err)
		}
		if err := nsp.Emit("tiny", []json.RawMessage{json.RawMessage(string(rune('0' + i)))}, nil); err != nil {
			t.Fatal(err)
		}
		want = append(want,
			message{websocket.TextMessage, `42["news",` + string(big) + `,"small"]`},
			message{websocket.TextMessage, `451-["blob",1,{"_placeholder":true,"num":0}]`},
			message{websocket.BinaryMessage, string(blob)},
			message{websocket.TextMessage, `42["tiny",` + string(rune('0'+i)) + `]`},
		)
	}
	for k, c := range clients {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for i, w := range want {
			mt, data, err := c.ReadMessage()
			if err != nil || mt != w.mt || string(data) != w.data {
				t.Fatalf("client %d, message %d: type %d, %d bytes %.60q, err %v; want type %d, %d bytes %.60q", k, i, mt, len(data), data, err, w.mt, len(w.data), w.data)
			}
		}
	}
}
