// Command backend is the load-test backend behind iobridge in bench/run.sh:
// one plain net/http process that is every kind of backend the sidecar
// talks to, so each mode is measured against a backend doing the least work
// it can.
//
//	ADDR=127.0.0.1:4100 go run ./bench/backend
//
// Routes:
//
//	POST /webhook      webhook deliveries: connect → {"rooms":["feed"]};
//	                   event "echo" (or any event with an ack) → {"ack": args};
//	                   event "broadcast" → {"emit":[{"event":"news","args":args}]}
//	GET  /bridge       a per-socket bridge: each event frame with an id is
//	                   answered by {"type":"ack","id":id,"args":args}
//	GET  /feed         a stream (SSE) the sidecar subscribes to
//	POST /push         the body (an instruction) goes out on every /feed
//	                   subscriber as one SSE message; 204 when written
//	POST /v1/traces, /v1/metrics, /v1/logs
//	                   an OTLP/HTTP collector that discards what it gets
//	GET  /healthz      200
package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"

	"github.com/gorilla/websocket"
)

func main() {
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:4100"
	}
	f := &feed{subs: map[chan []byte]struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("POST /webhook", webhook)
	mux.HandleFunc("GET /bridge", bridge)
	mux.HandleFunc("GET /feed", f.serve)
	mux.HandleFunc("POST /push", f.push)
	for _, p := range []string{"/v1/traces", "/v1/metrics", "/v1/logs"} {
		mux.HandleFunc("POST "+p, discard)
	}
	slog.Info("bench backend listening", "addr", addr)
	if err := http.ListenAndServe(addr, mux); err != nil {
		slog.Error("bench backend", "err", err)
		os.Exit(1)
	}
}

type envelope struct {
	Type  string          `json:"type"`
	Event string          `json:"event"`
	Args  json.RawMessage `json:"args"`
	Ack   bool            `json:"ack"`
}

func webhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	var env envelope
	if err == nil {
		err = json.Unmarshal(body, &env)
	}
	if err != nil {
		http.Error(w, `{"message":"invalid envelope"}`, http.StatusBadRequest)
		return
	}
	args := env.Args
	if len(args) == 0 {
		args = json.RawMessage("[]")
	}
	var out bytes.Buffer
	switch {
	case env.Type == "connect":
		out.WriteString(`{"rooms":["feed"]}`)
	case env.Type != "event":
		out.WriteString(`{}`)
	case env.Event == "broadcast":
		out.WriteString(`{"emit":[{"event":"news","args":`)
		out.Write(args)
		out.WriteString(`}]}`)
	case env.Event == "echo" || env.Ack:
		out.WriteString(`{"ack":`)
		out.Write(args)
		out.WriteString(`}`)
	default:
		out.WriteString(`{}`)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out.Bytes())
}

var upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}

// bridge answers each event frame that wants an ack with its args.
func bridge(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	var ev struct {
		Type string          `json:"type"`
		ID   *uint64         `json:"id"`
		Args json.RawMessage `json:"args"`
	}
	var out []byte
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		ev.ID, ev.Args = nil, nil
		if json.Unmarshal(msg, &ev) != nil || ev.Type != "event" || ev.ID == nil {
			continue
		}
		if len(ev.Args) == 0 {
			ev.Args = json.RawMessage("[]")
		}
		out = append(out[:0], `{"type":"ack","id":`...)
		out = strconv.AppendUint(out, *ev.ID, 10)
		out = append(out, `,"args":`...)
		out = append(out, ev.Args...)
		out = append(out, '}')
		if ws.WriteMessage(websocket.TextMessage, out) != nil {
			return
		}
	}
}

// feed fans each pushed instruction out to every SSE subscriber.
type feed struct {
	mu   sync.Mutex
	subs map[chan []byte]struct{}
}

func (f *feed) serve(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "no flusher", http.StatusInternalServerError)
		return
	}
	ch := make(chan []byte, 4096)
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case msg := <-ch:
			if _, err := w.Write(msg); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

func (f *feed) push(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || !json.Valid(body) {
		http.Error(w, `{"message":"the body must be one JSON instruction"}`, http.StatusBadRequest)
		return
	}
	msg := make([]byte, 0, len(body)+8)
	msg = append(msg, "data: "...)
	msg = append(msg, bytes.ReplaceAll(body, []byte("\n"), nil)...)
	msg = append(msg, "\n\n"...)
	f.mu.Lock()
	n := len(f.subs)
	full := 0
	for ch := range f.subs {
		select {
		case ch <- msg:
		default:
			full++
		}
	}
	f.mu.Unlock()
	switch {
	case n == 0:
		http.Error(w, `{"message":"no subscriber on /feed"}`, http.StatusServiceUnavailable)
	case full > 0:
		http.Error(w, `{"message":"a subscriber's queue is full"}`, http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func discard(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}
