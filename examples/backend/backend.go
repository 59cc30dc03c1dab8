// Package backend is the example backend of the iobridge demo: a plain
// net/http service that has never heard of Socket.IO, the kind of service
// iobridge is for. Read it to learn the backend contract.
//
// It talks to the sidecar in the three ways the contract offers:
//
//   - Webhook answers. The sidecar POSTs every connect, event and disconnect
//     of a socket to /hooks as a JSON envelope signed per Standard Webhooks.
//     The JSON answer tells the sidecar what to do: accept the connection
//     and join rooms, answer the client's ack, emit to rooms, join or leave
//     rooms.
//   - Streamed answers. An answer with Content-Type text/event-stream is
//     relayed live: each SSE message becomes an event to the socket that
//     asked, and the SSE event named "ack" answers its ack. The assistant
//     streams its answer token by token this way.
//   - The control API. At any time the backend may POST an instruction to
//     the sidecar's /v1/emit with its bearer token. The file-copy job
//     reports its progress this way, long after the webhook was answered.
//   - A stream. GET /ticker is a Server-Sent Events feed of instructions
//     the sidecar subscribes to: a ticker.tick to every socket each second,
//     resumed from Last-Event-ID after a reconnect.
//   - A bridge. GET /legacy is a plain WebSocket the sidecar opens once per
//     socket of a bridged namespace: a legacy chat that reads event frames
//     and answers with ack frames and instructions.
//
// The demo's events:
//
//	connect          auth {name, user?}  → joins "user:<id>", sets data {user, name}
//	chat.join        [room]              → joins the room, ack [{room}]
//	chat.leave       [room]              → leaves the room, ack [{room}]
//	chat.message     [{room, text}]      → broadcast "chat.message" to the room, ack [{ok}]
//	file.copy        [{name, size}]      → ack [{job}], then file.progress and
//	                                       file.complete through /v1/emit to "user:<id>"
//	assistant.ask    [{question}]        → SSE: "assistant.token" events, then the ack
//	(stream /ticker)                     → "ticker.tick" {seq, symbol, price, time} each second
//	legacy.say       [{text}]            → over the bridge: "legacy.message" to the lobby, ack [{ok, n}]
//
// Run it alone with go run ./examples/backend/cmd, or with the sidecar and
// the demo page through `iobridge demo`.
package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultStepDelay  = 300 * time.Millisecond
	DefaultTokenDelay = 60 * time.Millisecond
	DefaultTickDelay  = time.Second
	// maxBody caps a webhook body. The sidecar's own limit on client
	// messages is smaller in the example config.
	maxBody = 1 << 20
)

// Config configures the example backend.
type Config struct {
	// Secret is the Standard Webhooks secret ("whsec_…") shared with the
	// sidecar's [[namespace]] block. Empty skips verification (and logs a
	// warning): never do that outside a demo.
	Secret string
	// API is the base URL of the sidecar's control API
	// ("http://127.0.0.1:8081"). Empty disables the file-copy job, which
	// reports progress through it.
	API string
	// Token is the control API's bearer token.
	Token string
	// StepDelay is the time between two progress reports of a file copy
	// (ten reports per copy). Zero means DefaultStepDelay.
	StepDelay time.Duration
	// TokenDelay is the time between two tokens of an assistant answer.
	// Zero means DefaultTokenDelay.
	TokenDelay time.Duration
	// TickDelay is the time between two ticks of GET /ticker. Zero means
	// DefaultTickDelay.
	TickDelay time.Duration
	// Client makes the control API calls. Nil means a client with a 10s
	// timeout.
	Client *http.Client
	// Logger receives the backend's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Backend is the example backend: an http.Handler serving POST /hooks, and
// the owner of the file-copy jobs it starts. Use New, then Shutdown.
type Backend struct {
	cfg      Config
	verifier *Verifier // nil: deliveries are not verified
	log      *slog.Logger
	mux      *http.ServeMux

	jobs     sync.WaitGroup // running file-copy jobs
	jobsCtx  context.Context
	stopJobs context.CancelFunc
	nextJob  atomic.Uint64

	legacyCounters
}

// New returns a Backend. It fails only on a malformed Secret.
func New(cfg Config) (*Backend, error) {
	if cfg.StepDelay == 0 {
		cfg.StepDelay = DefaultStepDelay
	}
	if cfg.TokenDelay == 0 {
		cfg.TokenDelay = DefaultTokenDelay
	}
	if cfg.TickDelay == 0 {
		cfg.TickDelay = DefaultTickDelay
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	b := &Backend{cfg: cfg, log: cfg.Logger}
	if b.log == nil {
		b.log = slog.Default()
	}
	if cfg.Secret != "" {
		v, err := NewVerifier(cfg.Secret)
		if err != nil {
			return nil, err
		}
		b.verifier = v
	} else {
		b.log.Warn("backend: no webhook secret, deliveries are not verified")
	}
	b.jobsCtx, b.stopJobs = context.WithCancel(context.Background())
	b.mux = http.NewServeMux()
	b.mux.HandleFunc("POST /hooks", b.hooks)
	b.mux.HandleFunc("GET /ticker", b.ticker)
	b.mux.HandleFunc("GET /legacy", b.legacy)
	b.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "iobridge example backend: the sidecar POSTs webhooks to /hooks, subscribes to /ticker and bridges sockets to /legacy\n")
	})
	return b, nil
}

