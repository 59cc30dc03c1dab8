// This file is the Session: its state, the send queue, the heartbeat timer
// and closeWith. It is one piece because every one of them works under the
// session's mutex on the same fields (state, queue, poll, writing, timer),
// and closeWith's cases (WebSocket or polling, flush or discard, linger)
// read only next to the states they end.

package engineio

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	transportNamePolling   = "polling"
	transportNameWebSocket = "websocket"
)

// Session states.
const (
	stateOpen = iota
	// stateLinger: closed to the API (Send fails, OnClose has run) but a
	// polling session still waits for the client's next GETs: after
	// Session.Close, one for the rest of its queue, then one for the close
	// packet; after the client's close packet (closeNoop), one for a noop.
	stateLinger
	stateClosed
)

// How a close treats the transport.
type closeMode uint8

const (
	// closeFlush writes what is queued, then closes (Session.Close).
	closeFlush closeMode = iota
	// closeDiscard drops the queue and closes politely: a close frame, or
	// the close packet to a waiting GET.
	closeDiscard
	// closeHard drops the queue and the connection at once (slow consumer,
	// write error).
	closeHard
	// closeDead is for a connection already gone (read error).
	closeDead
)

var (
	errPollOverlap        = errors.New("engineio: overlapping poll requests")
	errPostOverlap        = errors.New("engineio: overlapping data requests")
	errPollClosed         = errors.New("engineio: poll connection closed prematurely")
	errInvalidContent     = errors.New("engineio: binary content in a v4 polling request")
	errHeartbeatDirection = errors.New("engineio: invalid heartbeat direction")
	errClientClose        = errors.New("engineio: close packet from client")
	errInvalidUTF8        = errors.New("engineio: invalid UTF-8 in a text frame")
)

// Session is one Engine.IO session: a client identified by its sid across
// polling requests and WebSocket connections. Its methods are safe for
// concurrent use, including from the session's own Handler.
type Session struct {
	srv   *Server
	id    string
	hs    handshake
	h     Handler
	proto uint8
	// pollB64 (v3): the polling client asked for binary as base64.
	pollB64 bool
	// writeFn is writeLoop bound once, so starting a writer allocates
	// nothing.
	writeFn func()

	// dispatchMu orders OnMessage calls and keeps OnClose after them.
	dispatchMu sync.Mutex

	mu        sync.Mutex
	state     uint8
	ws        bool // transport is websocket
	wsB64     bool // v3: binary as base64 on the WebSocket
	awaitPong bool
	probed    bool // upgrade probe answered: GETs get noop until "5"
	// closeNoop: the client's close packet came over polling with no GET
	// waiting; the session lingers for closeNoopWindow so that a GET sent
	// with that POST is answered with a noop, as one already waiting is.
	closeNoop bool
	writing   bool // a writer goroutine owns conn writes
	deferred  bool // waiting in the server's batcher for a writer
	closeSent bool // the close frame has been written or given up
	queue     []Packet
	spare     []Packet
	queued    int // bytes of Data queued or being written
	poll      *pollWaiter
	// post is the POST being handled, nil when none: its controller while
	// its body is read, postDispatching once the body is read. closeWith
	// cuts a body read short (see servePost).
	post  *http.ResponseController
	conn  *websocket.Conn
	probe *websocket.Conn
	timer *time.Timer
	due   time.Time
}

// ID returns the session id (sid), 20 characters.
func (s *Session) ID() string { return s.id }

// Protocol returns the Engine.IO protocol revision, 3 or 4.
func (s *Session) Protocol() int { return int(s.proto) }

// Transport returns "polling" or "websocket"; it changes once, when an
// upgrade completes.
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ws {
		return transportNameWebSocket
	}
	return transportNamePolling
}

// PerMessageDeflate reports whether the session's server negotiates
// permessage-deflate with WebSocket clients (Config.PerMessageDeflate), so
// that its messages may be written compressed: a broadcast's packets are
// then worth marking with Share.
func (s *Session) PerMessageDeflate() bool { return s.srv.cfg.PerMessageDeflate }

