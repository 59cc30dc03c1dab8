package translate_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// TestEventAnswers covers every kind of 2xx JSON answer to an event.
func TestEventAnswers(t *testing.T) {
	h := startHook(t, func(w http.ResponseWriter, d delivery) {
		e := d.Env
		if e.Type != "event" {
			jsonAnswer(w, 200, `{}`)
			return
		}
		switch e.Event {
		case "ack":
			jsonAnswer(w, 200, `{"ack":["pong",{"n":1}]}`)
		case "noack":
			jsonAnswer(w, 200, `{}`)
		case "empty":
			w.WriteHeader(204)
		case "emit-all":
			jsonAnswer(w, 200, `{"emit":[{"event":"news","args":[1,"two"]}]}`)
		case "emit-sender":
			jsonAnswer(w, 200, `{"emit":[{"event":"private","to":["`+e.Socket.ID+`"],"args":[{"k":"v"}]}]}`)
		case "join":
			jsonAnswer(w, 200, `{"join":["room1","room2"],"ack":[]}`)
		case "leave":
			jsonAnswer(w, 200, `{"leave":["room1"],"ack":[]}`)
		case "rooms":
			b, _ := json.Marshal(e.Socket.Rooms)
			jsonAnswer(w, 200, `{"ack":[`+string(b)+`]}`)
		case "order":
			jsonAnswer(w, 200, `{"ack":["first"],"emit":[{"event":"second","to":["`+e.Socket.ID+`"]}],"disconnect":true}`)
		default:
			jsonAnswer(w, 200, `{}`)
		}
	})
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{
		Name: "/", Backend: newClient(t, h.URL, webhook.Config{}), OnConnect: translate.OnConnectAccept,
	}}})
	a := siotest.Dial(t, sc.url, "/", nil)
	b := siotest.Dial(t, sc.url, "/", nil)

	sameJSON(t, "ack", a.WaitAck(a.EmitWithAck("ack", `1`)), `["pong",{"n":1}]`)
	sameJSON(t, "ack without ack field", a.WaitAck(a.EmitWithAck("noack", ``)), `[]`)
	sameJSON(t, "ack of an empty 204", a.WaitAck(a.EmitWithAck("empty", ``)), `[]`)

	a.Emit("emit-all", "")
	for _, c := range []*siotest.Client{a, b} {
		args, _ := c.WaitEvent("news")
		sameJSON(t, "news", args, `[1,"two"]`)
	}

	b.Emit("emit-sender", "")
	args, _ := b.WaitEvent("private")
	sameJSON(t, "private", args, `[{"k":"v"}]`)

	a.WaitAck(a.EmitWithAck("join", ""))
	got := a.WaitAck(a.EmitWithAck("rooms", ""))
	sameJSON(t, "rooms after join", got, "["+sortedRooms(a.SID, "room1", "room2")+"]")
	a.WaitAck(a.EmitWithAck("leave", ""))
	got = a.WaitAck(a.EmitWithAck("rooms", ""))
	sameJSON(t, "rooms after leave", got, "["+sortedRooms(a.SID, "room2")+"]")

	// ack, then emit, then disconnect: in that order on the wire.
	id := a.EmitWithAck("order", "")
	var seen []string
	for len(seen) < 3 {
		p := a.Next()
		switch {
		case p.Type == '3' && p.ID == id:
			seen = append(seen, "ack")
		case p.Type == '2' && strings.Contains(p.Data, `"second"`):
			seen = append(seen, "emit")
		case p.Type == '1':
			seen = append(seen, "disconnect")
		}
	}
	if want := []string{"ack", "emit", "disconnect"}; !slices.Equal(seen, want) {
		t.Fatalf("answer applied in order %v, want %v", seen, want)
	}
	d := h.next(t, "disconnect")
	if d.Env.Reason != "server namespace disconnect" || d.Env.Socket.ID != a.SID {
		t.Fatalf("disconnect delivery = %+v, want reason server namespace disconnect for %s", d.Env, a.SID)
	}
}

func sortedRooms(rooms ...string) string {
	slices.Sort(rooms)
	b, _ := json.Marshal(rooms)
	return string(b)
}

