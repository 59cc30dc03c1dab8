package engineio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
)

// quietConfig has heartbeats long enough to stay out of a test's way.
func quietConfig() Config {
	return Config{PingInterval: time.Minute, PingTimeout: time.Minute}
}

func TestUpgrade_NoopToEveryGETUntilUpgradePacket(t *testing.T) {
	e := newEnv(t, quietConfig())
	sid := e.openPolling()
	q := "EIO=4&transport=polling&sid=" + sid
	pending := e.asyncGet(q)
	e.waitParked(sid)

	c := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeText(t, c, "2probe")
	if got := readText(t, c); got != "3probe" {
		t.Fatalf("probe answer = %q", got)
	}
	if r := recv(t, pending, "pending GET"); r.status != 200 || r.body != "6" {
		t.Errorf("pending GET = %d %q, want 200 6", r.status, r.body)
	}
	// Packets sent during the upgrade wait for the WebSocket.
	s := e.session(sid)
	if err := s.Send([]Packet{{Type: PacketMessage, Data: []byte("first")}, {Type: PacketMessage, Data: []byte("second")}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if r := e.get(q); r.status != 200 || r.body != "6" {
			t.Errorf("GET %d during upgrade = %d %q, want 200 6", i, r.status, r.body)
		}
	}
	if s.SendVolatile([]Packet{{Type: PacketMessage, Data: []byte("volatile")}}) {
		t.Error("SendVolatile during upgrade = true, want dropped")
	}
	writeText(t, c, "5")
	for _, want := range []string{"4first", "4second"} {
		if got := readText(t, c); got != want {
			t.Fatalf("after upgrade got %q, want %q", got, want)
		}
	}
	e.waitUpgraded(sid)
	if r := e.get(q); r.status != 400 {
		t.Errorf("GET after upgrade = %d, want 400", r.status)
	}
	if r := e.post(q, "4x"); r.status != 400 {
		t.Errorf("POST after upgrade = %d, want 400", r.status)
	}
}

func TestUpgrade_TimeoutClosesTheProbe(t *testing.T) {
	cfg := quietConfig()
	cfg.UpgradeTimeout = 50 * time.Millisecond
	e := newEnv(t, cfg)
	sid := e.openPolling()
	c := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	waitClosed(t, c)
	q := "EIO=4&transport=polling&sid=" + sid
	if r := e.post(q, "4still polling"); r.status != 200 {
		t.Fatalf("POST after failed upgrade = %d", r.status)
	}
	if r := e.get(q); r.body != "4still polling" {
		t.Errorf("GET after failed upgrade = %d %q", r.status, r.body)
	}
	if tr := e.session(sid).Transport(); tr != "polling" {
		t.Errorf("Transport() = %q, want polling", tr)
	}
}

func TestUpgrade_UnexpectedPacketAbandonsTheProbe(t *testing.T) {
	e := newEnv(t, quietConfig())
	sid := e.openPolling()
	c := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeText(t, c, "4too early")
	waitClosed(t, c)
	if r := e.post("EIO=4&transport=polling&sid="+sid, "4ok"); r.status != 200 {
		t.Errorf("POST after abandoned upgrade = %d, want 200", r.status)
	}
}

func TestPolling_PostOverMaxHTTPBufferSizeIs413(t *testing.T) {
	cfg := quietConfig()
	cfg.MaxHTTPBufferSize = 100
	e := newEnv(t, cfg)
	sid := e.openPolling()
	q := "EIO=4&transport=polling&sid=" + sid
	r := e.post(q, "4"+strings.Repeat("x", 200))
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("POST = %d, want 413", r.status)
	}
	// As the reference, the server keeps the session; the client treats
	// the 413 as a transport error and sends its close packet.
	if r := e.post(q, "1"); r.status != 200 {
		t.Errorf("POST close after 413 = %d, want 200", r.status)
	}
	if ev := e.waitClose(sid); ev.reason != ReasonTransportClose {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonTransportClose)
	}
}

