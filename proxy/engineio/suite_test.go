package engineio

// The Engine.IO v4 black-box suite (docs/engine.io-protocol/v4-test-suite
// in socketio/socket.io), case by case, against this server.

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/gorilla/websocket"
)

func checkOpen(t *testing.T, body string, wantUpgrades []string) string {
	t.Helper()
	op, all := parseOpen(t, body)
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"}; !slices.Equal(keys, want) {
		t.Errorf("open keys = %v, want %v", keys, want)
	}
	if len(op.SID) != 20 {
		t.Errorf("sid %q: length %d, want 20", op.SID, len(op.SID))
	}
	if !slices.Equal(op.Upgrades, wantUpgrades) || op.Upgrades == nil {
		t.Errorf("upgrades = %#v, want %#v", op.Upgrades, wantUpgrades)
	}
	if op.PingInterval != 300 || op.PingTimeout != 200 || op.MaxPayload != 1000000 {
		t.Errorf("open = %+v, want pingInterval 300, pingTimeout 200, maxPayload 1000000", op)
	}
	return op.SID
}

func TestHandshake_Polling_SuccessfullyOpensASession(t *testing.T) {
	e := newEnv(t, suiteConfig())
	r := e.get("EIO=4&transport=polling")
	if r.status != 200 {
		t.Fatalf("status = %d, want 200", r.status)
	}
	checkOpen(t, r.body, []string{"websocket"})
	if got := r.header.Get("Content-Type"); got != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
}

