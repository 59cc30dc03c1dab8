package engineio

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// handshakeWebSocket opens a session directly on WebSocket.
func (s *Server) handshakeWebSocket(w http.ResponseWriter, r *http.Request, protocol int, b64 bool) {
	conn, rd, err := s.upgrade(w, r)
	if err != nil {
		s.log.Debug("websocket handshake failed", "remote_addr", r.RemoteAddr, "err", err)
		return
	}
	sess := newSession(s, r, protocol, true, b64)
	sess.conn = conn
	// Hold the writer role until the OPEN frame is out, so packets queued
	// by accept follow it.
	sess.writing = true
	if !sess.start() {
		closeConn(conn)
		return
	}
	open := s.openPacket(sess.id, false)
	_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := writeTextFrame(conn, PacketOpen, open, s.wsDeflateMin()); err != nil {
		sess.closeWith(ReasonTransportError, err, closeHard)
	}
	sess.mu.Lock()
	if len(sess.queue) > 0 || (sess.state != stateOpen && !sess.closeSent) {
		s.track.add()
		go sess.writeFn()
		sess.mu.Unlock()
	} else {
		sess.writing = false
		sess.mu.Unlock()
		if hook := s.hooks.idle; hook != nil {
			hook(sess)
		}
	}
	// The reader runs in its own goroutine so this handler returns and
	// net/http's per-request state can be collected.
	s.track.add()
	rdr := &reader{s: sess, conn: conn, rd: rd}
	conn.SetReadLimit(s.cfg.MaxHTTPBufferSize)
	go rdr.run()
}

// upgrade completes a WebSocket handshake. The connection's read buffer is
// ours (gorilla adopts a hijacked reader of at least 256 bytes when
// ReadBufferSize is zero), so the reader can tell when it is idle and wait
// for data on a shallow stack; see idleReader.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) (*websocket.Conn, idleReader, error) {
	hw := &hijackWriter{ResponseWriter: w}
	conn, err := s.upgraderFor(r).Upgrade(hw, r, nil)
	if err != nil {
		return nil, idleReader{}, err
	}
	// Compressed only by writeMessage, message by message.
	conn.EnableWriteCompression(false)
	return conn, idleReader{br: hw.br, raw: hw.raw, src: hw.src, lent: hw.lent}, nil
}

// hijackWriter hands gorilla a bufio.Reader of our own over the hijacked
// connection.
type hijackWriter struct {
	http.ResponseWriter
	br   *bufio.Reader
	lent *bufio.Reader
	src  net.Conn
	raw  syscall.RawConn
}

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		// gorilla refuses a client that sent data before the handshake.
		return c, brw, err
	}
	h.br, h.src = new(bufio.Reader), c
	h.lent = lendBuffer(h.br, c)
	if sc, ok := c.(syscall.Conn); ok {
		h.raw, _ = sc.SyscallConn()
	}
	return &corkConn{Conn: c, raw: h.raw}, bufio.NewReadWriter(h.br, brw.Writer), nil
}

// idleReader lets a reader park on a shallow stack. Blocked inside
// gorilla's ReadMessage, a reader goroutine needs a 4 KiB stack; parked in
// wait, it needs well under 1 KiB, and the garbage collector shrinks its
// stack to 2 KiB. With tens of thousands of idle connections that is a
// sixth of the memory per connection. (TLS connections have no raw file
// descriptor to wait on; they block in ReadMessage.)
//
// While parked, the connection also holds no read buffer: br, the
// bufio.Reader gorilla reads from, gives its buffer back to readerPool and
// takes one again when data arrives. Keeping the buffer would cost every
// idle connection wsReadBufferSize bytes; a smaller buffer instead would
// make gorilla read frames in more pieces.
type idleReader struct {
	br  *bufio.Reader
	raw syscall.RawConn
	src net.Conn // what br reads from
	// lent holds br's empty state while br has a pooled buffer; nil while
	// br has none.
	lent *bufio.Reader
}

// readerPool holds bufio.Readers whose buffers are lent to connections
// while they read (see idleReader).
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, wsReadBufferSize) }}

