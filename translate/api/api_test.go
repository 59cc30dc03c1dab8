package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate/api"
)

func TestNewRequiresItsParts(t *testing.T) {
	f := newFixture(t, api.Config{})
	tests := []struct {
		name string
		cfg  api.Config
		want error
	}{
		{"token", api.Config{}, api.ErrNoToken},
		{"server", api.Config{Token: "x"}, api.ErrNoServer},
		{"executor", api.Config{Token: "x", Server: f.srv}, api.ErrNoExecutor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := api.New(tc.cfg); !errors.Is(err, tc.want) {
				t.Fatalf("New = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, api.Config{})
	const unauthorized = `{"error":{"code":"unauthorized","message":"missing or invalid bearer token"}}`
	routes := []struct{ method, path, body string }{
		{"POST", "/v1/emit", `{"event":"e"}`},
		{"POST", "/v1/join", `{"rooms":["r"]}`},
		{"POST", "/v1/leave", `{"rooms":["r"]}`},
		{"POST", "/v1/disconnect", `{"to":["nobody"]}`},
		{"GET", "/v1/sockets", ""},
		{"GET", "/v1/rooms", ""},
		{"GET", "/v1/nope", ""},    // unknown routes under /v1/ are not revealed
		{"DELETE", "/v1/emit", ""}, // nor their methods
	}
	auths := []struct{ name, header string }{
		{"missing", ""},
		{"wrong token", "Bearer " + token + "x"},
		{"prefix of the token", "Bearer " + token[:4]},
		{"other scheme", "Basic " + token},
		{"no scheme", token},
	}
	for _, r := range routes {
		for _, a := range auths {
			t.Run(r.method+" "+r.path+" "+a.name, func(t *testing.T) {
				status, body := f.doAuth(r.method, r.path, r.body, a.header)
				if status != http.StatusUnauthorized || !sameJSON(body, unauthorized) {
					t.Fatalf("= %d %s, want 401 %s", status, body, unauthorized)
				}
			})
		}
	}
	t.Run("scheme is case-insensitive", func(t *testing.T) {
		if status, body := f.doAuth("GET", "/v1/rooms", "", "bearer "+token); status != http.StatusOK {
			t.Fatalf("= %d %s, want 200", status, body)
		}
	})
	t.Run("probes need none", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			if status, body := f.doAuth("GET", p, "", ""); status != http.StatusOK {
				t.Errorf("GET %s = %d %s, want 200", p, status, body)
			}
		}
	})
}

func TestErrors(t *testing.T) {
	f := newFixture(t, api.Config{MaxBodyBytes: 256})
	big := `{"event":"e","args":["` + strings.Repeat("x", 300) + `"]}`
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"invalid JSON", "POST", "/v1/emit", `{"event":`, 400, "invalid_json"},
		{"not an object", "POST", "/v1/emit", `[1]`, 400, "invalid_json"},
		{"empty body", "POST", "/v1/emit", ``, 400, "invalid_json"},
		{"trailing data", "POST", "/v1/emit", `{"event":"e"} {}`, 400, "invalid_json"},
		{"unknown field", "POST", "/v1/emit", `{"event":"e","rooms":["r"]}`, 400, "invalid_json"},
		{"wrong type", "POST", "/v1/join", `{"rooms":[1]}`, 400, "invalid_json"},
		{"bad ack timeout", "POST", "/v1/emit", `{"event":"e","ack":{"timeout":"soon"}}`, 400, "invalid_json"},
		{"no event", "POST", "/v1/emit", `{"to":["r"]}`, 400, "invalid_request"},
		{"reserved event", "POST", "/v1/emit", `{"event":"disconnect"}`, 400, "invalid_request"},
		{"join without rooms", "POST", "/v1/join", `{"to":["a"]}`, 400, "invalid_request"},
		{"leave with an empty room", "POST", "/v1/leave", `{"rooms":[""]}`, 400, "invalid_request"},
		{"unknown query parameter", "GET", "/v1/sockets?nsp=/chat", "", 400, "invalid_request"},
		{"rooms by room", "GET", "/v1/rooms?room=a", "", 400, "invalid_request"},
		{"unknown namespace: emit", "POST", "/v1/emit", `{"namespace":"/nope","event":"e"}`, 404, "unknown_namespace"},
		{"unknown namespace: join", "POST", "/v1/join", `{"namespace":"/nope","rooms":["r"]}`, 404, "unknown_namespace"},
		{"unknown namespace: leave", "POST", "/v1/leave", `{"namespace":"/nope","rooms":["r"]}`, 404, "unknown_namespace"},
		{"unknown namespace: disconnect", "POST", "/v1/disconnect", `{"namespace":"/nope"}`, 404, "unknown_namespace"},
		{"unknown namespace: sockets", "GET", "/v1/sockets?namespace=/nope", "", 404, "unknown_namespace"},
		{"unknown namespace: rooms", "GET", "/v1/rooms?namespace=/nope", "", 404, "unknown_namespace"},
		{"body too large", "POST", "/v1/emit", big, 413, "body_too_large"},
		{"body too large: join", "POST", "/v1/join", `{"rooms":["` + strings.Repeat("r", 300) + `"]}`, 413, "body_too_large"},
		{"wrong method", "GET", "/v1/emit", "", 405, "method_not_allowed"},
		{"wrong method: sockets", "POST", "/v1/sockets", "{}", 405, "method_not_allowed"},
		{"wrong method: probe", "POST", "/healthz", "", 405, "method_not_allowed"},
		{"unknown route", "GET", "/nope", "", 404, "not_found"},
		{"unknown route under v1", "POST", "/v1/broadcast", "{}", 404, "not_found"},
		{"trailing slash", "POST", "/v1/emit/", `{"event":"e"}`, 404, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.do(tc.method, tc.path, tc.body)
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("%s %s = %d %q: not JSON", tc.method, tc.path, status, body)
			}
			if status != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("%s %s = %d %s, want %d with code %q and a message", tc.method, tc.path, status, body, tc.status, tc.code)
			}
		})
	}
	t.Run("405 lists the allowed methods", func(t *testing.T) {
		req, _ := http.NewRequest("GET", f.apiURL+"/v1/emit", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Allow"); got != "POST" {
			t.Fatalf("Allow = %q, want POST", got)
		}
	})
}

