package socketio_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

func raw(s ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(s))
	for i, v := range s {
		out[i] = json.RawMessage(v)
	}
	return out
}

func TestConnectMainNamespace(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	got := newRecorder[*socketio.Socket]()
	srv.Of("/").OnConnection(got.add)
	c, id := connect(t, srv, "/")
	s := got.next(t)
	if s.ID() != id || len(id) != 20 {
		t.Fatalf("socket id %q, ack sid %q", s.ID(), id)
	}
	if id == c.ID() {
		t.Fatal("socket id equals the engine sid")
	}
	if !slices.Contains(s.Rooms(), id) {
		t.Fatalf("rooms %v do not include own id", s.Rooms())
	}
	h := s.Handshake()
	if string(h.Auth) != "{}" || h.Address != "127.0.0.1" || h.Query.Get("foo") != "bar" || h.Headers.Get("X-Test") != "yes" || h.Headers.Get("Host") == "" || h.Secure || h.Issued == 0 || h.Time == "" || h.URL == "" {
		t.Fatalf("handshake %+v", h)
	}
	if s.Recovered() || !s.Connected() || s.Protocol() != 4 || s.ConnID() != c.ID() {
		t.Fatalf("socket state: recovered=%v connected=%v", s.Recovered(), s.Connected())
	}
}

func TestConnectAuthAndNamespaces(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	auths := newRecorder[string]()
	srv.Of("/custom").OnConnection(func(s *socketio.Socket) { auths.add(string(s.Handshake().Auth)) })
	srv.OfPattern(regexp.MustCompile(`^/dyn-\d+$`)).OnConnection(func(s *socketio.Socket) {
		auths.add(s.Namespace().Name() + " " + string(s.Handshake().Auth))
	})
	c := newFakeConn(4).attach(srv)

	c.msg(`0/custom,{"token":"abc"}`)
	c.expectPrefix(t, `0/custom,{"sid":"`)
	if a := auths.next(t); a != `{"token":"abc"}` {
		t.Fatalf("auth %s", a)
	}
	c.msg(`0/dyn-12,`)
	c.expectPrefix(t, `0/dyn-12,{"sid":"`)
	if a := auths.next(t); a != `/dyn-12 {}` {
		t.Fatalf("dynamic: %s", a)
	}
	if n, ok := srv.Namespace("/dyn-12"); !ok || n.Len() != 1 {
		t.Fatal("child namespace not created")
	}
	c.msg(`0/random,`)
	c.expect(t, `4/random,{"message":"Invalid namespace"}`)
	c.msg(`0/dyn-x`)
	c.expect(t, `4/dyn-x,{"message":"Invalid namespace"}`)
}

func TestMiddleware(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	nsp := srv.Of("/auth")
	nsp.Use(func(ctx context.Context, s *socketio.Socket) error {
		var a struct{ Token string }
		_ = json.Unmarshal(s.Handshake().Auth, &a)
		switch a.Token {
		case "ok":
			s.SetData(map[string]string{"user": "u1"})
			s.Join("users", "u1")
			return nil
		case "typed":
			return &socketio.ConnectError{Message: "not authorized", Data: json.RawMessage(`{"code":42}`)}
		}
		return errors.New("bad token")
	})
	rooms := newRecorder[[]string]()
	nsp.OnConnection(func(s *socketio.Socket) {
		r := s.Rooms()
		slices.Sort(r)
		rooms.add(r)
	})

	c := newFakeConn(4).attach(srv)
	c.msg(`0/auth,{"token":"typed"}`)
	c.expect(t, `4/auth,{"message":"not authorized","data":{"code":42}}`)
	c.msg(`0/auth,{"token":"nope"}`)
	c.expect(t, `4/auth,{"message":"bad token"}`)
	if nsp.Len() != 0 {
		t.Fatal("rejected socket registered")
	}
	c.msg(`0/auth,{"token":"ok"}`)
	ack := c.expectPrefix(t, `0/auth,{"sid":"`)
	id := ack[len(`0/auth,{"sid":"`):][:20]
	if r := rooms.next(t); !slices.Equal(r, []string{id, "u1", "users"}) && !slices.Equal(r, []string{"u1", "users", id}) {
		r2 := slices.Clone(r)
		slices.Sort(r2)
		want := []string{id, "u1", "users"}
		slices.Sort(want)
		if !slices.Equal(r2, want) {
			t.Fatalf("rooms %v", r)
		}
	}
	infos, err := nsp.To("users").FetchSockets(context.Background())
	if err != nil || len(infos) != 1 || infos[0].ID != id {
		t.Fatalf("fetch %v %v", infos, err)
	}
	if d, _ := infos[0].Data.(map[string]string); d["user"] != "u1" {
		t.Fatalf("data %v", infos[0].Data)
	}
}