// lendBuffer gives br, which must be empty, a pooled buffer reading from
// src. It returns the pooled Reader, now holding br's former state, for
// returnBuffer.
func lendBuffer(br *bufio.Reader, src net.Conn) *bufio.Reader {
	p := readerPool.Get().(*bufio.Reader)
	p.Reset(src)
	*br, *p = *p, *br
	return p
}

// returnBuffer takes back the buffer lent to br (discarding anything
// buffered) and puts it in the pool.
func returnBuffer(br, lent *bufio.Reader) {
	*br, *lent = *lent, *br
	lent.Reset(nil)
	readerPool.Put(lent)
}

// release returns the read buffer, if any, to the pool. Only the reader
// may call it, and only when it reads no more or nothing is buffered.
func (r *idleReader) release() {
	if r.lent != nil && r.br != nil {
		returnBuffer(r.br, r.lent)
		r.lent = nil
	}
}

// idle reports whether nothing is buffered, so the reader may park. A
// connection without a raw descriptor never parks: its reader blocks in
// ReadMessage.
func (r idleReader) idle() bool {
	return r.raw != nil && r.br != nil && r.br.Buffered() == 0
}

// wait returns when the connection has data (or an error, or its read
// deadline passed); ReadMessage then reports what happened.
func (r *idleReader) wait() {
	if r.raw == nil || r.br == nil || r.br.Buffered() > 0 {
		return
	}
	r.release()
	_ = r.raw.Read(socketReadable)
	r.lent = lendBuffer(r.br, r.src)
}

// refuseWebSocket completes an upgrade that asked for a transport that does
// not handle upgrades, and closes it, as the reference does.
func (s *Server) refuseWebSocket(w http.ResponseWriter, r *http.Request) {
	conn, _, err := s.upgrade(w, r)
	if err != nil {
		return
	}
	closeConn(conn)
}

// serveUpgrade takes a WebSocket that wants to take over sess from polling.
// The connection is a probe until the client sends the upgrade packet.
func (s *Server) serveUpgrade(sess *Session, w http.ResponseWriter, r *http.Request, transport string, b64 bool) {
	if transport != transportNameWebSocket {
		s.refuseWebSocket(w, r)
		return
	}
	conn, rd, err := s.upgrade(w, r)
	if err != nil {
		return
	}
	sess.mu.Lock()
	if sess.state != stateOpen || sess.ws || sess.probe != nil {
		sess.mu.Unlock()
		sess.logAttrs(slog.LevelDebug, "upgrade refused: closed, upgrading or upgraded")
		closeConn(conn)
		return
	}
	sess.probe = conn
	sess.mu.Unlock()
	sess.logAttrs(slog.LevelDebug, "upgrade probe connected")
	s.track.add()
	rdr := &reader{s: sess, conn: conn, rd: rd, probe: true, b64: b64}
	conn.SetReadLimit(s.cfg.MaxHTTPBufferSize)
	_ = conn.SetReadDeadline(time.Now().Add(s.cfg.UpgradeTimeout))
	go rdr.run()
}

// reader is the state of the one reader of a WebSocket connection. While
// the connection is idle the reader parks in a fresh goroutine on a shallow
// stack (see idleReader); when data arrives it reads every buffered
// message, then hands itself to a new parked goroutine and exits. The
// alternative, one goroutine blocked in ReadMessage for the connection's
// life, keeps a 4 KiB stack per idle connection instead of 2 KiB.
//
// A busy connection (more than busyAfter reads in a row, each within
// busyGap of the one before) reads as a TLS connection does instead: its
// goroutine stays and blocks in ReadMessage on the buffer it holds. Per
// message that saves the readiness check's system call and the new
// goroutine's stack growing again to the depth of a dispatch (together a
// tenth of the CPU of an echo load). The first read after a longer gap
// (at the latest the client's next pong) hands off to a parked goroutine
// again, so a connection that goes quiet holds its stack and buffer for at
// most one ping interval.
type reader struct {
	s     *Session
	conn  *websocket.Conn
	rd    idleReader
	probe bool // the connection is an upgrade probe, not yet the transport
	b64   bool // v3: the probe asked for binary as base64

	last  time.Time // when the last read ended
	quick int       // reads in a row that came within busyGap
}

