package engineio

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// pollWaiter is a GET parked until there is something to answer.
type pollWaiter struct {
	ch chan struct{}
	// tail is a packet type digit appended to the answer ('1' close,
	// '6' noop), or 0.
	tail byte
	// withQueue says the answer carries the queued packets.
	withQueue bool
}

// signalPollLocked wakes the waiting GET.
func (s *Session) signalPollLocked(tail byte, withQueue bool) {
	w := s.poll
	s.poll = nil
	w.tail = tail
	w.withQueue = withQueue
	close(w.ch)
}

// handshakePolling opens a session on HTTP long-polling; the handshake GET
// is answered with the OPEN packet alone.
func (s *Server) handshakePolling(w http.ResponseWriter, r *http.Request, protocol int, b64 bool) {
	sess := newSession(s, r, protocol, false, b64)
	if !sess.start() {
		refuseShuttingDown(w)
		return
	}
	if s.cfg.Cookie != nil {
		w.Header().Set("Set-Cookie", s.cfg.Cookie.header(sess.id))
	}
	batch := []Packet{{Type: PacketOpen, Data: s.openPacket(sess.id, s.allowed.upgrades)}}
	sess.writePoll(w, r, batch)
}

// servePolling handles a polling request of an existing session.
func (s *Session) servePolling(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.servePoll(w, r)
	case http.MethodPost:
		s.servePost(w, r)
	default:
		// The reference answers 500 with no body and keeps the session;
		// the request is the client's mistake, not the server's, so it
		// gets a 400 with the error body here, the session kept alike.
		s.srv.debugReject(r, codeBadRequest)
		abortRequest(w, codeBadRequest)
	}
}

// servePoll answers a GET with the queued packets, waiting for some if
// there are none.
func (s *Session) servePoll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	switch {
	case s.state == stateClosed || s.ws:
		s.mu.Unlock()
		abortRequest(w, codeUnknownSID)
		return
	case s.state == stateLinger && len(s.queue) > 0:
		// Session.Close is pending: the rest of the queue first, the
		// close packet on the next GET, as the reference answers.
		batch := s.takeQueueLocked()
		s.queued = 0
		s.mu.Unlock()
		s.writePoll(w, r, batch)
		s.release(batch)
		return
	case s.state == stateLinger:
		// The close packet after Session.Close, or the noop after the
		// client's own close (see closeWith).
		last := PacketClose
		if s.closeNoop {
			last = PacketNoop
		}
		s.state = stateClosed
		s.timer.Stop()
		s.mu.Unlock()
		s.srv.remove(s)
		s.writePoll(w, r, []Packet{{Type: last}})
		return
	case s.poll != nil:
		s.mu.Unlock()
		s.logAttrs(slog.LevelWarn, "overlapping poll requests", slog.String("remote_addr", r.RemoteAddr))
		s.closeWith(ReasonTransportError, errPollOverlap, closeDiscard)
		abortRequest(w, codeBadRequest)
		return
	case s.probed:
		s.mu.Unlock()
		s.writePoll(w, r, []Packet{{Type: PacketNoop}})
		return
	case len(s.queue) > 0:
		batch := s.takeQueueLocked()
		s.queued = 0
		s.mu.Unlock()
		s.writePoll(w, r, batch)
		s.release(batch)
		return
	}
	wt := &pollWaiter{ch: make(chan struct{})}
	s.poll = wt
	s.mu.Unlock()
	if hook := s.srv.hooks.parked; hook != nil {
		hook(s)
	}

	select {
	case <-wt.ch:
	case <-r.Context().Done():
		s.mu.Lock()
		if s.poll == wt {
			s.poll = nil
			s.mu.Unlock()
			s.closeWith(ReasonTransportError, errPollClosed, closeDiscard)
			return
		}
		s.mu.Unlock()
	}
	var batch []Packet
	tail := wt.tail
	if wt.withQueue {
		s.mu.Lock()
		batch = s.takeQueueLocked()
		s.queued = 0
		s.mu.Unlock()
	}
	answer := batch
	if tail != 0 {
		answer = append(answer, Packet{Type: PacketType(tail - '0')})
	}
	s.writePoll(w, r, answer)
	if batch != nil {
		s.release(batch)
	}
	if tail == '1' {
		s.srv.remove(s)
	}
}

func (s *Session) release(batch []Packet) {
	s.mu.Lock()
	s.releaseLocked(batch)
	s.mu.Unlock()
}

