package engineio

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults applied to a zero Config field, as the reference server's.
const (
	defaultPath              = "/engine.io/"
	defaultPingInterval      = 25 * time.Second
	defaultPingTimeout       = 20 * time.Second
	defaultUpgradeTimeout    = 10 * time.Second
	defaultMaxHTTPBufferSize = 1_000_000
	defaultMaxQueueBytes     = 1 << 20
	defaultBatchDelay        = time.Millisecond
)

const (
	// writeTimeout bounds every write to a client: a WebSocket frame or a
	// polling response. A client that cannot take one frame in this time is
	// gone; the session closes with ReasonTransportError.
	writeTimeout = 10 * time.Second
	// closeGrace is how long the reader waits for the client's answer to
	// our close frame before dropping the connection.
	closeGrace = time.Second
	// lingerTimeout bounds how long a polling session closed by
	// Session.Close waits for the client's next GET to hand it the close
	// packet (the reference's closeTimeout).
	lingerTimeout = 30 * time.Second
	// closeNoopWindow bounds how long a polling session closed by the
	// client's close packet, with no GET waiting, keeps its sid for the
	// GET sent together with that close (see Session.closeWith). Longer
	// than any delay between two requests sent at once; short, as the
	// sid answers only that one GET.
	closeNoopWindow = closeGrace
	// wsReadBufferSize is gorilla's per-connection read buffer. Frames
	// larger than this are read in pieces; an idle connection keeps only
	// this much.
	wsReadBufferSize = 1024
	// wsWriteBufferSize is the size of the pooled write buffers. Idle
	// connections hold none (see wsWritePool).
	wsWriteBufferSize = 4096
)

// Protocol error codes, as the reference server's Server.errors.
const (
	codeUnknownTransport    = 0
	codeUnknownSID          = 1
	codeBadHandshakeMethod  = 2
	codeBadRequest          = 3
	codeForbidden           = 4
	codeUnsupportedProtocol = 5
)

var errorMessages = [...]string{
	codeUnknownTransport:    "Transport unknown",
	codeUnknownSID:          "Session ID unknown",
	codeBadHandshakeMethod:  "Bad handshake method",
	codeBadRequest:          "Bad request",
	codeForbidden:           "Forbidden",
	codeUnsupportedProtocol: "Unsupported protocol version",
}

// ErrServerClosed is the error of a handshake refused because Shutdown has
// begun.
var ErrServerClosed = errors.New("engineio: server closed")

// Server is an Engine.IO server: an http.Handler for Config.Path that holds
// the sessions. It is safe for concurrent use.
type Server struct {
	cfg    Config
	accept func(*Session) Handler
	log    *slog.Logger
	// allowed is what Config.Transports and DisableUpgrades allow.
	allowed transports

	upgrader websocket.Upgrader
	track    tracker

	mu       sync.Mutex
	sessions map[string]*Session
	closed   bool

	// draining refuses new handshakes (Drain) while the sessions in
	// place are still served.
	draining atomic.Bool

	batch batcher

	// Drops at the bounds (Stats).
	volatileDropped, queueFullPackets, slowConsumers atomic.Uint64

	// hooks let tests observe internal transitions; nil in production.
	hooks struct {
		parked   func(*Session) // a GET parked waiting for packets
		upgraded func(*Session) // an upgrade completed
		idle     func(*Session) // a WebSocket writer finished with an empty queue
		handoff  func(*Session) // the batcher left a write to a writer goroutine
		posting  func(*Session) // a POST began reading its body
	}
}

