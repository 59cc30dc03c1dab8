package engineio

import (
	"context"
	"net/http"
	"time"
)

// Drain refuses new handshakes from now on (503 with the JSON error body
// "Server shutting down"), while the sessions in place go on being served:
// the first step of a graceful shutdown, so a load balancer sends new
// clients elsewhere while the work under way here finishes.
func (s *Server) Drain() { s.draining.Store(true) }

// shutdownLinger bounds how long Shutdown waits for polling clients to
// fetch what was queued for them and their close packet. A polling client
// has its next GET out within milliseconds of the last answer.
const shutdownLinger = time.Second

// Shutdown refuses new handshakes and closes every session with
// ReasonServerShutdown. What is already queued for a session is still
// written: a WebSocket gets it before its close frame, a polling client on
// its next GET with the close packet (waited for until shutdownLinger or
// ctx, then dropped). Then it waits until the goroutines of all sessions
// (readers, writers, OnClose calls) have returned or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	s.closed = true
	list := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		list = append(list, sess)
	}
	s.mu.Unlock()
	for _, sess := range list {
		sess.closeWith(ReasonServerShutdown, nil, closeFlush)
	}
	s.awaitLinger(ctx, shutdownLinger)
	s.mu.Lock()
	list = list[:0]
	for _, sess := range s.sessions {
		list = append(list, sess)
	}
	s.mu.Unlock()
	if len(list) > 0 {
		s.log.Warn("shutdown: polling sessions did not fetch their last packets", "sessions", len(list))
	}
	for _, sess := range list {
		sess.endLinger()
	}
	return s.track.wait(ctx)
}

// awaitLinger waits until no session is left in the table (the lingering
// polling sessions have had their last GET), for at most d or until ctx
// is done.
func (s *Server) awaitLinger(ctx context.Context, d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		n := len(s.sessions)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

// refuseShuttingDown answers a handshake that comes once Drain or
// Shutdown has begun: 503 with the JSON error body, and the connection
// closed, so the client's reconnection goes to another node.
func refuseShuttingDown(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusServiceUnavailable, codeBadRequest, "Server shutting down")
}
