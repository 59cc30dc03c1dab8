package webhook_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// TestDirectAnswers: a Client on a plain http:// backend reads answers
// itself (the direct route); each kind of framing, and which answers let
// the connection carry the next delivery.
func TestDirectAnswers(t *testing.T) {
	big := strings.Repeat("v", 10000) // longer than the read buffer
	cases := []struct {
		name       string
		answer     string
		closeAfter bool
		wantAck    string
		wantConns  int32 // for 3 deliveries
	}{
		{name: "content-length", answer: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"ack\":[1]}\n", wantAck: "[1]", wantConns: 1},
		{name: "HTTP/1.0", answer: "HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\n{\"ack\":[1]}", wantAck: "[1]", wantConns: 3},
		{name: "HTTP/1.0 keep-alive", answer: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 11\r\n\r\n{\"ack\":[1]}", wantAck: "[1]", wantConns: 1},
		{name: "until EOF", answer: "HTTP/1.1 200 OK\r\n\r\n{\"ack\":[1]}", closeAfter: true, wantAck: "[1]", wantConns: 3},
		{name: "connection close", answer: "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 11\r\n\r\n{\"ack\":[1]}", wantAck: "[1]", wantConns: 3},
		{name: "chunked with trailer", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 99\r\n\r\n5\r\n{\"ack\r\n6\r\n\":[1]}\r\n0\r\nX-T: 1\r\n\r\n", wantAck: "[1]", wantConns: 1},
		{name: "early hints", answer: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ack\":[1]}", wantAck: "[1]", wantConns: 1},
		{name: "204", answer: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", wantAck: "[]", wantConns: 1},
		{name: "long and folded headers", answer: "HTTP/1.1 200 OK\r\nX-Big: " + big + "\r\nX-Folded: a\r\n b\r\ncontent-length:  11 \r\n\r\n{\"ack\":[1]}", wantAck: "[1]", wantConns: 1},
		{name: "closed while idle", answer: "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ack\":[1]}", closeAfter: true, wantAck: "[1]", wantConns: 3},
		{name: "bare LF", answer: "HTTP/1.1 200 OK\nContent-Length: 11\n\n{\"ack\":[1]}", wantAck: "[1]", wantConns: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, conns := rawServer(t, tc.answer, tc.closeAfter)
			c := newClient(t, webhook.Config{URL: u, Transport: newTransport(t, nil)})
			for i := range 3 {
				r, err := c.Deliver(t.Context(), env("event"))
				if err != nil {
					t.Fatalf("delivery %d: %v", i, err)
				}
				if got := ackString(r.Ack); !r.HasAck && tc.wantAck != "[]" || got != tc.wantAck {
					t.Fatalf("delivery %d: ack %s (has %v), want %s", i, got, r.HasAck, tc.wantAck)
				}
			}
			if n := conns.Load(); n != tc.wantConns {
				t.Fatalf("connections = %d, want %d", n, tc.wantConns)
			}
		})
	}
}

func ackString(args []json.RawMessage) string {
	b, _ := json.Marshal(args)
	if args == nil {
		return "[]"
	}
	return string(b)
}

// TestDirectBadAnswers: answers that break HTTP/1.1 fail the delivery as
// an unreachable backend (502), with what was wrong; over-long bodies are
// invalid answers.
func TestDirectBadAnswers(t *testing.T) {
	cases := []struct {
		name   string
		answer string
		is     error
		msg    string
	}{
		{name: "HTTP/2 status line", answer: "HTTP/2 200 OK\r\n\r\n", is: translate.ErrUnreachable, msg: "malformed HTTP status line"},
		{name: "short status", answer: "HTTP/1.1 20 OK\r\n\r\n", is: translate.ErrUnreachable, msg: "malformed HTTP status line"},
		{name: "no colon", answer: "HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\n{}", is: translate.ErrUnreachable, msg: "malformed header line"},
		{name: "space in name", answer: "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\n{}", is: translate.ErrUnreachable, msg: "malformed header line"},
		{name: "conflicting lengths", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", is: translate.ErrUnreachable, msg: "invalid Content-Length"},
		{name: "signed length", answer: "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n{}", is: translate.ErrUnreachable, msg: "invalid Content-Length"},
		{name: "gzip", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n{}", is: translate.ErrUnreachable, msg: "unsupported transfer encoding"},
		{name: "head too large", answer: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: "+strings.Repeat("a", 1000)+"\r\n", 1100) + "\r\n{}", is: translate.ErrUnreachable, msg: "answer head over"},
		{name: "101", answer: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", is: translate.ErrUnreachable, msg: "101"},
		{name: "cut short", answer: "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{\"ack\":", is: translate.ErrUnreachable, msg: "unexpected EOF"},
		{name: "bad chunk", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", is: translate.ErrUnreachable, msg: "chunk"},
		{name: "long by length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n" + strings.Repeat(" ", 101), is: translate.ErrInvalidAnswer, msg: "over 100 bytes"},
		{name: "long chunked", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n" + strings.Repeat(" ", 101) + "\r\n0\r\n\r\n", is: translate.ErrInvalidAnswer, msg: "over 100 bytes"},
		{name: "no answer", answer: "", is: translate.ErrUnreachable, msg: "EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, _ := rawServer(t, tc.answer, true)
			c := newClient(t, webhook.Config{URL: u, Transport: newTransport(t, nil), MaxAnswerBytes: 100, Timeout: 5 * time.Second})
			_, err := c.Deliver(t.Context(), env("event"))
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.is, tc.msg)
			}
			if s := translate.Status(err); s != 502 {
				t.Fatalf("status %d, want 502", s)
			}
		})
	}
}

// TestDirectRequest: what the backend receives, byte for byte where the
// route decides it: one write holding the request line, the headers and
// the body; credentials in the URL become basic auth.
func TestDirectRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan *http.Request, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			got <- nil
			return
		}
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		got <- req
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
	}()
	u := "http://user:p%40ss@" + ln.Addr().String() + "/hook/x?a=1&b=%20"
	c := newClient(t, webhook.Config{URL: u, Secret: secret, UserAgent: "test-agent", Transport: newTransport(t, nil),
		Propagate: func(_ context.Context, h http.Header) {
			h.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
			h.Set("Bad", "a\r\nInjected: 1")
		}})
	e := env("event")
	if _, err := c.Deliver(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	req := <-got
	if req == nil {
		t.Fatal("the backend could not parse the request")
	}
	body, _ := io.ReadAll(req.Body)
	want := map[string]string{
		"Content-Type":      "application/json",
		"User-Agent":        "test-agent",
		"Webhook-Id":        e.ID,
		"Traceparent":       "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"Authorization":     "Basic dXNlcjpwQHNz",
		"Webhook-Signature": "",
		"Bad":               "",
		"Injected":          "",
	}
	for k, v := range want {
		if g := req.Header.Get(k); (v != "" || k == "Bad" || k == "Injected") && g != v {
			t.Errorf("%s = %q, want %q", k, g, v)
		}
	}
	if !strings.HasPrefix(req.Header.Get("Webhook-Signature"), "v1,") {
		t.Errorf("Webhook-Signature = %q", req.Header.Get("Webhook-Signature"))
	}
	if req.Method != "POST" || req.RequestURI != "/hook/x?a=1&b=%20" || req.Host != ln.Addr().String() || req.ContentLength != int64(len(body)) {
		t.Errorf("request %s %s host %s length %d (body %d)", req.Method, req.RequestURI, req.Host, req.ContentLength, len(body))
	}
	if string(body) != string(e.AppendJSON(nil)) {
		t.Errorf("body %s", body)
	}
}

// TestDirectAbort: cancelling the delivery's context ends a delivery
// waiting for its answer at once, with the context's error.
func TestDirectAbort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c) }() // never answers
		}
	}()
	c := newClient(t, webhook.Config{URL: "http://" + ln.Addr().String(), Timeout: time.Minute, Transport: newTransport(t, nil)})
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.Deliver(ctx, env("event"))
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("err = %v after %v, want context.Canceled at once", err, time.Since(start))
	}
}

// TestDirectStaleConn: a connection the backend closed while it was idle
// is found out on the next delivery as soon as the request meets the
// closed socket, not at the timeout, and the delivery goes out again on
// a fresh connection.
func TestDirectStaleConn(t *testing.T) {
	u, conns := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ack\":[1]}", true)
	c := newClient(t, webhook.Config{URL: u, Timeout: 30 * time.Second, Transport: newTransport(t, nil)})
	for i := range 3 {
		time.Sleep(100 * time.Millisecond) // the backend's close has arrived
		start := time.Now()
		if _, err := c.Deliver(t.Context(), env("event")); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("delivery %d took %v", i, d)
		}
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("connections = %d, want 3", n)
	}
}
