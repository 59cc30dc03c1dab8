package socketio

// Recovery expiry. With connection state recovery on, a socket that leaves
// for a recoverable reason keeps its session for the recovery window; the
// reference server then drops it without telling anyone (socket.io#5250),
// so a backend cannot tell a brief network blip from a user who is gone.
// Here the namespace's SessionStore reports each session that lapsed
// without being restored, once, to the OnSessionExpired handlers.

// OnSessionExpired adds a handler called with each session of the
// namespace's sockets that will never be restored: its window lapsed, or
// its store dropped it (see SessionStore). The Session holds the socket's
// last id, rooms and data, its handshake and the reason it left with. A
// parent namespace's handlers are called for its children's sessions.
// Handlers run on the store's goroutine and must not block. None is called
// once Shutdown has begun: a node going away leaves its sessions to be
// restored elsewhere (or lost with it), and reports nothing.
func (n *Namespace) OnSessionExpired(fn func(nsp *Namespace, s *Session)) {
	n.mu.Lock()
	n.onExpired = append(n.onExpired, fn)
	n.mu.Unlock()
}

// SessionExpired hands a lapsed session to the OnSessionExpired handlers;
// SessionStores call it. It reports false, calling nothing, once the
// server's Shutdown has begun.
func (n *Namespace) SessionExpired(s *Session) bool {
	if n.srv.ShuttingDown() {
		return false
	}
	for _, fn := range hooks(n, func(x *Namespace) []func(*Namespace, *Session) { return x.onExpired }) {
		fn(n, s)
	}
	return true
}

// ShuttingDown reports whether Shutdown has begun. A store that claims
// sessions at the end of their window stops claiming then, so that a
// session persisted by a node going away stays restorable on another.
func (s *Server) ShuttingDown() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.shutdown
}