func newSession(srv *Server, r *http.Request, protocol int, ws, b64 bool) *Session {
	s := &Session{
		srv:   srv,
		id:    srv.newID(),
		proto: uint8(protocol),
		ws:    ws,
	}
	if ws {
		s.wsB64 = b64
	} else {
		s.pollB64 = b64
	}
	s.writeFn = s.writeLoop
	s.hs = newHandshake(r)
	return s
}

// start registers s, calls accept and arms the heartbeat timer. It returns
// false if the server is shutting down.
func (s *Session) start() bool {
	if !s.srv.register(s) {
		return false
	}
	s.dispatchMu.Lock()
	s.h = s.srv.accept(s)
	if s.h == nil {
		s.h = discardHandler{}
	}
	s.dispatchMu.Unlock()
	s.mu.Lock()
	if s.state == stateOpen {
		d := s.srv.cfg.PingInterval
		if s.proto == 3 {
			d += s.srv.cfg.PingTimeout
		}
		s.due = time.Now().Add(d)
		s.timer = time.AfterFunc(d, s.onTimer)
	}
	s.mu.Unlock()
	if s.logEnabled(slog.LevelDebug) {
		s.logAttrs(slog.LevelDebug, "session opened", slog.String("transport", s.Transport()), slog.Int("protocol", int(s.proto)), slog.String("remote_addr", s.hs.remoteAddr))
	}
	return true
}

// resetTimerLocked rearms the session timer for d from now.
func (s *Session) resetTimerLocked(d time.Duration) {
	s.due = time.Now().Add(d)
	s.timer.Reset(d)
}

// onTimer drives the heartbeat (v4: send a ping, then expect the pong; v3:
// expect the client's ping) and ends a lingering close.
func (s *Session) onTimer() {
	s.mu.Lock()
	if time.Now().Before(s.due) {
		// Rearmed after this firing was already under way.
		s.mu.Unlock()
		return
	}
	switch {
	case s.state == stateLinger:
		s.state = stateClosed
		s.mu.Unlock()
		s.srv.remove(s)
		return
	case s.state == stateClosed:
		s.mu.Unlock()
		return
	case s.proto == 3 || s.awaitPong:
		s.mu.Unlock()
		s.closeWith(ReasonPingTimeout, nil, closeDiscard)
		return
	}
	s.awaitPong = true
	s.queue = append(s.queue, Packet{Type: PacketPing})
	s.resetTimerLocked(s.srv.cfg.PingTimeout)
	s.kickLocked()
	s.mu.Unlock()
}

// Send queues packets for the client, all or none, and never blocks. The
// Packet structs are copied; their Data is not and must not change
// afterwards. It returns ErrClosed after the session closed, and
// ErrQueueFull when the queue would pass Config.MaxQueueBytes, in which
// case the session closes with ReasonSlowConsumer.
func (s *Session) Send(packets []Packet) error { return s.send(packets, false) }

// SendDeferred is Send for a broadcast's packets: unless a writer is
// already running, a WebSocket session's packets are written by the
// server's batcher a Config.BatchDelay later, together with those of the
// broadcasts that follow within it (see batcher). A Send in the meantime
// writes everything queued at once, the deferred packets first.
func (s *Session) SendDeferred(packets []Packet) error { return s.send(packets, true) }

func (s *Session) send(packets []Packet, deferred bool) error {
	n := 0
	for i := range packets {
		n += len(packets[i].Data)
	}
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.queued+n > s.srv.cfg.MaxQueueBytes {
		queued, dropped := s.queued, len(packets)+len(s.queue)
		s.mu.Unlock()
		if s.closeWith(ReasonSlowConsumer, ErrQueueFull, closeHard) {
			s.srv.slowConsumers.Add(1)
			s.srv.queueFullPackets.Add(uint64(dropped))
			s.logAttrs(slog.LevelWarn, "slow consumer", slog.String("reason", string(ReasonSlowConsumer)), slog.Int("bytes", queued), slog.Int("bound", s.srv.cfg.MaxQueueBytes))
		}
		return ErrQueueFull
	}
	s.queue = append(s.queue, packets...)
	s.queued += n
	if s.ws {
		countRecipient(packets)
	}
	if deferred && s.ws && s.srv.cfg.BatchDelay > 0 {
		if !s.writing && !s.deferred && s.conn != nil {
			s.deferred = true
			s.srv.batch.add(s)
		}
	} else {
		s.kickLocked()
	}
	s.mu.Unlock()
	return nil
}