const (
	busyGap   = 50 * time.Millisecond
	busyAfter = 4
)

// run parks until data arrives, reads, and either hands off to a new
// goroutine or, once the connection is finished, closes it. Its goroutine
// is counted by the server's tracker; a hand-off passes the count on.
func (r *reader) run() {
	for {
		if !r.busy() {
			r.rd.wait()
		}
		open := r.readSome()
		now := time.Now()
		if now.Sub(r.last) < busyGap {
			r.quick++
		} else {
			r.quick = 0
		}
		r.last = now
		if !open {
			break
		}
		if !r.busy() {
			go r.run()
			return
		}
	}
	_ = r.conn.Close()
	r.rd.release()
	r.s.srv.track.done()
}

// busy reports whether the connection reads in place (see reader).
func (r *reader) busy() bool { return r.quick > busyAfter }

// readSome reads messages while some are buffered. It reports whether the
// connection is still open and should be parked.
func (r *reader) readSome() bool {
	s, conn := r.s, r.conn
	protocol := int(s.proto)
	for {
		mt, data, err := s.srv.readMessage(conn)
		if err != nil {
			if r.probe {
				s.abandonProbe(conn, err)
				return false
			}
			reason := readErrorReason(err)
			if reason == ReasonTransportError {
				s.closeWith(reason, err, closeHard)
			} else {
				s.closeWith(reason, err, closeDead)
			}
			return false
		}
		if mt == websocket.TextMessage && !utf8.Valid(data) {
			r.refuseInvalidUTF8(len(data))
			return false
		}
		var p Packet
		switch {
		case mt == websocket.BinaryMessage && protocol == 4:
			p = Packet{Type: PacketMessage, Data: data, Binary: true}
		case mt == websocket.BinaryMessage:
			if len(data) == 0 || data[0] > 6 {
				// The v3 parser yields an unknown type, which is ignored.
				if r.rd.idle() {
					return true
				}
				continue
			}
			p = Packet{Type: PacketType(data[0]), Data: data[1:], Binary: true}
		default:
			p, err = decodePacketText(data, protocol)
		}
		switch {
		case r.probe:
			if !r.onProbePacket(p, err) {
				return false
			}
		case err != nil:
			s.logAttrs(slog.LevelWarn, "undecodable packet", slog.Int("bytes", len(data)), slog.Any("err", err))
			s.closeWith(ReasonParseError, err, closeDiscard)
		default:
			one := [1]Packet{p}
			if reason, err := s.dispatch(one[:]); reason != "" {
				if reason == ReasonTransportClose {
					s.closeWith(reason, err, closeDead)
					return false
				}
				s.logAttrs(slog.LevelWarn, "protocol violation", slog.Any("err", err))
				s.closeWith(reason, err, closeDiscard)
			}
		}
		if r.rd.idle() {
			return true
		}
	}
}

// refuseInvalidUTF8 ends a connection whose client sent a text frame that
// is not UTF-8, before anything of it is handed on. gorilla does not check
// text frames on read; the ws library behind the reference server does and
// closes with 1007 and no reason, the session (or the upgrade probe)
// ending as on any transport error. The close frame is written here, then
// the client's answering close frame is awaited for at most closeGrace, so
// that the connection is not reset under the client before it reads ours;
// run closes the connection afterwards.
func (r *reader) refuseInvalidUTF8(n int) {
	s, conn := r.s, r.conn
	s.logAttrs(slog.LevelWarn, "invalid UTF-8 in text frame", slog.String("remote_addr", conn.RemoteAddr().String()), slog.Int("bytes", n), slog.Bool("probe", r.probe))
	if r.probe {
		s.dropProbe(conn, errInvalidUTF8)
	} else {
		// closeDead: no close frame from the writer, this one instead.
		s.closeWith(ReasonTransportError, errInvalidUTF8, closeDead)
	}
	now := time.Now()
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, ""), now.Add(closeGrace))
	_ = conn.SetReadDeadline(now.Add(closeGrace))
	for {
		if _, _, err := conn.NextReader(); err != nil {
			return
		}
	}
}

