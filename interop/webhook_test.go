package interop

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// whSecret is the signing secret of these tests (the Standard Webhooks
// spec's example).
const whSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// whRequest is one webhook request as the backend received it.
type whRequest struct {
	header http.Header
	body   []byte
	env    struct {
		Type      string            `json:"type"`
		ID        string            `json:"id"`
		Namespace string            `json:"namespace"`
		Event     string            `json:"event"`
		Args      []json.RawMessage `json:"args"`
		Ack       bool              `json:"ack"`
		Reason    string            `json:"reason"`
		Recovered *bool             `json:"recovered"`
		Socket    struct {
			ID    string          `json:"id"`
			Rooms []string        `json:"rooms"`
			Data  json.RawMessage `json:"data"`
		} `json:"socket"`
	}
}

// whBackend is a real HTTP backend: answer decides each reply; every
// request is recorded.
type whBackend struct {
	url string
	mu  sync.Mutex
	all []*whRequest
	got chan *whRequest
}

func startWebhookBackend(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, req *whRequest)) *whBackend {
	t.Helper()
	b := &whBackend{got: make(chan *whRequest, 4096)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		req := &whRequest{header: r.Header.Clone(), body: body}
		if err := json.Unmarshal(body, &req.env); err != nil {
			t.Errorf("backend got a body that is not an envelope: %q", body)
			w.WriteHeader(400)
			return
		}
		b.mu.Lock()
		b.all = append(b.all, req)
		b.mu.Unlock()
		b.got <- req
		answer(w, r, req)
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// next waits for the next request matching typ and event ("" = any).
func (b *whBackend) next(t *testing.T, typ, ev string) *whRequest {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		select {
		case r := <-b.got:
			if r.env.Type == typ && (ev == "" || r.env.Event == ev) {
				return r
			}
		case <-deadline.C:
			t.Fatalf("backend: no %s %q delivery within %v", typ, ev, waitTimeout)
		}
	}
}

func answerJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// startWebhookSidecar runs iobridge's Socket.IO server with the translator
// on 127.0.0.1, every namespace in routes going to its webhook.
func startWebhookSidecar(t *testing.T, routes ...translate.Route) string {
	t.Helper()
	return startWebhookSidecarParser(t, nil, routes...)
}

// startWebhookSidecarParser is startWebhookSidecar with the Socket.IO
// wire format parser (nil: the default).
func startWebhookSidecarParser(t *testing.T, parser socketio.Parser, routes ...translate.Route) string {
	t.Helper()
	return startTranslated(t, socketio.Config{Adapter: adapter.New, Parser: parser}, routes...)
}

func whClient(t *testing.T, url string, cfg webhook.Config) *webhook.Client {
	t.Helper()
	cfg.URL = url
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := webhook.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// verifier drives webhook-verify.js.
type verifier struct {
	*node
	n int
}

func startVerifier(t *testing.T) *verifier {
	t.Helper()
	n := startNode(t, "webhook-verify", "webhook-verify.js")
	n.log.wait(t, "ready", is("ready"))
	return &verifier{node: n}
}

// check verifies body with headers; it returns "" when the library accepts
// them, or its rejection message.
func (v *verifier) check(t *testing.T, body []byte, h http.Header) string {
	t.Helper()
	v.n++
	req := fmt.Sprintf("v%d", v.n)
	headers := map[string]string{}
	for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if val := h.Get(k); val != "" {
			headers[k] = val
		}
	}
	v.send(map[string]any{"req": req, "secret": whSecret, "body": string(body), "headers": headers})
	e := v.log.wait(t, "verdict "+req, func(e event) bool { return e.Req == req && (e.Type == "verified" || e.Type == "rejected") })
	if e.Type == "verified" {
		return ""
	}
	return *e.Message
}

// TestWebhookSignatures: every delivery kind verifies with the
// standardwebhooks package; a tampered body, a stale timestamp and a
// missing header are rejected by it.
func TestWebhookSignatures(t *testing.T) {
	t.Parallel()
	be := startWebhookBackend(t, func(w http.ResponseWriter, r *http.Request, req *whRequest) {
		answerJSON(w, 200, `{"ack":["ok"]}`)
	})
	url := startWebhookSidecar(t, translate.Route{Name: "/chat", OnConnect: translate.OnConnectWebhook,
		Backend: whClient(t, be.url, webhook.Config{Secret: whSecret})})
	v := startVerifier(t)
	c := startClient(t)
	c.connect("a", url, connectOpts{NSP: "/chat", Auth: map[string]any{"token": "t"}})
	c.wait("connect", "a")
	sameJSON(t, "ack", c.call("a", "message", "héllo", map[string]any{"n": 1}), []any{"ok"})
	c.do("disconnect", "a")

	for _, typ := range []string{"connect", "event", "disconnect"} {
		r := be.next(t, typ, "")
		if r.header.Get("webhook-id") != r.env.ID {
			t.Fatalf("%s: webhook-id %q != envelope id %q", typ, r.header.Get("webhook-id"), r.env.ID)
		}
		if msg := v.check(t, r.body, r.header); msg != "" {
			t.Fatalf("%s delivery rejected by standardwebhooks: %s", typ, msg)
		}
		tampered := slices.Clone(r.body)
		tampered[len(tampered)-2] ^= 1
		if msg := v.check(t, tampered, r.header); !strings.Contains(msg, "No matching signature") {
			t.Fatalf("%s: tampered body: %q, want a signature mismatch", typ, msg)
		}
		stale := r.header.Clone()
		ts, _ := strconv.ParseInt(stale.Get("webhook-timestamp"), 10, 64)
		stale.Set("webhook-timestamp", strconv.FormatInt(ts-3600, 10))
		if msg := v.check(t, r.body, stale); !strings.Contains(msg, "too old") {
			t.Fatalf("%s: stale timestamp: %q, want too old", typ, msg)
		}
		missing := r.header.Clone()
		missing.Del("webhook-signature")
		if msg := v.check(t, r.body, missing); !strings.Contains(msg, "Missing required headers") {
			t.Fatalf("%s: missing header: %q, want missing headers", typ, msg)
		}
	}
}

// TestWebhookAnswers: each kind of answer, seen by the real client.
func TestWebhookAnswers(t *testing.T) {
	t.Parallel()
	be := startWebhookBackend(t, func(w http.ResponseWriter, r *http.Request, req *whRequest) {
		e := req.env
		if e.Type == "connect" {
			answerJSON(w, 200, `{"rooms":["user:7"],"data":{"user":7},"emit":[{"event":"welcome","to":["user:7"],"args":["hello user 7"]}]}`)
			return
		}
		if e.Type != "event" {
			answerJSON(w, 200, `{}`)
			return
		}
		switch e.Event {
		case "echo":
			b, _ := json.Marshal(e.Args)
			answerJSON(w, 200, `{"ack":`+string(b)+`}`)
		case "shout":
			answerJSON(w, 200, `{"emit":[{"event":"shouted","to":["room:x"],"except":["`+e.Socket.ID+`"],"args":`+string(mustMarshal(e.Args))+`}],"ack":[]}`)
		case "join":
			answerJSON(w, 200, `{"join":["room:x"],"ack":["joined"]}`)
		case "leave":
			answerJSON(w, 200, `{"leave":["room:x"],"ack":["left"]}`)
		case "whoami":
			answerJSON(w, 200, `{"ack":[{"rooms":`+string(mustMarshal(e.Socket.Rooms))+`,"data":`+string(e.Socket.Data)+`}]}`)
		case "bye":
			answerJSON(w, 200, `{"ack":["bye"],"disconnect":true}`)
		default:
			answerJSON(w, 200, `{}`)
		}
	})
	url := startWebhookSidecar(t, translate.Route{Name: "/", OnConnect: translate.OnConnectWebhook,
		Backend: whClient(t, be.url, webhook.Config{Secret: whSecret})})
	c := startClient(t)
	c.connect("a", url, connectOpts{})
	c.connect("b", url, connectOpts{Transports: []string{"websocket"}})
	c.wait("connect", "a")
	c.wait("connect", "b")
	// The connect answer's emit to the answer's room, after CONNECT.
	sameJSON(t, "welcome", c.waitEvent("a", "welcome").Args, []any{"hello user 7"})
	who := c.call("a", "whoami")
	var w []struct {
		Rooms []string        `json:"rooms"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(who, &w); err != nil || !slices.Contains(w[0].Rooms, "user:7") {
		t.Fatalf("whoami = %s, want the connect answer's room", who)
	}
	sameJSON(t, "data", w[0].Data, map[string]any{"user": 7})

	// Args byte for byte, binary both ways.
	bin := binary{B: []byte{1, 2, 3, 250}}
	got := c.call("a", "echo", "text", map[string]any{"file": bin, "n": 1.5})
	sameJSON(t, "echo", got, []any{"text", map[string]any{"file": bin, "n": 1.5}})
	e := be.next(t, "event", "echo")
	if string(e.env.Args[1]) != `{"file":{"_binary":"`+base64.StdEncoding.EncodeToString(bin.B)+`"},"n":1.5}` {
		t.Fatalf("backend args[1] = %s", e.env.Args[1])
	}

	sameJSON(t, "join a", c.call("a", "join"), []any{"joined"})
	sameJSON(t, "join b", c.call("b", "join"), []any{"joined"})
	c.emit("a", "shout", "hey")
	sameJSON(t, "shouted", c.waitEvent("b", "shouted").Args, []any{"hey"})
	sameJSON(t, "leave", c.call("b", "leave"), []any{"left"})
	c.emit("a", "shout", "again")
	c.call("a", "whoami") // a's answers apply in order: the shout went out before this ack
	c.call("b", "whoami") // anything sent to b before it is in its log by now
	if c.log.seen(func(e event) bool { return e.Type == "event" && e.Event == "shouted" && e.Socket == "a" }) {
		t.Fatal("the sender got its own shout (except)")
	}
	if c.log.seen(func(e event) bool {
		return e.Type == "event" && e.Event == "shouted" && strings.Contains(string(e.Args), "again")
	}) {
		t.Fatal("b got a shout to a room it left")
	}
	sameJSON(t, "bye", c.call("b", "bye"), []any{"bye"})
	if d := c.wait("disconnect", "b"); d.Reason != "io server disconnect" {
		t.Fatalf("disconnect reason %q", d.Reason)
	}
	if r := be.next(t, "disconnect", ""); r.env.Reason != "server namespace disconnect" {
		t.Fatalf("disconnect delivery reason %q", r.env.Reason)
	}
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestWebhookSSE: a streamed answer reaches the client token by token, in
// order, and its "ack" message answers the ack; an event's error goes to
// the error event.
func TestWebhookSSE(t *testing.T) {
	t.Parallel()
	tokens := strings.Fields("The quick brown fox jumps over the lazy dog")
	be := startWebhookBackend(t, func(w http.ResponseWriter, r *http.Request, req *whRequest) {
		if req.env.Type != "event" {
			answerJSON(w, 200, `{}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		f := w.(http.Flusher)
		for i, tok := range tokens {
			fmt.Fprintf(w, "event: token\ndata: {\"i\":%d,\"text\":%q}\n\n", i, tok)
			f.Flush()
		}
		fmt.Fprintf(w, "event: ack\ndata: [%q]\n\n", strings.Join(tokens, " "))
		f.Flush()
	})
	url := startWebhookSidecar(t, translate.Route{Name: "/", OnConnect: translate.OnConnectAccept,
		Backend: whClient(t, be.url, webhook.Config{})})
	c := startClient(t)
	c.connect("a", url, connectOpts{})
	c.wait("connect", "a")
	req := c.emitAck("a", 0, "ask", "a question")
	for i, tok := range tokens {
		e := c.waitEvent("a", "token")
		sameJSON(t, "token", e.Args, []any{map[string]any{"i": i, "text": tok}})
	}
	ack := c.log.wait(t, "ack", func(e event) bool { return e.Type == "ack" && e.Req == req })
	sameJSON(t, "ack", ack.Args, []any{strings.Join(tokens, " ")})
	// Every token came before the ack.
	var order []string
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	for _, e := range c.log.events {
		if e.Type == "event" && e.Event == "token" || e.Type == "ack" {
			order = append(order, e.Type)
		}
	}
	if len(order) != len(tokens)+1 || order[len(order)-1] != "ack" {
		t.Fatalf("order %v, want every token then the ack", order)
	}
}