func TestEmit(t *testing.T) {
	f := newFixture(t, api.Config{})
	a := f.dial("/chat", `{"user":"a"}`)
	b := f.dial("/chat", "")
	f.expect("POST", "/v1/join", `{"namespace":"/chat","to":["`+a.SID+`"],"rooms":["r"]}`, 200, `{"sockets":1}`)

	// Args reach the client byte for byte: key order and spacing kept.
	f.expect("POST", "/v1/emit", `{"namespace":"/chat","to":["r"],"event":"news","args":[{"z":1,"a":[true, null]},"two"]}`, 202, `{"recipients":1}`)
	if _, got := event(t, a); got != `["news",{"z":1,"a":[true, null]},"two"]` {
		t.Fatalf("a got %s", got)
	}

	f.expect("POST", "/v1/emit", `{"namespace":"/chat","event":"all"}`, 202, `{"recipients":2}`)
	for _, c := range []*siotest.Client{a, b} {
		if _, got := event(t, c); got != `["all"]` {
			t.Fatalf("%s got %s", c.SID, got)
		}
	}

	f.expect("POST", "/v1/emit", `{"namespace":"/chat","except":["r"],"event":"not-r"}`, 202, `{"recipients":1}`)
	f.expect("POST", "/v1/emit", `{"namespace":"/chat","to":"`+b.SID+`","event":"just-b"}`, 202, `{"recipients":1}`)
	for _, want := range []string{`["not-r"]`, `["just-b"]`} {
		if _, got := event(t, b); got != want {
			t.Fatalf("b got %s, want %s", got, want)
		}
	}

	f.expect("POST", "/v1/emit", `{"namespace":"/chat","to":["r"],"volatile":true,"event":"v"}`, 202, `{"recipients":1}`)
	if _, got := event(t, a); got != `["v"]` {
		t.Fatalf("a got %s", got)
	}

	// Binary values become attachments.
	f.expect("POST", "/v1/emit", `{"namespace":"/chat","to":["r"],"event":"bin","args":[{"_binary":"AQID"}]}`, 202, `{"recipients":1}`)
	if got := a.Frame().Text; got != `451-/chat,["bin",{"_placeholder":true,"num":0}]` {
		t.Fatalf("a got %s", got)
	}
	if got := a.Frame().Binary; string(got) != "\x01\x02\x03" {
		t.Fatalf("attachment %q", got)
	}

	// No HTML escaping on the way.
	f.expect("POST", "/v1/emit", `{"namespace":"/chat","to":["r"],"event":"html","args":["<b>&</b>"]}`, 202, `{"recipients":1}`)
	if _, got := event(t, a); got != `["html","<b>&</b>"]` {
		t.Fatalf("a got %s", got)
	}

	// The main namespace is the default; nobody is connected to it.
	f.expect("POST", "/v1/emit", `{"event":"main"}`, 202, `{"recipients":0}`)
	f.expect("POST", "/v1/emit", `{"namespace":"/chat","to":["empty-room"],"event":"x"}`, 202, `{"recipients":0}`)

	// Neither got anything else: a marker to both comes next.
	f.expect("POST", "/v1/emit", `{"namespace":"/chat","event":"marker"}`, 202, `{"recipients":2}`)
	for _, c := range []*siotest.Client{a, b} {
		if _, got := event(t, c); got != `["marker"]` {
			t.Fatalf("%s got %s before the marker", c.SID, got)
		}
	}
}

