package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// user is who a socket belongs to: set from the handshake's auth on
// connect, and kept by the sidecar as the socket's data, which every later
// delivery carries back.
type user struct {
	ID   string `json:"user"`
	Name string `json:"name"`
}

var (
	userIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	roomPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	notIDChars    = regexp.MustCompile(`[^a-z0-9_-]+`)
)

// userOf returns the socket's user: from its data (set by our connect
// answer), else from the handshake's auth.
func userOf(s *Socket) (user, error) {
	var u user
	if len(s.Data) > 0 && json.Unmarshal(s.Data, &u) == nil && u.ID != "" {
		return u, nil
	}
	var auth struct {
		Name string `json:"name"`
		User string `json:"user"`
	}
	// The sidecar always sends auth as an object ({} when the client sent
	// none).
	if err := json.Unmarshal(s.Handshake.Auth, &auth); err != nil {
		return u, fail(http.StatusBadRequest, "auth must be an object")
	}
	u.Name = strings.TrimSpace(auth.Name)
	if u.Name == "" || utf8.RuneCountInString(u.Name) > 32 {
		return u, &httpError{
			status:  http.StatusUnauthorized,
			message: "a name is required",
			data:    map[string]string{"hint": `connect with auth: {name: "Ada"}`},
		}
	}
	u.ID = auth.User
	if u.ID == "" { // derive an id from the name: "Ada L." → "ada-l"
		u.ID = strings.Trim(notIDChars.ReplaceAllString(strings.ToLower(u.Name), "-"), "-")
	}
	if !userIDPattern.MatchString(u.ID) {
		return u, fail(http.StatusUnauthorized, "user id %q is not [a-z0-9_-]{1,32}", u.ID)
	}
	return u, nil
}

// connect accepts a socket that says who it is. The answer's rooms are
// joined before the client sees its connect event; its data becomes the
// socket's data; its emits reach the client right after it connected.
func (b *Backend) connect(env *Envelope) (*Answer, error) {
	u, err := userOf(&env.Socket)
	if err != nil {
		return nil, err // 4xx: the client's connect_error gets message and data
	}
	return &Answer{
		Rooms: []string{"user:" + u.ID},
		Data:  u,
		Emit: []Instruction{{
			To:    []string{env.Socket.ID}, // every socket is in the room of its own id
			Event: "chat.system",
			Args:  []any{map[string]string{"text": "Welcome, " + u.Name + "!"}},
		}},
	}, nil
}

// event answers one client event (all but the streamed assistant).
func (b *Backend) event(env *Envelope, log *slog.Logger) (*Answer, error) {
	u, err := userOf(&env.Socket)
	if err != nil {
		return nil, err
	}
	switch env.Event {
	case "chat.join", "chat.leave":
		var room string
		if err := arg(env, 0, &room); err != nil {
			return nil, err
		}
		if !roomPattern.MatchString(room) {
			return nil, fail(http.StatusUnprocessableEntity, "room %q is not [a-z0-9_-]{1,32}", room)
		}
		notice := Instruction{
			To:    []string{room},
			Event: "chat.system",
			Args:  []any{map[string]string{"room": room, "text": u.Name + " joined #" + room}},
		}
		if env.Event == "chat.leave" {
			notice.Args = []any{map[string]string{"room": room, "text": u.Name + " left #" + room}}
			// Emits run before leaves: the leaver sees it too.
			return &Answer{Emit: []Instruction{notice}, Leave: []string{room}, Ack: []any{map[string]string{"room": room}}}, nil
		}
		// Emits run before joins: the room hears of the newcomer, who
		// does not hear of themself.
		return &Answer{Emit: []Instruction{notice}, Join: []string{room}, Ack: []any{map[string]string{"room": room}}}, nil

	case "chat.message":
		var msg struct {
			Room string `json:"room"`
			Text string `json:"text"`
		}
		if err := arg(env, 0, &msg); err != nil {
			return nil, err
		}
		msg.Text = strings.TrimSpace(msg.Text)
		if msg.Text == "" || utf8.RuneCountInString(msg.Text) > 500 {
			return nil, fail(http.StatusUnprocessableEntity, "a message is 1 to 500 characters")
		}
		// The envelope says which rooms the socket is in.
		if !slices.Contains(env.Socket.Rooms, msg.Room) {
			return nil, fail(http.StatusForbidden, "join #%s before writing to it", msg.Room)
		}
		now := time.Now().UTC().Format(time.RFC3339)
		return &Answer{
			Emit: []Instruction{{
				To:    []string{msg.Room}, // the sender is in the room: they get it too
				Event: "chat.message",
				Args:  []any{map[string]string{"room": msg.Room, "user": u.ID, "name": u.Name, "text": msg.Text, "time": now}},
			}},
			Ack: []any{map[string]any{"ok": true, "time": now}},
		}, nil

	case "file.copy":
		var req struct {
			Name string `json:"name"`
			Size int64  `json:"size"`
		}
		if err := arg(env, 0, &req); err != nil {
			return nil, err
		}
		if req.Name == "" {
			return nil, fail(http.StatusUnprocessableEntity, "name the file to copy")
		}
		if b.cfg.API == "" {
			return nil, fail(http.StatusServiceUnavailable, "this backend has no control API to report progress through")
		}
		job := fmt.Sprintf("job-%d", b.nextJob.Add(1))
		b.startCopy(job, req.Name, req.Size, env.Namespace, u, log)
		// The ack answers at once; progress follows through /v1/emit.
		return &Answer{Ack: []any{map[string]string{"job": job, "name": req.Name}}}, nil
	}
	return nil, fail(http.StatusNotFound, "unknown event %q", env.Event)
}

