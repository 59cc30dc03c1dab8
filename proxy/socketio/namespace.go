package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iobridge/iobridge/internal/jsonstr"
)

// Middleware runs for every socket connecting to a namespace, in the order
// added, before the CONNECT acknowledgement is sent. It may set the
// socket's data and join rooms. A non-nil error rejects the connection
// with a CONNECT_ERROR (see ConnectError). ctx is canceled when the
// connection closes. Middleware runs on its own goroutine.
type Middleware func(ctx context.Context, s *Socket) error

// Namespace is a Socket.IO namespace: its sockets, rooms (through its
// Adapter), middleware and handlers. Its methods are safe for concurrent
// use.
type Namespace struct {
	name    string
	srv     *Server
	parent  *Namespace     // for a child of a pattern
	pattern *regexp.Regexp // for a parent namespace
	log     *slog.Logger

	adapter Adapter
	fetcher SocketFetcher
	store   SessionStore
	emitter ServerSideEmitter
	counter ServerCounter

	ids atomic.Uint64
	// connecting counts the connects under way (cleanup.go).
	connecting atomic.Int32

	mu           sync.RWMutex
	sockets      map[string]*Socket
	middlewares  []Middleware
	onConnection []func(*Socket)
	onServerSide []func(event string, args []json.RawMessage)
	onExpired    []func(*Namespace, *Session)
	children     []*Namespace
}

func newNamespace(s *Server, name string, parent *Namespace, pattern *regexp.Regexp) *Namespace {
	n := &Namespace{
		name:    name,
		srv:     s,
		parent:  parent,
		pattern: pattern,
		log:     s.log.With("namespace", name),
		sockets: make(map[string]*Socket),
	}
	if pattern != nil {
		return n
	}
	n.adapter = s.cfg.Adapter(n)
	n.fetcher, _ = n.adapter.(SocketFetcher)
	n.store, _ = n.adapter.(SessionStore)
	n.emitter, _ = n.adapter.(ServerSideEmitter)
	n.counter, _ = n.adapter.(ServerCounter)
	if s.cfg.Recovery > 0 && n.store == nil {
		n.log.Warn("socketio: the adapter does not store sessions, connection state recovery is off for this namespace")
	}
	if i, ok := n.adapter.(Initializer); ok {
		i.Init()
	}
	return n
}

// Name is the namespace name ("/chat"); for a parent namespace, its pattern.
func (n *Namespace) Name() string { return n.name }

// Server returns the namespace's server.
func (n *Namespace) Server() *Server { return n.srv }

// Adapter returns the namespace's adapter (nil for a parent namespace).
func (n *Namespace) Adapter() Adapter { return n.adapter }

// Logger returns the namespace's logger (with its name bound).
func (n *Namespace) Logger() *slog.Logger { return n.log }

// RecoveryWindow is Config.Recovery: zero when connection state recovery
// is off. A SessionStore adapter stores packets and sessions only when it
// is positive.
func (n *Namespace) RecoveryWindow() time.Duration { return n.srv.cfg.Recovery }

func (n *Namespace) recovery() bool { return n.store != nil && n.srv.cfg.Recovery > 0 }

// NextAckID returns a fresh acknowledgement id, unique in the namespace.
func (n *Namespace) NextAckID() uint64 { return n.ids.Add(1) - 1 }

// Use adds a connect middleware.
func (n *Namespace) Use(m Middleware) {
	n.mu.Lock()
	n.middlewares = append(n.middlewares, m)
	n.mu.Unlock()
}

// OnConnection adds a handler called with every socket that connects, after
// its CONNECT acknowledgement is written. Handlers run in order, before any
// event of that socket is dispatched; they must not block for long.
func (n *Namespace) OnConnection(fn func(s *Socket)) {
	n.mu.Lock()
	n.onConnection = append(n.onConnection, fn)
	n.mu.Unlock()
}

// OnServerSideEmit adds a handler for events other nodes send with
// ServerSideEmit.
func (n *Namespace) OnServerSideEmit(fn func(event string, args []json.RawMessage)) {
	n.mu.Lock()
	n.onServerSide = append(n.onServerSide, fn)
	n.mu.Unlock()
}

