package socketio

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
)

// DefaultConnectTimeout is Config.ConnectTimeout's zero value.
const DefaultConnectTimeout = 45 * time.Second

// Config configures a Server.
type Config struct {
	// Engine configures the Engine.IO server behind ServeHTTP. Its Path
	// defaults to "/socket.io/" here.
	Engine engineio.Config
	// Adapter makes each namespace's Adapter. Required: the in-memory
	// adapter is proxy/adapter's New.
	Adapter AdapterFactory
	// ConnectTimeout closes a connection that has joined no namespace in
	// time. Zero means 45s; negative disables it.
	ConnectTimeout time.Duration
	// Recovery is the connection state recovery window (the reference's
	// maxDisconnectionDuration). Zero disables recovery.
	Recovery time.Duration
	// RecoveryRunsMiddleware makes a socket whose session was recovered
	// go through the namespace's Middleware again. False (the reference's
	// skipMiddlewares: true) connects it directly.
	RecoveryRunsMiddleware bool
	// CleanupEmptyChildNamespaces removes a namespace made from a pattern
	// (OfPattern) once its last socket has left, closing its adapter, as
	// the reference's cleanupEmptyChildNamespaces; a later connect to the
	// same name makes it afresh. See cleanup.go.
	CleanupEmptyChildNamespaces bool
	// MaxAttachments caps the binary attachments of one incoming packet.
	// Zero means DefaultMaxAttachments (10).
	MaxAttachments int
	// Parser is the wire format clients speak, as the reference's parser
	// option (see ParserByName). Nil is the default (socket.io-parser's
	// JSON); MsgpackParser is socket.io-msgpack-parser's.
	Parser Parser
	// Logger receives the server's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Server is a Socket.IO server: namespaces of sockets over Engine.IO
// connections. Its methods are safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger

	engineOnce     sync.Once
	engine         http.Handler
	engineShutdown func(context.Context) error
	eio            atomic.Pointer[engineio.Server] // for EngineStats
	obs            atomic.Pointer[observerBox]     // see SetObserver
	// share is set once a Conn whose server compresses WebSocket messages
	// is attached (deflateConn): broadcasts then mark their messages
	// (Namespace.Encode).
	share atomic.Bool

	mu       sync.RWMutex
	nsps     map[string]*Namespace
	patterns []*Namespace
	clients  map[*client]struct{}
	shutdown bool

	wg sync.WaitGroup // connect goroutines and deferred closes
}

// NewServer returns a Server with the main namespace "/" already created.
// It panics if cfg.Adapter is nil.
func NewServer(cfg Config) *Server {
	if cfg.Adapter == nil {
		panic("socketio: Config.Adapter is nil")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.Engine.Path == "" {
		cfg.Engine.Path = "/socket.io/"
	}
	if cfg.Engine.Logger == nil {
		cfg.Engine.Logger = cfg.Logger
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		nsps:    make(map[string]*Namespace),
		clients: make(map[*client]struct{}),
	}
	s.Of("/")
	return s
}

// Of returns the namespace called name, creating it if needed. A name
// without a leading "/" gets one.
func (s *Server) Of(name string) *Namespace {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nsps[name]; ok {
		return n
	}
	n := newNamespace(s, name, nil, nil)
	s.nsps[name] = n
	return n
}

// OfPattern returns a parent namespace: a client connecting to a namespace
// that does not exist and whose name matches re gets a child namespace of
// that name, which runs the parent's Middleware and connection handlers.
// Broadcasts and queries on the parent reach every child. Patterns are
// tried in the order they were added. Calling OfPattern again with the same
// expression returns the same parent.
func (s *Server) OfPattern(re *regexp.Regexp) *Namespace {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The same pattern gives the same parent, as Of does for a name, so
	// every layer that registers on a pattern (routes, bridges, plugins)
	// shares one set of middleware and handlers.
	for _, n := range s.patterns {
		if n.pattern.String() == re.String() {
			return n
		}
	}
	n := newNamespace(s, re.String(), nil, re)
	s.patterns = append(s.patterns, n)
	return n
}

// Namespace returns the existing namespace called name.
func (s *Server) Namespace(name string) (*Namespace, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.nsps[name]
	return n, ok
}

// Namespaces returns the namespaces that exist, children of patterns
// included.
func (s *Server) Namespaces() []*Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		out = append(out, n)
	}
	return out
}

// Attach makes c a client of the server and returns the Handler that must
// receive c's messages. ServeHTTP does this for every Engine.IO session;
// tests and custom transports call it directly.
func (s *Server) Attach(c Conn) engineio.Handler {
	if dc, ok := c.(deflateConn); ok && !s.share.Load() && dc.PerMessageDeflate() {
		s.share.Store(true)
	}
	cl := newClient(s, c)
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		c.Close(engineio.ReasonServerShutdown)
		return cl
	}
	s.clients[cl] = struct{}{}
	s.mu.Unlock()
	if o := s.observer(); o != nil {
		o.ConnOpened(c, connTransport(c))
	}
	cl.start()
	return cl
}

func (s *Server) removeClient(c *client) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
}

// EngineStats returns the Engine.IO server's counts of packets and
// connections dropped at its bounds (volatile packets, slow consumers);
// zeros until the first request. Lock-free: a metric callback may call it.
func (s *Server) EngineStats() engineio.Stats {
	if e := s.eio.Load(); e != nil {
		return e.Stats()
	}
	return engineio.Stats{}
}

// Clients returns the number of attached connections.
func (s *Server) Clients() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.clients)
}

// ServeHTTP serves Engine.IO requests (polling and WebSocket) under
// Config.Engine.Path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.engineOnce.Do(s.initEngine)
	if s.engine == nil {
		http.Error(w, "socketio: server shut down", http.StatusServiceUnavailable)
		return
	}
	s.engine.ServeHTTP(w, r)
}

// Drain refuses new Engine.IO connections (503, "Server shutting down")
// while the connections in place, and their sockets, go on being served:
// the first step of a graceful shutdown, before Shutdown.
func (s *Server) Drain() {
	s.engineOnce.Do(s.initEngine)
	if e := s.eio.Load(); e != nil {
		e.Drain()
	}
}

// Shutdown disconnects every socket with ReasonServerShuttingDown, closes
// the Engine.IO server and the adapters, and waits for the server's
// goroutines or ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	clients := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		clients = append(clients, c)
	}
	nsps := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		nsps = append(nsps, n)
	}
	s.mu.Unlock()
	for _, c := range clients {
		c.closeWith(ReasonServerShuttingDown, engineio.ReasonServerShutdown)
	}
	var errs []error
	s.engineOnce.Do(func() {}) // no engine is started after this
	if s.engineShutdown != nil {
		if err := s.engineShutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	for _, n := range nsps {
		if c, ok := n.adapter.(Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
