package engineio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/iobridge/iobridge/proxy/engineio"
)

// echo sends every message back to its session.
type echo struct{ s *engineio.Session }

func (e echo) OnMessage(data []byte, binary bool) {
	_ = e.s.Send([]engineio.Packet{{Type: engineio.PacketMessage, Data: data, Binary: binary}})
}

func (echo) OnClose(engineio.CloseReason, error) {}

func ExampleNewServer() {
	srv := engineio.NewServer(engineio.Config{Logger: slog.New(slog.DiscardHandler)}, func(s *engineio.Session) engineio.Handler {
		return echo{s}
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	base := ts.URL + "/engine.io/?EIO=4&transport=polling"
	res, _ := http.Get(base)
	open, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var handshake struct {
		SID      string   `json:"sid"`
		Upgrades []string `json:"upgrades"`
	}
	_ = json.Unmarshal(open[1:], &handshake)
	fmt.Printf("open: sid of %d chars, upgrades %v\n", len(handshake.SID), handshake.Upgrades)

	res, _ = http.Post(base+"&sid="+handshake.SID, "text/plain;charset=UTF-8", strings.NewReader("4hello\x1ebAQIDBA=="))
	ok, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println("post:", string(ok))

	res, _ = http.Get(base + "&sid=" + handshake.SID)
	payload, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Printf("poll: %q\n", payload)
	// Output:
	// open: sid of 20 chars, upgrades [websocket]
	// post: ok
	// poll: "4hello\x1ebAQIDBA=="
}
