package adapter

import (
	"context"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// The in-memory session store. A session leaves the store once, under
// rmu, either restored (RestoreSession) or lapsed, and a lapsed one is
// reported to Namespace.SessionExpired once the lock is released. A session
// lapses when its window ends (its timer), when a restore finds it
// already past its window, or when the session cap drops it. Restoring
// can only happen on this node, so nothing else needs to agree.

// PersistSession implements socketio.SessionStore.
func (a *Memory) PersistSession(s *socketio.Session) {
	window := a.nsp.RecoveryWindow()
	if window <= 0 || s.PID == "" {
		return
	}
	now := time.Now()
	sess := &session{s: s, disconnectedAt: now}
	shutting := a.nsp.Server().ShuttingDown()
	a.rmu.Lock()
	a.pruneLocked(now)
	if old := a.sessions[s.PID]; old != nil {
		// The same socket persisted again: the new session replaces it.
		old.stop()
	}
	a.sessions[s.PID] = sess
	// Sessions persisted by a server shutting down are lost with it:
	// nothing is reported for them (see Namespace.OnSessionExpired).
	if !shutting {
		sess.timer = time.AfterFunc(window, func() { a.expire(sess) })
	}
	a.order = append(a.order, sess)
	var dropped []*session
	if m := a.opts.MaxSessions; m > 0 {
		for len(a.sessions) > m && len(a.order) > 0 {
			oldest := a.order[0]
			a.order = a.order[1:]
			if a.sessions[oldest.s.PID] == oldest {
				delete(a.sessions, oldest.s.PID)
				oldest.stop()
				dropped = append(dropped, oldest)
			}
		}
	}
	a.trimOrderLocked()
	a.rmu.Unlock()
	for _, d := range dropped {
		a.nsp.SessionExpired(d.s)
	}
}

// RestoreSession implements socketio.SessionStore. As socket.io-adapter's
// restoreSession, a session whose offset is no longer stored stays in the
// store (and lapses at the end of its window); one past its window lapses
// now.
func (a *Memory) RestoreSession(_ context.Context, pid, offset string) (*socketio.Session, error) {
	now := time.Now()
	a.rmu.Lock()
	sess, ok := a.sessions[pid]
	if !ok {
		a.rmu.Unlock()
		return nil, nil
	}
	if sess.disconnectedAt.Add(a.nsp.RecoveryWindow()).Before(now) {
		delete(a.sessions, pid)
		sess.stop()
		a.trimOrderLocked()
		a.rmu.Unlock()
		a.nsp.SessionExpired(sess.s)
		return nil, nil
	}
	missed, ok := a.replayLocked(sess.s.Rooms, offset)
	if !ok {
		a.rmu.Unlock()
		return nil, nil
	}
	delete(a.sessions, pid)
	sess.stop()
	a.trimOrderLocked()
	a.rmu.Unlock()
	out := *sess.s
	out.MissedPackets = missed
	out.Reason, out.Handshake = "", nil
	return &out, nil
}

// expire is sess's timer: unless it was restored or replaced meanwhile,
// the session lapses.
func (a *Memory) expire(sess *session) {
	a.rmu.Lock()
	if a.sessions[sess.s.PID] != sess {
		a.rmu.Unlock()
		return
	}
	delete(a.sessions, sess.s.PID)
	a.trimOrderLocked()
	a.rmu.Unlock()
	a.nsp.SessionExpired(sess.s)
}

// trimOrderLocked drops the entries at the head of the persist order that
// left the store, so that the order does not outgrow the sessions.
func (a *Memory) trimOrderLocked() {
	i := 0
	for i < len(a.order) && a.sessions[a.order[i].s.PID] != a.order[i] {
		i++
	}
	if i > 0 {
		clear(a.order[:i])
		a.order = a.order[i:]
	}
	if len(a.order) == 0 {
		a.order = nil
	}
}

func (s *session) stop() {
	if s.timer != nil {
		s.timer.Stop()
	}
}