func TestEventsAndAcks(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	order := newRecorder[string]()
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.OnAny(func(e socketio.Event) {
			order.add("any:" + e.Name + ":" + string(socketio.AppendArray(nil, e.Args)))
		})
		s.On("message", func(e socketio.Event) {
			_ = s.Emit("message-back", e.Args, e.Attachments)
		})
		s.On("message-with-ack", func(e socketio.Event) {
			order.add("ack")
			_ = e.Ack(e.Args, e.Attachments)
			_ = e.Ack(e.Args, nil) // second call sends nothing
		})
	})
	c, _ := connect(t, srv, "/")

	c.msg(`2["message",1,"2",{"3":[true]}]`)
	c.expect(t, `2["message-back",1,"2",{"3":[true]}]`)
	if got := order.next(t); got != `any:message:[1,"2",{"3":[true]}]` {
		t.Fatalf("any handler got %s", got)
	}
	c.msg(`2456["message-with-ack",1,"2",{"3":[false]}]`)
	c.expect(t, `3456[1,"2",{"3":[false]}]`)
	c.expectNothing(t)

	// binary event, echoed as binary
	c.msg(`51-["message",{"_placeholder":true,"num":0}]`)
	c.bin([]byte{1, 2, 3})
	c.expect(t, `51-["message-back",{"_placeholder":true,"num":0}]`)
	if p := c.next(t); !p.Binary || string(p.Data) != "\x01\x02\x03" {
		t.Fatalf("attachment %v", p)
	}
	c.msg(`52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.bin([]byte{1})
	c.bin([]byte{2})
	c.expect(t, `62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)
	c.next(t)
	c.next(t)

	// numeric event names are accepted, as socket.io-parser does
	c.msg(`2[42,"x"]`)
	for {
		got := order.next(t)
		if strings.HasPrefix(got, "any:42") {
			if got != `any:42:["x"]` {
				t.Fatalf("numeric event: %s", got)
			}
			break
		}
	}
}

func TestServerEmitWithAck(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	sockets := newRecorder[*socketio.Socket]()
	srv.Of("/").OnConnection(sockets.add)
	c, _ := connect(t, srv, "/")
	s := sockets.next(t)

	type res struct {
		args string
		err  error
	}
	got := newRecorder[res]()
	cb := func(args []json.RawMessage, att [][]byte, err error) {
		got.add(res{string(socketio.AppendArray(nil, args)), err})
	}
	if err := s.EmitWithAck("hello", raw(`"world"`), nil, time.Minute, cb); err != nil {
		t.Fatal(err)
	}
	c.expect(t, `20["hello","world"]`)
	c.msg(`30["ok",1]`)
	if r := got.next(t); r.err != nil || r.args != `["ok",1]` {
		t.Fatalf("ack %+v", r)
	}
	// binary ack from the client
	_ = s.EmitWithAck("bin", nil, nil, time.Minute, func(args []json.RawMessage, att [][]byte, err error) {
		got.add(res{string(socketio.AppendArray(nil, args)) + string(att[0]), err})
	})
	c.expect(t, `21["bin"]`)
	c.msg(`61-1[{"_placeholder":true,"num":0}]`)
	c.bin([]byte("xyz"))
	if r := got.next(t); r.err != nil || r.args != `[{"_placeholder":true,"num":0}]xyz` {
		t.Fatalf("binary ack %+v", r)
	}
	// timeout
	_ = s.EmitWithAck("slow", nil, nil, 10*time.Millisecond, cb)
	c.expect(t, `22["slow"]`)
	if r := got.next(t); !errors.Is(r.err, socketio.ErrAckTimeout) {
		t.Fatalf("timeout: %+v", r)
	}
	c.msg(`32[]`) // late ack: ignored
	// disconnect fails pending acks
	_ = s.EmitWithAck("never", nil, nil, 0, cb)
	c.expect(t, `23["never"]`)
	s.Disconnect(false)
	c.expect(t, `1`)
	if r := got.next(t); !errors.Is(r.err, socketio.ErrSocketClosed) {
		t.Fatalf("disconnect: %+v", r)
	}
}