func TestWebSocket_FrameOverMaxHTTPBufferSizeCloses(t *testing.T) {
	cfg := quietConfig()
	cfg.MaxHTTPBufferSize = 100
	e := newEnv(t, cfg)
	c := e.mustDial("EIO=4&transport=websocket")
	op, _ := parseOpen(t, readText(t, c))
	if op.MaxPayload != 100 {
		t.Errorf("maxPayload = %d, want 100", op.MaxPayload)
	}
	writeText(t, c, "4"+strings.Repeat("x", 200))
	err := waitClosed(t, c)
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("close = %v, want 1009 message too big", err)
	}
	if ev := e.waitClose(op.SID); ev.reason != ReasonTransportError {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonTransportError)
	}
}

func TestWebSocket_ClientPingIsTransportErrorInV4(t *testing.T) {
	e := newEnv(t, quietConfig())
	c := e.mustDial("EIO=4&transport=websocket")
	op, _ := parseOpen(t, readText(t, c))
	writeText(t, c, "2")
	waitClosed(t, c)
	if ev := e.waitClose(op.SID); ev.reason != ReasonTransportError {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonTransportError)
	}
}

func TestSend_SlowConsumerClosesAtTheBound(t *testing.T) {
	cfg := quietConfig()
	cfg.MaxQueueBytes = 10
	logs := &lockedWriter{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	e := newEnv(t, cfg)
	sid := e.openPolling()
	s := e.session(sid)
	eight := []Packet{{Type: PacketMessage, Data: []byte("12345678")}}
	if err := s.Send(eight); err != nil {
		t.Fatalf("first Send = %v", err)
	}
	if err := s.Send(eight); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("second Send = %v, want ErrQueueFull", err)
	}
	if ev := e.waitClose(sid); ev.reason != ReasonSlowConsumer {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonSlowConsumer)
	}
	if err := s.Send(eight); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after close = %v, want ErrClosed", err)
	}
	// The queued packet and the one that hit the bound; one session.
	if st := e.srv.Stats(); st.SlowConsumers != 1 || st.QueueFullPackets != 2 || st.VolatileDropped != 0 {
		t.Errorf("Stats() = %+v, want 1 slow consumer, 2 packets dropped", st)
	}
	if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != 400 {
		t.Errorf("GET after slow consumer = %d, want 400", r.status)
	}
	out := logs.String()
	if n := strings.Count(out, `msg="slow consumer"`); n != 1 {
		t.Errorf("slow consumer logged %d times, want once:\n%s", n, out)
	}
	for _, want := range []string{"sid=" + sid, "bytes=8", "bound=10"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestSendVolatile_DroppedUnlessWritable(t *testing.T) {
	e := newEnv(t, quietConfig())
	sid := e.openPolling()
	s := e.session(sid)
	p := []Packet{{Type: PacketMessage, Data: []byte("v")}}
	if s.SendVolatile(p) {
		t.Error("SendVolatile with no GET waiting = true, want dropped")
	}
	pending := e.asyncGet("EIO=4&transport=polling&sid=" + sid)
	e.waitParked(sid)
	if !s.SendVolatile(p) {
		t.Error("SendVolatile with a GET waiting = false, want queued")
	}
	if r := recv(t, pending, "GET"); r.body != "4v" {
		t.Errorf("GET = %q, want 4v", r.body)
	}
	if st := e.srv.Stats(); st.VolatileDropped != 1 {
		t.Errorf("Stats().VolatileDropped = %d, want 1", st.VolatileDropped)
	}

	c := e.mustDial("EIO=4&transport=websocket")
	op, _ := parseOpen(t, readText(t, c))
	ws := e.session(op.SID)
	e.waitIdle(op.SID)
	if !ws.SendVolatile(p) {
		t.Error("SendVolatile on an idle WebSocket = false, want queued")
	}
	if got := readText(t, c); got != "4v" {
		t.Errorf("frame = %q, want 4v", got)
	}
}

func TestClose_Server_Polling(t *testing.T) {
	e := newEnv(t, quietConfig())
	t.Run("pending GET gets the close packet", func(t *testing.T) {
		sid := e.openPolling()
		pending := e.asyncGet("EIO=4&transport=polling&sid=" + sid)
		e.waitParked(sid)
		e.session(sid).Close(ReasonForcedClose)
		if r := recv(t, pending, "GET"); r.status != 200 || r.body != "1" {
			t.Errorf("GET = %d %q, want 200 1", r.status, r.body)
		}
		if ev := e.waitClose(sid); ev.reason != ReasonForcedClose {
			t.Errorf("close reason = %q", ev.reason)
		}
	})
	t.Run("data then close on a pending GET", func(t *testing.T) {
		sid := e.openPolling()
		pending := e.asyncGet("EIO=4&transport=polling&sid=" + sid)
		e.waitParked(sid)
		s := e.session(sid)
		if err := s.Send([]Packet{msg("41/chat,")}); err != nil {
			t.Fatal(err)
		}
		s.Close(ReasonForcedClose)
		if r := recv(t, pending, "GET"); r.body != "441/chat," {
			t.Errorf("pending GET = %q, want the data alone", r.body)
		}
		if r := e.get("EIO=4&transport=polling&sid=" + sid); r.body != "1" {
			t.Errorf("next GET = %d %q, want 1", r.status, r.body)
		}
	})
	t.Run("next GETs get the queue, then the close packet", func(t *testing.T) {
		sid := e.openPolling()
		s := e.session(sid)
		if err := s.Send([]Packet{{Type: PacketMessage, Data: []byte("bye")}}); err != nil {
			t.Fatal(err)
		}
		s.Close(ReasonForcedClose)
		if err := s.Send([]Packet{{Type: PacketMessage}}); !errors.Is(err, ErrClosed) {
			t.Errorf("Send after Close = %v, want ErrClosed", err)
		}
		if ev := e.waitClose(sid); ev.reason != ReasonForcedClose {
			t.Errorf("close reason = %q", ev.reason)
		}
		// The close packet comes alone, after the data: socket.io-client
		// handles packets a tick later than a close, so a DISCONNECT in
		// the same payload would be lost.
		q := "EIO=4&transport=polling&sid=" + sid
		if r := e.get(q); r.status != 200 || r.body != "4bye" {
			t.Errorf("GET = %d %q, want 200 4bye", r.status, r.body)
		}
		if r := e.get(q); r.status != 200 || r.body != "1" {
			t.Errorf("second GET = %d %q, want 200 1", r.status, r.body)
		}
		if r := e.get(q); r.status != 400 {
			t.Errorf("GET after the close packet = %d, want 400", r.status)
		}
	})
}

func TestClose_Server_WebSocketFlushesThenCloses(t *testing.T) {
	e := newEnv(t, quietConfig())
	c := e.mustDial("EIO=4&transport=websocket")
	op, _ := parseOpen(t, readText(t, c))
	s := e.session(op.SID)
	if err := s.Send([]Packet{{Type: PacketMessage, Data: []byte("bye")}}); err != nil {
		t.Fatal(err)
	}
	s.Close(ReasonForcedClose)
	if got := readText(t, c); got != "4bye" {
		t.Errorf("frame = %q, want 4bye", got)
	}
	waitClosed(t, c)
	if ev := e.waitClose(op.SID); ev.reason != ReasonForcedClose {
		t.Errorf("close reason = %q", ev.reason)
	}
}

func TestHandler_ClosesItsSessionFromOnMessage(t *testing.T) {
	e := newEnv(t, quietConfig())
	sid := e.openPolling()
	if r := e.post("EIO=4&transport=polling&sid="+sid, "4close"); r.status != 200 {
		t.Errorf("POST = %d", r.status)
	}
	if ev := e.waitClose(sid); ev.reason != ReasonForcedClose {
		t.Errorf("polling close reason = %q", ev.reason)
	}
	c := e.mustDial("EIO=4&transport=websocket")
	op, _ := parseOpen(t, readText(t, c))
	writeText(t, c, "4close")
	waitClosed(t, c)
	if ev := e.waitClose(op.SID); ev.reason != ReasonForcedClose {
		t.Errorf("websocket close reason = %q", ev.reason)
	}
}

func TestErrors_AnsweredAsTheReference(t *testing.T) {
	cfg := quietConfig()
	cfg.AllowRequest = func(r *http.Request) error {
		if r.Header.Get("X-Deny") != "" {
			return errors.New("denied")
		}
		return nil
	}
	e := newEnv(t, cfg)
	sid := e.openPolling()
	upgradeHeaders := http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
	tests := []struct {
		name     string
		method   string
		query    string
		header   http.Header
		status   int
		body     string
		ctype    string
		upgrade  bool
		noHeader bool
	}{
		{name: "unknown sid", method: "GET", query: "EIO=4&transport=polling&sid=nope", status: 400, body: `{"code":1,"message":"Session ID unknown"}`, ctype: "application/json"},
		{name: "unknown transport", method: "GET", query: "EIO=4&transport=flash", status: 400, body: `{"code":0,"message":"Transport unknown"}`, ctype: "application/json"},
		{name: "handshake by POST", method: "POST", query: "EIO=4&transport=polling", status: 400, body: `{"code":2,"message":"Bad handshake method"}`, ctype: "application/json"},
		{name: "websocket without upgrade", method: "GET", query: "EIO=4&transport=websocket", status: 400, body: `{"code":3,"message":"Bad request"}`, ctype: "application/json"},
		{name: "wrong transport for sid", method: "GET", query: "EIO=4&transport=websocket&sid=" + sid, status: 400, body: `{"code":3,"message":"Bad request"}`, ctype: "application/json"},
		{name: "jsonp", method: "GET", query: "EIO=4&transport=polling&j=0", status: 400, body: `{"code":3,"message":"Bad request"}`, ctype: "application/json"},
		{name: "forbidden", method: "GET", query: "EIO=4&transport=polling", header: http.Header{"X-Deny": {"1"}}, status: 403, body: `{"code":4,"message":"Forbidden"}`, ctype: "application/json"},
		{name: "eio3 not allowed", method: "GET", query: "EIO=3&transport=polling", status: 400, body: `{"code":5,"message":"Unsupported protocol version"}`, ctype: "application/json"},
		{name: "other method on sid", method: "PUT", query: "EIO=4&transport=polling&sid=" + sid, status: 400, body: `{"code":3,"message":"Bad request"}`, ctype: "application/json"},
		{name: "upgrade with unknown sid", method: "GET", query: "EIO=4&transport=websocket&sid=nope", header: upgradeHeaders, status: 400, body: "Session ID unknown", ctype: "text/html"},
		{name: "upgrade with unknown transport", method: "GET", query: "EIO=4&transport=flash", header: upgradeHeaders, status: 400, body: "Transport unknown", ctype: "text/html"},
		{name: "upgrade without a key", method: "GET", query: "EIO=4&transport=websocket", header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}}, status: 400, body: "Bad Request\n"},
		{name: "upgrade forbidden", method: "GET", query: "EIO=4&transport=websocket", header: mergeHeader(upgradeHeaders, "X-Deny", "1"), status: 400, body: "Forbidden", ctype: "text/html"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, e.url+"?"+tc.query, "", tc.header)
			if r.status != tc.status || r.body != tc.body {
				t.Errorf("%s ?%s = %d %q, want %d %q", tc.method, tc.query, r.status, r.body, tc.status, tc.body)
			}
			if tc.ctype != "" && r.header.Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", r.header.Get("Content-Type"), tc.ctype)
			}
		})
	}
	if r := e.do("GET", e.ts.URL+"/elsewhere/", "", nil); r.status != 404 {
		t.Errorf("other path = %d, want 404", r.status)
	}
}

