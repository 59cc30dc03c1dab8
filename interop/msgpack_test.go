package interop

import (
	"encoding/base64"
	"net/http"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// parserOf is the socketio.Parser for serverConfig.Parser.
func parserOf(t testing.TB, name string) socketio.Parser {
	t.Helper()
	p, err := socketio.ParserByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMsgpackParser: a socket.io-msgpack-parser client against a server
// with parser msgpack: connect, acks, binary both ways, rooms and
// broadcast, over each transport and across an upgrade.
func TestMsgpackParser(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   []string
	}{{"polling", polling}, {"websocket", websocket}, {"upgrade", nil}} {
		tr := tc.tr
		t.Run(tc.name, func(t *testing.T) {
			eachServer(t, serverConfig{Parser: "msgpack"}, func(t *testing.T, srv *target) {
				c := startClient(t)
				o := connectOpts{Transports: tr, Parser: "msgpack"}
				conn := connected(t, c, "a", srv.url, o)
				connected(t, c, "b", srv.url, o)
				connected(t, c, "chat", srv.url, connectOpts{Transports: tr, Parser: "msgpack", NSP: "/chat"})

				// Echo with ack, binary in it; the server sees the same values.
				args := []any{"text", binary{[]byte{0, 1, 2, 255}}, map[string]any{"nested": binary{[]byte("hi")}, "n": 1.5, "list": []any{7, nil, true}}}
				sameJSON(t, "echo ack", c.call("a", "echo", args...), args)
				e := srv.log.wait(t, "server event", func(e event) bool {
					return e.Type == "event" && e.ID == conn.ID && e.Event == "echo"
				})
				sameJSON(t, "what the server got", e.Args, args)

				// Server → client Buffers.
				c.call("a", "bin")
				sameJSON(t, "bin", c.waitEvent("a", "bin").Args, []any{binary{[]byte{1, 2, 3}}, map[string]any{"nested": binary{[]byte("hi")}}})

				// A server emit with an ack, answered with binary.
				req := c.emitAck("a", 0, "ask", map[string]any{"event": "question", "args": []any{binary{[]byte{7, 7}}}})
				q := c.waitEvent("a", "question")
				sameJSON(t, "question", q.Args, []any{binary{[]byte{7, 7}}})
				c.send(map[string]any{"cmd": "ack", "ack": q.Ack, "args": []any{binary{[]byte{8}}, "ok"}})
				e = c.log.wait(t, "ask result", func(e event) bool { return e.Type == "ack" && e.Req == req })
				sameJSON(t, "binary ack the server got", e.Args, []any{map[string]any{"error": nil, "args": []any{binary{[]byte{8}}, "ok"}}})

				// Rooms and broadcast, binary included; the other namespace
				// hears nothing.
				c.call("a", "join", "room")
				c.call("b", "join", "room")
				c.call("b", "broadcast", map[string]any{"room": "room", "event": "news", "args": []any{binary{[]byte{5}}, 1}})
				for _, s := range []string{"a", "b"} {
					sameJSON(t, "news to "+s, c.waitEvent(s, "news").Args, []any{binary{[]byte{5}}, 1})
				}
				c.call("a", "broadcast", map[string]any{"event": "all"})
				c.waitEvent("a", "all")
				c.waitEvent("b", "all")
				if c.log.seen(func(e event) bool { return e.Socket == "chat" && e.Type == "event" }) {
					t.Fatal("a broadcast on / reached /chat")
				}
			})
		})
	}
}

// TestParserMismatchRefused: a client with the default parser
// never connects to a msgpack server: its text CONNECT closes the
// connection, and the socket sees "transport close" without a connect.
// The other way round, a msgpack client's binary CONNECT closes a
// default-parser server's connection the same way.
func TestParserMismatchRefused(t *testing.T) {
	for _, tc := range []struct {
		name           string
		server, client string
		tr             []string
	}{
		{"default client, msgpack server, polling", "msgpack", "", polling},
		{"default client, msgpack server, websocket", "msgpack", "", websocket},
		{"msgpack client, default server, polling", "", "msgpack", polling},
		{"msgpack client, default server, websocket", "", "msgpack", websocket},
	} {
		tr := tc.tr
		t.Run(tc.name, func(t *testing.T) {
			eachServer(t, serverConfig{Parser: tc.server}, func(t *testing.T, srv *target) {
				c := startClient(t)
				c.connect("a", srv.url, connectOpts{Transports: tr, Parser: tc.client})
				if e := c.wait("disconnect", "a"); e.Reason != "transport close" {
					t.Fatalf("disconnect reason %q, want transport close", e.Reason)
				}
				time.Sleep(100 * time.Millisecond)
				if c.log.seen(func(e event) bool { return e.Socket == "a" && (e.Type == "connect" || e.Type == "connect_error") }) {
					t.Fatalf("the default-parser client got further:\n%s", c.log.dump())
				}
			})
		})
	}
}

// TestWebhookMsgpackClient: deliveries from a msgpack client carry the
// same JSON as from a default-parser client, binary as {"_binary"}; binary
// in the backend's answers reaches the client as msgpack bin.
func TestWebhookMsgpackClient(t *testing.T) {
	t.Parallel()
	gift := base64.StdEncoding.EncodeToString([]byte{0xca, 0xfe})
	be := startWebhookBackend(t, func(w http.ResponseWriter, r *http.Request, e *whRequest) {
		switch e.env.Event {
		case "echo":
			answerJSON(w, 200, `{"ack":`+string(mustMarshal(e.env.Args))+`}`)
		case "gift":
			answerJSON(w, 200, `{"ack":[{"_binary":"`+gift+`"}],"emit":[{"event":"present","to":["`+e.env.Socket.ID+`"],"args":[{"box":{"_binary":"`+gift+`"}}]}]}`)
		default:
			answerJSON(w, 200, `{}`)
		}
	})
	url := startWebhookSidecarParser(t, socketio.MsgpackParser(), translate.Route{Name: "/", OnConnect: translate.OnConnectWebhook,
		Backend: whClient(t, be.url, webhook.Config{Secret: whSecret})})
	c := startClient(t)
	c.connect("a", url, connectOpts{Parser: "msgpack", Auth: map[string]any{"token": "t"}})
	c.wait("connect", "a")
	if got := be.next(t, "connect", ""); got.env.Socket.ID == "" {
		t.Fatalf("connect delivery %s", got.body)
	}

	bin := binary{B: []byte{1, 2, 3, 250}}
	sameJSON(t, "echo", c.call("a", "echo", "text", map[string]any{"file": bin, "n": 1.5}), []any{"text", map[string]any{"file": bin, "n": 1.5}})
	e := be.next(t, "event", "echo")
	if string(e.env.Args[0]) != `"text"` || string(e.env.Args[1]) != `{"file":{"_binary":"`+base64.StdEncoding.EncodeToString(bin.B)+`"},"n":1.5}` {
		t.Fatalf("backend args = %s", e.body)
	}

	sameJSON(t, "gift ack", c.call("a", "gift"), []any{binary{[]byte{0xca, 0xfe}}})
	sameJSON(t, "present", c.waitEvent("a", "present").Args, []any{map[string]any{"box": binary{[]byte{0xca, 0xfe}}}})
}

// TestMsgpackRecovery: connection state recovery with msgpack clients: the
// CONNECT auth carries pid and offset as msgpack, and the missed packets
// (binary included) are replayed in the msgpack format.
func TestMsgpackRecovery(t *testing.T) {
	eachServer(t, serverConfig{Parser: "msgpack", Recovery: time.Minute}, func(t *testing.T, srv *target) {
		c := startClient(t)
		o := connectOpts{Transports: websocket, Parser: "msgpack"}
		first := connected(t, c, "a", srv.url, o)
		connected(t, c, "b", srv.url, o)
		c.call("a", "join", "room")
		c.call("b", "broadcast", map[string]any{"room": "room", "event": "before", "args": []any{1}})
		sameJSON(t, "before", firstArgs(t, c.waitEvent("a", "before").Args, 1), []any{1})

		c.do("close_engine", "a")
		c.wait("disconnect", "a")
		srv.waitDisconnect(t, first.ID)
		c.call("b", "broadcast", map[string]any{"room": "room", "event": "missed", "args": []any{2, binary{[]byte{3}}}})
		c.do("reconnect", "a")
		if again := c.wait("connect", "a"); !again.Recovered || again.ID != first.ID {
			t.Fatalf("reconnect: %v, want recovered with id %s", again, first.ID)
		}
		sameJSON(t, "missed", firstArgs(t, c.waitEvent("a", "missed").Args, 2), []any{2, binary{[]byte{3}}})
	})
}
