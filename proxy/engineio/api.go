package engineio

// This file is the contract between engineio and the packages above it
// (socketio). The types and method sets here are stable; implementations
// live in the other files of the package.

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// PacketType is the Engine.IO packet type, the first character of a packet
// on the wire.
type PacketType byte

// Engine.IO packet types, in wire order ('0' through '6').
const (
	PacketOpen PacketType = iota
	PacketClose
	PacketPing
	PacketPong
	PacketMessage
	PacketUpgrade
	PacketNoop
)

// Packet is one Engine.IO packet. Data is never modified after the packet is
// handed to Session.Send: one Packet (and one Data slice) may be queued for
// many sessions at once, which is how a broadcast is encoded only once.
type Packet struct {
	Type PacketType
	// Binary marks a binary message (sent as a binary WebSocket frame, or
	// as "b"+base64 over polling).
	Binary bool
	// Data is the payload: UTF-8 text, or raw bytes when Binary is set.
	Data []byte
	// shared holds the packet's compressed WebSocket frames, made once
	// for every recipient; nil unless Share marked the packet.
	shared *sharedFrames
}

// CloseReason says why a session ended. The set is closed: the same strings
// reach the Socket.IO layer, logs, metrics and webhooks.
type CloseReason string

// Close reasons, as the reference engine.io server names them, plus
// ReasonSlowConsumer for a session whose outbound queue hit its bound.
const (
	ReasonTransportClose = CloseReason("transport close")
	ReasonTransportError = CloseReason("transport error")
	ReasonPingTimeout    = CloseReason("ping timeout")
	ReasonParseError     = CloseReason("parse error")
	ReasonForcedClose    = CloseReason("forced close")
	ReasonServerShutdown = CloseReason("forced server close")
	ReasonSlowConsumer   = CloseReason("slow consumer")
)

// Sentinel errors returned by Session methods.
var (
	// ErrClosed is returned by Send on a session that has closed.
	ErrClosed = errors.New("engineio: session closed")
	// ErrQueueFull is returned by Send when the packets would take the
	// session's outbound queue past Config.MaxQueueBytes; the session is
	// closed with ReasonSlowConsumer.
	ErrQueueFull = errors.New("engineio: outbound queue full")
)