// payloadPool holds buffers for encoding polling answers.
var payloadPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writePoll writes packets as a polling answer with the reference's
// headers.
func (s *Session) writePoll(w http.ResponseWriter, r *http.Request, packets []Packet) {
	bp := payloadPool.Get().(*[]byte)
	buf := (*bp)[:0]
	ctype := "text/plain; charset=UTF-8"
	switch {
	case s.proto == 4:
		buf = appendPayloadV4(buf, packets)
	case !s.pollB64 && hasBinary(packets):
		buf = appendPayloadV3Binary(buf, packets)
		ctype = "application/octet-stream"
	default:
		buf = appendPayloadV3Text(buf, packets)
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	body, c := s.srv.compressAnswer(h, r, buf, packets)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	setPollHeaders(h, r)
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeTimeout))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	if c != nil {
		putCompressor(c)
	}
	if err == nil && s.logEnabled(slog.LevelDebug) {
		s.logAttrs(slog.LevelDebug, "payload sent", slog.Int("packets", len(packets)), slog.Int("bytes", len(buf)), slog.Int("sent", len(body)))
	}
	if cap(buf) <= maxPooledFrame {
		*bp = buf[:0]
		payloadPool.Put(bp)
	}
}

// setPollHeaders adds the headers the reference puts on polling answers.
func setPollHeaders(h http.Header, r *http.Request) {
	if ua := r.Header.Get("User-Agent"); strings.Contains(ua, ";MSIE") || strings.Contains(ua, "Trident/") {
		h.Set("X-XSS-Protection", "0")
	}
	h.Set("Cache-Control", "no-store")
}

// servePost takes packets from the client. The answer is "ok" once they
// have been handled.
func (s *Session) servePost(w http.ResponseWriter, r *http.Request) {
	binary := r.Header.Get("Content-Type") == "application/octet-stream"
	s.mu.Lock()
	switch {
	case s.state == stateClosed || s.ws || s.closeNoop:
		s.mu.Unlock()
		abortRequest(w, codeUnknownSID)
		return
	case s.post != nil:
		s.mu.Unlock()
		s.logAttrs(slog.LevelWarn, "overlapping data requests", slog.String("remote_addr", r.RemoteAddr))
		s.closeWith(ReasonTransportError, errPostOverlap, closeDiscard)
		abortRequest(w, codeBadRequest)
		return
	case binary && s.proto == 4:
		s.mu.Unlock()
		s.logAttrs(slog.LevelWarn, "binary polling body in protocol v4", slog.String("remote_addr", r.RemoteAddr))
		s.closeWith(ReasonTransportError, errInvalidContent, closeDiscard)
		abortRequest(w, codeBadRequest)
		return
	}
	// While the body is read, closing the session cuts the read short, as
	// the reference destroys its data request on close: a client that
	// declared a body it does not send holds the request only as long as
	// its session lasts (its ping timeout at most).
	s.post = http.NewResponseController(w)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.post = nil
		s.mu.Unlock()
	}()
	if hook := s.srv.hooks.posting; hook != nil {
		hook(s)
	}

	body, err := readBody(w, r, s.srv.cfg.MaxHTTPBufferSize)
	s.mu.Lock()
	s.post = postDispatching
	s.mu.Unlock()
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			// The reference answers 413 and keeps the session: the client
			// takes the failed request as a transport error and closes.
			s.logAttrs(slog.LevelWarn, "polling body over the limit", slog.Int64("bound", s.srv.cfg.MaxHTTPBufferSize))
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		// A body cut short or not framed right (a malformed chunk): the
		// reference's Node answers 400 and drops the connection, and the
		// session ends with a transport error. A 400 with the error body
		// here, whose connection is closed too, its framing being lost.
		// (A client gone mid-body is not worth a warning.)
		var ne net.Error
		if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &ne) {
			s.logAttrs(slog.LevelWarn, "unreadable polling body", slog.String("remote_addr", r.RemoteAddr), slog.Any("err", err))
		}
		s.closeWith(ReasonTransportError, err, closeDiscard)
		w.Header().Set("Connection", "close")
		abortRequest(w, codeBadRequest)
		return
	}

	var packets []Packet
	switch {
	case s.proto == 4:
		packets, err = decodePayloadV4(body)
	case binary:
		packets, err = decodePayloadV3Binary(body)
	default:
		packets, err = decodePayloadV3Text(body)
	}
	reason, cerr := s.dispatch(packets)
	if reason == "" && err != nil {
		s.logAttrs(slog.LevelWarn, "undecodable payload", slog.Int("bytes", len(body)), slog.Any("err", err))
		reason, cerr = ReasonParseError, err
	}
	if reason != "" {
		s.closeWith(reason, cerr, closeDiscard)
		if reason != ReasonTransportClose {
			abortRequest(w, codeBadRequest)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", "2")
	setPollHeaders(h, r)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
}

// postDispatching marks Session.post once the body is read: the POST
// still counts for overlaps, but its connection's read deadline is no
// longer the session's to set (net/http reads the next request on it).
var postDispatching = new(http.ResponseController)

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength >= 0 {
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(body)
}