// TestWebhookFailures: timeout, refused, non-2xx and invalid JSON reach
// the client's ack as {"error":{"status","message"}}, or the error event
// as {message, event, requestId} without an ack.
func TestWebhookFailures(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	be := startWebhookBackend(t, func(w http.ResponseWriter, r *http.Request, req *whRequest) {
		switch req.env.Namespace {
		case "/timeout":
			if req.env.Type == "event" {
				<-r.Context().Done()
				return
			}
			answerJSON(w, 200, `{}`)
		case "/status":
			answerJSON(w, 500, `{"message":"database down"}`)
		case "/invalid":
			answerJSON(w, 200, `{"ack": nope}`)
		}
	})
	cfg := webhook.Config{Timeout: 500 * time.Millisecond, Attempts: 1}
	url := startWebhookSidecar(t,
		translate.Route{Name: "/timeout", OnConnect: "accept", Backend: whClient(t, be.url, cfg)},
		translate.Route{Name: "/refused", OnConnect: "accept", Backend: whClient(t, refused, cfg)},
		translate.Route{Name: "/status", OnConnect: "accept", Backend: whClient(t, be.url, cfg), ErrorEvent: "failed"},
		translate.Route{Name: "/invalid", OnConnect: "accept", Backend: whClient(t, be.url, cfg)},
		translate.Route{Name: "/filtered", OnConnect: "accept", Backend: whClient(t, be.url, cfg), Events: []string{"chat"}},
	)
	cases := []struct {
		nsp, errorEvent string
		status          int
		message         string
	}{
		{"/timeout", "error", 504, "backend timed out"},
		{"/refused", "error", 502, "backend unreachable"},
		{"/status", "failed", 500, "database down"},
		{"/invalid", "error", 502, "invalid backend answer"},
		{"/filtered", "error", 404, "event not forwarded"},
	}
	c := startClient(t)
	for _, tc := range cases {
		c.connect(tc.nsp, url, connectOpts{NSP: tc.nsp, Manager: "m"})
		c.wait("connect", tc.nsp)
	}
	for _, tc := range cases {
		got := c.call(tc.nsp, "work", 1)
		sameJSON(t, tc.nsp+" ack", got, []any{map[string]any{"error": map[string]any{"status": tc.status, "message": tc.message}}})
		c.emit(tc.nsp, "work", 2)
		e := c.waitEvent(tc.nsp, tc.errorEvent)
		var args []struct {
			Message   string `json:"message"`
			Event     string `json:"event"`
			RequestID string `json:"requestId"`
		}
		if err := json.Unmarshal(e.Args, &args); err != nil || len(args) != 1 || args[0].Message != tc.message || args[0].Event != "work" || args[0].RequestID == "" {
			t.Fatalf("%s: error event %s", tc.nsp, e.Args)
		}
	}
}

