package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
	"github.com/iobridge/iobridge/translate"
)

// Defaults of Config.
const (
	// DefaultMaxMessageBytes bounds one backend frame.
	DefaultMaxMessageBytes = 1 << 20
	// DefaultReadBufferSize is the read buffer of each bridge. Frames
	// larger than it are read in several steps.
	DefaultReadBufferSize = 1024
	// DefaultCloseTimeout is how long a closing bridge waits for the
	// backend's close frame.
	DefaultCloseTimeout = time.Second
	// DefaultPingInterval is how often an open bridge pings its backend,
	// as the Socket.IO server pings its clients.
	DefaultPingInterval = 25 * time.Second
)

// Sentinel errors.
var (
	// ErrConfig: New got an unusable Config.
	ErrConfig = errors.New("bridge: invalid config")
	// ErrClosed: the bridge of the socket is closed, or the socket has
	// none. Deliver wraps it in translate.ErrUnreachable (status 502).
	ErrClosed = errors.New("bridge: closed")
)

// Config configures the bridges of one namespace.
type Config struct {
	// URL is the backend's ws:// or wss:// endpoint; each socket dials
	// it. Required.
	URL string
	// Executor applies the backend's instructions. Required.
	Executor *translate.Executor
	// Webhook, when set, receives the connect and disconnect deliveries
	// the translator makes for the namespace (on_connect "webhook", and a
	// disconnect delivery per socket). Nil means none are sent anywhere.
	Webhook translate.Backend
	// Timeout bounds the dial (up to the end of the WebSocket handshake),
	// each frame write, and the wait for an ack frame. Zero means
	// translate.DefaultTimeout (5s).
	Timeout time.Duration
	// Header is sent with every dial (an Authorization header, for
	// example). It is not logged.
	Header http.Header
	// ForwardHeaders names headers of the client's handshake request
	// copied onto the socket's dial (its Authorization or Cookie, for
	// example), over Header's. Names are case-insensitive; headers the
	// WebSocket handshake sets itself (Host, Connection, Upgrade,
	// Sec-WebSocket-*) are never copied. The connect frame carries the
	// whole handshake (headers, query, auth) either way. Not logged.
	ForwardHeaders []string
	// PingInterval is how often a bridge pings its backend (a WebSocket
	// ping control frame, which a backend's WebSocket library answers by
	// itself). A bridge that receives nothing, pong or frame, for
	// PingInterval plus Timeout is closed and its socket disconnected, as
	// when the backend closes it. Zero means DefaultPingInterval; a
	// negative value sends no pings and never closes an idle bridge.
	PingInterval time.Duration
	// Dialer opens the WebSockets. Nil means a Dialer with the proxy from
	// the environment, ReadBufferSize and pooled write buffers.
	Dialer *websocket.Dialer
	// ReadBufferSize is each bridge's read buffer in bytes when Dialer is
	// nil. Zero means DefaultReadBufferSize.
	ReadBufferSize int
	// MaxMessageBytes bounds one backend frame; a larger one closes the
	// bridge. Zero means DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// CloseTimeout bounds the wait for the backend's close frame after
	// the sidecar sent its own. Zero means DefaultCloseTimeout.
	CloseTimeout time.Duration
	// Logger receives the bridges' logs. Nil means slog.Default().
	Logger *slog.Logger
	// TracerProvider makes a span per frame (telemetry.StartBridgeSpan):
	// a producer span "<namespace> <event> send" per event frame, a child
	// of the span in Deliver's ctx (the client event's), lasting until
	// the frame is written or, with an ack, until the ack frame; a
	// consumer span "<namespace> <event> receive" per backend frame, the
	// event being the instruction's or the frame's type (ack, join,
	// leave). An ack frame's span is a child of its event's span; an
	// instruction's emit span (with an Executor that traces) is a child
	// of its frame's. Failures (a write, an ack timeout, a malformed
	// frame, an instruction that fails) are recorded with an Error
	// status; iobridge.bridge.frame says the frame's type. Nil means no
	// spans.
	TracerProvider trace.TracerProvider
}