// Config configures a Server. The zero value of each field means the
// reference server's default.
type Config struct {
	// Path is the URL path the server answers on. Zero means "/engine.io/"
	// (Socket.IO passes "/socket.io/").
	Path string
	// PingInterval is how often the server pings. Zero means 25s.
	PingInterval time.Duration
	// PingTimeout is how long the server waits for a pong after a ping
	// before closing with ReasonPingTimeout. Zero means 20s.
	PingTimeout time.Duration
	// MaxHTTPBufferSize is the largest message (WebSocket) or POST body
	// (polling) accepted, in bytes; it is announced as maxPayload. Zero
	// means 1,000,000.
	MaxHTTPBufferSize int64
	// UpgradeTimeout bounds a polling→WebSocket upgrade, from the
	// WebSocket's connection to the client's upgrade packet. When it
	// passes the WebSocket is closed and the session goes on over polling,
	// as the reference's upgradeTimeout. Zero means 10s.
	UpgradeTimeout time.Duration
	// Transports lists the transports clients may use, "polling" and
	// "websocket", as the reference's transports option. Nil or empty
	// means both. A request naming another transport is refused as the
	// reference refuses it: 400 {"code":0,"message":"Transport unknown"}
	// (a WebSocket handshake: 400 "Transport unknown", connection
	// closed). Without "websocket", an Upgrade request is answered as a
	// plain HTTP request, as a Node server with no upgrade listener
	// does. A polling handshake announces the "websocket" upgrade only
	// when "websocket" is listed. NewServer panics on another name.
	Transports []string
	// DisableUpgrades is the reference's allowUpgrades: false. A polling
	// handshake then announces "upgrades":[], so clients stay on polling.
	// As in the reference, it only changes what is announced: a client
	// that upgrades anyway is served.
	DisableUpgrades bool
	// Cookie, when set, makes a polling handshake answer set the session
	// cookie (see Cookie), as the reference's cookie option. The
	// reference sets it only there: not on a WebSocket handshake, nor on
	// a session's later requests. Nil sets none. NewServer panics when
	// Cookie.Check fails.
	Cookie *Cookie
	// CORSOrigins lists the origins allowed by CORS on polling requests
	// and preflights, answered as Node's `cors` package answers them. An
	// exact origin ("https://app.example.com") is reflected in
	// Access-Control-Allow-Origin with Vary: Origin; "*" answers
	// Access-Control-Allow-Origin: * to any origin, as socket.io's
	// cors: {origin: "*"}, and never with credentials. A request from an
	// origin not listed gets no Access-Control-Allow-Origin. Empty means
	// no CORS headers are sent, as the reference server.
	CORSOrigins []string
	// CORSCredentials sends Access-Control-Allow-Credentials: true, as
	// socket.io's cors.credentials, to the exact origins in CORSOrigins
	// only: a page from one of them may make requests with the visitor's
	// cookies and read the answers. "*" never gets credentials (with them
	// any web page could); an origin answered "*" gets none, even when
	// this is set. False (the default) sends none.
	CORSCredentials bool
	// HTTPCompression compresses polling answers (the handshake's too) of
	// HTTPCompressionThreshold bytes or more with gzip or deflate when the
	// request's Accept-Encoding accepts one, chosen as the reference
	// chooses, as its httpCompression option. An answer of only a noop or
	// close packet is never compressed, nor is one the client does not
	// accept. Unlike most fields, the zero value is off: the reference
	// compresses by default, so a caller wanting its behaviour sets this.
	HTTPCompression bool
	// HTTPCompressionThreshold is the smallest answer, in bytes before
	// compression, that HTTPCompression compresses. Zero means 1024.
	HTTPCompressionThreshold int
	// PerMessageDeflate negotiates permessage-deflate (RFC 7692) with
	// WebSocket clients that offer it, as the reference's
	// perMessageDeflate option, and compresses messages of
	// PerMessageDeflateThreshold bytes or more. It is negotiated without
	// context takeover either way, so each compressed message costs no
	// memory between messages; clients (browsers, ws) accept that. False,
	// the reference's default, answers no extension.
	PerMessageDeflate bool
	// PerMessageDeflateThreshold is the smallest message, in bytes, that
	// PerMessageDeflate compresses. Zero means 1024.
	PerMessageDeflateThreshold int
	// AllowEIO3 accepts Engine.IO v3 clients (socket.io-client 2.x).
	AllowEIO3 bool
	// MaxQueueBytes bounds each session's outbound queue in bytes. Zero
	// means 1 MiB. See Session.Send.
	MaxQueueBytes int
	// BatchDelay is how long packets queued by Session.SendDeferred (a
	// broadcast's) may wait for more, so that a WebSocket gets the
	// packets of several broadcasts in one write. Zero means 1ms;
	// negative means no wait. It has no effect on polling, whose client
	// collects packets between requests anyway.
	BatchDelay time.Duration
	// AllowRequest, if set, is called on every handshake before a session
	// is created; an error rejects the handshake with 403 and
	// {"code":4,"message":"Forbidden"}.
	AllowRequest func(r *http.Request) error
	// NodeID, when set, names this node in every session id it issues:
	// the first NodeIDLen characters (SIDNode reads them back), the ids
	// staying 20 base64url characters as the reference's. So another node
	// that gets a request for the session knows its owner without asking
	// anyone. It must be NodeIDLen base64url characters (NewNodeID);
	// NewServer panics on another value. Empty means wholly random ids.
	NodeID string
	// Forward, when set, is asked about each request (CORS preflights
	// aside) whose sid this server does not hold: a polling GET or POST,
	// or a WebSocket upgrade. The Handler it returns serves the request
	// instead of this server (another node owns the session, see
	// proxy/forward); nil answers as for any unknown sid, 400
	// {"code":1,"message":"Session ID unknown"}. It is called before CORS
	// headers are set, concurrently, on the request's goroutine, and must
	// not block for long (a lookup bounded in time).
	Forward func(r *http.Request, sid string) http.Handler
	// Logger receives the server's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Handler receives one session's messages. A Handler is returned by the
// function passed to NewServer, once per session.
type Handler interface {
	// OnMessage is called for each message packet the client sends, one at
	// a time and in order, from the session's reader. data is owned by the
	// handler and may be retained. A slow OnMessage delays further reads of
	// that session only.
	OnMessage(data []byte, binary bool)
	// OnClose is called exactly once, after the session has closed; no
	// OnMessage follows it.
	OnClose(reason CloseReason, err error)
}

// UpgradeHandler is a Handler told when its session's transport changes.
// The session checks for it when an upgrade completes (once per session,
// not per packet).
type UpgradeHandler interface {
	Handler
	// OnUpgrade is called once an upgrade to transport ("websocket")
	// has completed: Session.Transport already reports it. It does not
	// overlap OnMessage and comes before OnClose; it must not block.
	OnUpgrade(transport string)
}

// Stats are a Server's counts of what it dropped at its bounds, since
// NewServer. Server.Stats reads them without locking (atomics), so a
// metric callback may call it at every collection.
type Stats struct {
	// VolatileDropped counts SendVolatile calls that dropped their
	// packets because the transport was busy or the queue bound would
	// have been passed (not those on a closed session).
	VolatileDropped uint64
	// QueueFullPackets counts packets dropped at a session's
	// MaxQueueBytes bound: those of the Send that hit it and those still
	// queued when the session closed for it.
	QueueFullPackets uint64
	// SlowConsumers counts sessions closed with ReasonSlowConsumer.
	SlowConsumers uint64
}

// The session API (implemented in server.go and session.go):
//
//	func NewServer(cfg Config, accept func(s *Session) Handler) *Server
//	func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request)
//	func (s *Server) Shutdown(ctx context.Context) error // closes every session with ReasonServerShutdown
//	func (s *Server) Count() int                         // open sessions
//	func (s *Server) Stats() Stats                       // drops at the bounds
//
//	func (s *Session) ID() string             // 20-char sid
//	func (s *Session) Protocol() int          // 3 or 4
//	func (s *Session) Transport() string      // "polling" or "websocket"; changes on upgrade
//	func (s *Session) Request() *http.Request // the handshake request (headers, URL, RemoteAddr, TLS); body consumed
//	func (s *Session) Send(packets []Packet) error      // queues all or none; never blocks; ErrClosed, ErrQueueFull
//	func (s *Session) SendVolatile(packets []Packet) bool // queues only if the transport can write now; false = dropped
//	func (s *Session) Close(reason CloseReason)        // flushes nothing more; OnClose follows
//	func (s *Session) PerMessageDeflate() bool         // the server compresses WebSocket messages (Config.PerMessageDeflate)
//
//	func Share(packets []Packet) // marks a broadcast's packets: each compressed once for all its recipients
//
// accept is called when the handshake completes, before the OPEN packet is
// written; the Handler it returns gets every message of that session.
// Send copies the Packet structs (not their Data) into the session's queue,
// so callers may reuse the slice: a broadcast passes one slice to every
// recipient without allocating per recipient.