func mergeHeader(h http.Header, k, v string) http.Header {
	out := h.Clone()
	out.Set(k, v)
	return out
}

func TestShutdown_ClosesEverySession(t *testing.T) {
	e := newEnv(t, quietConfig())
	sid := e.openPolling()
	pending := e.asyncGet("EIO=4&transport=polling&sid=" + sid)
	e.waitParked(sid)
	c := e.mustDial("EIO=4&transport=websocket")
	op, _ := parseOpen(t, readText(t, c))
	lingering := e.openPolling()
	e.session(lingering).Close(ReasonForcedClose) // waits for a GET that never comes
	if n := e.srv.Count(); n != 3 {
		t.Errorf("Count() = %d, want 3", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if r := recv(t, pending, "GET"); r.body != "1" {
		t.Errorf("pending GET = %q, want 1", r.body)
	}
	waitClosed(t, c)
	for _, id := range []string{sid, op.SID} {
		if ev := e.waitClose(id); ev.reason != ReasonServerShutdown {
			t.Errorf("close reason of %s = %q, want %q", id, ev.reason, ReasonServerShutdown)
		}
	}
	if n := e.srv.Count(); n != 0 {
		t.Errorf("Count() after Shutdown = %d, want 0", n)
	}
	if r := e.get("EIO=4&transport=polling"); r.status != http.StatusServiceUnavailable {
		t.Errorf("handshake after Shutdown = %d, want 503", r.status)
	}
}

// heartbeatHandler records closes inside a synctest bubble.
type heartbeatHandler struct{ closed chan CloseReason }

func (h heartbeatHandler) OnMessage([]byte, bool)         {}
func (h heartbeatHandler) OnClose(r CloseReason, _ error) { h.closed <- r }

// pollOnce serves one polling request in memory.
func pollOnce(srv *Server, method, query, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, "/engine.io/?"+query, strings.NewReader(body))
	} else {
		req = httptest.NewRequest(method, "/engine.io/?"+query, nil)
	}
	srv.ServeHTTP(rec, req)
	return rec
}