func TestHandshake_Polling_FailsWithAnInvalidEIOQueryParameter(t *testing.T) {
	e := newEnv(t, suiteConfig())
	for _, q := range []string{"transport=polling", "EIO=abc&transport=polling"} {
		r := e.get(q)
		if r.status != 400 || r.body != `{"code":5,"message":"Unsupported protocol version"}` {
			t.Errorf("GET ?%s = %d %q, want 400 unsupported protocol version", q, r.status, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("GET ?%s: Content-Type = %q", q, ct)
		}
	}
}

func TestHandshake_Polling_FailsWithAnInvalidTransportQueryParameter(t *testing.T) {
	e := newEnv(t, suiteConfig())
	for _, q := range []string{"EIO=4", "EIO=4&transport=abc"} {
		r := e.get(q)
		if r.status != 400 || r.body != `{"code":0,"message":"Transport unknown"}` {
			t.Errorf("GET ?%s = %d %q, want 400 transport unknown", q, r.status, r.body)
		}
	}
}

func TestHandshake_Polling_FailsWithAnInvalidRequestMethod(t *testing.T) {
	e := newEnv(t, suiteConfig())
	for _, m := range []string{"POST", "PUT"} {
		r := e.do(m, e.url+"?EIO=4&transport=polling", "", nil)
		if r.status != 400 || r.body != `{"code":2,"message":"Bad handshake method"}` {
			t.Errorf("%s = %d %q, want 400 bad handshake method", m, r.status, r.body)
		}
	}
}

func TestHandshake_WebSocket_SuccessfullyOpensASession(t *testing.T) {
	e := newEnv(t, suiteConfig())
	c := e.mustDial("EIO=4&transport=websocket")
	checkOpen(t, readText(t, c), []string{})
}

func TestHandshake_WebSocket_FailsWithAnInvalidEIOQueryParameter(t *testing.T) {
	e := newEnv(t, suiteConfig())
	for _, q := range []string{"transport=websocket", "EIO=abc&transport=websocket"} {
		_, res, err := e.dial(q)
		if err == nil {
			t.Fatalf("dial ?%s succeeded", q)
		}
		if res == nil || res.StatusCode != 400 {
			t.Errorf("dial ?%s: response %v, want 400", q, res)
		}
	}
}

func TestHandshake_WebSocket_FailsWithAnInvalidTransportQueryParameter(t *testing.T) {
	e := newEnv(t, suiteConfig())
	for _, q := range []string{"EIO=4", "EIO=4&transport=abc"} {
		_, res, err := e.dial(q)
		if err == nil {
			t.Fatalf("dial ?%s succeeded", q)
		}
		if res == nil || res.StatusCode != 400 {
			t.Errorf("dial ?%s: response %v, want 400", q, res)
		}
	}
}

func TestMessage_Polling_SendsAndReceivesAPayloadContainingOnePlainTextPacket(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	r := e.post("EIO=4&transport=polling&sid="+sid, "4hello")
	if r.status != 200 || r.body != "ok" {
		t.Fatalf("POST = %d %q, want 200 ok", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/html" {
		t.Errorf("POST Content-Type = %q, want text/html", ct)
	}
	if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != 200 || r.body != "4hello" {
		t.Fatalf("GET = %d %q, want 200 4hello", r.status, r.body)
	}
}

func TestMessage_Polling_SendsAndReceivesAPayloadContainingSeveralPlainTextPackets(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	const payload = "4test1\x1e4test2\x1e4test3"
	if r := e.post("EIO=4&transport=polling&sid="+sid, payload); r.status != 200 || r.body != "ok" {
		t.Fatalf("POST = %d %q", r.status, r.body)
	}
	if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != 200 || r.body != payload {
		t.Fatalf("GET = %d %q, want %q", r.status, r.body, payload)
	}
}

func TestMessage_Polling_SendsAndReceivesAPayloadContainingPlainTextAndBinaryPackets(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	const payload = "4hello\x1ebAQIDBA=="
	if r := e.post("EIO=4&transport=polling&sid="+sid, payload); r.status != 200 || r.body != "ok" {
		t.Fatalf("POST = %d %q", r.status, r.body)
	}
	if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != 200 || r.body != payload {
		t.Fatalf("GET = %d %q, want %q", r.status, r.body, payload)
	}
}

func TestMessage_Polling_ClosesTheSessionUponInvalidPacketFormat(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	if r := e.post("EIO=4&transport=polling&sid="+sid, "abc"); r.status != 400 {
		t.Errorf("POST abc = %d, want 400", r.status)
	}
	if ev := e.waitClose(sid); ev.reason != ReasonParseError {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonParseError)
	}
	if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != 400 {
		t.Errorf("GET after parse error = %d, want 400", r.status)
	}
}

func TestMessage_Polling_ClosesTheSessionUponDuplicatePollRequests(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	first := e.asyncGet("EIO=4&transport=polling&sid=" + sid)
	e.waitParked(sid)
	second := e.get("EIO=4&transport=polling&sid=" + sid + "&t=burst")
	if second.status != 400 || second.body != `{"code":3,"message":"Bad request"}` {
		t.Errorf("second GET = %d %q, want 400 bad request", second.status, second.body)
	}
	if r := recv(t, first, "first GET"); r.status != 200 || r.body != "1" {
		t.Errorf("first GET = %d %q, want 200 1", r.status, r.body)
	}
	if ev := e.waitClose(sid); ev.reason != ReasonTransportError {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonTransportError)
	}
	if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != 400 {
		t.Errorf("GET after overlap = %d, want 400", r.status)
	}
}

func TestMessage_Polling_ClosesTheSessionUponCancelledPollingRequest(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	h := e.handler(sid)
	conn := e.rawConn()
	e.writeRaw(conn, "GET /engine.io/?EIO=4&transport=polling&sid="+sid+" HTTP/1.1\r\nHost: x\r\n\r\n")
	e.waitParked(sid)
	conn.Close()
	if ev := recv(t, h.closed, "OnClose"); ev.reason != ReasonTransportError {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonTransportError)
	}
	if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != 400 {
		t.Errorf("GET after cancelled poll = %d, want 400", r.status)
	}
}

func TestMessage_WebSocket_SendsAndReceivesAPlainTextPacket(t *testing.T) {
	e := newEnv(t, suiteConfig())
	c := e.mustDial("EIO=4&transport=websocket")
	readText(t, c) // handshake
	writeText(t, c, "4hello")
	if got := readText(t, c); got != "4hello" {
		t.Fatalf("echo = %q, want 4hello", got)
	}
}

func TestMessage_WebSocket_SendsAndReceivesABinaryPacket(t *testing.T) {
	e := newEnv(t, suiteConfig())
	c := e.mustDial("EIO=4&transport=websocket")
	readText(t, c)
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	f := readFrame(t, c)
	if f.err != nil || f.typ != websocket.BinaryMessage || !bytes.Equal(f.data, []byte{1, 2, 3, 4}) {
		t.Fatalf("echo = %d %v %v, want binary [1 2 3 4]", f.typ, f.data, f.err)
	}
}