// TestEnvelope checks what the backend receives for an event: every field,
// args byte for byte, the handshake, and the webhook headers.
func TestEnvelope(t *testing.T) {
	h := startHook(t, func(w http.ResponseWriter, d delivery) { jsonAnswer(w, 200, `{}`) })
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{
		Name: "/chat", OnConnect: "accept",
		Backend: newClient(t, h.URL, webhook.Config{Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
	}}})
	c := siotest.Dial(t, sc.url, "/chat", &siotest.Options{Auth: `{"token":"abc"}`})
	c.EmitWithAck("message", `{"b":1, "a":[true,null]},  "x"`)
	d := h.next(t, "event")
	e := d.Env
	if e.Namespace != "/chat" || e.Event != "message" || e.Ack == nil || !*e.Ack || e.Socket.ID != c.SID {
		t.Fatalf("envelope = %s", d.Body)
	}
	if len(e.Args) != 2 || string(e.Args[0]) != `{"b":1, "a":[true,null]}` || string(e.Args[1]) != `"x"` {
		t.Fatalf("args = %q, want the client's bytes", e.Args)
	}
	if !slices.Contains(e.Socket.Rooms, c.SID) {
		t.Fatalf("rooms %v lack the socket's own room", e.Socket.Rooms)
	}
	if _, err := time.Parse(time.RFC3339, e.Time); err != nil {
		t.Fatalf("time %q: %v", e.Time, err)
	}
	sameJSON(t, "auth", string(e.Socket.Handshake.Auth), `{"token":"abc"}`)
	sameJSON(t, "data", string(e.Socket.Data), `{}`)
	if e.Socket.Handshake.Query["EIO"] != "4" || e.Socket.Handshake.Query["transport"] != "websocket" {
		t.Fatalf("query = %v", e.Socket.Handshake.Query)
	}
	if e.Socket.Handshake.Headers["upgrade"] != "websocket" || e.Socket.Handshake.Address != "127.0.0.1" {
		t.Fatalf("handshake = %+v", e.Socket.Handshake)
	}
	if d.Header.Get("Webhook-Id") != e.ID || d.Header.Get("Webhook-Timestamp") == "" ||
		!strings.HasPrefix(d.Header.Get("Webhook-Signature"), "v1,") {
		t.Fatalf("headers = %v", d.Header)
	}
	c.Emit("note", "")
	e = h.next(t, "event").Env
	if e.Ack == nil || *e.Ack || e.Args == nil || len(e.Args) != 0 {
		t.Fatalf("event without ack or args: ack=%v args=%q", e.Ack, e.Args)
	}
}

// TestBinary checks attachments ⇄ {"_binary":…} both ways.
func TestBinary(t *testing.T) {
	h := startHook(t, func(w http.ResponseWriter, d delivery) {
		if d.Env.Type != "event" {
			jsonAnswer(w, 200, `{}`)
			return
		}
		// Echo the args: the _binary objects go back as attachments.
		b, _ := json.Marshal(d.Env.Args)
		jsonAnswer(w, 200, `{"ack":`+string(b)+`}`)
	})
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{
		Name: "/", OnConnect: "accept", Backend: newClient(t, h.URL, webhook.Config{}),
	}}})
	c := siotest.Dial(t, sc.url, "/", nil)
	c.Send(`451-1["upload",{"name":"f","file":{"_placeholder":true,"num":0}}]`)
	c.SendBinary([]byte{0, 1, 2, 255})
	e := h.next(t, "event").Env
	want := `{"name":"f","file":{"_binary":"` + base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255}) + `"}}`
	if len(e.Args) != 1 || string(e.Args[0]) != want {
		t.Fatalf("args = %q, want [%s]", e.Args, want)
	}
	for {
		p := c.Next()
		if p.Type != '3' || p.ID != 1 {
			continue
		}
		sameJSON(t, "binary ack", p.Data, `[{"name":"f","file":{"_placeholder":true,"num":0}}]`)
		if len(p.Attachments) != 1 || string(p.Attachments[0]) != "\x00\x01\x02\xff" {
			t.Fatalf("attachments = %q", p.Attachments)
		}
		break
	}
}

