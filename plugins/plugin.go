package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// Plugin is the seam: a named piece of policy run at the sidecar's hooks.
// A Plugin implements Name and any of the hook interfaces (ConnectHook,
// InboundHook, OutboundHook, DisconnectHook) and capabilities
// (RequestChecker, Shutdowner). NewChain asserts them once; nothing is
// asserted per packet.
//
// Hooks are called from many goroutines at once (one per connection at
// most for a given socket) and must be safe for concurrent use. They
// should not block: a connect hook runs before the CONNECT
// acknowledgement, an inbound hook on the connection's reader.
type Plugin interface {
	// Name identifies the plugin in logs and in the errors clients see
	// ("jwt", "ratelimit").
	Name() string
}

// ConnectHook decides whether a socket may join its namespace. It runs
// before the backend's connect delivery, so rooms and data it sets reach
// the backend in that delivery. Returning an error rejects the
// connection: the client's connect_error gets the message (see Error).
type ConnectHook interface {
	OnConnect(ctx context.Context, e ConnectEvent) (ConnectReply, error)
}

// InboundHook sees every event a client sends, before the route's events
// filter and the backend. Returning an error refuses the event: the
// client's ack gets {"error":{"status","message"}}, or, without an ack,
// the socket gets the route's error event. The event never reaches the
// backend.
type InboundHook interface {
	OnInbound(ctx context.Context, e InboundEvent) (InboundReply, error)
}

// OutboundHook sees every emit of an instruction (webhook answers,
// POST /v1/emit, backend streams) once per recipient socket, and may drop
// or rewrite it for that socket. A namespace with an OutboundHook gives
// up the encode-once broadcast: each recipient gets its own packet. An
// error drops the emit for that socket and is logged.
type OutboundHook interface {
	OnOutbound(ctx context.Context, e OutboundEvent) (OutboundReply, error)
}

// DisconnectHook is told when a socket that connected leaves, so that a
// plugin can release what it keeps per socket. It must not block.
type DisconnectHook interface {
	OnDisconnect(ctx context.Context, e DisconnectEvent)
}

// RequestChecker is a capability: a plugin that can judge the Engine.IO
// handshake request itself, before any session exists (see
// Set.AllowRequest). A non-nil error refuses the request.
type RequestChecker interface {
	AllowRequest(r *http.Request) error
}

// Shutdowner is a capability: a plugin with goroutines or connections of
// its own (a JWKS refresher) stops them in Shutdown.
type Shutdowner interface {
	Shutdown(ctx context.Context) error
}

// ConnectEvent is a socket asking to join a namespace.
type ConnectEvent struct {
	// Socket is not connected yet: it may join rooms and have data set,
	// but emits to it fail.
	Socket *socketio.Socket
	// Handshake is the socket's handshake, built once for the whole
	// chain. Its Headers map is shared: do not modify it.
	Handshake socketio.Handshake
}

// ConnectReply is what a ConnectHook adds to an accepted socket.
type ConnectReply struct {
	// Rooms are joined before the CONNECT acknowledgement.
	Rooms []string
	// Data entries are merged into socket.data (an object), which reaches
	// the backend in every delivery's socket.data.
	Data map[string]any
}

// InboundEvent is an event a client sent.
type InboundEvent struct {
	Socket *socketio.Socket
	// Name is the event name.
	Name string
	// Args are raw JSON and alias the received message: do not modify
	// them; return new ones in InboundReply.Args to rewrite.
	Args []json.RawMessage
	// Attachments are the binary attachments Args refer to.
	Attachments [][]byte
	// Ack is true when the client asked for an acknowledgement.
	Ack bool
}

// InboundReply is an InboundHook's decision on an event it lets through
// (to refuse one, return an error).
type InboundReply struct {
	// Args, if not nil, replace the event's args for the next plugins and
	// the backend.
	Args []json.RawMessage
	// Handled stops the event here: it is not forwarded, and the client's
	// ack, if it asked for one, is answered with AckArgs (nil: no args).
	Handled bool
	AckArgs []json.RawMessage
}

// OutboundEvent is one recipient's copy of an emit.
type OutboundEvent struct {
	Socket *socketio.Socket
	Name   string
	// Args are shared by every recipient: do not modify them.
	Args []json.RawMessage
}

// OutboundReply is an OutboundHook's decision for one recipient.
type OutboundReply struct {
	// Drop leaves this socket out.
	Drop bool
	// Args, if not nil, replace the args for this socket.
	Args []json.RawMessage
}

// DisconnectEvent is a connected socket leaving.
type DisconnectEvent struct {
	Socket *socketio.Socket
	Reason socketio.DisconnectReason
}

// Sentinel errors, wrapped by the built-ins' Errors (test with errors.Is).
var (
	// ErrUnauthorized: no token, or a token that does not verify (status
	// 401).
	ErrUnauthorized = errors.New("plugins: unauthorized")
	// ErrForbidden: the request or event is not allowed (status 403).
	ErrForbidden = errors.New("plugins: forbidden")
	// ErrRateLimited: over a rate limit (status 429).
	ErrRateLimited = errors.New("plugins: rate limited")
	// ErrTooLarge: an event's args are over a size or depth bound
	// (status 413).
	ErrTooLarge = errors.New("plugins: event too large")
)

// Error is a hook's refusal, as the client and the log see it. A hook may
// return any error; the chain turns another error into an Error with
// status 403 and the error's text as the message (as a socket.io
// middleware's next(new Error(msg)) sends msg), so a plugin's errors must
// be fit for clients.
type Error struct {
	// Plugin names the plugin that refused; the chain sets it.
	Plugin string
	// Status is the HTTP-like status of an event's ack error (401, 403,
	// 413, 429). It is also in a connect_error's data.
	Status int
	// Message is what the client sees: connect_error's message, the ack
	// error's or error event's message.
	Message string
	// Data is optional raw JSON added to a connect_error's data under
	// "details".
	Data json.RawMessage
	// Disconnect makes the sidecar disconnect the socket after telling it
	// (events only).
	Disconnect bool
	// Err is the cause, reported by Unwrap and never sent.
	Err error
}

func (e *Error) Error() string {
	s := "plugins: "
	if e.Plugin != "" {
		s += e.Plugin + ": "
	}
	s += e.Message
	if e.Err != nil && e.Err.Error() != e.Message {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// asError returns err as an *Error naming plugin.
func asError(plugin string, err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		if pe.Plugin == "" {
			cp := *pe
			cp.Plugin = plugin
			return &cp
		}
		return pe
	}
	return &Error{Plugin: plugin, Status: http.StatusForbidden, Message: err.Error(), Err: err}
}

// connectError turns a connect refusal into the CONNECT_ERROR the client
// gets: the message, and data {"plugin","status"} (with "details" when the
// plugin gave data).
func (e *Error) connectError() *socketio.ConnectError {
	b := []byte(`{"plugin":`)
	b, _ = appendJSON(b, e.Plugin)
	b = append(b, `,"status":`...)
	b, _ = appendJSON(b, e.Status)
	if len(e.Data) > 0 && json.Valid(e.Data) {
		b = append(b, `,"details":`...)
		b = append(b, e.Data...)
	}
	b = append(b, '}')
	return &socketio.ConnectError{Message: e.Message, Data: b, Err: e}
}

func appendJSON(b []byte, v any) ([]byte, error) {
	x, err := json.Marshal(v)
	return append(b, x...), err
}
