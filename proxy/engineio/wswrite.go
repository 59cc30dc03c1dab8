package engineio

import (
	"log/slog"
	"time"

	"github.com/gorilla/websocket"
)

// writeLoop runs while something is queued for the WebSocket, then exits;
// an idle session has no writer goroutine. After the session closes it
// writes the close frame.
func (s *Session) writeLoop() {
	defer s.srv.track.done()
	for {
		s.mu.Lock()
		conn := s.conn
		if len(s.queue) == 0 {
			// What flushDeferred could not write without waiting goes
			// before anything else: ahead of the next frames anyway
			// (corkConn.Write), here when there are none.
			if cc, ok := conn.NetConn().(*corkConn); ok && cc.pending() {
				s.mu.Unlock()
				_ = cc.SetWriteDeadline(time.Now().Add(writeTimeout))
				if err := cc.flush(); err != nil {
					s.writeFailed(err)
					return
				}
				continue
			}
			sendClose := s.state != stateOpen && !s.closeSent
			if sendClose {
				s.closeSent = true
			}
			s.writing = false
			s.mu.Unlock()
			if sendClose {
				_ = conn.WriteControl(websocket.CloseMessage, nil, time.Now().Add(closeGrace))
				_ = conn.SetReadDeadline(time.Now().Add(closeGrace))
			} else if hook := s.srv.hooks.idle; hook != nil {
				hook(s)
			}
			return
		}
		batch := s.takeQueueLocked()
		b64 := s.wsB64
		s.mu.Unlock()

		n, err := s.writeFrames(conn, batch, b64)

		s.mu.Lock()
		s.wroteLocked(n, batch)
		s.mu.Unlock()
		if err != nil {
			s.writeFailed(err)
			return
		}
	}
}

// flushDeferred writes what SendDeferred queued, on the batcher's
// goroutine rather than a writer goroutine of its own, so the batcher
// writes to every waiting connection in turn while the other processors
// stay free to read the next broadcast. It takes the writer role, gathers
// the frames (corkConn) and makes one non-blocking write. What the
// connection cannot take now, a TLS connection's packets, a batch too
// large to gather, or what was queued meanwhile goes to a writer
// goroutine, as kickLocked starts one.
func (s *Session) flushDeferred() {
	s.mu.Lock()
	if !s.deferred {
		s.mu.Unlock()
		return
	}
	s.deferred = false
	if s.state != stateOpen || len(s.queue) == 0 || s.writing || s.conn == nil {
		s.mu.Unlock()
		return
	}
	conn := s.conn
	cc, _ := conn.NetConn().(*corkConn)
	if cc == nil || cc.raw == nil || s.queued+frameOverhead*len(s.queue) > maxCorked {
		s.kickLocked()
		s.mu.Unlock()
		return
	}
	s.writing = true
	batch := s.takeQueueLocked()
	b64 := s.wsB64
	s.mu.Unlock()

	_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	cc.cork()
	n, err := s.writeEach(conn, batch, b64)
	done := false
	if err == nil {
		done, err = cc.tryFlush()
	} else {
		_ = cc.uncork()
	}

	s.mu.Lock()
	s.wroteLocked(n, batch)
	if err == nil && done && len(s.queue) == 0 && s.state == stateOpen {
		s.writing = false
		s.mu.Unlock()
		if hook := s.srv.hooks.idle; hook != nil {
			hook(s)
		}
		return
	}
	s.mu.Unlock()
	if err != nil {
		s.writeFailed(err)
		return
	}
	// The rest, what was queued meanwhile, or the close frame.
	if hook := s.srv.hooks.handoff; hook != nil && !done {
		hook(s)
	}
	s.srv.track.add()
	go s.writeFn()
}

// wroteLocked accounts for a written batch of n data bytes.
func (s *Session) wroteLocked(n int, batch []Packet) {
	s.queued = max(s.queued-n, 0)
	s.releaseLocked(batch)
}

// writeFailed closes the session after a write error and gives up the
// writer role.
func (s *Session) writeFailed(err error) {
	s.closeWith(ReasonTransportError, err, closeHard)
	s.mu.Lock()
	s.writing = false
	s.mu.Unlock()
}

// writeFrames writes one frame per packet and returns the data bytes
// written. A batch of several packets goes out in one write (corkConn).
func (s *Session) writeFrames(conn *websocket.Conn, batch []Packet, b64 bool) (n int, err error) {
	if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return 0, err
	}
	if cc, ok := conn.NetConn().(*corkConn); ok && len(batch) > 1 {
		cc.cork()
		defer func() {
			if uerr := cc.uncork(); err == nil {
				err = uerr
			}
		}()
	}
	return s.writeEach(conn, batch, b64)
}

// writeEach writes batch's packets a frame each.
func (s *Session) writeEach(conn *websocket.Conn, batch []Packet, b64 bool) (n int, err error) {
	debug := s.logEnabled(slog.LevelDebug)
	deflateMin := s.srv.wsDeflateMin()
	for i := range batch {
		p := &batch[i]
		var pm *websocket.PreparedMessage
		if p.shared != nil {
			pm = sharedMessage(p, s.proto, b64, deflateMin)
		}
		switch {
		case pm != nil:
			err = writePrepared(conn, pm)
		case !p.Binary:
			err = writeTextFrame(conn, p.Type, p.Data, deflateMin)
		case s.proto == 4:
			err = writeMessage(conn, websocket.BinaryMessage, p.Data, deflateMin)
		case b64:
			err = writeFrame(conn, websocket.TextMessage, deflateMin, func(b []byte) []byte { return appendPacketText(b, *p, 3) })
		default:
			err = writeFrame(conn, websocket.BinaryMessage, deflateMin, func(b []byte) []byte {
				return append(append(b, typeBytes[p.Type]), p.Data...)
			})
		}
		if err != nil {
			return n, err
		}
		n += len(p.Data)
		if debug {
			s.logAttrs(slog.LevelDebug, "packet sent", slog.Int("type", int(p.Type)), slog.Int("bytes", len(p.Data)), slog.Bool("binary", p.Binary))
		}
	}
	return n, nil
}

// writeTextFrame writes a text packet as one frame, compressed when it is
// at least deflateMin bytes (see writeMessage).
func writeTextFrame(conn *websocket.Conn, t PacketType, data []byte, deflateMin int) error {
	bp := framePool.Get().(*[]byte)
	b := append(append((*bp)[:0], typeDigits[t]), data...)
	err := writeMessage(conn, websocket.TextMessage, b, deflateMin)
	if cap(b) <= maxPooledFrame {
		*bp = b[:0]
		framePool.Put(bp)
	}
	return err
}

// writeFrame writes the frame build makes, compressed when it is at least
// deflateMin bytes (see writeMessage).
func writeFrame(conn *websocket.Conn, mt int, deflateMin int, build func([]byte) []byte) error {
	bp := framePool.Get().(*[]byte)
	b := build((*bp)[:0])
	err := writeMessage(conn, mt, b, deflateMin)
	if cap(b) <= maxPooledFrame {
		*bp = b[:0]
		framePool.Put(bp)
	}
	return err
}
