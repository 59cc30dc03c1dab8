package translate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// sseHandler streams the messages of script, flushing each; "wait"
// blocks until the client leaves.
func sseHandler(ctx context.Context, script func(e envelope) []string, ended chan<- string) func(http.ResponseWriter, delivery) {
	return func(w http.ResponseWriter, d delivery) {
		if d.Env.Type != "event" {
			jsonAnswer(w, 200, `{}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		f := w.(http.Flusher)
		f.Flush()
		for _, m := range script(d.Env) {
			if m == "wait" {
				<-ctx.Done()
				continue
			}
			_, _ = io.WriteString(w, m)
			f.Flush()
		}
		if ended != nil {
			ended <- d.Env.Event
		}
	}
}

// TestSSERelay: a streamed answer reaches the client message by message,
// in order, as events; "ack" resolves the ack.
func TestSSERelay(t *testing.T) {
	tokens := []string{"Hel", "lo", ", ", "wor", "ld", "!"}
	srv := startPlain(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e := decodeEnvelope(t, body)
		sseHandler(r.Context(), func(e envelope) []string {
			switch e.Event {
			case "ask":
				var out []string
				for i, tok := range tokens {
					out = append(out, fmt.Sprintf("event: token\nid: %d\ndata: [%q,%d]\n\n", i, tok, i))
				}
				out = append(out, ": keep-alive comment\n\n")
				out = append(out, "event: note\ndata: plain text, not JSON\n\n")
				out = append(out, "event: obj\ndata: {\"a\":\ndata: 1}\n\n")
				out = append(out, "data: [\"default name\"]\r\n\r\n")
				out = append(out, "event: ack\ndata: [\"done\",6]\n\n")
				return out
			case "noack":
				return []string{"event: token\ndata: [\"x\"]\n\n"}
			}
			return nil
		}, nil)(w, delivery{Env: e})
	})
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{
		Name: "/", OnConnect: "accept", Backend: newClient(t, srv, webhook.Config{}),
	}}})
	c := siotest.Dial(t, sc.url, "/", nil)
	id := c.EmitWithAck("ask", `"question"`)
	for i, tok := range tokens {
		args, _ := c.WaitEvent("token")
		sameJSON(t, "token", args, fmt.Sprintf("[%q,%d]", tok, i))
	}
	args, _ := c.WaitEvent("note")
	sameJSON(t, "non-JSON data", args, `["plain text, not JSON"]`)
	args, _ = c.WaitEvent("obj")
	sameJSON(t, "multi-line JSON object", args, `[{"a":1}]`)
	args, _ = c.WaitEvent("message")
	sameJSON(t, "unnamed", args, `["default name"]`)
	sameJSON(t, "ack", c.WaitAck(id), `["done",6]`)

	// A stream that ends without an ack event still answers the ack.
	id = c.EmitWithAck("noack", "")
	c.WaitEvent("token")
	sameJSON(t, "ack at the end of the stream", c.WaitAck(id), `[]`)
}

// TestSSEIdle: a stream silent for the route's timeout fails with 504;
// until then its messages were relayed.
func TestSSEIdle(t *testing.T) {
	url := startPlain(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sseHandler(r.Context(), func(e envelope) []string {
			return []string{"event: token\ndata: 1\n\n", "wait"}
		}, nil)(w, delivery{Env: decodeEnvelope(t, body)})
	})
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{
		Name: "/", OnConnect: "accept", Timeout: 300 * time.Millisecond,
		Backend: newClient(t, url, webhook.Config{Attempts: 1}),
	}}})
	c := siotest.Dial(t, sc.url, "/", nil)
	id := c.EmitWithAck("ask", "")
	args, _ := c.WaitEvent("token")
	sameJSON(t, "token", args, `[1]`)
	sameJSON(t, "ack after silence", c.WaitAck(id), `[{"error":{"status":504,"message":"backend timed out"}}]`)
}

// TestSSEClientLeaves: the stream ends when the client leaves; the
// backend sees its request end.
func TestSSEClientLeaves(t *testing.T) {
	ended := make(chan string, 1)
	url := startPlain(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		e := decodeEnvelope(t, body)
		if e.Type != "event" {
			jsonAnswer(w, 200, `{}`)
			return
		}
		sseHandler(r.Context(), func(e envelope) []string {
			return []string{"event: token\ndata: 1\n\n", "wait"}
		}, ended)(w, delivery{Env: e})
	})
	sc := startSidecar(t, translate.Config{Routes: []translate.Route{{
		Name: "/", OnConnect: "accept", Timeout: time.Minute,
		Backend: newClient(t, url, webhook.Config{Attempts: 1}),
	}}})
	c := siotest.Dial(t, sc.url, "/", nil)
	c.EmitWithAck("ask", "")
	c.WaitEvent("token")
	c.Close()
	select {
	case ev := <-ended:
		if ev != "ask" {
			t.Fatalf("ended stream of %q", ev)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the backend's stream did not end when the client left")
	}
}

func decodeEnvelope(t *testing.T, body []byte) envelope {
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("envelope %q: %v", body, err)
	}
	return e
}
