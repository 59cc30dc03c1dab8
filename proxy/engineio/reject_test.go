package engineio

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestRejected_4xxWithTheErrorBody holds requests the endpoint does not
// serve to a 4xx with the reference's error body, never a 5xx or a hang.
// Where the reference answers otherwise, the case says so.
func TestRejected_4xxWithTheErrorBody(t *testing.T) {
	const (
		badRequest   = `{"code":3,"message":"Bad request"}`
		badHandshake = `{"code":2,"message":"Bad handshake method"}`
		unsupported  = `{"code":5,"message":"Unsupported protocol version"}`
		jsonType     = "application/json"
	)
	upgradeHeaders := http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
	// In query, {poll} stands for the sid of a v4 polling session and {ws}
	// for that of a v4 WebSocket session, each opened for the case.
	tests := []struct {
		name   string
		method string
		query  string
		header http.Header
		body   string
		status int
		want   string
		ctype  string
		// after: "kept" if the polling session must still serve, or the
		// reason it must have closed with; "" for no check.
		after CloseReason
	}{
		// The reference answers these four 500 with no body.
		{name: "PUT with a polling sid", method: "PUT", query: "EIO=4&transport=polling&sid={poll}", status: 400, want: badRequest, ctype: jsonType, after: "kept"},
		{name: "DELETE with a polling sid", method: "DELETE", query: "EIO=4&transport=polling&sid={poll}", status: 400, want: badRequest, ctype: jsonType, after: "kept"},
		{name: "PATCH with a polling sid", method: "PATCH", query: "EIO=4&transport=polling&sid={poll}", body: "4x", status: 400, want: badRequest, ctype: jsonType, after: "kept"},
		{name: "OPTIONS without Origin with a polling sid", method: "OPTIONS", query: "EIO=4&transport=polling&sid={poll}", status: 400, want: badRequest, ctype: jsonType, after: "kept"},
		{name: "HEAD with a polling sid", method: "HEAD", query: "EIO=4&transport=polling&sid={poll}", status: 400, want: "", ctype: jsonType, after: "kept"},
		// As the reference.
		{name: "OPTIONS without Origin, handshake", method: "OPTIONS", query: "EIO=4&transport=polling", status: 400, want: badHandshake, ctype: jsonType},
		{name: "HEAD handshake", method: "HEAD", query: "EIO=4&transport=polling", status: 400, want: "", ctype: jsonType},
		{name: "PUT handshake", method: "PUT", query: "EIO=4&transport=polling", status: 400, want: badHandshake, ctype: jsonType},
		{name: "websocket GET without Upgrade, handshake", method: "GET", query: "EIO=4&transport=websocket", status: 400, want: badRequest, ctype: jsonType},
		{name: "websocket GET without Upgrade with a polling sid", method: "GET", query: "EIO=4&transport=websocket&sid={poll}", status: 400, want: badRequest, ctype: jsonType, after: "kept"},
		{name: "polling GET with a WebSocket sid", method: "GET", query: "EIO=4&transport=polling&sid={ws}", status: 400, want: badRequest, ctype: jsonType},
		{name: "polling POST with a WebSocket sid", method: "POST", query: "EIO=4&transport=polling&sid={ws}", body: "4x", status: 400, want: badRequest, ctype: jsonType},
		{name: "EIO=5", method: "GET", query: "EIO=5&transport=polling", status: 400, want: unsupported, ctype: jsonType},
		{name: "EIO=abc", method: "GET", query: "EIO=abc&transport=polling", status: 400, want: unsupported, ctype: jsonType},
		{name: "no EIO", method: "GET", query: "transport=polling", status: 400, want: unsupported, ctype: jsonType},
		// The reference's PROTOCOL_MISMATCH (served as v4 before).
		{name: "EIO=3 with a v4 polling sid", method: "GET", query: "EIO=3&transport=polling&sid={poll}", status: 400, want: badRequest, ctype: jsonType, after: "kept"},
		{name: "EIO=3 POST with a v4 polling sid", method: "POST", query: "EIO=3&transport=polling&sid={poll}", body: "1:4x", status: 400, want: badRequest, ctype: jsonType, after: "kept"},
		{name: "EIO=3 upgrade of a v4 polling sid", method: "GET", query: "EIO=3&transport=websocket&sid={poll}", header: upgradeHeaders, status: 400, want: "Bad request", ctype: "text/html", after: "kept"},
		// The reference answers 200 "ok" and closes the session with
		// "parse error"; the session closes alike here.
		{name: "POST of an invalid payload", method: "POST", query: "EIO=4&transport=polling&sid={poll}", body: "zz", status: 400, want: badRequest, ctype: jsonType, after: ReasonParseError},
		// The reference answers 400 with no body.
		{name: "POST binary in v4", method: "POST", query: "EIO=4&transport=polling&sid={poll}", header: http.Header{"Content-Type": {"application/octet-stream"}}, body: "4x", status: 400, want: badRequest, ctype: jsonType, after: ReasonTransportError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, quietConfig())
			var pollSID string
			query := tc.query
			if strings.Contains(query, "{poll}") {
				pollSID = e.openPolling()
				query = strings.ReplaceAll(query, "{poll}", pollSID)
			}
			if strings.Contains(query, "{ws}") {
				c := e.mustDial("EIO=4&transport=websocket")
				op, _ := parseOpen(t, readText(t, c))
				query = strings.ReplaceAll(query, "{ws}", op.SID)
			}
			r := e.do(tc.method, e.url+"?"+query, tc.body, tc.header)
			if r.status != tc.status || r.body != tc.want {
				t.Errorf("%s ?%s = %d %q, want %d %q", tc.method, tc.query, r.status, r.body, tc.status, tc.want)
			}
			if got := r.header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tc.ctype)
			}
			switch tc.after {
			case "":
			case "kept":
				q := "EIO=4&transport=polling&sid=" + pollSID
				if r := e.post(q, "4still here"); r.status != 200 || r.body != "ok" {
					t.Errorf("POST after = %d %q, want 200 ok", r.status, r.body)
				}
				if got := string(recv(t, e.handler(pollSID).msgs, "the message after")); got != "still here" {
					t.Errorf("message after = %q, want %q", got, "still here")
				}
			default:
				if ev := e.waitClose(pollSID); ev.reason != tc.after {
					t.Errorf("close reason = %q, want %q", ev.reason, tc.after)
				}
			}
		})
	}
}