// arg decodes the client's i-th argument into v.
func arg(env *Envelope, i int, v any) error {
	if i >= len(env.Args) {
		return fail(http.StatusUnprocessableEntity, "%s needs %d argument(s)", env.Event, i+1)
	}
	if err := json.Unmarshal(env.Args[i], v); err != nil {
		return fail(http.StatusUnprocessableEntity, "%s: argument %d: %v", env.Event, i+1, err)
	}
	return nil
}

// startCopy simulates a long copy that reports its progress to every
// socket of the user (all their tabs) through the sidecar's control API:
// ten file.progress events, then file.complete.
func (b *Backend) startCopy(job, name string, size int64, namespace string, u user, log *slog.Logger) {
	if size <= 0 {
		size = 10 << 20
	}
	b.jobs.Add(1)
	go func() {
		defer b.jobs.Done()
		t := time.NewTicker(b.cfg.StepDelay)
		defer t.Stop()
		for percent := 10; percent <= 100; percent += 10 {
			select {
			case <-t.C:
			case <-b.jobsCtx.Done():
				return
			}
			p := map[string]any{"job": job, "name": name, "percent": percent, "bytes": size * int64(percent) / 100}
			if err := b.emit(namespace, "user:"+u.ID, "file.progress", p); err != nil {
				log.Warn("backend: progress not delivered, job stopped", "job", job, "err", err)
				return
			}
		}
		done := map[string]any{"job": job, "name": name, "bytes": size}
		if err := b.emit(namespace, "user:"+u.ID, "file.complete", done); err != nil {
			log.Warn("backend: completion not delivered", "job", job, "err", err)
		}
	}()
}

// emit POSTs one instruction to the sidecar's /v1/emit.
func (b *Backend) emit(namespace, room, event string, arg any) error {
	body, err := json.Marshal(Instruction{Namespace: namespace, To: []string{room}, Event: event, Args: []any{arg}})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(b.jobsCtx, http.MethodPost, strings.TrimSuffix(b.cfg.API, "/")+"/v1/emit", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+b.cfg.Token)
	res, err := b.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.NewDecoder(res.Body).Decode(&e)
		return fmt.Errorf("POST /v1/emit: %s: %s", res.Status, e.Error.Message)
	}
	return nil
}

// assistant streams an answer as Server-Sent Events: the sidecar relays
// each message to the socket as it arrives ("event:" is the event name,
// "data:" its argument), and the message named "ack" answers the client's
// ack. The stream ends when the answer is complete, or early when the
// client leaves (the sidecar closes the request: r.Context() is done).
func (b *Backend) assistant(w http.ResponseWriter, r *http.Request, env *Envelope, log *slog.Logger) {
	var q struct {
		Question string `json:"question"`
	}
	if err := arg(env, 0, &q); err != nil {
		he := err.(*httpError)
		writeJSON(w, he.status, map[string]string{"message": he.message})
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "streaming unsupported"})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush() // the headers end the sidecar's delivery timeout

	tokens := tokenize(answerFor(q.Question))
	ctx := r.Context()
	t := time.NewTicker(b.cfg.TokenDelay)
	defer t.Stop()
	for _, tok := range tokens {
		select {
		case <-t.C:
		case <-ctx.Done():
			log.Info("backend: answer abandoned", "reason", context.Cause(ctx))
			return
		}
		data, _ := json.Marshal(tok) // a JSON string: one argument
		fmt.Fprintf(w, "event: assistant.token\ndata: %s\n\n", data)
		flusher.Flush()
	}
	// The ack's data is the ack's argument list.
	fmt.Fprintf(w, "event: ack\ndata: [{\"tokens\":%d}]\n\n", len(tokens))
	flusher.Flush()
}

// tokenize splits text the way a language model streams it: words with
// their following space.
func tokenize(text string) []string {
	var out []string
	for len(text) > 0 {
		i := strings.IndexByte(text, ' ')
		if i < 0 {
			out = append(out, text)
			break
		}
		out = append(out, text[:i+1])
		text = text[i+1:]
	}
	return out
}

// answerFor picks a canned answer. A real backend would call a model and
// forward its tokens as they come.
func answerFor(question string) string {
	q := strings.ToLower(question)
	switch {
	case strings.Contains(q, "room") || strings.Contains(q, "chat"):
		return "Rooms live in the sidecar. My webhook answer said join, and the sidecar put your socket in the room; a chat.message answer emits to the room, so everyone in it gets the message, you included."
	case strings.Contains(q, "file") || strings.Contains(q, "progress"):
		return "The copy runs in the backend long after the webhook was answered. Every step, the backend POSTs an instruction to the sidecar's /v1/emit with to user:<id>, so every tab of yours sees the progress."
	}
	return "This answer is a text/event-stream response to the assistant.ask webhook. The sidecar relays each SSE message to your socket as it arrives, token by token, and the final message named ack resolves your ack."
}