func TestHeartbeat_V4_Synctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := heartbeatHandler{closed: make(chan CloseReason, 1)}
		srv := NewServer(Config{Logger: slog.New(slog.DiscardHandler)}, func(*Session) Handler { return h })
		op, _ := parseOpen(t, pollOnce(srv, "GET", "EIO=4&transport=polling", "").Body.String())
		q := "EIO=4&transport=polling&sid=" + op.SID

		for round := 0; round < 2; round++ {
			got := make(chan string, 1)
			go func() { got <- pollOnce(srv, "GET", q, "").Body.String() }()
			time.Sleep(defaultPingInterval - time.Millisecond)
			synctest.Wait()
			select {
			case b := <-got:
				t.Fatalf("round %d: GET answered %q before pingInterval", round, b)
			default:
			}
			time.Sleep(time.Millisecond)
			synctest.Wait()
			if b := <-got; b != "2" {
				t.Fatalf("round %d: GET = %q, want ping", round, b)
			}
			// The pong restarts the interval.
			time.Sleep(defaultPingTimeout - time.Millisecond)
			if rec := pollOnce(srv, "POST", q, "3"); rec.Code != 200 {
				t.Fatalf("POST pong = %d", rec.Code)
			}
		}
		time.Sleep(defaultPingInterval)
		synctest.Wait()
		select {
		case r := <-h.closed:
			t.Fatalf("closed (%s) while only the pong is pending", r)
		default:
		}
		time.Sleep(defaultPingTimeout)
		synctest.Wait()
		select {
		case r := <-h.closed:
			if r != ReasonPingTimeout {
				t.Errorf("close reason = %q, want %q", r, ReasonPingTimeout)
			}
		default:
			t.Fatal("no ping timeout after pingInterval+pingTimeout without pong")
		}
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestClose_Polling_CloseWindow_Synctest: after the client's close packet
// with no GET waiting, the sid answers a GET (with a noop) for
// closeNoopWindow and is dropped when it passes.
func TestClose_Polling_CloseWindow_Synctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := heartbeatHandler{closed: make(chan CloseReason, 1)}
		srv := NewServer(Config{Logger: slog.New(slog.DiscardHandler)}, func(*Session) Handler { return h })
		op, _ := parseOpen(t, pollOnce(srv, "GET", "EIO=4&transport=polling", "").Body.String())
		q := "EIO=4&transport=polling&sid=" + op.SID
		if rec := pollOnce(srv, "POST", q, "1"); rec.Code != 200 || rec.Body.String() != "ok" {
			t.Fatalf("POST close = %d %q, want 200 ok", rec.Code, rec.Body)
		}
		synctest.Wait()
		if r := <-h.closed; r != ReasonTransportClose {
			t.Errorf("close reason = %q, want %q", r, ReasonTransportClose)
		}
		time.Sleep(closeNoopWindow - time.Millisecond)
		synctest.Wait()
		if srv.lookup(op.SID) == nil {
			t.Fatal("sid dropped before closeNoopWindow")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if srv.lookup(op.SID) != nil {
			t.Fatal("sid still registered after closeNoopWindow")
		}
		if rec := pollOnce(srv, "GET", q, ""); rec.Code != 400 {
			t.Errorf("GET after the window = %d %q, want 400", rec.Code, rec.Body)
		}
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestHeartbeat_V3_Synctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := heartbeatHandler{closed: make(chan CloseReason, 1)}
		srv := NewServer(Config{AllowEIO3: true, Logger: slog.New(slog.DiscardHandler)}, func(*Session) Handler { return h })
		body := pollOnce(srv, "GET", "EIO=3&transport=polling", "").Body.String()
		_, open, ok := strings.Cut(body, ":")
		if !ok {
			t.Fatalf("v3 handshake = %q", body)
		}
		op, _ := parseOpen(t, open)
		q := "EIO=3&transport=polling&sid=" + op.SID
		limit := defaultPingInterval + defaultPingTimeout
		for i := 0; i < 3; i++ {
			time.Sleep(limit - time.Millisecond)
			if rec := pollOnce(srv, "POST", q, "1:2"); rec.Code != 200 {
				t.Fatalf("POST ping = %d", rec.Code)
			}
			if b := pollOnce(srv, "GET", q, "").Body.String(); b != "1:3" {
				t.Fatalf("GET = %q, want 1:3", b)
			}
		}
		time.Sleep(limit)
		synctest.Wait()
		select {
		case r := <-h.closed:
			if r != ReasonPingTimeout {
				t.Errorf("close reason = %q, want %q", r, ReasonPingTimeout)
			}
		default:
			t.Fatal("no ping timeout without client pings")
		}
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestEIO3_Polling(t *testing.T) {
	cfg := quietConfig()
	cfg.AllowEIO3 = true
	e := newEnv(t, cfg)
	open := func(extra string) string {
		r := e.get("EIO=3&transport=polling" + extra)
		n, pkt, ok := strings.Cut(r.body, ":")
		if r.status != 200 || !ok || n != fmt.Sprint(len(pkt)) {
			t.Fatalf("v3 handshake = %d %q", r.status, r.body)
		}
		op, _ := parseOpen(t, pkt)
		if e.session(op.SID).Protocol() != 3 {
			t.Errorf("Protocol() = %d, want 3", e.session(op.SID).Protocol())
		}
		return op.SID
	}

	t.Run("text", func(t *testing.T) {
		sid := open("")
		q := "EIO=3&transport=polling&sid=" + sid
		if r := e.post(q, "6:4hello2:4é"); r.status != 200 || r.body != "ok" {
			t.Fatalf("POST = %d %q", r.status, r.body)
		}
		if r := e.get(q); r.body != "6:4hello2:4é" {
			t.Errorf("GET = %q, want 6:4hello2:4é", r.body)
		}
	})
	t.Run("binary as base64", func(t *testing.T) {
		sid := open("&b64=1")
		q := "EIO=3&transport=polling&b64=1&sid=" + sid
		if r := e.post(q, "6:b4AQID"); r.status != 200 {
			t.Fatalf("POST = %d", r.status)
		}
		r := e.get(q)
		if r.body != "6:b4AQID" || r.header.Get("Content-Type") != "text/plain; charset=UTF-8" {
			t.Errorf("GET = %q (%s), want 6:b4AQID", r.body, r.header.Get("Content-Type"))
		}
	})
	t.Run("binary payload", func(t *testing.T) {
		sid := open("")
		q := "EIO=3&transport=polling&sid=" + sid
		body := string([]byte{1, 4, 0xff, 4, 1, 2, 3, 0, 3, 0xff, '4', 'h', 'i'})
		r := e.do("POST", e.url+"?"+q, body, http.Header{"Content-Type": {"application/octet-stream"}})
		if r.status != 200 {
			t.Fatalf("POST = %d", r.status)
		}
		r = e.get(q)
		if r.body != body || r.header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("GET = %v (%s), want %v", []byte(r.body), r.header.Get("Content-Type"), []byte(body))
		}
	})
	t.Run("binary POST refused in v4", func(t *testing.T) {
		sid := e.openPolling()
		r := e.do("POST", e.url+"?EIO=4&transport=polling&sid="+sid, "4x", http.Header{"Content-Type": {"application/octet-stream"}})
		if r.status != 400 {
			t.Errorf("POST = %d, want 400", r.status)
		}
		if ev := e.waitClose(sid); ev.reason != ReasonTransportError {
			t.Errorf("close reason = %q", ev.reason)
		}
	})
}