func TestEmitWithAck(t *testing.T) {
	f := newFixture(t, api.Config{})
	fast := f.dial("/chat", "")
	slow := f.dial("/chat", "")
	// The fast client answers as soon as the event arrives (with binary),
	// the slow one never.
	go func() {
		id, _ := event(t, fast)
		send(t, fast, "461-/chat,"+itoa(id)+`["ok",{"_placeholder":true,"num":0}]`)
		fast.SendBinary([]byte{9, 8})
	}()
	start := time.Now()
	status, body := f.do("POST", "/v1/emit", `{"namespace":"/chat","event":"q","args":[1],"ack":{"timeout":"300ms"}}`)
	if status != http.StatusOK {
		t.Fatalf("= %d %s", status, body)
	}
	want := `{"acks":[{"socket":"` + fast.SID + `","args":["ok",{"_binary":"` + base64.StdEncoding.EncodeToString([]byte{9, 8}) + `"}]}],"timeouts":["` + slow.SID + `"]}`
	if !sameJSON(body, want) {
		t.Fatalf("= %s, want %s", body, want)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("answered after %v, before the ack timeout", d)
	}
	if id, got := event(t, slow); id < 0 || got != `["q",1]` {
		t.Fatalf("slow got %d %s", id, got)
	}

	t.Run("every recipient times out", func(t *testing.T) {
		f.expect("POST", "/v1/emit", `{"namespace":"/chat","to":["`+slow.SID+`"],"event":"q","ack":{"timeout":"50ms"}}`, 200,
			`{"acks":[],"timeouts":["`+slow.SID+`"]}`)
		event(t, slow)
	})
	t.Run("no recipient", func(t *testing.T) {
		f.expect("POST", "/v1/emit", `{"namespace":"/chat","to":["nobody"],"event":"q","ack":{"timeout":"5s"}}`, 200, `{"acks":[],"timeouts":[]}`)
	})
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestJoinLeaveSocketsRooms(t *testing.T) {
	f := newFixture(t, api.Config{})
	a := f.dial("/chat", `{"user":"ada"}`)
	b := f.dial("/chat", "")

	f.expect("GET", "/v1/rooms?namespace=/chat", "", 200, `{"rooms":[]}`)
	f.expect("POST", "/v1/join", `{"namespace":"/chat","rooms":["all","everyone"]}`, 200, `{"sockets":2}`)
	f.expect("POST", "/v1/join", `{"namespace":"/chat","to":["`+a.SID+`"],"rooms":"solo"}`, 200, `{"sockets":1}`)
	f.expect("GET", "/v1/rooms?namespace=/chat", "", 200, `{"rooms":[{"name":"all","size":2},{"name":"everyone","size":2},{"name":"solo","size":1}]}`)

	status, body := f.do("GET", "/v1/sockets?namespace=/chat&room=solo", "")
	var got struct {
		Sockets []struct {
			ID        string   `json:"id"`
			Rooms     []string `json:"rooms"`
			Data      json.RawMessage
			Handshake struct {
				Auth    json.RawMessage   `json:"auth"`
				Query   map[string]string `json:"query"`
				Headers map[string]string `json:"headers"`
				Address string            `json:"address"`
			} `json:"handshake"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(body), &got); status != 200 || err != nil || len(got.Sockets) != 1 {
		t.Fatalf("sockets in solo = %d %s", status, body)
	}
	s := got.Sockets[0]
	if s.ID != a.SID || string(s.Data) != `{"user":"ada"}` || string(s.Handshake.Auth) != `{"user":"ada"}` ||
		s.Handshake.Query["EIO"] != "4" || s.Handshake.Headers["user-agent"] == "" || s.Handshake.Address != "127.0.0.1" {
		t.Fatalf("socket = %s", body)
	}
	if !sameSet(s.Rooms, []string{a.SID, "all", "everyone", "solo"}) {
		t.Fatalf("rooms = %v", s.Rooms)
	}

	status, body = f.do("GET", "/v1/sockets?namespace=/chat", "")
	if status != 200 || !strings.Contains(body, a.SID) || !strings.Contains(body, b.SID) || !strings.Contains(body, `"data":{}`) {
		t.Fatalf("all sockets = %d %s", status, body)
	}
	// Several rooms select the sockets in any of them.
	f.expect("GET", "/v1/sockets?namespace=/chat&room=solo&room=nobody", "", 200, mustSocketsOnly(t, f, "solo"))

	f.expect("POST", "/v1/leave", `{"namespace":"/chat","to":["all"],"rooms":["everyone","solo"]}`, 200, `{"sockets":2}`)
	f.expect("GET", "/v1/rooms?namespace=/chat", "", 200, `{"rooms":[{"name":"all","size":2}]}`)
	f.expect("GET", "/v1/sockets?namespace=/chat&room=solo", "", 200, `{"sockets":[]}`)
	f.expect("GET", "/v1/sockets", "", 200, `{"sockets":[]}`) // the main namespace is empty

	// Nothing was emitted to the clients meanwhile.
	f.expect("POST", "/v1/emit", `{"namespace":"chat","event":"marker"}`, 202, `{"recipients":2}`)
	for _, c := range []*siotest.Client{a, b} {
		if _, got := event(t, c); got != `["marker"]` {
			t.Fatalf("%s got %s", c.SID, got)
		}
	}
}

// mustSocketsOnly returns GET /v1/sockets for one room.
func mustSocketsOnly(t *testing.T, f *fixture, room string) string {
	status, body := f.do("GET", "/v1/sockets?namespace=/chat&room="+room, "")
	if status != 200 {
		t.Fatalf("sockets in %s = %d %s", room, status, body)
	}
	return body
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestDisconnect(t *testing.T) {
	f := newFixture(t, api.Config{})
	a := f.dial("/chat", "")
	b := f.dial("/chat", "")
	c := f.dial("/chat", "")

	f.expect("POST", "/v1/disconnect", `{"namespace":"/chat","to":["`+a.SID+`"]}`, 200, `{"sockets":1}`)
	if got := a.Frame().Text; got != "41/chat," {
		t.Fatalf("a got %q, want a DISCONNECT", got)
	}
	if got := recv(t, f.reasons); got != a.SID+" server namespace disconnect" {
		t.Fatalf("server saw %q", got)
	}

	// close: the whole connection goes.
	f.expect("POST", "/v1/disconnect", `{"namespace":"/chat","to":["`+b.SID+`"],"close":true}`, 200, `{"sockets":1}`)
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	for {
		fr, err := b.Receive(ctx)
		if errors.Is(err, siotest.ErrClosed) {
			break
		}
		if err != nil {
			t.Fatalf("client %s: nothing within %v", b.SID, waitTimeout)
		}
		if fr.Text != "41/chat," && fr.Text != "1" {
			t.Fatalf("b got %q before the close", fr.Text)
		}
	}
	if got := recv(t, f.reasons); got != b.SID+" server namespace disconnect" {
		t.Fatalf("server saw %q", got)
	}

	f.expect("POST", "/v1/disconnect", `{"namespace":"/chat","to":["nobody"]}`, 200, `{"sockets":0}`)
	f.expect("GET", "/v1/sockets?namespace=/chat", "", 200, mustSocketsOnly(t, f, c.SID))
	status, body := f.do("GET", "/v1/sockets?namespace=/chat", "")
	if status != 200 || strings.Contains(body, a.SID) || strings.Contains(body, b.SID) || !strings.Contains(body, c.SID) {
		t.Fatalf("sockets after disconnect = %s", body)
	}
}

func TestReadiness(t *testing.T) {
	f := newFixture(t, api.Config{})
	f.expect("GET", "/healthz", "", 200, `{"status":"ok"}`)
	f.expect("GET", "/readyz", "", 200, `{"status":"ready"}`)

	f.api.AddReadiness("stream news", func(ctx context.Context) error { return errors.New("not connected") })
	f.api.AddReadiness("fine", func(ctx context.Context) error { return nil })
	f.api.AddReadiness("slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	f.expect("GET", "/readyz", "", 503, `{"status":"not ready","reasons":["stream news: not connected","slow: context deadline exceeded"],`+
		`"checks":{"stream news":"not connected","fine":"ok","slow":"context deadline exceeded"}}`)
	f.expect("GET", "/healthz", "", 200, `{"status":"ok"}`)
}

func TestReadyzDuringShutdown(t *testing.T) {
	f := newFixture(t, api.Config{})
	if err := f.api.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	f.api.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !sameJSON(rec.Body.String(), `{"status":"not ready","reasons":["shutting down"]}`) {
		t.Fatalf("= %d %s", rec.Code, rec.Body)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, api.Config{})
	f.dial("/chat", "")
	f.dial("/chat", "")
	f.expect("POST", "/v1/emit", `{"namespace":"/chat","event":"e"}`, 202, `{"recipients":2}`)
	f.do("GET", "/nope", "")
	req, _ := http.NewRequest("GET", f.apiURL+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	if ct := res.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	for _, want := range []string{
		"# TYPE iobridge_connections gauge\niobridge_connections 2\n",
		"# TYPE iobridge_sockets gauge\n",
		`iobridge_sockets{namespace="/"} 0` + "\n",
		`iobridge_sockets{namespace="/chat"} 2` + "\n",
		"# TYPE iobridge_api_requests_total counter\n",
		`iobridge_api_requests_total{route="/v1/emit",code="202"} 1` + "\n",
		`iobridge_api_requests_total{route="unmatched",code="404"} 1` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestMetricsSeam(t *testing.T) {
	f := newFixture(t, api.Config{Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("custom 1\n"))
	})})
	req, _ := http.NewRequest("GET", f.apiURL+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if string(raw) != "custom 1\n" {
		t.Fatalf("metrics = %q", raw)
	}
}

// TestServeAndShutdown runs the API on its own listener: Shutdown waits
// for an emit that waits for acks, then Serve returns nil.
func TestServeAndShutdown(t *testing.T) {
	f := newFixture(t, api.Config{})
	c := f.dial("/chat", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- f.api.Serve(ln) }()
	f.apiURL = "http://" + ln.Addr().String()

	answered := make(chan string, 1)
	go func() {
		_, body := f.do("POST", "/v1/emit", `{"namespace":"/chat","event":"q","ack":{"timeout":"10s"}}`)
		answered <- body
	}()
	id, _ := event(t, c) // the emit is in flight
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		shut <- f.api.Shutdown(ctx)
	}()
	c.Ack(id, `["late"]`)
	if got := recv(t, answered); !sameJSON(got, `{"acks":[{"socket":"`+c.SID+`","args":["late"]}],"timeouts":[]}`) {
		t.Fatalf("in-flight emit = %s", got)
	}
	if err := recv(t, shut); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if err := recv(t, served); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := http.Get(f.apiURL + "/healthz"); err == nil {
		t.Fatal("the API still answers after Shutdown")
	}
}
