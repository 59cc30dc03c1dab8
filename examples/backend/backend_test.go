package backend

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testSecret = "whsec_ZGVtby1vbmx5LWlvYnJpZGdlLXNpZ25pbmcta2V5LTAwMQ=="

const waitTimeout = 10 * time.Second

// newTestBackend serves a Backend on a real listener; api is the control
// API it reports to ("" for none).
func newTestBackend(t *testing.T, api string) (*Backend, *httptest.Server) {
	t.Helper()
	b, err := New(Config{Secret: testSecret, API: api, Token: "tok", StepDelay: time.Millisecond, TokenDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return b, srv
}

// envelope builds a delivery for a socket connected with auth.
func envelope(typ, event string, auth string, rooms []string, args ...string) map[string]any {
	raw := make([]json.RawMessage, len(args))
	for i, a := range args {
		raw[i] = json.RawMessage(a)
	}
	return map[string]any{
		"type": typ, "id": "msg_" + typ + event, "time": time.Now().Format(time.RFC3339), "namespace": "/",
		"socket": map[string]any{
			"id": "sock00000000000000a1", "rooms": append([]string{"sock00000000000000a1"}, rooms...), "data": nil,
			"handshake": map[string]any{"headers": map[string]string{}, "query": map[string]string{}, "auth": json.RawMessage(auth)},
		},
		"event": event, "args": raw, "ack": true,
	}
}

// deliver POSTs env signed as the sidecar does.
func deliver(t *testing.T, ctx context.Context, url string, env map[string]any) *http.Response {
	t.Helper()
	body, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(testSecret)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/hooks", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	id := env["id"].(string)
	now := time.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconvUnix(now))
	req.Header.Set("webhook-signature", v.Sign(id, now, body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func strconvUnix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// answer reads a JSON answer, checking its status.
func answer(t *testing.T, res *http.Response, status int) map[string]any {
	t.Helper()
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", res.StatusCode, status, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
	return m
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHooksRejectUnsignedAndTampered(t *testing.T) {
	_, srv := newTestBackend(t, "")
	body := jsonOf(envelope("connect", "", `{"name":"Ada"}`, nil))

	res, err := http.Post(srv.URL+"/hooks", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer(t, res, http.StatusUnauthorized)

	v, _ := NewVerifier(testSecret)
	now := time.Now()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hooks", strings.NewReader(strings.Replace(body, "Ada", "Eve", 1)))
	req.Header.Set("webhook-id", "msg_1")
	req.Header.Set("webhook-timestamp", strconvUnix(now))
	req.Header.Set("webhook-signature", v.Sign("msg_1", now, []byte(body)))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer(t, res, http.StatusUnauthorized)
}

func TestConnect(t *testing.T) {
	_, srv := newTestBackend(t, "")
	tests := []struct {
		name   string
		auth   string
		status int
		want   string
	}{
		{"name", `{"name":"Ada L."}`, 200, `{"rooms":["user:ada-l"],"data":{"user":"ada-l","name":"Ada L."},"emit":[{"to":["sock00000000000000a1"],"event":"chat.system","args":[{"text":"Welcome, Ada L.!"}]}]}`},
		{"user id", `{"name":"Ada","user":"u42"}`, 200, `{"rooms":["user:u42"],"data":{"user":"u42","name":"Ada"},"emit":[{"to":["sock00000000000000a1"],"event":"chat.system","args":[{"text":"Welcome, Ada!"}]}]}`},
		{"no name", `{}`, 401, `{"message":"a name is required","data":{"hint":"connect with auth: {name: \"Ada\"}"}}`},
		{"bad user id", `{"name":"Ada","user":"A B"}`, 401, `{"message":"user id \"A B\" is not [a-z0-9_-]{1,32}"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := answer(t, deliver(t, t.Context(), srv.URL, envelope("connect", "", tc.auth, nil)), tc.status)
			if jsonOf(got) != jsonOf(mustMap(tc.want)) {
				t.Fatalf("answer = %s, want %s", jsonOf(got), tc.want)
			}
		})
	}
}

func mustMap(s string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(err)
	}
	return m
}

func TestChatEvents(t *testing.T) {
	_, srv := newTestBackend(t, "")
	ada := `{"name":"Ada"}`
	tests := []struct {
		name   string
		env    map[string]any
		status int
		want   string
	}{
		{"join", envelope("event", "chat.join", ada, nil, `"lobby"`), 200,
			`{"ack":[{"room":"lobby"}],"emit":[{"to":["lobby"],"event":"chat.system","args":[{"room":"lobby","text":"Ada joined #lobby"}]}],"join":["lobby"]}`},
		{"leave", envelope("event", "chat.leave", ada, []string{"lobby"}, `"lobby"`), 200,
			`{"ack":[{"room":"lobby"}],"emit":[{"to":["lobby"],"event":"chat.system","args":[{"room":"lobby","text":"Ada left #lobby"}]}],"leave":["lobby"]}`},
		{"join bad room", envelope("event", "chat.join", ada, nil, `"Lobby!"`), 422,
			`{"message":"room \"Lobby!\" is not [a-z0-9_-]{1,32}"}`},
		{"join without room", envelope("event", "chat.join", ada, nil), 422,
			`{"message":"chat.join needs 1 argument(s)"}`},
		{"message outside the room", envelope("event", "chat.message", ada, nil, `{"room":"lobby","text":"hi"}`), 403,
			`{"message":"join #lobby before writing to it"}`},
		{"empty message", envelope("event", "chat.message", ada, []string{"lobby"}, `{"room":"lobby","text":"  "}`), 422,
			`{"message":"a message is 1 to 500 characters"}`},
		{"unknown event", envelope("event", "nope", ada, nil), 404, `{"message":"unknown event \"nope\""}`},
		{"file copy without API", envelope("event", "file.copy", ada, nil, `{"name":"a.txt"}`), 503,
			`{"message":"this backend has no control API to report progress through"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := answer(t, deliver(t, t.Context(), srv.URL, tc.env), tc.status)
			if jsonOf(got) != jsonOf(mustMap(tc.want)) {
				t.Fatalf("answer = %s, want %s", jsonOf(got), tc.want)
			}
		})
	}

	t.Run("message", func(t *testing.T) {
		env := envelope("event", "chat.message", ada, []string{"lobby", "user:ada"}, `{"room":"lobby","text":" hello "}`)
		got := answer(t, deliver(t, t.Context(), srv.URL, env), 200)
		emit := got["emit"].([]any)[0].(map[string]any)
		msg := emit["args"].([]any)[0].(map[string]any)
		if jsonOf(emit["to"]) != `["lobby"]` || emit["event"] != "chat.message" || msg["text"] != "hello" || msg["name"] != "Ada" || msg["user"] != "ada" {
			t.Fatalf("emit = %s", jsonOf(emit))
		}
		if ack := got["ack"].([]any)[0].(map[string]any); ack["ok"] != true || ack["time"] != msg["time"] {
			t.Fatalf("ack = %s", jsonOf(got["ack"]))
		}
	})
}

// fakeAPI stands for the sidecar's control API: it records /v1/emit calls.
func fakeAPI(t *testing.T, status int) (*httptest.Server, <-chan map[string]any) {
	t.Helper()
	calls := make(chan map[string]any, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/emit" || r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("unexpected call %s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("decode emit: %v", err)
		}
		calls <- m
		w.WriteHeader(status)
		io.WriteString(w, `{"recipients":1}`)
	}))
	t.Cleanup(srv.Close)
	return srv, calls
}

func next(t *testing.T, c <-chan map[string]any) map[string]any {
	t.Helper()
	select {
	case m := <-c:
		return m
	case <-time.After(waitTimeout):
		t.Fatal("no /v1/emit call")
		return nil
	}
}

func TestFileCopyReportsThroughTheAPI(t *testing.T) {
	api, calls := fakeAPI(t, http.StatusAccepted)
	_, srv := newTestBackend(t, api.URL)
	env := envelope("event", "file.copy", `{"name":"Ada"}`, nil, `{"name":"report.pdf","size":1000}`)
	env["namespace"] = "/chat"
	got := answer(t, deliver(t, t.Context(), srv.URL, env), 200)
	if want := `{"ack":[{"job":"job-1","name":"report.pdf"}]}`; jsonOf(got) != want {
		t.Fatalf("answer = %s, want %s", jsonOf(got), want)
	}
	for percent := 10; percent <= 100; percent += 10 {
		want := map[string]any{"namespace": "/chat", "to": []any{"user:ada"}, "event": "file.progress",
			"args": []any{map[string]any{"job": "job-1", "name": "report.pdf", "percent": float64(percent), "bytes": float64(percent * 10)}}}
		if got := next(t, calls); !reflect.DeepEqual(got, want) {
			t.Fatalf("emit = %s, want %s", jsonOf(got), jsonOf(want))
		}
	}
	want := map[string]any{"namespace": "/chat", "to": []any{"user:ada"}, "event": "file.complete",
		"args": []any{map[string]any{"job": "job-1", "name": "report.pdf", "bytes": float64(1000)}}}
	if got := next(t, calls); !reflect.DeepEqual(got, want) {
		t.Fatalf("emit = %s, want %s", jsonOf(got), jsonOf(want))
	}
}

func TestFileCopyStopsWhenTheAPIRefuses(t *testing.T) {
	api, calls := fakeAPI(t, http.StatusNotFound)
	b, srv := newTestBackend(t, api.URL)
	answer(t, deliver(t, t.Context(), srv.URL, envelope("event", "file.copy", `{"name":"Ada"}`, nil, `{"name":"a"}`)), 200)
	next(t, calls)
	// The job ends by itself after the refusal: Shutdown finds nothing
	// left to stop.
	done := make(chan struct{})
	go func() { b.jobs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("job still running after the API refused")
	}
	select {
	case m := <-calls:
		t.Fatalf("call after refusal: %s", jsonOf(m))
	default:
	}
}

// sseMessage is one parsed Server-Sent Event.
type sseMessage struct{ event, data string }

func readSSE(sc *bufio.Scanner) (sseMessage, bool) {
	var m sseMessage
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			return m, true
		case strings.HasPrefix(line, "event: "):
			m.event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			m.data = line[len("data: "):]
		}
	}
	return m, false
}

func TestAssistantStreamsTokensThenAck(t *testing.T) {
	_, srv := newTestBackend(t, "")
	res := deliver(t, t.Context(), srv.URL, envelope("event", "assistant.ask", `{"name":"Ada"}`, nil, `{"question":"how do rooms work?"}`))
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("status %d, content type %q", res.StatusCode, ct)
	}
	sc := bufio.NewScanner(res.Body)
	var text strings.Builder
	n := 0
	for {
		m, ok := readSSE(sc)
		if !ok {
			t.Fatal("stream ended without ack")
		}
		if m.event == "ack" {
			if want := jsonOf([]map[string]int{{"tokens": n}}); m.data != want {
				t.Fatalf("ack data %s, want %s", m.data, want)
			}
			break
		}
		if m.event != "assistant.token" {
			t.Fatalf("event %q", m.event)
		}
		var tok string
		if err := json.Unmarshal([]byte(m.data), &tok); err != nil {
			t.Fatalf("token data %q: %v", m.data, err)
		}
		text.WriteString(tok)
		n++
	}
	if want := answerFor("rooms"); text.String() != want || n != len(strings.Fields(want)) {
		t.Fatalf("streamed %d tokens %q, want %q", n, text.String(), want)
	}
	if _, ok := readSSE(sc); ok {
		t.Fatal("message after ack")
	}
}