// onProbePacket handles a packet on a probe: "2probe" is answered
// "3probe", after which polling GETs get noop; "5" completes the upgrade.
// Anything else abandons the upgrade, leaving the session on polling. It
// reports whether the connection stays open.
func (r *reader) onProbePacket(p Packet, err error) bool {
	s, conn := r.s, r.conn
	switch {
	case err == nil && p.Type == PacketPing && !p.Binary && string(p.Data) == "probe":
		_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := writeTextFrame(conn, PacketPong, p.Data, s.srv.wsDeflateMin()); err != nil {
			s.abandonProbe(conn, err)
			return false
		}
		s.mu.Lock()
		if s.probe == conn {
			s.probed = true
			if s.poll != nil {
				s.signalPollLocked('6', false)
			}
		}
		s.mu.Unlock()
		return true
	case err == nil && p.Type == PacketUpgrade:
		if !s.completeUpgrade(conn, r.b64) {
			closeConn(conn)
			return false
		}
		r.probe = false
		_ = conn.SetReadDeadline(time.Time{})
		// Under dispatchMu, and only while open: OnClose (which waits for
		// dispatchMu) comes after it.
		s.dispatchMu.Lock()
		if uh, ok := s.h.(UpgradeHandler); ok {
			s.mu.Lock()
			open := s.state == stateOpen
			s.mu.Unlock()
			if open {
				uh.OnUpgrade(transportNameWebSocket)
			}
		}
		s.dispatchMu.Unlock()
		if hook := s.srv.hooks.upgraded; hook != nil {
			hook(s)
		}
		return true
	default:
		s.abandonProbe(conn, errors.New("engineio: unexpected packet during upgrade"))
		return false
	}
}

// abandonProbe ends a failed upgrade; the session stays on polling.
func (s *Session) abandonProbe(conn *websocket.Conn, err error) {
	s.dropProbe(conn, err)
	closeConn(conn)
}

// dropProbe detaches conn, if it is still sess's probe, leaving the
// session on polling; the caller closes conn.
func (s *Session) dropProbe(conn *websocket.Conn, err error) {
	s.mu.Lock()
	mine := s.probe == conn
	if mine {
		s.probe = nil
		s.probed = false
		if len(s.queue) > 0 {
			s.kickLocked()
		}
	}
	s.mu.Unlock()
	if mine {
		s.logAttrs(slog.LevelDebug, "upgrade abandoned", slog.Any("err", err))
	}
}

// completeUpgrade switches the session to conn.
func (s *Session) completeUpgrade(conn *websocket.Conn, b64 bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen || s.probe != conn {
		return false
	}
	s.probe = nil
	s.probed = false
	s.ws = true
	s.conn = conn
	s.wsB64 = b64
	if s.poll != nil {
		s.signalPollLocked('6', false)
	}
	if len(s.queue) > 0 {
		s.kickLocked()
	}
	s.logAttrs(slog.LevelDebug, "upgraded", slog.String("transport", transportNameWebSocket))
	return true
}

// readErrorReason maps a read error to "transport close" when the peer
// closed or vanished, as the ws library reports a close, and to
// "transport error" for a protocol violation or an oversized message.
func readErrorReason(err error) CloseReason {
	var ce *websocket.CloseError
	switch {
	case errors.As(err, &ce),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return ReasonTransportClose
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ReasonTransportClose
	}
	return ReasonTransportError
}

// frameOverhead bounds a frame's bytes besides its packet's data: the
// WebSocket header and the packet type.
const frameOverhead = 16

// framePool holds scratch buffers for assembling frames; a frame must be
// contiguous for gorilla's allocation-free WriteMessage path.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledFrame keeps huge frames' buffers out of the pool.
const maxPooledFrame = 64 << 10