func TestEmitBinaryAndReserved(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	sockets := newRecorder[*socketio.Socket]()
	srv.Of("/").OnConnection(sockets.add)
	c, _ := connect(t, srv, "/")
	s := sockets.next(t)
	if err := s.Emit("file", raw(`"name"`, string(socketio.Placeholder(0))), [][]byte{{0xff, 0}}); err != nil {
		t.Fatal(err)
	}
	c.expect(t, `51-["file","name",{"_placeholder":true,"num":0}]`)
	if p := c.next(t); !p.Binary || string(p.Data) != "\xff\x00" {
		t.Fatalf("attachment %+v", p)
	}
	for _, ev := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		if err := s.Emit(ev, nil, nil); !errors.Is(err, socketio.ErrReservedEvent) {
			t.Errorf("Emit(%q) = %v", ev, err)
		}
		if err := srv.Of("/").Emit(ev, nil, nil); !errors.Is(err, socketio.ErrReservedEvent) {
			t.Errorf("broadcast Emit(%q) = %v", ev, err)
		}
	}
	// special characters in the event name are escaped as JSON.stringify does
	_ = s.Emit("a\"b\n<é>", nil, nil)
	c.expect(t, `2["a\"b\n<é>"]`)
}

func TestParseErrorsCloseConnection(t *testing.T) {
	cases := []struct {
		name string
		msgs []string // "b:" prefix = binary
	}{
		{"unknown type", []string{"7abc"}},
		{"letter type", []string{"abc"}},
		{"bad CONNECT payload", []string{`0"str"`}},
		{"event not array", []string{`2{}`}},
		{"event name not string", []string{`2[{}]`}},
		{"empty event", []string{`2[]`}},
		{"reserved event from client", []string{`2["disconnect"]`}},
		{"invalid json", []string{`2["a",]`}},
		{"invalid ack id", []string{`2abc["message-with-ack"]`}},
		{"ack without id", []string{`3[1]`}},
		{"ack not array", []string{`31{"a":1}`}},
		{"disconnect with payload", []string{`1{}`}},
		{"binary without attachments", []string{"b:\x01"}},
		{"text while reassembling", []string{`51-["a",{"_placeholder":true,"num":0}]`, `2["a"]`}},
		{"zero attachments", []string{`50-["a"]`}},
		{"too many attachments", []string{`511-["a"]`}},
		{"placeholder out of range", []string{`51-["a",{"_placeholder":true,"num":1}]`, "b:\x01"}},
		{"placeholder negative", []string{`51-["a",{"_placeholder":true,"num":-1}]`, "b:\x01"}},
		{"placeholder num not a number", []string{`51-["a",{"_placeholder":true,"num":"0"}]`, "b:\x01"}},
		{"placeholder without num", []string{`51-["a",{"_placeholder":true}]`, "b:\x01"}},
		{"connect error from client", []string{`4{"message":"x"}`}},
		{"event for unjoined namespace", []string{`2/other,["a"]`}},
		{"second CONNECT to joined namespace", []string{`0`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, socketio.Config{})
			called := newRecorder[string]()
			reasons := newRecorder[socketio.DisconnectReason]()
			srv.Of("/").OnConnection(func(s *socketio.Socket) {
				s.OnAny(func(e socketio.Event) { called.add(e.Name) })
				s.OnDisconnect(reasons.add)
			})
			c, _ := connect(t, srv, "/")
			for _, m := range tc.msgs {
				if b, ok := strings.CutPrefix(m, "b:"); ok {
					c.bin([]byte(b))
				} else {
					c.msg(m)
				}
			}
			c.waitClosed(t)
			r := reasons.next(t)
			if r != socketio.ReasonParseError && r != socketio.ReasonForcedServerClose {
				t.Fatalf("reason %q", r)
			}
			select {
			case name := <-called.ch:
				t.Fatalf("handler called with %q", name)
			default:
			}
		})
	}
}