// DispatchServerSideEmit hands an event received from another node to the
// OnServerSideEmit handlers (for adapters).
func (n *Namespace) DispatchServerSideEmit(event string, args []json.RawMessage) {
	for _, fn := range hooks(n, func(x *Namespace) []func(string, []json.RawMessage) { return x.onServerSide }) {
		fn(event, args)
	}
}

// ServerSideEmit sends an event to the other nodes of the cluster. It
// returns ErrNotSupported when the adapter is not distributed.
func (n *Namespace) ServerSideEmit(ctx context.Context, event string, args []json.RawMessage) error {
	if IsReservedEvent(event) || event == "connection" || event == "new_namespace" {
		return ErrReservedEvent
	}
	if n.emitter == nil {
		return ErrNotSupported
	}
	return n.emitter.ServerSideEmit(ctx, event, args)
}

// hooks returns the parent's entries followed by the namespace's own.
func hooks[T any](n *Namespace, get func(*Namespace) []T) []T {
	n.mu.RLock()
	own := get(n)
	n.mu.RUnlock()
	if n.parent == nil {
		return own
	}
	n.parent.mu.RLock()
	inherited := get(n.parent)
	n.parent.mu.RUnlock()
	if len(own) == 0 {
		return inherited
	}
	return append(slices.Clip(inherited), own...)
}

func (n *Namespace) addChild(c *Namespace) {
	n.mu.Lock()
	n.children = append(n.children, c)
	n.mu.Unlock()
}

func (n *Namespace) targets() []*Namespace {
	if n.pattern == nil {
		return []*Namespace{n}
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return slices.Clone(n.children)
}

// Socket returns the connected local socket with that id, or nil. It does
// not allocate: adapters call it once per recipient.
func (n *Namespace) Socket(id string) *Socket {
	n.mu.RLock()
	s := n.sockets[id]
	n.mu.RUnlock()
	return s
}

// Len returns the number of connected local sockets.
func (n *Namespace) Len() int {
	if n.pattern != nil {
		total := 0
		for _, c := range n.targets() {
			total += c.Len()
		}
		return total
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	left := n.sockets[s.id] == s
	if left {
		delete(n.sockets, s.id)
	}
	n.mu.Unlock()
	if left {
		n.removeIfEmpty()
	}
}

// add creates the socket for a CONNECT and runs the middleware (namespace.ts
// _add). It ends the hold Server.acquire took once the socket is connected
// or rejected.
func (n *Namespace) add(c *client, auth json.RawMessage) {
	s := n.createSocket(c, auth)
	mws := hooks(n, func(x *Namespace) []Middleware { return x.middlewares })
	if len(mws) == 0 || (s.recovered && !n.srv.cfg.RecoveryRunsMiddleware) {
		n.doConnect(s)
		n.release()
		return
	}
	ctx := c.context()
	n.srv.wg.Add(1)
	go func() {
		defer n.srv.wg.Done()
		defer n.release()
		var err error
		for _, m := range mws {
			if err = runMiddleware(ctx, m, s); err != nil {
				break
			}
		}
		if ctx.Err() != nil {
			c.unpend(n.name)
			s.cleanup()
			return
		}
		if err != nil {
			c.unpend(n.name)
			s.cleanup()
			s.logAttrs(slog.LevelDebug, "socketio: connection rejected by middleware", slog.Any("err", err))
			c.send(&Packet{Type: PacketConnectError, Namespace: n.name, Data: connectErrorData(c.proto, err)})
			return
		}
		n.doConnect(s)
	}()
}

func runMiddleware(ctx context.Context, m Middleware, s *Socket) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.logAttrs(slog.LevelError, "socketio: middleware panicked", slog.Any("err", r))
			err = &ConnectError{Message: "internal error"}
		}
	}()
	return m(ctx, s)
}