// Bridge holds the bridges of the sockets of the namespaces it is
// attached to. It is safe for concurrent use.
type Bridge struct {
	cfg     Config
	url     string
	dialer  *websocket.Dialer
	log     *slog.Logger
	forward []string     // canonical names of ForwardHeaders
	tracer  trace.Tracer // nil: no spans

	conns sync.Map // socket id → *conn
	open  atomic.Int64

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // readers and dials of recovered sockets
}

var _ translate.Backend = (*Bridge)(nil)

// New checks cfg and returns a Bridge. Attach it to namespaces, and make
// it the Backend of their translate routes.
func New(cfg Config) (*Bridge, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fmt.Errorf("%w: URL %q: want a ws or wss URL", ErrConfig, cfg.URL)
	}
	if cfg.Executor == nil {
		return nil, fmt.Errorf("%w: an executor is required", ErrConfig)
	}
	b := &Bridge{cfg: cfg, url: u.String(), dialer: cfg.Dialer, log: cfg.Logger, tracer: telemetry.Tracer(cfg.TracerProvider)}
	for _, h := range cfg.ForwardHeaders {
		name := http.CanonicalHeaderKey(h)
		if !ForwardableHeader(name) {
			return nil, fmt.Errorf("%w: ForwardHeaders: %q is not a header a dial may forward", ErrConfig, h)
		}
		b.forward = append(b.forward, name)
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	r := *u
	r.User, r.RawQuery = nil, ""
	b.log = b.log.With("backend", r.String())
	if b.cfg.Timeout <= 0 {
		b.cfg.Timeout = translate.DefaultTimeout
	}
	if b.cfg.MaxMessageBytes <= 0 {
		b.cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if b.cfg.CloseTimeout <= 0 {
		b.cfg.CloseTimeout = DefaultCloseTimeout
	}
	if b.cfg.PingInterval == 0 {
		b.cfg.PingInterval = DefaultPingInterval
	}
	if b.cfg.ReadBufferSize <= 0 {
		b.cfg.ReadBufferSize = DefaultReadBufferSize
	}
	if b.dialer == nil {
		b.dialer = &websocket.Dialer{
			Proxy:           http.ProxyFromEnvironment,
			ReadBufferSize:  b.cfg.ReadBufferSize,
			WriteBufferPool: &sync.Pool{},
		}
	}
	return b, nil
}

// Attach dials a bridge for every socket that connects to nsp (a
// middleware) and starts it once the socket is connected. Call it after
// translate.New has registered its own middleware, so that the dial
// happens after on_connect accepted.
func (b *Bridge) Attach(nsp *socketio.Namespace) {
	nsp.Use(b.middleware)
	nsp.OnConnection(b.onConnection)
}

// Len returns the number of open bridges.
func (b *Bridge) Len() int { return int(b.open.Load()) }

// Shutdown closes every bridge (with reason "server shutting down"; after
// the socketio.Server's Shutdown there are none left) and waits for their
// goroutines, or ctx; then it closes what remains at once.
func (b *Bridge) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.conns.Range(func(_, v any) bool {
		v.(*conn).leave(string(socketio.ReasonServerShuttingDown))
		return true
	})
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	b.conns.Range(func(_, v any) bool {
		v.(*conn).abort()
		return true
	})
	<-done
	return ctx.Err()
}

// spawn runs fn on a goroutine Shutdown waits for, unless the bridge is
// shutting down.
func (b *Bridge) spawn(fn func()) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		fn()
	}()
	return true
}

func (b *Bridge) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// middleware dials the socket's bridge; a failure rejects the connect.
func (b *Bridge) middleware(ctx context.Context, s *socketio.Socket) error {
	if b.isClosed() {
		return &socketio.ConnectError{Message: "server shutting down", Err: ErrClosed}
	}
	c := newConn(b, s)
	ws, err := b.dial(ctx, s)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		status := dialStatus(err)
		s.Logger().Warn("bridge: dial failed; connect rejected", "status", status, "err", err)
		return &socketio.ConnectError{
			Message: "bridge unavailable",
			Data:    json.RawMessage(`{"status":` + strconv.Itoa(status) + `}`),
			Err:     err,
		}
	}
	c.setWS(ws)
	b.conns.Store(s.ID(), c)
	// Until the socket is connected, the bridge belongs to the client's
	// connection: if that closes first (or the connect is dropped), so
	// does the bridge.
	c.orphan = context.AfterFunc(ctx, func() { c.leave(string(socketio.ReasonTransportClose)) })
	return nil
}

