package socketio

import "slices"

// Cleanup of empty child namespaces (Config.CleanupEmptyChildNamespaces,
// socket.io 4.6's cleanupEmptyChildNamespaces). A pattern creates a child
// namespace for each name a client connects to; with many short-lived
// names (a namespace per document, per tenant session) the children, and
// whatever their adapters hold (rooms, Redis subscriptions, stored
// packets), would pile up. As the reference does, a child whose last
// socket left is removed and its adapter closed; the next connect to that
// name makes it afresh, with no rooms.
//
// The reference counts only connected sockets, so a child may be removed
// while a socket is still in its middleware, which then connects into a
// namespace no longer served. Here a connect holds the child from the
// moment it is looked up (acquire) until the socket is connected or
// rejected (release), and a child is removed only when it has neither
// sockets nor connects under way: lookup and removal both run under the
// server's lock, so a connect finds either the live child or none.

// acquire finds (or creates) the namespace a client connects to, as
// lookup, and holds it against removal until release.
func (s *Server) acquire(name string) *Namespace {
	s.mu.RLock()
	n, ok := s.nsps[name]
	if ok {
		n.connecting.Add(1)
	}
	s.mu.RUnlock()
	if ok {
		return n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nsps[name]; ok {
		n.connecting.Add(1)
		return n
	}
	for _, p := range s.patterns {
		if p.pattern.MatchString(name) {
			child := newNamespace(s, name, p, nil)
			child.connecting.Add(1)
			s.nsps[name] = child
			p.addChild(child)
			return child
		}
	}
	return nil
}

// release ends a connect's hold taken by acquire, once its socket is
// connected or rejected.
func (n *Namespace) release() {
	if n.connecting.Add(-1) == 0 {
		n.removeIfEmpty()
	}
}

// removeIfEmpty removes a child namespace that has no socket and no
// connect under way, when the server is configured to, and closes its
// adapter. It is called when a socket leaves and when a connect ends.
func (n *Namespace) removeIfEmpty() {
	s := n.srv
	if n.parent == nil || !s.cfg.CleanupEmptyChildNamespaces || n.Len() > 0 {
		// The common case, a connect or a leave among others, takes no
		// server lock.
		return
	}
	s.mu.Lock()
	if s.shutdown || s.nsps[n.name] != n || n.connecting.Load() != 0 {
		// Shutdown closes every adapter itself.
		s.mu.Unlock()
		return
	}
	n.mu.RLock()
	empty := len(n.sockets) == 0
	n.mu.RUnlock()
	if !empty {
		s.mu.Unlock()
		return
	}
	delete(s.nsps, n.name)
	n.parent.removeChild(n)
	s.mu.Unlock()
	n.log.Debug("socketio: empty child namespace removed")
	if c, ok := n.adapter.(Closer); ok {
		if err := c.Close(); err != nil {
			n.log.Warn("socketio: closing the adapter of a removed namespace failed", "err", err)
		}
	}
}

func (n *Namespace) removeChild(c *Namespace) {
	n.mu.Lock()
	if i := slices.Index(n.children, c); i >= 0 {
		n.children = slices.Delete(n.children, i, i+1)
	}
	n.mu.Unlock()
}