// readRawResponse reads one HTTP response from a raw connection.
func readRawResponse(t *testing.T, e *testEnv, method, req string) (*http.Response, string) {
	t.Helper()
	c := e.rawConn()
	e.writeRaw(c, req)
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return res, string(b)
}

func TestRejected_MalformedChunkedBody(t *testing.T) {
	tests := []struct {
		name string
		body string // after the headers
	}{
		{"chunk size not hex", "zz\r\n4hello\r\n0\r\n\r\n"},
		{"chunk longer than its size", "2\r\n4hello\r\n0\r\n\r\n"},
		{"chunk size overflow", "ffffffffffffffffff\r\n4hello\r\n0\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, quietConfig())
			sid := e.openPolling()
			req := "POST /engine.io/?EIO=4&transport=polling&sid=" + sid + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + tc.body
			res, body := readRawResponse(t, e, "POST", req)
			// The reference (Node's parser) answers 400 with no body and
			// drops the connection; the session ends with a transport error.
			if res.StatusCode != 400 || body != `{"code":3,"message":"Bad request"}` {
				t.Errorf("POST = %d %q, want 400 {code 3}", res.StatusCode, body)
			}
			if !res.Close {
				t.Error("connection kept open after a malformed body")
			}
			if ev := e.waitClose(sid); ev.reason != ReasonTransportError {
				t.Errorf("close reason = %q, want %q", ev.reason, ReasonTransportError)
			}
			select {
			case m := <-e.handler(sid).msgs:
				t.Errorf("message %q reached the handler", m)
			default:
			}
		})
	}
}

func TestRejected_HugeContentLengthWithoutBody(t *testing.T) {
	cfg := quietConfig()
	cfg.MaxHTTPBufferSize = 1000
	e := newEnv(t, cfg)
	sid := e.openPolling()
	// The reference waits for the body (until the client gives up, then
	// closes the session); answered at once here, with the 413 the
	// reference gives a body over the bound, the session kept.
	req := "POST /engine.io/?EIO=4&transport=polling&sid=" + sid + " HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"
	res, body := readRawResponse(t, e, "POST", req)
	if res.StatusCode != http.StatusRequestEntityTooLarge || body != "" {
		t.Errorf("POST = %d %q, want 413", res.StatusCode, body)
	}
	if r := e.post("EIO=4&transport=polling&sid="+sid, "4still here"); r.status != 200 {
		t.Errorf("POST after = %d, want 200", r.status)
	}
}