// NewServer returns a Server with cfg's zero fields set to their defaults.
// accept is called once per session, when its handshake completes and
// before the OPEN packet is written; the Handler it returns receives that
// session's messages and its close.
func NewServer(cfg Config, accept func(s *Session) Handler) *Server {
	if cfg.Path == "" {
		cfg.Path = defaultPath
	}
	cfg.Path = strings.TrimSuffix(cfg.Path, "/") + "/"
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = defaultPingInterval
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = defaultPingTimeout
	}
	if cfg.UpgradeTimeout <= 0 {
		cfg.UpgradeTimeout = defaultUpgradeTimeout
	}
	if cfg.MaxHTTPBufferSize <= 0 {
		cfg.MaxHTTPBufferSize = defaultMaxHTTPBufferSize
	}
	if cfg.MaxQueueBytes <= 0 {
		cfg.MaxQueueBytes = defaultMaxQueueBytes
	}
	if cfg.BatchDelay == 0 {
		cfg.BatchDelay = defaultBatchDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NodeID != "" && !validNodeID(cfg.NodeID) {
		panic("engineio: Config.NodeID " + strconv.Quote(cfg.NodeID) + " is not NodeIDLen base64url characters (NewNodeID)")
	}
	for _, t := range cfg.Transports {
		if t != transportNamePolling && t != transportNameWebSocket {
			panic("engineio: Config.Transports holds " + strconv.Quote(t) + `, not "polling" or "websocket"`)
		}
	}
	if cfg.Cookie != nil {
		if err := cfg.Cookie.Check(); err != nil {
			panic("engineio: Config.Cookie: " + err.Error())
		}
	}
	s := &Server{
		cfg:      cfg,
		accept:   accept,
		log:      cfg.Logger,
		sessions: make(map[string]*Session),
		allowed:  newTransports(cfg),
	}
	s.batch.delay = cfg.BatchDelay
	s.upgrader = websocket.Upgrader{
		// Zero: gorilla adopts the reader hijackWriter supplies, of
		// wsReadBufferSize bytes.
		ReadBufferSize:  0,
		WriteBufferSize: wsWriteBufferSize,
		WriteBufferPool: wsWritePool,
		// Origins are CORS's business; browsers do not apply CORS to
		// WebSocket, and the reference server accepts any Origin here.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
			w.Header().Set("Connection", "close")
			http.Error(w, http.StatusText(status), status)
		},
	}
	return s
}

// wsWritePool lends write buffers to connections while they write, so an
// idle connection holds none.
var wsWritePool = &sync.Pool{}

// Count returns the number of open sessions.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Stats returns the counts of what the server dropped at its bounds.
func (s *Server) Stats() Stats {
	return Stats{
		VolatileDropped:  s.volatileDropped.Load(),
		QueueFullPackets: s.queueFullPackets.Load(),
		SlowConsumers:    s.slowConsumers.Load(),
	}
}

func (s *Server) lookup(sid string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[sid]
}

func (s *Server) remove(sess *Session) {
	s.mu.Lock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
	}
	s.mu.Unlock()
}

// register adds sess, unless Shutdown has begun.
func (s *Server) register(sess *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.sessions[sess.id] = sess
	return true
}

// ServeHTTP answers Engine.IO requests under Config.Path: handshakes,
// polling GETs and POSTs, WebSocket connections and upgrades, and CORS
// preflights. Other paths get 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, s.cfg.Path) {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if s.cfg.Forward != nil && r.Method != http.MethodOptions {
		// Before CORS: the owner sets the headers of the answer.
		if sid := q.Get("sid"); sid != "" && s.lookup(sid) == nil {
			if h := s.cfg.Forward(r, sid); h != nil {
				h.ServeHTTP(w, r)
				return
			}
		}
	}
	if len(s.cfg.CORSOrigins) > 0 {
		allowed := s.setCORS(w, r)
		if r.Method == http.MethodOptions {
			s.preflight(w, r, allowed)
			return
		}
	}
	transport := q.Get("transport")
	// Without WebSocket the reference listens for no upgrades, and Node
	// answers an Upgrade request as a plain one.
	upgrade := s.allowed.websocket && websocket.IsWebSocketUpgrade(r)
	fail := abortRequest
	if upgrade {
		fail = abortUpgrade
	}
	if !s.allowed.allows(transport) {
		s.debugReject(r, codeUnknownTransport)
		fail(w, codeUnknownTransport)
		return
	}
	if transport == transportNamePolling && q.Has("j") {
		// JSONP polling is not served: only XHR polling and WebSocket.
		s.debugReject(r, codeBadRequest)
		fail(w, codeBadRequest)
		return
	}
	if sid := q.Get("sid"); sid != "" {
		sess := s.lookup(sid)
		if sess == nil {
			s.debugReject(r, codeUnknownSID)
			fail(w, codeUnknownSID)
			return
		}
		if sess.Protocol() != requestProtocol(q) {
			// The reference's PROTOCOL_MISMATCH.
			s.debugReject(r, codeBadRequest)
			fail(w, codeBadRequest)
			return
		}
		if upgrade {
			s.serveUpgrade(sess, w, r, transport, q.Has("b64"))
			return
		}
		if sess.Transport() != transport || transport != transportNamePolling {
			s.debugReject(r, codeBadRequest)
			fail(w, codeBadRequest)
			return
		}
		sess.servePolling(w, r)
		return
	}
	if r.Method != http.MethodGet {
		s.debugReject(r, codeBadHandshakeMethod)
		fail(w, codeBadHandshakeMethod)
		return
	}
	if transport == transportNameWebSocket && !upgrade {
		s.debugReject(r, codeBadRequest)
		fail(w, codeBadRequest)
		return
	}
	if s.cfg.AllowRequest != nil {
		if err := s.cfg.AllowRequest(r); err != nil {
			s.log.Debug("handshake refused", "remote_addr", r.RemoteAddr, "err", err)
			fail(w, codeForbidden)
			return
		}
	}
	if s.draining.Load() {
		refuseShuttingDown(w)
		return
	}
	protocol := requestProtocol(q)
	if protocol == 3 && !s.cfg.AllowEIO3 {
		s.debugReject(r, codeUnsupportedProtocol)
		fail(w, codeUnsupportedProtocol)
		return
	}
	if upgrade {
		if transport != transportNameWebSocket {
			s.refuseWebSocket(w, r)
			return
		}
		s.handshakeWebSocket(w, r, protocol, q.Has("b64"))
		return
	}
	s.handshakePolling(w, r, protocol, q.Has("b64"))
}