func TestMessage_WebSocket_ClosesTheSessionUponInvalidPacketFormat(t *testing.T) {
	e := newEnv(t, suiteConfig())
	c := e.mustDial("EIO=4&transport=websocket")
	op, _ := parseOpen(t, readText(t, c))
	writeText(t, c, "abc")
	waitClosed(t, c)
	if ev := e.waitClose(op.SID); ev.reason != ReasonParseError {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonParseError)
	}
}

func TestHeartbeat_Polling_SendsPingPongPackets(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	for i := 0; i < 3; i++ {
		if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != 200 || r.body != "2" {
			t.Fatalf("GET %d = %d %q, want 200 2", i, r.status, r.body)
		}
		if r := e.post("EIO=4&transport=polling&sid="+sid, "3"); r.status != 200 {
			t.Fatalf("POST pong %d = %d", i, r.status)
		}
	}
}

func TestHeartbeat_Polling_ClosesTheSessionUponPingTimeout(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	if ev := e.waitClose(sid); ev.reason != ReasonPingTimeout {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonPingTimeout)
	}
	if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != 400 {
		t.Errorf("GET after ping timeout = %d, want 400", r.status)
	}
}

func TestHeartbeat_WebSocket_SendsPingPongPackets(t *testing.T) {
	e := newEnv(t, suiteConfig())
	c := e.mustDial("EIO=4&transport=websocket")
	readText(t, c)
	for i := 0; i < 3; i++ {
		if got := readText(t, c); got != "2" {
			t.Fatalf("frame %d = %q, want 2", i, got)
		}
		writeText(t, c, "3")
	}
}

func TestHeartbeat_WebSocket_ClosesTheSessionUponPingTimeout(t *testing.T) {
	e := newEnv(t, suiteConfig())
	c := e.mustDial("EIO=4&transport=websocket")
	op, _ := parseOpen(t, readText(t, c))
	if got := readText(t, c); got != "2" {
		t.Fatalf("frame = %q, want ping", got)
	}
	waitClosed(t, c)
	if ev := e.waitClose(op.SID); ev.reason != ReasonPingTimeout {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonPingTimeout)
	}
}

func TestClose_Polling_ForcefullyClosesTheSession(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	poll := e.asyncGet("EIO=4&transport=polling&sid=" + sid)
	e.waitParked(sid)
	if r := e.post("EIO=4&transport=polling&sid="+sid, "1"); r.status != 200 {
		t.Errorf("POST close = %d, want 200", r.status)
	}
	if r := recv(t, poll, "GET"); r.status != 200 || r.body != "6" {
		t.Errorf("pending GET = %d %q, want 200 6", r.status, r.body)
	}
	if ev := e.waitClose(sid); ev.reason != ReasonTransportClose {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonTransportClose)
	}
	if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != 400 {
		t.Errorf("GET after close = %d, want 400", r.status)
	}
}

// TestClose_Polling_ForcefullyClosesTheSession_AtOnce is the suite's case
// as it is written: the GET and the POST of the close packet are sent at
// once, so the server reads them in either order. Run it with -count=100
// beside busy loops to shake the order.
func TestClose_Polling_ForcefullyClosesTheSession_AtOnce(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	q := "EIO=4&transport=polling&sid=" + sid
	poll := e.asyncGet(q)
	posted := make(chan response, 1)
	go func() { posted <- e.do(http.MethodPost, e.url+"?"+q, "1", nil) }()
	if r := recv(t, poll, "GET"); r.status != 200 || r.body != "6" {
		t.Errorf("GET = %d %q, want 200 6", r.status, r.body)
	}
	if r := recv(t, posted, "POST"); r.status != 200 || r.body != "ok" {
		t.Errorf("POST close = %d %q, want 200 ok", r.status, r.body)
	}
	if ev := e.waitClose(sid); ev.reason != ReasonTransportClose {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonTransportClose)
	}
	if r := e.get(q); r.status != 400 || r.body != `{"code":1,"message":"Session ID unknown"}` {
		t.Errorf("GET after close = %d %q, want 400 Session ID unknown", r.status, r.body)
	}
}