// SendVolatile queues packets only if the transport can write them right
// away (WebSocket: no write in progress and nothing queued but what waits
// for the batcher's round, which they join; polling: a GET is waiting)
// and they fit the queue bound. It reports whether they were queued;
// false means dropped.
func (s *Session) SendVolatile(packets []Packet) bool {
	n := 0
	for i := range packets {
		n += len(packets[i].Data)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen {
		return false
	}
	if s.queued+n > s.srv.cfg.MaxQueueBytes {
		s.srv.volatileDropped.Add(1)
		return false
	}
	if s.ws {
		// Packets waiting for the batcher's round are not a busy
		// transport: a volatile packet joins them.
		if s.writing || (len(s.queue) > 0 && !s.deferred) {
			s.srv.volatileDropped.Add(1)
			return false
		}
	} else if s.poll == nil || s.probed {
		s.srv.volatileDropped.Add(1)
		return false
	}
	s.queue = append(s.queue, packets...)
	s.queued += n
	if s.ws {
		countRecipient(packets)
	}
	if !s.deferred {
		s.kickLocked()
	}
	return true
}

// Close closes the session with reason. What is already queued is still
// written; then a WebSocket is closed, and a polling client gets the close
// packet on its pending or next GET. OnClose follows.
func (s *Session) Close(reason CloseReason) {
	s.closeWith(reason, nil, closeFlush)
}

// kickLocked gets queued packets moving: it wakes a waiting GET, or starts
// a WebSocket writer if none runs.
func (s *Session) kickLocked() {
	if s.ws {
		if !s.writing && s.conn != nil {
			s.writing = true
			s.srv.track.add()
			go s.writeFn()
		}
		return
	}
	if s.poll != nil && !s.probed {
		s.signalPollLocked(0, true)
	}
}

// takeQueueLocked hands the queue to a writer and leaves the spare slice in
// its place.
func (s *Session) takeQueueLocked() []Packet {
	batch := s.queue
	s.queue = s.spare[:0]
	s.spare = nil
	return batch
}

// releaseLocked returns a written batch as the spare queue, dropping the
// Data references; large batches are left to the collector.
func (s *Session) releaseLocked(batch []Packet) {
	clear(batch)
	if cap(batch) <= 64 && s.spare == nil {
		s.spare = batch[:0]
	}
}

// closeWith closes the session once; it reports whether this call did.
func (s *Session) closeWith(reason CloseReason, err error, mode closeMode) bool {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return false
	}
	s.state = stateClosed
	s.awaitPong = false
	if mode != closeFlush {
		clear(s.queue)
		s.queue = s.queue[:0]
		s.queued = 0
	}
	var (
		conn, probe *websocket.Conn
		linger      bool
	)
	probe, s.probe, s.probed = s.probe, nil, false
	if s.post != nil && s.post != postDispatching {
		// Under s.mu, so the POST's handler has not returned.
		_ = s.post.SetReadDeadline(time.Now())
	}
	if s.ws {
		conn = s.conn
		switch mode {
		case closeHard, closeDead:
			s.closeSent = true
		default:
			if !s.writing && conn != nil {
				s.writing = true
				s.srv.track.add()
				go s.writeFn()
			}
		}
	} else {
		switch {
		case s.poll != nil && (mode != closeFlush || len(s.queue) == 0):
			tail := byte('1')
			if reason == ReasonTransportClose {
				// The client's own close packet: end its GET with a noop.
				tail = '6'
			}
			s.signalPollLocked(tail, false)
		case err == errClientClose:
			// The client's close packet with no GET waiting. A client
			// closing over polling sends its close POST while its GET is
			// outstanding (the official suite sends both at once), and the
			// reference, reading the GET first, answers it with a noop.
			// Here the two are read in either order: a GET that comes
			// after the close is answered the same noop, not a 400, so
			// the outcome does not hang on which request the server read
			// first. The one GET that gets the noop, or closeNoopWindow,
			// ends the session; a POST meanwhile is a 400 unknown sid.
			// Rejected: answering 400 (the reference's strict order for a
			// GET sent only after the POST's answer), as that makes the
			// client's outstanding GET fail or not at random.
			s.state = stateLinger
			s.closeNoop = true
			linger = true
		case mode == closeFlush:
			// Stay reachable until the client has polled what is queued
			// and then the close packet (the reference's shouldClose).
			if s.poll != nil {
				s.signalPollLocked(0, true)
			}
			s.state = stateLinger
			linger = true
		}
	}
	if s.timer != nil {
		if s.closeNoop {
			s.resetTimerLocked(closeNoopWindow)
		} else if linger {
			s.resetTimerLocked(lingerTimeout)
		} else {
			s.timer.Stop()
		}
	}
	s.mu.Unlock()

	if !linger {
		s.srv.remove(s)
	}
	if probe != nil {
		closeConn(probe)
	}
	if mode == closeHard && conn != nil {
		_ = conn.Close()
	}
	if mode == closeDiscard && conn != nil {
		_ = conn.SetReadDeadline(time.Now().Add(closeGrace + writeTimeout))
	}
	if s.logEnabled(slog.LevelDebug) {
		if err != nil {
			s.logAttrs(slog.LevelDebug, "session closed", slog.String("reason", string(reason)), slog.Any("err", err))
		} else {
			s.logAttrs(slog.LevelDebug, "session closed", slog.String("reason", string(reason)))
		}
	}
	s.srv.track.add()
	go s.fireClose(reason, err)
	return true
}