func TestDisconnectReasons(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	type ev struct {
		kind   string
		reason socketio.DisconnectReason
		rooms  int
	}
	events := newRecorder[ev]()
	sockets := newRecorder[*socketio.Socket]()
	for _, name := range []string{"/", "/a"} {
		srv.Of(name).OnConnection(func(s *socketio.Socket) {
			s.Join("room")
			s.OnDisconnecting(func(r socketio.DisconnectReason) { events.add(ev{"disconnecting", r, len(s.Rooms())}) })
			s.OnDisconnect(func(r socketio.DisconnectReason) { events.add(ev{"disconnect", r, len(s.Rooms())}) })
			sockets.add(s)
		})
	}
	check := func(reason socketio.DisconnectReason) {
		t.Helper()
		if e := events.next(t); e.kind != "disconnecting" || e.reason != reason || e.rooms != 2 {
			t.Fatalf("got %+v, want disconnecting %q with 2 rooms", e, reason)
		}
		if e := events.next(t); e.kind != "disconnect" || e.reason != reason || e.rooms != 0 {
			t.Fatalf("got %+v, want disconnect %q with no rooms", e, reason)
		}
	}

	// client namespace disconnect keeps the connection
	c, _ := connect(t, srv, "/")
	sockets.next(t)
	c.msg("1")
	check(socketio.ReasonClientNamespaceDisconnect)
	c.join(t, "/")
	s := sockets.next(t)

	// server namespace disconnect
	s.Disconnect(false)
	c.expect(t, "1")
	check(socketio.ReasonServerNamespaceDisconnect)
	if srv.Of("/").Len() != 0 {
		t.Fatal("socket still in namespace")
	}

	// disconnect(true): every namespace, then the connection
	c.join(t, "/")
	s = sockets.next(t)
	c.join(t, "/a")
	sockets.next(t)
	s.Disconnect(true)
	got := map[string]bool{}
	for range 2 {
		got[c.expectPrefix(t, "1")] = true
	}
	if !got["1"] || !got["1/a,"] {
		t.Fatalf("DISCONNECT packets %v", got)
	}
	check(socketio.ReasonServerNamespaceDisconnect)
	check(socketio.ReasonServerNamespaceDisconnect)
	c.waitClosed(t)

	// transport-level reasons pass through
	for _, r := range []engineio.CloseReason{engineio.ReasonTransportClose, engineio.ReasonPingTimeout, engineio.ReasonTransportError, engineio.ReasonSlowConsumer} {
		c, _ := connect(t, srv, "/")
		sockets.next(t)
		c.clientClose(r)
		check(socketio.DisconnectReason(r))
	}

	// shutdown
	c, _ = connect(t, srv, "/")
	sockets.next(t)
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	check(socketio.ReasonServerShuttingDown)
	c.waitClosed(t)
}

