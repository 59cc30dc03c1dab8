package siotest_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/proxy/socketio/siotest"
)

// startServer serves a Socket.IO server under path for the test: "echo"
// acknowledges with its args, "poke" is answered with a "poked" event of
// its args, "bin" with a binary "bin" event, and every socket is greeted
// with "hello".
func startServer(t *testing.T, path string) string {
	t.Helper()
	srv := socketio.NewServer(socketio.Config{
		Adapter: adapter.New,
		Logger:  slog.New(slog.DiscardHandler),
		Engine:  engineio.Config{Path: path},
	})
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(e socketio.Event) {
			if e.Ack != nil {
				e.Ack(e.Args, nil)
			}
		})
		s.On("poke", func(e socketio.Event) { s.Emit("poked", e.Args, nil) })
		s.On("bin", func(e socketio.Event) {
			s.Emit("bin", []json.RawMessage{json.RawMessage(`{"_placeholder":true,"num":0}`)}, [][]byte{{0, 1, 0xff}})
		})
		s.Emit("hello", []json.RawMessage{json.RawMessage(`"world"`)}, nil)
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		ts.Close()
	})
	return ts.URL
}

func TestClient(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts siotest.Options
	}{
		{"websocket", siotest.Options{}},
		{"polling", siotest.Options{Transport: siotest.Polling}},
		{"polling on a path", siotest.Options{Transport: siotest.Polling, Path: "/rt/"}},
		{"websocket on a path", siotest.Options{Transport: siotest.WebSocket, Path: "/rt/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := startServer(t, tc.opts.Path)
			c := siotest.Dial(t, base, "/", &tc.opts)
			if c.SID == "" || !strings.Contains(c.Open, `"sid":"`) {
				t.Fatalf("Dial: SID %q, Open %q; want both set", c.SID, c.Open)
			}
			c.Expect("hello", `["world"]`)

			id := c.EmitWithAck("echo", `"a",{"b":[1]}`)
			if got := c.WaitAck(id); got != `["a",{"b":[1]}]` {
				t.Errorf("WaitAck(%d) = %s, want [\"a\",{\"b\":[1]}]", id, got)
			}
			c.Emit("poke", `7`)
			c.Expect("poked", `[7]`)
			c.Emit("bin", "")
			if args, p := c.WaitEvent("bin"); args != `[{"_placeholder":true,"num":0}]` || len(p.Attachments) != 1 || string(p.Attachments[0]) != "\x00\x01\xff" {
				t.Errorf("binary event = %s %q, want a placeholder and 00 01 ff", args, p.Attachments)
			}

			_, connErr := siotest.DialRaw(t, base, "/nope", &tc.opts)
			if connErr != `{"message":"Invalid namespace"}` {
				t.Errorf("DialRaw /nope = %q, want Invalid namespace", connErr)
			}

			c.Close()
			ctx, cancel := context.WithTimeout(t.Context(), siotest.DefaultTimeout)
			defer cancel()
			for {
				_, err := c.Receive(ctx)
				if errors.Is(err, siotest.ErrClosed) {
					break
				}
				if err != nil {
					t.Fatalf("Receive after Close = %v, want ErrClosed", err)
				}
			}
			if err := c.Send("42[\"x\"]"); err == nil {
				t.Errorf("Send after Close = nil, want an error")
			}
		})
	}
}