// TestWebhookConnectRejection: a 4xx answer's message and data reach
// connect_error; a 5xx is "backend unavailable".
func TestWebhookConnectRejection(t *testing.T) {
	t.Parallel()
	be := startWebhookBackend(t, func(w http.ResponseWriter, r *http.Request, req *whRequest) {
		switch req.env.Namespace {
		case "/private":
			answerJSON(w, 401, `{"message":"invalid token","data":{"code":4001,"hint":"log in again"}}`)
		default:
			answerJSON(w, 503, `{"message":"overloaded"}`)
		}
	})
	url := startWebhookSidecar(t,
		translate.Route{Name: "/private", Backend: whClient(t, be.url, webhook.Config{})},
		translate.Route{Name: "/down", Backend: whClient(t, be.url, webhook.Config{})},
	)
	c := startClient(t)
	c.connect("p", url, connectOpts{NSP: "/private", Auth: map[string]any{"token": "bad"}})
	e := c.wait("connect_error", "p")
	if e.Message == nil || *e.Message != "invalid token" {
		t.Fatalf("connect_error = %s", e)
	}
	sameJSON(t, "connect_error data", e.Data, map[string]any{"code": 4001, "hint": "log in again"})
	c.connect("d", url, connectOpts{NSP: "/down"})
	e = c.wait("connect_error", "d")
	if e.Message == nil || *e.Message != "backend unavailable" {
		t.Fatalf("connect_error = %s", e)
	}
	sameJSON(t, "connect_error data", e.Data, map[string]any{"status": 503})
}