// TestWebSocket_InvalidUTF8TextFrame1007 sends text frames that are not
// UTF-8 (gorilla's client does not check what it writes): the server
// closes with 1007 and no reason, as the ws library does, and nothing of
// the frame reaches the handler.
func TestWebSocket_InvalidUTF8TextFrame1007(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		payload string
	}{
		{"v4 bare bytes", "EIO=4&transport=websocket", "\xff\xfe"},
		{"v4 message packet", "EIO=4&transport=websocket", "4\xff\xfe"},
		{"v4 message packet, truncated rune", "EIO=4&transport=websocket", "4h\xc3"},
		{"v3 bare bytes", "EIO=3&transport=websocket", "\xff\xfe"},
		{"v3 message packet", "EIO=3&transport=websocket", "4\xff\xfe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs lockedWriter
			cfg := quietConfig()
			cfg.AllowEIO3 = true
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			e := newEnv(t, cfg)
			c := e.mustDial(tc.query)
			op, _ := parseOpen(t, readText(t, c))
			writeText(t, c, "4valid")
			if got := readText(t, c); got != "4valid" {
				t.Fatalf("echo = %q, want 4valid", got)
			}
			h := e.handler(op.SID)
			<-h.msgs
			if err := c.WriteMessage(websocket.TextMessage, []byte(tc.payload)); err != nil {
				t.Fatal(err)
			}
			err := waitClosed(t, c)
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseInvalidFramePayloadData || ce.Text != "" {
				t.Errorf("close = %v, want 1007 with no reason", err)
			}
			if ev := e.waitClose(op.SID); ev.reason != ReasonTransportError {
				t.Errorf("close reason = %q, want %q", ev.reason, ReasonTransportError)
			}
			// OnClose follows any OnMessage: a message would be here now.
			select {
			case m := <-h.msgs:
				t.Errorf("message %q reached the handler", m)
			default:
			}
			if l := logs.String(); !strings.Contains(l, "invalid UTF-8 in text frame") || !strings.Contains(l, "sid="+op.SID) {
				t.Errorf("log = %q, want the refusal with the sid", l)
			}
		})
	}
}

func TestWebSocket_InvalidUTF8BinaryFrameIsData(t *testing.T) {
	e := newEnv(t, quietConfig())
	c := e.mustDial("EIO=4&transport=websocket")
	op, _ := parseOpen(t, readText(t, c))
	if err := c.WriteMessage(websocket.BinaryMessage, []byte{0xff, 0xfe}); err != nil {
		t.Fatal(err)
	}
	if got := string(recv(t, e.handler(op.SID).msgs, "the binary message")); got != "\xff\xfe" {
		t.Errorf("message = %q, want the two bytes", got)
	}
}

func TestUpgrade_InvalidUTF8OnTheProbe1007(t *testing.T) {
	e := newEnv(t, quietConfig())
	sid := e.openPolling()
	c := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	writeText(t, c, "2probe")
	if got := readText(t, c); got != "3probe" {
		t.Fatalf("probe answer = %q", got)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("5\xff")); err != nil {
		t.Fatal(err)
	}
	err := waitClosed(t, c)
	if !websocket.IsCloseError(err, websocket.CloseInvalidFramePayloadData) {
		t.Errorf("close = %v, want 1007", err)
	}
	// As the reference, the upgrade fails and the session stays on polling.
	q := "EIO=4&transport=polling&sid=" + sid
	if r := e.post(q, "4still polling"); r.status != 200 {
		t.Fatalf("POST after the refused probe = %d", r.status)
	}
	if tr := e.session(sid).Transport(); tr != "polling" {
		t.Errorf("Transport() = %q, want polling", tr)
	}
}

// TestRejected_StalledBodyEndsWithItsSession: a POST that declares a body
// it does not send is cut short when its session closes (the reference
// destroys its data request then), not left hanging.
func TestRejected_StalledBodyEndsWithItsSession(t *testing.T) {
	e := newEnv(t, quietConfig())
	posting := make(chan string, 1)
	e.srv.hooks.posting = func(s *Session) { posting <- s.ID() }
	sid := e.openPolling()
	c := e.rawConn()
	e.writeRaw(c, "POST /engine.io/?EIO=4&transport=polling&sid="+sid+" HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n4hi")
	if got := recv(t, posting, "the POST"); got != sid {
		t.Fatalf("POST of %q, want %q", got, sid)
	}
	e.session(sid).Close(ReasonForcedClose)
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "POST"})
	if err != nil {
		t.Fatalf("POST not answered: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 || string(b) != `{"code":3,"message":"Bad request"}` || !res.Close {
		t.Errorf("POST = %d %q close=%v, want 400 {code 3} and the connection closed", res.StatusCode, b, res.Close)
	}
	if ev := e.waitClose(sid); ev.reason != ReasonForcedClose {
		t.Errorf("close reason = %q, want %q", ev.reason, ReasonForcedClose)
	}
	select {
	case m := <-e.handler(sid).msgs:
		t.Errorf("message %q reached the handler", m)
	default:
	}
}