// TestFailures covers every failure kind, with and without a client ack.
func TestFailures(t *testing.T) {
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + refused.Addr().String() + "/hook"
	refused.Close()

	cases := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		url     string
		status  int
		message string
	}{
		{name: "timeout", handler: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			status: 504, message: "backend timed out"},
		{name: "refused", url: refusedURL, status: 502, message: "backend unreachable"},
		{name: "500 with message", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 500, `{"message":"database down"}`)
		}, status: 500, message: "database down"},
		{name: "422 plain", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(422)
		}, status: 422, message: "backend answered 422 Unprocessable Entity"},
		{name: "redirect not followed", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, status: 302, message: "backend answered 302 Found"},
		{name: "invalid JSON", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 200, `{"ack":[1,`)
		}, status: 502, message: "invalid backend answer"},
		{name: "non-array ack", handler: func(w http.ResponseWriter, r *http.Request) {
			jsonAnswer(w, 200, `{"ack":"yes"}`)
		}, status: 502, message: "invalid backend answer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := tc.url
			if tc.handler != nil {
				srv := startPlain(t, tc.handler)
				url = srv
			}
			sc := startSidecar(t, translate.Config{Routes: []translate.Route{{
				Name: "/", OnConnect: "accept", ErrorEvent: "oops",
				Backend: newClient(t, url, webhook.Config{Timeout: 300 * time.Millisecond, Attempts: 1}),
			}}})
			c := siotest.Dial(t, sc.url, "/", nil)
			got := c.WaitAck(c.EmitWithAck("work", `1`))
			sameJSON(t, "ack error", got, fmt.Sprintf(`[{"error":{"status":%d,"message":%q}}]`, tc.status, tc.message))

			c.Emit("work", `2`)
			args, _ := c.WaitEvent("oops")
			var ev []struct {
				Message   string `json:"message"`
				Event     string `json:"event"`
				RequestID string `json:"requestId"`
			}
			if err := json.Unmarshal([]byte(args), &ev); err != nil || len(ev) != 1 {
				t.Fatalf("error event args %s", args)
			}
			if ev[0].Message != tc.message || ev[0].Event != "work" || !strings.HasPrefix(ev[0].RequestID, "msg_") {
				t.Fatalf("error event = %+v, want message %q for event work with a requestId", ev[0], tc.message)
			}
		})
	}
}

func startPlain(t *testing.T, handler func(w http.ResponseWriter, r *http.Request)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does the server notice a client
		// that gives up (r.Context ends).
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestNotForwarded checks the events filter.
func TestNotForwarded(t *testing.T) {
	h := startHook(t, func(w http.ResponseWriter, d delivery) { jsonAnswer(w, 200, `{"ack":["ok"]}`) })
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{
		Name: "/", OnConnect: "accept", Events: []string{"chat", "file.*"},
		Backend: newClient(t, h.URL, webhook.Config{}),
	}}})
	c := siotest.Dial(t, sc.url, "/", nil)
	sameJSON(t, "exact", c.WaitAck(c.EmitWithAck("chat", "")), `["ok"]`)
	sameJSON(t, "prefix", c.WaitAck(c.EmitWithAck("file.progress", "")), `["ok"]`)
	sameJSON(t, "other", c.WaitAck(c.EmitWithAck("admin", "")), `[{"error":{"status":404,"message":"event not forwarded"}}]`)
	c.Emit("admin", "")
	args, _ := c.WaitEvent("error")
	if !strings.Contains(args, `"event":"admin"`) || !strings.Contains(args, `"message":"event not forwarded"`) {
		t.Fatalf("error event %s", args)
	}
}