func TestEIO3_WebSocket(t *testing.T) {
	cfg := quietConfig()
	cfg.AllowEIO3 = true
	e := newEnv(t, cfg)
	c := e.mustDial("EIO=3&transport=websocket")
	op, _ := parseOpen(t, readText(t, c))
	if e.session(op.SID).Protocol() != 3 {
		t.Fatal("not a v3 session")
	}
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{4, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	f := readFrame(t, c)
	if f.err != nil || f.typ != websocket.BinaryMessage || !bytes.Equal(f.data, []byte{4, 1, 2, 3}) {
		t.Errorf("binary echo = %d %v %v, want binary [4 1 2 3]", f.typ, f.data, f.err)
	}
	writeText(t, c, "2")
	if got := readText(t, c); got != "3" {
		t.Errorf("ping answer = %q, want 3", got)
	}
	writeText(t, c, "4hi")
	if got := readText(t, c); got != "4hi" {
		t.Errorf("echo = %q, want 4hi", got)
	}

	b64 := e.mustDial("EIO=3&transport=websocket&b64=1")
	readText(t, b64)
	writeText(t, b64, "b4AQID")
	if got := readText(t, b64); got != "b4AQID" {
		t.Errorf("base64 echo = %q, want b4AQID", got)
	}
}

func TestEIO3_UpgradeFromPolling(t *testing.T) {
	cfg := quietConfig()
	cfg.AllowEIO3 = true
	e := newEnv(t, cfg)
	r := e.get("EIO=3&transport=polling")
	_, pkt, _ := strings.Cut(r.body, ":")
	op, _ := parseOpen(t, pkt)
	c := e.mustDial("EIO=3&transport=websocket&sid=" + op.SID)
	writeText(t, c, "2probe")
	if got := readText(t, c); got != "3probe" {
		t.Fatalf("probe = %q", got)
	}
	writeText(t, c, "5")
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{4, 9}); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, c); f.err != nil || !bytes.Equal(f.data, []byte{4, 9}) {
		t.Errorf("echo = %v %v", f.data, f.err)
	}
}