// TestWebhookOrder: many events of one socket reach the backend one at a
// time, in order, while another socket proceeds.
func TestWebhookOrder(t *testing.T) {
	t.Parallel()
	const n = 50
	var mu sync.Mutex
	seq := map[string][]float64{}
	busy := map[string]bool{}
	overlap := false
	release := make(chan struct{})
	be := startWebhookBackend(t, func(w http.ResponseWriter, r *http.Request, req *whRequest) {
		e := req.env
		if e.Type != "event" {
			answerJSON(w, 200, `{}`)
			return
		}
		mu.Lock()
		if busy[e.Socket.ID] {
			overlap = true
		}
		busy[e.Socket.ID] = true
		var k float64
		_ = json.Unmarshal(e.Args[0], &k)
		seq[e.Event] = append(seq[e.Event], k)
		mu.Unlock()
		if e.Event == "a" && k == 0 {
			// a's first event waits for b: b is not behind a.
			select {
			case <-release:
			case <-time.After(waitTimeout):
			}
		}
		if e.Event == "b" {
			select {
			case <-release:
			default:
				close(release)
			}
		}
		mu.Lock()
		busy[e.Socket.ID] = false
		mu.Unlock()
		answerJSON(w, 200, `{"ack":[`+string(e.Args[0])+`]}`)
	})
	url := startWebhookSidecar(t, translate.Route{Name: "/", OnConnect: "accept", Backend: whClient(t, be.url, webhook.Config{})})
	c := startClient(t)
	c.connect("a", url, connectOpts{Transports: []string{"websocket"}})
	c.connect("b", url, connectOpts{Transports: []string{"websocket"}})
	c.wait("connect", "a")
	c.wait("connect", "b")
	var reqs []string
	for i := range n {
		reqs = append(reqs, c.emitAck("a", 0, "a", i))
	}
	sameJSON(t, "b", c.call("b", "b", 0), []any{0})
	for i, req := range reqs {
		ack := c.log.wait(t, "ack", func(e event) bool { return e.Type == "ack" && e.Req == req })
		sameJSON(t, "a's ack", ack.Args, []any{i})
	}
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Fatal("a socket had two deliveries in flight at once")
	}
	for i, k := range seq["a"] {
		if int(k) != i {
			t.Fatalf("backend saw a's events in order %v", seq["a"])
		}
	}
}