// connectErrorData builds the CONNECT_ERROR payload: {"message","data"} for
// EIO=4, data or else the message string for EIO=3.
func connectErrorData(proto int, err error) json.RawMessage {
	msg := err.Error()
	var data json.RawMessage
	var ce *ConnectError
	if errors.As(err, &ce) {
		msg, data = ce.Message, ce.Data
		if len(data) > 0 && !json.Valid(data) {
			data = nil
		}
	}
	if proto == 3 {
		if len(data) > 0 {
			return data
		}
		return jsonstr.Append(nil, msg)
	}
	b := append([]byte(`{"message":`), jsonstr.Append(nil, msg)...)
	if len(data) > 0 {
		b = append(b, `,"data":`...)
		b = append(b, data...)
	}
	return append(b, '}')
}

func (n *Namespace) createSocket(c *client, auth json.RawMessage) *Socket {
	if n.recovery() {
		var a struct {
			PID    any `json:"pid"`
			Offset any `json:"offset"`
		}
		if json.Unmarshal(auth, &a) == nil {
			pid, ok1 := a.PID.(string)
			off, ok2 := a.Offset.(string)
			if ok1 && ok2 {
				sess, err := n.store.RestoreSession(c.context(), pid, off)
				if err != nil {
					n.log.Warn("socketio: restoring session failed", "err", err)
				}
				if sess != nil {
					return newSocket(n, c, auth, sess)
				}
			}
		}
	}
	return newSocket(n, c, auth, nil)
}

// doConnect registers the socket, writes the CONNECT acknowledgement and
// runs the connection handlers (namespace.ts _doConnect).
func (n *Namespace) doConnect(s *Socket) {
	defer s.markReady()
	n.mu.Lock()
	n.sockets[s.id] = s
	n.mu.Unlock()
	if !s.client.register(s) {
		n.remove(s)
		s.cleanup()
		return
	}
	if !s.onconnect() {
		return
	}
	if o := n.srv.observer(); o != nil {
		o.SocketConnected(s)
	}
	for _, fn := range hooks(n, func(x *Namespace) []func(*Socket) { return x.onConnection }) {
		fn(s)
	}
}

// To returns a broadcast operator for the sockets in room (and others
// added with To).
func (n *Namespace) To(rooms ...string) *BroadcastOperator {
	return (&BroadcastOperator{nsp: n}).To(rooms...)
}

// In is To.
func (n *Namespace) In(rooms ...string) *BroadcastOperator { return n.To(rooms...) }

// Except returns a broadcast operator excluding the sockets in rooms.
func (n *Namespace) Except(rooms ...string) *BroadcastOperator {
	return (&BroadcastOperator{nsp: n}).Except(rooms...)
}

// Volatile returns a broadcast operator whose emits are volatile.
func (n *Namespace) Volatile() *BroadcastOperator {
	return (&BroadcastOperator{nsp: n}).Volatile()
}

// Local returns a broadcast operator restricted to this node.
func (n *Namespace) Local() *BroadcastOperator {
	return (&BroadcastOperator{nsp: n}).Local()
}

// Timeout returns a broadcast operator whose EmitWithAck waits at most d.
func (n *Namespace) Timeout(d time.Duration) *BroadcastOperator {
	return (&BroadcastOperator{nsp: n}).Timeout(d)
}

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args []json.RawMessage, attachments [][]byte) error {
	return (&BroadcastOperator{nsp: n}).Emit(event, args, attachments)
}

// FetchSockets describes every socket of the namespace.
func (n *Namespace) FetchSockets(ctx context.Context) ([]SocketInfo, error) {
	return (&BroadcastOperator{nsp: n}).FetchSockets(ctx)
}

// DisconnectSockets disconnects every socket of the namespace.
func (n *Namespace) DisconnectSockets(ctx context.Context, close bool) error {
	return (&BroadcastOperator{nsp: n}).DisconnectSockets(ctx, close)
}

// SocketsJoin makes every socket of the namespace join rooms.
func (n *Namespace) SocketsJoin(ctx context.Context, rooms ...string) error {
	return (&BroadcastOperator{nsp: n}).SocketsJoin(ctx, rooms...)
}

// SocketsLeave makes every socket of the namespace leave rooms.
func (n *Namespace) SocketsLeave(ctx context.Context, rooms ...string) error {
	return (&BroadcastOperator{nsp: n}).SocketsLeave(ctx, rooms...)
}