// TestConnect covers on_connect = "webhook": accept with rooms, data and
// emits; reject with message and data; backend unavailable.
func TestConnect(t *testing.T) {
	h := startHook(t, func(w http.ResponseWriter, d delivery) {
		e := d.Env
		switch {
		case e.Type == "connect" && strings.Contains(string(e.Socket.Handshake.Auth), "deny"):
			jsonAnswer(w, 403, `{"message":"not allowed","data":{"code":"E_AUTH","retry":false}}`)
		case e.Type == "connect" && strings.Contains(string(e.Socket.Handshake.Auth), "broken"):
			jsonAnswer(w, 503, `{"message":"maintenance"}`)
		case e.Type == "connect":
			jsonAnswer(w, 200, `{"rooms":["user:42"],"data":{"user":42},"emit":[{"event":"welcome","to":["user:42"],"args":["hi"]}]}`)
		case e.Type == "event":
			b, _ := json.Marshal(e.Socket)
			jsonAnswer(w, 200, `{"ack":[`+string(b)+`]}`)
		default:
			jsonAnswer(w, 200, `{}`)
		}
	})
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{
		Name: "/", OnConnect: "webhook", Backend: newClient(t, h.URL, webhook.Config{}),
	}}})

	c := siotest.Dial(t, sc.url, "/", &siotest.Options{Auth: `{"user":"ok"}`})
	d := h.next(t, "connect")
	if d.Env.Recovered == nil || *d.Env.Recovered || d.Env.Socket.ID != c.SID || d.Env.Ack == nil || *d.Env.Ack {
		t.Fatalf("connect envelope %s", d.Body)
	}
	// The emit to the answer's room reaches the client: it was in the room
	// when the emit went out, after the CONNECT acknowledgement.
	args, _ := c.WaitEvent("welcome")
	sameJSON(t, "welcome", args, `["hi"]`)
	var sock socketJSON
	ack := c.WaitAck(c.EmitWithAck("whoami", ""))
	var arr []socketJSON
	if err := json.Unmarshal([]byte(ack), &arr); err != nil || len(arr) != 1 {
		t.Fatalf("whoami ack %s", ack)
	}
	sock = arr[0]
	if !slices.Contains(sock.Rooms, "user:42") {
		t.Fatalf("rooms %v lack user:42", sock.Rooms)
	}
	sameJSON(t, "data", string(sock.Data), `{"user":42}`)

	_, cerr := siotest.DialRaw(t, sc.url, "/", &siotest.Options{Auth: `{"user":"deny"}`})
	sameJSON(t, "connect_error", cerr, `{"message":"not allowed","data":{"code":"E_AUTH","retry":false}}`)
	_, cerr = siotest.DialRaw(t, sc.url, "/", &siotest.Options{Auth: `{"user":"broken"}`})
	sameJSON(t, "connect_error", cerr, `{"message":"backend unavailable","data":{"status":503}}`)
}

// TestConnectTimeout: a backend that does not answer in time is
// unavailable.
func TestConnectTimeout(t *testing.T) {
	url := startPlain(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{
		Name: "/", Backend: newClient(t, url, webhook.Config{Timeout: 200 * time.Millisecond}),
	}}})
	_, cerr := siotest.DialRaw(t, sc.url, "/", nil)
	sameJSON(t, "connect_error", cerr, `{"message":"backend unavailable","data":{"status":504}}`)
}

// TestPerSocketOrder: one socket's events reach the backend one at a
// time, in order, while another socket proceeds in parallel.
func TestPerSocketOrder(t *testing.T) {
	const n = 40
	var mu sync.Mutex
	inflight := map[string]int{}
	maxInflight := map[string]int{}
	order := map[string][]int{}
	gate := make(chan struct{})
	var gateOnce sync.Once
	h := startHook(t, func(w http.ResponseWriter, d delivery) {
		e := d.Env
		if e.Type != "event" {
			jsonAnswer(w, 200, `{}`)
			return
		}
		sid := e.Socket.ID
		mu.Lock()
		inflight[sid]++
		maxInflight[sid] = max(maxInflight[sid], inflight[sid])
		var k int
		_ = json.Unmarshal(e.Args[0], &k)
		order[sid] = append(order[sid], k)
		mu.Unlock()
		switch e.Event {
		case "hold":
			// The first event of socket a waits until socket b got
			// through: b is not queued behind a.
			select {
			case <-gate:
			case <-time.After(waitTimeout):
			}
		case "free":
			gateOnce.Do(func() { close(gate) })
		}
		mu.Lock()
		inflight[sid]--
		mu.Unlock()
		jsonAnswer(w, 200, `{"ack":[`+string(e.Args[0])+`]}`)
	})
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{
		Name: "/", OnConnect: "accept", Backend: newClient(t, h.URL, webhook.Config{}),
	}}})
	a := siotest.Dial(t, sc.url, "/", nil)
	b := siotest.Dial(t, sc.url, "/", nil)
	first := a.EmitWithAck("hold", "0")
	ids := []int{first}
	for i := 1; i < n; i++ {
		ids = append(ids, a.EmitWithAck("seq", fmt.Sprint(i)))
	}
	sameJSON(t, "b's ack", b.WaitAck(b.EmitWithAck("free", "0")), `[0]`)
	for i, id := range ids {
		sameJSON(t, "ack", a.WaitAck(id), fmt.Sprintf("[%d]", i))
	}
	mu.Lock()
	defer mu.Unlock()
	if maxInflight[a.SID] != 1 {
		t.Fatalf("socket a had %d deliveries in flight at once, want 1", maxInflight[a.SID])
	}
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(order[a.SID], want) {
		t.Fatalf("backend saw socket a's events in order %v", order[a.SID])
	}
}