// TestClose_Polling_CloseReadBeforeTheGET pins the order the suite's case
// loses most often: the close packet is handled before the GET sent with it
// is read. That GET still gets the noop; the session is gone after it.
func TestClose_Polling_CloseReadBeforeTheGET(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	q := "EIO=4&transport=polling&sid=" + sid
	if r := e.post(q, "1"); r.status != 200 || r.body != "ok" {
		t.Fatalf("POST close = %d %q, want 200 ok", r.status, r.body)
	}
	if ev := e.waitClose(sid); ev.reason != ReasonTransportClose {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonTransportClose)
	}
	if r := e.post(q, "4x"); r.status != 400 || r.body != `{"code":1,"message":"Session ID unknown"}` {
		t.Errorf("POST after close = %d %q, want 400 Session ID unknown", r.status, r.body)
	}
	if r := e.get(q); r.status != 200 || r.body != "6" {
		t.Errorf("GET = %d %q, want 200 6", r.status, r.body)
	}
	if r := e.get(q); r.status != 400 || r.body != `{"code":1,"message":"Session ID unknown"}` {
		t.Errorf("second GET = %d %q, want 400 Session ID unknown", r.status, r.body)
	}
	if n := e.srv.Count(); n != 0 {
		t.Errorf("Count() = %d, want 0", n)
	}
}

func TestClose_WebSocket_ForcefullyClosesTheSession(t *testing.T) {
	e := newEnv(t, suiteConfig())
	c := e.mustDial("EIO=4&transport=websocket")
	op, _ := parseOpen(t, readText(t, c))
	writeText(t, c, "1")
	waitClosed(t, c)
	if ev := e.waitClose(op.SID); ev.reason != ReasonTransportClose {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonTransportClose)
	}
}

func TestUpgrade_SuccessfullyUpgradesFromHTTPLongPollingToWebSocket(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	c := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeText(t, c, "2probe")
	if got := readText(t, c); got != "3probe" {
		t.Fatalf("probe answer = %q, want 3probe", got)
	}
	if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != 200 || r.body != "6" {
		t.Fatalf("GET during upgrade = %d %q, want 200 6", r.status, r.body)
	}
	writeText(t, c, "5")
	writeText(t, c, "4hello")
	for {
		got := readText(t, c)
		if got == "2" { // a ping may come first
			writeText(t, c, "3")
			continue
		}
		if got != "4hello" {
			t.Fatalf("echo = %q, want 4hello", got)
		}
		break
	}
	if tr := e.session(sid).Transport(); tr != "websocket" {
		t.Errorf("Transport() = %q, want websocket", tr)
	}
	// The handler was told, once.
	if got := recv(t, e.handler(sid).upgrades, "OnUpgrade"); got != "websocket" {
		t.Errorf("OnUpgrade(%q), want websocket", got)
	}
	select {
	case got := <-e.handler(sid).upgrades:
		t.Errorf("a second OnUpgrade(%q)", got)
	default:
	}
}

func TestUpgrade_IgnoresHTTPRequestsWithSameSidAfterUpgrade(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	c := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeText(t, c, "2probe")
	readText(t, c)
	writeText(t, c, "5")
	e.waitUpgraded(sid)
	if r := e.get("EIO=4&transport=polling&sid=" + sid); r.status != 400 || r.body != `{"code":3,"message":"Bad request"}` {
		t.Errorf("GET after upgrade = %d %q, want 400 bad request", r.status, r.body)
	}
	writeText(t, c, "4hello")
	if got := readNonPing(t, c); got != "4hello" {
		t.Fatalf("echo = %q, want 4hello", got)
	}
}

func TestUpgrade_IgnoresWebSocketConnectionWithSameSidAfterUpgrade(t *testing.T) {
	e := newEnv(t, suiteConfig())
	sid := e.openPolling()
	c := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeText(t, c, "2probe")
	readText(t, c)
	writeText(t, c, "5")
	e.waitUpgraded(sid)
	c2 := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	waitClosed(t, c2)
	writeText(t, c, "4hello")
	if got := readNonPing(t, c); got != "4hello" {
		t.Fatalf("echo = %q, want 4hello", got)
	}
}

// readNonPing reads text frames, answering pings, until another arrives.
func readNonPing(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	for {
		got := readText(t, c)
		if got != "2" {
			return got
		}
		writeText(t, c, "3")
	}
}