// TestHandlersAddedAfterClose: a connection handler that adds its
// disconnect handlers after the socket has already left (the connection
// closed while handlers ran on another goroutine) still has them called,
// once, with the reason.
func TestHandlersAddedAfterClose(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	events := newRecorder[string]()
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.Disconnect(false)
		s.OnDisconnecting(func(r socketio.DisconnectReason) { events.add("disconnecting " + string(r)) })
		s.OnDisconnect(func(r socketio.DisconnectReason) { events.add("disconnect " + string(r)) })
	})
	c, _ := connect(t, srv, "/")
	c.expect(t, "1")
	for _, want := range []string{"disconnecting server namespace disconnect", "disconnect server namespace disconnect"} {
		if got := events.next(t); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestConnectTimeout(t *testing.T) {
	srv := newServer(t, socketio.Config{ConnectTimeout: 20 * time.Millisecond})
	idle := newFakeConn(4).attach(srv)
	if r := idle.waitClosed(t); r != engineio.ReasonForcedClose {
		t.Fatalf("reason %q", r)
	}
	// a connection that joined in time stays open past the timeout
	ok := newFakeConn(4).attach(srv)
	ok.join(t, "/")
	late := newFakeConn(4).attach(srv)
	late.waitClosed(t)
	select {
	case <-ok.closed:
		t.Fatal("connected client closed")
	default:
	}
}

func TestRoomsAndBroadcast(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	nsp := srv.Of("/")
	sockets := newRecorder[*socketio.Socket]()
	nsp.OnConnection(sockets.add)
	var conns []*fakeConn
	var socks []*socketio.Socket
	for range 4 {
		c, _ := connect(t, srv, "/")
		conns = append(conns, c)
		socks = append(socks, sockets.next(t))
	}
	socks[0].Join("a")
	socks[1].Join("a", "b")
	socks[2].Join("b")

	expectOnly := func(msg string, want ...int) {
		t.Helper()
		for i, c := range conns {
			if slices.Contains(want, i) {
				c.expect(t, msg)
			}
			c.expectNothing(t)
		}
	}
	_ = nsp.To("a").Emit("x", raw("1"), nil)
	expectOnly(`2["x",1]`, 0, 1)
	_ = nsp.To("a", "b").Emit("x", raw("2"), nil) // once per socket
	expectOnly(`2["x",2]`, 0, 1, 2)
	_ = nsp.To("a").To("b").Except("b").Emit("x", raw("3"), nil)
	expectOnly(`2["x",3]`, 0)
	_ = nsp.Except("a").Emit("x", raw("4"), nil)
	expectOnly(`2["x",4]`, 2, 3)
	_ = socks[1].To("a").Emit("x", raw("5"), nil)
	expectOnly(`2["x",5]`, 0)
	_ = socks[3].Broadcast().Emit("x", raw("6"), nil)
	expectOnly(`2["x",6]`, 0, 1, 2)
	_ = nsp.To(socks[2].ID()).Emit("x", raw("7"), nil)
	expectOnly(`2["x",7]`, 2)
	socks[1].Leave("a")
	_ = nsp.To("a").Emit("x", raw("8"), nil)
	expectOnly(`2["x",8]`, 0)

	// volatile: dropped where the transport is busy
	conns[0].volatile.Store(false)
	_ = nsp.Volatile().Emit("v", nil, nil)
	expectOnly(`2["v"]`, 1, 2, 3)
	conns[0].volatile.Store(true)

	// queries and operations by selector
	ctx := context.Background()
	infos, _ := nsp.In("b").FetchSockets(ctx)
	if len(infos) != 2 {
		t.Fatalf("fetch b: %d", len(infos))
	}
	_ = nsp.In("b").SocketsJoin(ctx, "c")
	_ = nsp.In("c").Except(socks[1].ID()).SocketsLeave(ctx, "b")
	infos, _ = nsp.In("b").FetchSockets(ctx)
	if len(infos) != 1 || infos[0].ID != socks[1].ID() {
		t.Fatalf("after leave: %+v", infos)
	}
	_ = nsp.In("c").DisconnectSockets(ctx, false)
	conns[1].expect(t, "1")
	conns[2].expect(t, "1")
	if nsp.Len() != 2 {
		t.Fatalf("len %d", nsp.Len())
	}
}

func TestBroadcastWithAck(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	nsp := srv.Of("/")
	sockets := newRecorder[*socketio.Socket]()
	nsp.OnConnection(sockets.add)
	var conns []*fakeConn
	var ids []string
	for range 3 {
		c, id := connect(t, srv, "/")
		sockets.next(t)
		conns = append(conns, c)
		ids = append(ids, id)
	}
	type out struct {
		res socketio.AckResults
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := nsp.Timeout(200*time.Millisecond).EmitWithAck(context.Background(), "q", raw(`"?"`), nil)
		done <- out{res, err}
	}()
	for i, c := range conns {
		got := c.expectPrefix(t, "2")
		id := strings.TrimSuffix(strings.TrimPrefix(got, "2"), `["q","?"]`)
		if i < 2 {
			c.msg("3" + id + `["a` + string(rune('0'+i)) + `"]`)
		}
	}
	o := <-done
	if !errors.Is(o.err, socketio.ErrAckTimeout) {
		t.Fatalf("err %v", o.err)
	}
	if len(o.res.Responses) != 2 || len(o.res.TimedOut) != 1 || o.res.TimedOut[0] != ids[2] {
		t.Fatalf("results %+v", o.res)
	}
	// all answer: no error, before the timeout
	go func() {
		res, err := nsp.To(ids[0]).Timeout(time.Minute).EmitWithAck(context.Background(), "q", nil, nil)
		done <- out{res, err}
	}()
	got := conns[0].expectPrefix(t, "2")
	conns[0].msg("3" + strings.TrimSuffix(got[1:], `["q"]`) + `[]`)
	o = <-done
	if o.err != nil || len(o.res.Responses) != 1 || o.res.Responses[0].Socket != ids[0] {
		t.Fatalf("single: %+v %v", o.res, o.err)
	}
	// no recipient at all
	res, err := nsp.To("nobody").EmitWithAck(context.Background(), "q", nil, nil)
	if err != nil || len(res.Responses) != 0 {
		t.Fatalf("empty: %+v %v", res, err)
	}
}

func TestPatternParentBroadcast(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	parent := srv.OfPattern(regexp.MustCompile(`^/t-\w+$`))
	c1 := newFakeConn(4).attach(srv)
	c1.join(t, "/t-a")
	c2 := newFakeConn(4).attach(srv)
	c2.join(t, "/t-b")
	if err := parent.Emit("hi", nil, nil); err != nil {
		t.Fatal(err)
	}
	c1.expect(t, `2/t-a,["hi"]`)
	c2.expect(t, `2/t-b,["hi"]`)
	if parent.Len() != 2 {
		t.Fatalf("len %d", parent.Len())
	}
}

func TestEIO3(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	sockets := newRecorder[*socketio.Socket]()
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(e socketio.Event) {
			if e.Ack != nil {
				_ = e.Ack(e.Args, nil)
			} else {
				_ = s.Emit("echo", e.Args, nil)
			}
		})
		sockets.add(s)
	})
	chat := srv.Of("/chat")
	chat.OnConnection(sockets.add)
	chat.Use(func(ctx context.Context, s *socketio.Socket) error {
		if !strings.Contains(string(s.Handshake().Auth), `"token":"t"`) {
			return &socketio.ConnectError{Message: "denied"}
		}
		return nil
	})
	c := newFakeConn(3).attach(srv)
	c.expect(t, "0") // implicit main namespace
	s := sockets.next(t)
	if s.ID() != c.ID() {
		t.Fatalf("EIO3 root socket id %q, want engine id %q", s.ID(), c.ID())
	}
	c.msg(`2["echo","x"]`)
	c.expect(t, `2["echo","x"]`)
	c.msg(`27["echo",1]`)
	c.expect(t, `37[1]`)

	c.msg("0/chat?token=bad")
	c.expect(t, `4/chat,"denied"`)
	c.msg("0/chat?token=t")
	c.expect(t, "0/chat,")
	cs := sockets.next(t)
	if cs.ID() != "/chat#"+c.ID() || string(cs.Handshake().Auth) != `{"token":"t"}` {
		t.Fatalf("chat socket %q auth %s", cs.ID(), cs.Handshake().Auth)
	}
	_ = chat.Emit("m", raw("1"), nil)
	c.expect(t, `2/chat,["m",1]`)
	c.msg("1/chat")
	c.msg("0/unknown")
	c.expect(t, `4/unknown,{"message":"Invalid namespace"}`)
}