// TestBounds: a full socket queue and the global in-flight bound fail at
// once with their status.
func TestBounds(t *testing.T) {
	h, started, release := blockingHook(t)
	sc := startSidecar(t, translate.Config{MaxQueue: 1, MaxInFlight: 1, Routes: []translate.Route{{
		Name: "/", OnConnect: "accept", Backend: newClient(t, h.URL, webhook.Config{}),
	}}})
	a := siotest.Dial(t, sc.url, "/", nil)
	b := siotest.Dial(t, sc.url, "/", nil)
	first := a.EmitWithAck("block", "")
	started()
	queued := a.EmitWithAck("next", "")
	sameJSON(t, "over the socket's queue", a.WaitAck(a.EmitWithAck("more", "")),
		`[{"error":{"status":429,"message":"too many events queued for this socket"}}]`)
	sameJSON(t, "over the in-flight bound", b.WaitAck(b.EmitWithAck("other", "")),
		`[{"error":{"status":503,"message":"too many deliveries in flight"}}]`)
	release()
	sameJSON(t, "first", a.WaitAck(first), `["done"]`)
	sameJSON(t, "queued", a.WaitAck(queued), `["done"]`)
	// Slots come back (a's, just after its last ack went out): b
	// proceeds now.
	waitFor(t, func() bool { return sc.tr.InFlight() == 0 })
	sameJSON(t, "b later", b.WaitAck(b.EmitWithAck("other", "")), `["done"]`)
}

// TestQueueBytesBound: a socket's waiting events are bounded in bytes too;
// one event always fits an empty queue, whatever its size.
func TestQueueBytesBound(t *testing.T) {
	h, started, release := blockingHook(t)
	sc := startSidecar(t, translate.Config{MaxQueueBytes: 10, Routes: []translate.Route{{
		Name: "/", OnConnect: "accept", Backend: newClient(t, h.URL, webhook.Config{}),
	}}})
	a := siotest.Dial(t, sc.url, "/", nil)
	first := a.EmitWithAck("block", "")
	started()
	big := a.EmitWithAck("big", `"`+strings.Repeat("x", 30)+`"`) // 32 bytes: alone in the queue, it fits
	sameJSON(t, "over the queue's bytes", a.WaitAck(a.EmitWithAck("small", `"xy"`)),
		`[{"error":{"status":429,"message":"too many events queued for this socket"}}]`)
	release()
	sameJSON(t, "first", a.WaitAck(first), `["done"]`)
	sameJSON(t, "big", a.WaitAck(big), `["done"]`)
	// The queue is empty again: small events fit.
	sameJSON(t, "small later", a.WaitAck(a.EmitWithAck("small", `"xy"`)), `["done"]`)
}

// TestDisconnectRetried: the disconnect delivery is retried with the same
// webhook-id, honoring Retry-After, until the backend takes it.
func TestDisconnectRetried(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	done := make(chan struct{})
	url := startPlain(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var e envelope
		_ = json.Unmarshal(body, &e)
		if e.Type != "disconnect" {
			jsonAnswer(w, 200, `{}`)
			return
		}
		mu.Lock()
		ids = append(ids, r.Header.Get("Webhook-Id")+"|"+e.ID+"|"+e.Reason)
		n := len(ids)
		mu.Unlock()
		if n < 3 {
			w.Header().Set("Retry-After", "0")
			jsonAnswer(w, 503, `{"message":"busy"}`)
			return
		}
		jsonAnswer(w, 200, `{}`)
		close(done)
	})
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{
		Name: "/", OnConnect: "accept",
		Backend: newClient(t, url, webhook.Config{Backoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}),
	}}})
	c := siotest.Dial(t, sc.url, "/", nil)
	c.Close()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("disconnect delivery never succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 3 || ids[0] != ids[1] || ids[1] != ids[2] || !strings.HasSuffix(ids[0], "|transport close") {
		t.Fatalf("attempts = %q, want 3 with one webhook-id = envelope id and reason transport close", ids)
	}
	parts := strings.Split(ids[0], "|")
	if parts[0] != parts[1] {
		t.Fatalf("webhook-id %q != envelope id %q", parts[0], parts[1])
	}
}