// dialError carries the backend's answer to a refused upgrade.
type dialError struct {
	status int
	err    error
}

func (e *dialError) Error() string {
	return fmt.Sprintf("bridge: backend answered %d: %v", e.status, e.err)
}
func (e *dialError) Unwrap() error { return e.err }

// ForwardableHeader reports whether the header name may be copied from a
// client's handshake onto a bridge's dial: any valid name but those the
// WebSocket handshake sets itself.
func ForwardableHeader(name string) bool {
	name = http.CanonicalHeaderKey(name)
	if name == "" || strings.HasPrefix(name, "Sec-Websocket-") {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c) {
			return false
		}
	}
	switch name {
	case "Host", "Connection", "Upgrade", "Content-Length", "Transfer-Encoding", "Te", "Trailer", "Keep-Alive", "Proxy-Connection":
		return false
	}
	return true
}

// header is the dial's request header: Config.Header, and the forwarded
// headers of s's handshake.
func (b *Bridge) header(s *socketio.Socket) http.Header {
	if len(b.forward) == 0 {
		return b.cfg.Header
	}
	h := b.cfg.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	hs := s.Handshake().Headers
	for _, name := range b.forward {
		if v, ok := hs[name]; ok {
			h[name] = slices.Clone(v)
		}
	}
	return h
}

func (b *Bridge) dial(ctx context.Context, s *socketio.Socket) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	ws, resp, err := b.dialer.DialContext(ctx, b.url, b.header(s))
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, &dialError{status: resp.StatusCode, err: err}
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: dial: %v", translate.ErrTimeout, err)
		}
		return nil, fmt.Errorf("%w: dial: %v", translate.ErrUnreachable, err)
	}
	ws.SetReadLimit(b.cfg.MaxMessageBytes)
	b.open.Add(1)
	return ws, nil
}

// dialStatus is the status a failed dial reports to the client.
func dialStatus(err error) int {
	var de *dialError
	if errors.As(err, &de) {
		return de.status
	}
	return translate.Status(err)
}

// onConnection starts the bridge of a connected socket.
func (b *Bridge) onConnection(s *socketio.Socket) {
	v, ok := b.conns.Load(s.ID())
	if !ok {
		// A recovered socket skipped the middleware: dial now, while its
		// events wait.
		c := newConn(b, s)
		c.running = true
		b.conns.Store(s.ID(), c)
		s.OnDisconnecting(func(r socketio.DisconnectReason) { c.leave(string(r)) })
		if !b.spawn(func() { c.dialLate() }) {
			c.fail(ErrClosed)
			s.Disconnect(false)
		}
		return
	}
	c := v.(*conn)
	if !c.start() {
		return // the connection closed first; so did the bridge
	}
	c.orphan()
	if !b.spawn(c.run) {
		c.unstart()
		c.leave(string(socketio.ReasonServerShuttingDown))
		return
	}
	s.OnDisconnecting(func(r socketio.DisconnectReason) { c.leave(string(r)) })
	if !s.Connected() { // it left before the handler above was in place
		c.leave(string(socketio.ReasonTransportClose))
	}
}

// Deliver implements translate.Backend. An event becomes a frame on the
// socket's bridge; with an ack, Deliver waits for the backend's ack frame
// (up to Timeout: ErrTimeout) and returns its args as the Reply's ack. A
// socket without an open bridge fails with translate.ErrUnreachable.
// Connect and disconnect deliveries go to Config.Webhook, or are answered
// with an empty Reply when there is none.
func (b *Bridge) Deliver(ctx context.Context, env *translate.Envelope) (*translate.Reply, error) {
	if env.Type != translate.TypeEvent {
		if b.cfg.Webhook != nil {
			return b.cfg.Webhook.Deliver(ctx, env)
		}
		return &translate.Reply{}, nil
	}
	v, ok := b.conns.Load(env.Socket.ID)
	if !ok {
		return nil, fmt.Errorf("%w: %w", translate.ErrUnreachable, ErrClosed)
	}
	return v.(*conn).deliver(ctx, env)
}