// lockedWriter serializes writes of concurrent loggers.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// clientFrame builds a masked client text frame (zero mask) for raw writes.
func clientFrame(payload string) []byte {
	return append([]byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
}

func TestWebSocket_MessagesArrivingTogetherAreAllRead(t *testing.T) {
	e := newEnv(t, quietConfig())
	c := e.mustDial("EIO=4&transport=websocket")
	readText(t, c)
	burst := append(append(clientFrame("4one"), clientFrame("4two")...), clientFrame("4three")...)
	if _, err := c.NetConn().Write(burst); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4one", "4two", "4three"} {
		if got := readText(t, c); got != want {
			t.Fatalf("echo = %q, want %q", got, want)
		}
	}
	// And after going idle, the next message still wakes the reader.
	writeText(t, c, "4later")
	if got := readText(t, c); got != "4later" {
		t.Fatalf("echo = %q, want 4later", got)
	}
}

// TestWebSocket_BusyThenQuiet: a connection whose messages come quickly
// reads in place; after a gap it parks again. Every message is read, in
// order, across both changes.
func TestWebSocket_BusyThenQuiet(t *testing.T) {
	e := newEnv(t, quietConfig())
	c := e.mustDial("EIO=4&transport=websocket")
	readText(t, c)
	echo := func(msg string) {
		t.Helper()
		writeText(t, c, msg)
		if got := readText(t, c); got != msg {
			t.Fatalf("echo = %q, want %q", got, msg)
		}
	}
	for round := range 2 {
		for i := range 3 * busyAfter {
			echo(fmt.Sprintf("4busy-%d-%d", round, i))
		}
		time.Sleep(2 * busyGap)
		echo(fmt.Sprintf("4after-gap-%d", round))
		time.Sleep(2 * busyGap)
		echo(fmt.Sprintf("4parked-%d", round))
	}
}

