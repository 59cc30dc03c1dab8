package backend

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestTickerResumesAfterLastEventID(t *testing.T) {
	b, err := New(Config{Secret: testSecret, TickDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	for _, tc := range []struct {
		lastID string
		first  uint64
	}{{"", 1}, {"41", 42}} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/ticker", nil)
		if tc.lastID != "" {
			req.Header.Set("Last-Event-ID", tc.lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type %q", ct)
		}
		sc := bufio.NewScanner(resp.Body)
		var id, data string
		for want := tc.first; want < tc.first+3; {
			if !sc.Scan() {
				t.Fatalf("stream ended: %v", sc.Err())
			}
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[len("id: "):]
			case strings.HasPrefix(line, "data: "):
				data = line[len("data: "):]
			case line == "" && data != "":
				var in struct {
					Event string `json:"event"`
					Args  []Tick `json:"args"`
				}
				if err := json.Unmarshal([]byte(data), &in); err != nil || in.Event != "ticker.tick" || len(in.Args) != 1 || in.Args[0].Seq != want {
					t.Fatalf("message %s (%v), want ticker.tick %d", data, err, want)
				}
				if id != itoa(want) {
					t.Fatalf("id %q, want %d", id, want)
				}
				if in.Args[0].Price != tickPrice(want) {
					t.Fatalf("price %v, want %v", in.Args[0].Price, tickPrice(want))
				}
				data = ""
				want++
			}
		}
		resp.Body.Close()
	}
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestLegacyChatFrames(t *testing.T) {
	b, err := New(Config{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/legacy", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	read := func() string {
		t.Helper()
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"connect","namespace":"/legacy","socket":{"id":"abcdEFGH","rooms":["abcdEFGH"],"handshake":{"headers":{"user-agent":"test"}}}}`))
	if got, want := read(), `[{"rooms":["legacy-lobby"],"type":"join"},{"event":"legacy.welcome","args":[{"online":1,"user":"user-abcd"}]}]`; got != want {
		t.Fatalf("after connect: %s, want %s", got, want)
	}
	ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"event","event":"legacy.say","args":[{"text":" hi "}],"id":3}`))
	if got, want := read(), `[{"to":["legacy-lobby"],"event":"legacy.message","args":[{"n":1,"text":"hi","user":"user-abcd"}]},{"args":[{"n":1,"ok":true}],"id":3,"type":"ack"}]`; got != want {
		t.Fatalf("after legacy.say: %s, want %s", got, want)
	}
	ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"event","event":"other","args":[],"id":4}`))
	if got := read(); !strings.Contains(got, `"id":4`) || !strings.Contains(got, `"ok":false`) {
		t.Fatalf("unknown event answered %s, want an ack with ok false", got)
	}
	ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"event","event":"legacy.say","args":[{"text":"no ack wanted"}]}`))
	if got := read(); !strings.HasPrefix(got, `[{"to":["legacy-lobby"]`) || strings.Contains(got, `"ack"`) {
		t.Fatalf("without an id: %s, want only the broadcast", got)
	}
}