// requestProtocol is the protocol a request asks for: 4 for EIO=4, 3 for
// anything else, as the reference's computeProtocolRevision.
func requestProtocol(q url.Values) int {
	if q.Get("EIO") == "4" {
		return 4
	}
	return 3
}

func (s *Server) debugReject(r *http.Request, code int) {
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("request rejected", "remote_addr", r.RemoteAddr, "code", code, "message", errorMessages[code])
	}
}

// abortRequest answers a rejected HTTP request as the reference does:
// 403 for Forbidden, 400 otherwise, with {"code":N,"message":"..."}.
func abortRequest(w http.ResponseWriter, code int) {
	status := http.StatusBadRequest
	if code == codeForbidden {
		status = http.StatusForbidden
	}
	writeError(w, status, code, errorMessages[code])
}

// writeError writes the reference's JSON error body, {"code","message"},
// with status. message is one of ours, with nothing to escape.
func writeError(w http.ResponseWriter, status, code int, message string) {
	body := `{"code":` + strconv.Itoa(code) + `,"message":"` + message + `"}`
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// abortUpgrade answers a rejected WebSocket upgrade as the reference does:
// 400 with the bare message as text/html, and the connection closed.
func abortUpgrade(w http.ResponseWriter, code int) {
	msg := errorMessages[code]
	h := w.Header()
	h.Set("Connection", "close")
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(msg))
}

// openPacket returns the OPEN packet's JSON for sess.
func (s *Server) openPacket(id string, upgrades bool) []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"sid":"`...)
	b = append(b, id...)
	b = append(b, `","upgrades":[`...)
	if upgrades {
		b = append(b, `"websocket"`...)
	}
	b = append(b, `],"pingInterval":`...)
	b = strconv.AppendInt(b, s.cfg.PingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, s.cfg.PingTimeout.Milliseconds(), 10)
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, s.cfg.MaxHTTPBufferSize, 10)
	b = append(b, '}')
	return b
}

// tracker counts the goroutines the server owns so Shutdown can wait for
// them. Unlike sync.WaitGroup it allows adds while a wait is in progress.
type tracker struct {
	n    atomic.Int64
	mu   sync.Mutex
	zero chan struct{}
}

func (t *tracker) add() { t.n.Add(1) }

func (t *tracker) done() {
	if t.n.Add(-1) == 0 {
		t.mu.Lock()
		if t.zero != nil && t.n.Load() == 0 {
			close(t.zero)
			t.zero = nil
		}
		t.mu.Unlock()
	}
}

func (t *tracker) wait(ctx context.Context) error {
	t.mu.Lock()
	if t.n.Load() == 0 {
		t.mu.Unlock()
		return nil
	}
	if t.zero == nil {
		t.zero = make(chan struct{})
	}
	z := t.zero
	t.mu.Unlock()
	select {
	case <-z:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