func TestDrain_RefusesHandshakesServesSessions(t *testing.T) {
	e := newEnv(t, quietConfig())
	sid := e.openPolling()
	e.srv.Drain()
	for _, r := range []response{
		e.get("EIO=4&transport=polling"),
		e.do("GET", e.url+"?EIO=4&transport=websocket", "", http.Header{
			"Connection": {"Upgrade"}, "Upgrade": {"websocket"},
			"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="},
		}),
	} {
		if r.status != http.StatusServiceUnavailable || r.body != `{"code":3,"message":"Server shutting down"}` ||
			r.header.Get("Content-Type") != "application/json" {
			t.Errorf("handshake while draining = %d %q (%s), want 503 with the JSON error body", r.status, r.body, r.header.Get("Content-Type"))
		}
	}
	// The session in place is served both ways.
	if r := e.post("EIO=4&transport=polling&sid="+sid, "4hello"); r.status != http.StatusOK {
		t.Errorf("POST while draining = %d %q", r.status, r.body)
	}
	if err := e.session(sid).Send([]Packet{{Type: PacketMessage, Data: []byte("answer")}}); err != nil {
		t.Fatal(err)
	}
	// The test handler echoes "hello".
	if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != http.StatusOK || r.body != "4hello\x1e4answer" {
		t.Errorf("GET while draining = %d %q, want 200 with the echo and the answer", r.status, r.body)
	}
}

// What is queued for a polling client when Shutdown begins (an ack the
// drain let through, say) reaches it with the close packet on its next
// GET, rather than being dropped.
func TestShutdown_FlushesPollingQueue(t *testing.T) {
	e := newEnv(t, quietConfig())
	sid := e.openPolling()
	if err := e.session(sid).Send([]Packet{{Type: PacketMessage, Data: []byte("ack")}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	var got []string
	for range 2 {
		r := e.get("EIO=4&transport=polling&sid=" + sid)
		got = append(got, r.body)
		if strings.HasSuffix(r.body, "1") {
			break
		}
	}
	if j := strings.Join(got, "|"); j != "4ack\x1e1" && j != "4ack|1" {
		t.Errorf("GETs after Shutdown began = %q, want the queued message then the close packet", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if ev := e.waitClose(sid); ev.reason != ReasonServerShutdown {
		t.Errorf("close reason = %q", ev.reason)
	}
}