// endLinger drops a session that waits for its last GET.
func (s *Session) endLinger() {
	s.mu.Lock()
	lingering := s.state == stateLinger
	if lingering {
		s.state = stateClosed
		s.timer.Stop()
	}
	s.mu.Unlock()
	if lingering {
		s.srv.remove(s)
	}
}

// fireClose calls OnClose after any OnMessage in progress has returned.
func (s *Session) fireClose(reason CloseReason, err error) {
	defer s.srv.track.done()
	s.dispatchMu.Lock()
	h := s.h
	s.dispatchMu.Unlock()
	if h != nil {
		h.OnClose(reason, err)
	}
}

// closeConn closes a WebSocket politely: an empty close frame, as the
// reference's ws.close() sends, then the connection.
func closeConn(c *websocket.Conn) {
	_ = c.WriteControl(websocket.CloseMessage, nil, time.Now().Add(closeGrace))
	_ = c.Close()
}

// dispatch handles decoded packets from the client in order. It returns a
// close reason and error when a packet ends the session.
func (s *Session) dispatch(packets []Packet) (CloseReason, error) {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	debug := s.logEnabled(slog.LevelDebug)
	for _, p := range packets {
		s.mu.Lock()
		open := s.state == stateOpen
		s.mu.Unlock()
		if !open {
			return "", nil
		}
		if debug {
			s.logAttrs(slog.LevelDebug, "packet received", slog.Int("type", int(p.Type)), slog.Int("bytes", len(p.Data)), slog.Bool("binary", p.Binary))
		}
		switch p.Type {
		case PacketMessage:
			s.h.OnMessage(p.Data, p.Binary)
		case PacketPing:
			if s.proto != 3 {
				return ReasonTransportError, errHeartbeatDirection
			}
			s.mu.Lock()
			if s.state == stateOpen {
				s.resetTimerLocked(s.srv.cfg.PingInterval + s.srv.cfg.PingTimeout)
				s.queue = append(s.queue, Packet{Type: PacketPong, Data: p.Data})
				s.queued += len(p.Data)
				s.kickLocked()
			}
			s.mu.Unlock()
		case PacketPong:
			if s.proto == 3 {
				return ReasonTransportError, errHeartbeatDirection
			}
			s.mu.Lock()
			if s.state == stateOpen {
				s.awaitPong = false
				s.resetTimerLocked(s.srv.cfg.PingInterval)
			}
			s.mu.Unlock()
		case PacketClose:
			return ReasonTransportClose, errClientClose
		}
	}
	return "", nil
}

// discardHandler stands in for a nil Handler from accept.
type discardHandler struct{}

func (discardHandler) OnMessage([]byte, bool)     {}
func (discardHandler) OnClose(CloseReason, error) {}