func TestSlowConsumerCloseDuringBroadcast(t *testing.T) {
	// OnClose may come from inside Send; it must not deadlock with the
	// adapter's lock held by the broadcast.
	srv := newServer(t, socketio.Config{})
	reasons := newRecorder[socketio.DisconnectReason]()
	srv.Of("/").OnConnection(func(s *socketio.Socket) { s.OnDisconnect(reasons.add) })
	c := &syncCloseConn{fakeConn: newFakeConn(4)}
	c.h = srv.Attach(c)
	c.msg("0")
	c.next(t)
	c.full.Store(true)
	_ = srv.Of("/").Emit("x", nil, nil)
	if r := reasons.next(t); r != socketio.ReasonSlowConsumer {
		t.Fatalf("reason %q", r)
	}
}

// syncCloseConn reports ErrQueueFull and calls OnClose synchronously from
// Send, the harshest order an engine could use.
type syncCloseConn struct {
	*fakeConn
	full atomicBool
}

type atomicBool struct{ v chan struct{} }

func (b *atomicBool) Store(bool) { b.v = make(chan struct{}) }
func (b *atomicBool) Load() bool { return b.v != nil }

func (c *syncCloseConn) Send(p []engineio.Packet) error {
	if c.full.Load() {
		c.fakeConn.mu.Lock()
		c.fakeConn.isClosed = true
		c.fakeConn.mu.Unlock()
		c.h.OnClose(engineio.ReasonSlowConsumer, engineio.ErrQueueFull)
		return engineio.ErrQueueFull
	}
	return c.fakeConn.Send(p)
}

func TestOfPatternSameExpressionSameParent(t *testing.T) {
	srv := newServer(t, socketio.Config{})
	a := srv.OfPattern(regexp.MustCompile(`^/tenant-\d+$`))
	b := srv.OfPattern(regexp.MustCompile(`^/tenant-\d+$`))
	c := srv.OfPattern(regexp.MustCompile(`^/other-\d+$`))
	if a != b {
		t.Fatal("OfPattern with the same expression returned two parents")
	}
	if a == c {
		t.Fatal("OfPattern with another expression returned the same parent")
	}
}