// ServeHTTP serves the backend's routes.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.mux.ServeHTTP(w, r) }

// Shutdown stops the running file-copy jobs and waits for them, or for ctx.
func (b *Backend) Shutdown(ctx context.Context) error {
	b.stopJobs()
	done := make(chan struct{})
	go func() { b.jobs.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run listens on addr ("127.0.0.1:4000") and serves the backend until ctx
// is done, then shuts down.
func Run(ctx context.Context, addr string, cfg Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("backend: listen on %s: %w", addr, err)
	}
	return Serve(ctx, ln, cfg)
}

// Serve is Run on a listener the caller opened. It closes ln.
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	b, err := New(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           b,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(b.log.Handler(), slog.LevelWarn),
		// Streamed answers end with the request's context: when the
		// sidecar goes away, or when the server shuts down.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	b.log.Info("backend: listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		b.Shutdown(context.Background())
		return fmt.Errorf("backend: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	jobsErr := b.Shutdown(sctx)
	srvErr := srv.Shutdown(sctx)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("backend: serve: %w", err)
	}
	return errors.Join(jobsErr, srvErr)
}

// Envelope is the JSON body of every delivery, as the backend contract
// defines it. Args stay raw JSON: the backend decodes what it needs.
type Envelope struct {
	Type      string            `json:"type"` // connect | event | disconnect | expired
	ID        string            `json:"id"`   // delivery id: the same on retries
	Time      string            `json:"time"`
	Namespace string            `json:"namespace"`
	Socket    Socket            `json:"socket"`
	Event     string            `json:"event,omitempty"`
	Args      []json.RawMessage `json:"args,omitempty"`
	Ack       bool              `json:"ack"` // the client waits for an ack
	Reason    string            `json:"reason,omitempty"`
	Recovered bool              `json:"recovered,omitempty"`
}

// Socket describes the socket a delivery is about.
type Socket struct {
	ID        string          `json:"id"`
	Rooms     []string        `json:"rooms"`
	Data      json.RawMessage `json:"data"`
	Handshake struct {
		Headers map[string]string `json:"headers"`
		Query   map[string]string `json:"query"`
		Auth    json.RawMessage   `json:"auth"`
		Address string            `json:"address"`
	} `json:"handshake"`
}

// Answer is what an answer to a delivery may hold. Every field is
// optional; the sidecar applies them in this order.
type Answer struct {
	// Connect answers only.
	Rooms []string `json:"rooms,omitempty"`
	Data  any      `json:"data,omitempty"`
	// Event answers: the ack's arguments (the client's ack callback gets
	// them as its arguments).
	Ack []any `json:"ack,omitempty"`
	// Instructions: emits to rooms or socket ids.
	Emit  []Instruction `json:"emit,omitempty"`
	Join  []string      `json:"join,omitempty"`
	Leave []string      `json:"leave,omitempty"`
}

// Instruction is the object the sidecar executes, in a webhook answer as in
// a POST /v1/emit. An absent To means every socket of the namespace; a
// socket id as room means just that socket.
type Instruction struct {
	Namespace string   `json:"namespace,omitempty"`
	To        []string `json:"to,omitempty"`
	Except    []string `json:"except,omitempty"`
	Event     string   `json:"event"`
	Args      []any    `json:"args"`
}

// httpError is a failed delivery: its status and message reach the
// client (the ack's {"error":{status,message}}, or the connect_error).
type httpError struct {
	status  int
	message string
	data    any
}

func (e *httpError) Error() string { return e.message }

func fail(status int, format string, a ...any) *httpError {
	return &httpError{status: status, message: fmt.Sprintf(format, a...)}
}

// hooks is the webhook endpoint: verify, decode, dispatch by type.
func (b *Backend) hooks(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "body too large"})
		return
	}
	if b.verifier != nil {
		if err := b.verifier.Verify(r.Header, body); err != nil {
			b.log.Warn("backend: rejected delivery", "delivery_id", r.Header.Get("webhook-id"), "err", err)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "invalid signature"})
			return
		}
	}
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "invalid envelope"})
		return
	}
	log := b.log.With("delivery_id", env.ID, "namespace", env.Namespace, "socket", env.Socket.ID)

	var ans *Answer
	switch env.Type {
	case "connect":
		ans, err = b.connect(&env)
	case "event":
		if env.Event == "assistant.ask" {
			// A streamed answer writes its own response.
			b.assistant(w, r, &env, log)
			return
		}
		ans, err = b.event(&env, log)
	case "disconnect":
		log.Info("backend: socket left", "reason", env.Reason)
		ans = &Answer{}
	case "expired":
		// With recovery on: the socket did not come back within the
		// window, so what is kept for it can go.
		log.Info("backend: socket gone for good", "reason", env.Reason)
		ans = &Answer{}
	default:
		err = fail(http.StatusBadRequest, "unknown delivery type %q", env.Type)
	}
	if err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			he = fail(http.StatusInternalServerError, "internal error")
		}
		log.Info("backend: refused", "type", env.Type, "event", env.Event, "status", he.status, "err", he.message)
		body := map[string]any{"message": he.message}
		if he.data != nil {
			body["data"] = he.data
		}
		writeJSON(w, he.status, body)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
