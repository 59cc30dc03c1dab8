package backend

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The two endpoints a sidecar connects to on its own, without a webhook:
//
//   - GET /ticker is a Server-Sent Events feed the sidecar subscribes to
//     (`stream = "http://127.0.0.1:4000/ticker"`). Every TickDelay it sends
//     one instruction, ticker.tick to every socket of the namespace, with an
//     SSE id: the sidecar sends the last one back as Last-Event-ID when it
//     reconnects, and the feed resumes right after it. The price is a
//     function of the tick's number, so resuming needs no stored history.
//   - GET /legacy is a plain WebSocket, the kind a legacy chat server
//     already has: the sidecar opens one per Socket.IO socket of a bridged
//     namespace (`bridge = "ws://127.0.0.1:4000/legacy"`). It reads the
//     sidecar's connect and event frames and answers with ack frames and
//     instructions.

// tickerSymbol is the ticker's make-believe stock.
const tickerSymbol = "IOB"

// Tick is the argument of a ticker.tick event.
type Tick struct {
	Seq    uint64  `json:"seq"`
	Symbol string  `json:"symbol"`
	Price  float64 `json:"price"`
	Time   string  `json:"time"`
}

// tickPrice is the price at tick seq: a slow wave around 100.
func tickPrice(seq uint64) float64 {
	p := 100 + 4*math.Sin(float64(seq)/7) + 1.5*math.Sin(float64(seq)/2.3)
	return math.Round(p*100) / 100
}

// ticker is GET /ticker: one ticker.tick instruction per TickDelay, as
// SSE messages with ids, from the tick after Last-Event-ID.
func (b *Backend) ticker(w http.ResponseWriter, r *http.Request) {
	seq := uint64(1)
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			http.Error(w, "Last-Event-ID is not a tick number", http.StatusBadRequest)
			return
		}
		seq = n + 1
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher, _ := w.(http.Flusher)
	// retry: how long the sidecar waits before it reconnects.
	io.WriteString(w, "retry: 1000\n\n")
	b.log.Info("backend: ticker subscribed", "from", seq)
	t := time.NewTicker(b.cfg.TickDelay)
	defer t.Stop()
	for {
		in, _ := json.Marshal(Instruction{Event: "ticker.tick", Args: []any{Tick{
			Seq: seq, Symbol: tickerSymbol, Price: tickPrice(seq), Time: time.Now().UTC().Format(time.RFC3339),
		}}})
		if _, err := fmt.Fprintf(w, "id: %d\nevent: ticker.tick\ndata: %s\n\n", seq, in); err != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		seq++
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
}

// legacyRoom is the room every legacy chat user is in.
const legacyRoom = "legacy-lobby"

// upgrader accepts the sidecar's bridges. CheckOrigin stays the default:
// the sidecar sends no Origin.
var upgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}

// bridgeFrame is a frame from the sidecar: connect, then events.
type bridgeFrame struct {
	Type   string            `json:"type"`
	Event  string            `json:"event"`
	Args   []json.RawMessage `json:"args"`
	ID     *uint64           `json:"id"`
	Socket struct {
		ID        string `json:"id"`
		Handshake struct {
			Headers map[string]string `json:"headers"`
		} `json:"handshake"`
	} `json:"socket"`
}

// legacy is GET /legacy: a legacy chat over a plain WebSocket, one per
// Socket.IO socket. On the connect frame it joins the socket to the
// lobby and welcomes it; "legacy.say" [{text}] is broadcast to the lobby
// as legacy.message and acked with {ok, n}.
func (b *Backend) legacy(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	defer ws.Close()
	ws.SetReadLimit(64 << 10)
	log := b.log
	send := func(v any) error {
		msg, err := json.Marshal(v)
		if err != nil {
			return err
		}
		ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
		return ws.WriteMessage(websocket.TextMessage, msg)
	}
	var user string
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			// The sidecar closes with the Socket.IO reason.
			reason := err.Error()
			if ce, ok := err.(*websocket.CloseError); ok {
				reason = ce.Text
			}
			log.Info("backend: legacy chat user left", "reason", reason)
			return
		}
		var f bridgeFrame
		if json.Unmarshal(msg, &f) != nil {
			log.Warn("backend: legacy chat: not a frame", "bytes", len(msg))
			continue
		}
		switch {
		case f.Type == "connect":
			user = "user-" + f.Socket.ID[:4]
			log = b.log.With("socket", f.Socket.ID)
			n := b.legacyUsers.Add(1)
			defer b.legacyUsers.Add(-1)
			log.Info("backend: legacy chat user joined", "user_agent", shortAgent(f.Socket.Handshake.Headers["user-agent"]))
			// An array of frames, applied in order: join the lobby, then
			// welcome this socket (no "to": the bridge's own socket).
			err = send([]any{
				map[string]any{"type": "join", "rooms": []string{legacyRoom}},
				Instruction{Event: "legacy.welcome", Args: []any{map[string]any{"user": user, "online": n}}},
			})
		case f.Type == "event" && f.Event == "legacy.say":
			var m struct {
				Text string `json:"text"`
			}
			if len(f.Args) > 0 {
				json.Unmarshal(f.Args[0], &m)
			}
			m.Text = strings.TrimSpace(m.Text)
			if m.Text == "" || len(m.Text) > 500 {
				if f.ID != nil {
					err = send(map[string]any{"type": "ack", "id": *f.ID, "args": []any{map[string]any{"ok": false, "error": "say 1 to 500 bytes"}}})
				}
				break
			}
			n := b.legacySaid.Add(1)
			frames := []any{Instruction{To: []string{legacyRoom}, Event: "legacy.message", Args: []any{map[string]any{"user": user, "text": m.Text, "n": n}}}}
			if f.ID != nil {
				frames = append(frames, map[string]any{"type": "ack", "id": *f.ID, "args": []any{map[string]any{"ok": true, "n": n}}})
			}
			err = send(frames)
		default:
			if f.ID != nil { // never leave a client waiting
				err = send(map[string]any{"type": "ack", "id": *f.ID, "args": []any{map[string]any{"ok": false, "error": "unknown event " + f.Event}}})
			}
		}
		if err != nil {
			log.Warn("backend: legacy chat: write failed", "err", err)
			return
		}
	}
}

// legacyCounters are the legacy chat's users online and messages said.
type legacyCounters struct {
	legacyUsers atomic.Int64
	legacySaid  atomic.Uint64
}

// shortAgent keeps a User-Agent short for the log.
func shortAgent(ua string) string {
	if len(ua) > 40 {
		return ua[:40] + "…"
	}
	return ua
}