func TestAssistantStopsWhenTheSidecarLeaves(t *testing.T) {
	b, err := New(Config{Secret: testSecret, TokenDelay: time.Hour}) // never finishes by itself
	if err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.ServeHTTP(w, r)
		returned <- struct{}{}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	res := deliver(t, ctx, srv.URL, envelope("event", "assistant.ask", `{"name":"Ada"}`, nil, `{"question":"?"}`))
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	cancel() // the sidecar closes the stream: its client left
	res.Body.Close()
	select {
	case <-returned:
	case <-time.After(waitTimeout):
		t.Fatal("the stream handler did not return after the request was canceled")
	}
}

func TestRunServesUntilCanceled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, ln, Config{Secret: testSecret}) }()
	res, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "/hooks") {
		t.Fatalf("GET / = %q", body)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Serve did not return")
	}
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"one", []string{"one"}},
		{"a b  c", []string{"a ", "b ", " ", "c"}},
		{"end ", []string{"end "}},
	}
	for _, tc := range tests {
		if got := tokenize(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("tokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestLeavingDeliveries: a disconnect and, with recovery on, an expired
// delivery are taken with an empty answer.
func TestLeavingDeliveries(t *testing.T) {
	_, srv := newTestBackend(t, "")
	for _, typ := range []string{"disconnect", "expired"} {
		t.Run(typ, func(t *testing.T) {
			env := envelope(typ, "", `{}`, nil)
			env["reason"] = "transport close"
			if got := answer(t, deliver(t, t.Context(), srv.URL, env), http.StatusOK); len(got) != 0 {
				t.Fatalf("answer %s, want {}", jsonOf(got))
			}
		})
	}
}
