package webhook

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/net/http/httpguts"

	"github.com/iobridge/iobridge/internal/rawconn"
	"github.com/iobridge/iobridge/translate"
)

// The direct route: a Client whose backend is a plain http:// URL reached
// through a Transport (the default) writes each attempt as one wire-ready
// request and reads only the answer's head fields it uses. Building an
// http.Request, writing it with Request.Write and reading the answer into
// an http.Response cost about 40 allocations per delivery and, on the
// echo load, about a tenth of the sidecar's CPU; here a delivery allocates
// its answer's body and little else. Transport.RoundTrip joins this route
// at exchange, so that a RoundTripper wrapped around the Transport sends
// over the same connections, write and parser.
//
// Tracing stays on this route: the attempt's client span is started here
// (Client.spans), its context appended to the request's head as header
// fields (wireFields, through the same appendField as Propagate's), and
// the span ended once the answer's head is read.
//
// The attempt's timeout is the connection's deadline rather than a
// context and a timer of its own; the caller's context still aborts a
// blocked dial, write or read. A Client whose Transport is another
// RoundTripper (a wrapper, or net/http's) builds an http.Request per
// attempt and calls RoundTrip (see Client.attempt).

// direct is a Client's route to its backend over a Transport.
type direct struct {
	pool *hostPool
	// prefix is the request line and the headers every attempt shares.
	prefix []byte
}

// newDirect returns the direct route to u, or nil when rt does not carry
// u itself.
func newDirect(rt http.RoundTripper, u *url.URL, userAgent string) *direct {
	t, ok := rt.(*Transport)
	if !ok || !t.direct(&http.Request{Method: http.MethodPost, URL: u, Header: http.Header{}}) {
		return nil
	}
	if !httpguts.ValidHeaderFieldValue(userAgent) {
		return nil
	}
	var b []byte
	b = append(b, "POST "...)
	b = append(b, u.RequestURI()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, u.Host...)
	b = append(b, "\r\nUser-Agent: "...)
	b = append(b, userAgent...)
	b = append(b, "\r\nContent-Type: application/json\r\n"...)
	if u.User != nil {
		// As http.Client does for a URL with credentials.
		req := &http.Request{Header: http.Header{}}
		p, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), p)
		b = append(b, "Authorization: "...)
		b = append(b, req.Header.Get("Authorization")...)
		b = append(b, "\r\n"...)
	}
	return &direct{pool: t.pool(u.Host), prefix: b}
}

// appendHead appends the head of one attempt's request but its last
// fields: the shared prefix and the Standard Webhooks headers. More fields
// may follow (appendField), then appendBody.
func (c *Client) appendHead(b []byte, id string, ts int64, body []byte) []byte {
	b = append(b, c.direct.prefix...)
	b = append(b, "Webhook-Id: "...)
	b = append(b, id...)
	b = append(b, "\r\nWebhook-Timestamp: "...)
	b = strconv.AppendInt(b, ts, 10)
	if c.signer != nil {
		b = append(b, "\r\nWebhook-Signature: "...)
		b = c.signer.AppendSignature(b, id, ts, body)
	}
	return append(b, "\r\n"...)
}

// appendFields appends h's fields (see appendField).
func appendFields(b []byte, h http.Header) []byte {
	for k, vs := range h {
		for _, v := range vs {
			b = appendField(b, k, v)
		}
	}
	return b
}

// appendField appends the header field k: v, its name in canonical form
// ("traceparent" goes out as "Traceparent", as net/http writes it), or
// nothing when the name or value is not a valid one (no CR or LF can get
// in).
func appendField(b []byte, k, v string) []byte {
	if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) {
		return b
	}
	n := len(b)
	b = append(b, k...)
	upper := true
	for i := n; i < len(b); i++ {
		switch c := b[i]; {
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - ('a' - 'A')
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c + ('a' - 'A')
		}
		upper = b[i] == '-'
	}
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

// wireFields is the propagation carrier of the direct route: each field
// the propagator sets is appended to the request's head. The propagator
// only sets (Inject); Get and Keys have nothing to give.
type wireFields struct{ b []byte }

func (w *wireFields) Get(string) string { return "" }
func (w *wireFields) Set(k, v string)   { w.b = appendField(w.b, k, v) }
func (w *wireFields) Keys() []string    { return nil }

// appendBody ends the request's head with Content-Length and appends the
// body.
func appendBody(b, body []byte) []byte {
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// attemptDirect is attempt over the direct route.
func (c *Client) attemptDirect(ctx context.Context, id string, body []byte) (*translate.Reply, time.Duration, error) {
	if err := c.take(); err != nil {
		return nil, 0, err
	}
	releaseSlot := true
	defer func() {
		if releaseSlot {
			c.inflight.Add(-1)
		}
	}()
	wp := bufPool.Get().(*[]byte)
	wire := c.appendHead((*wp)[:0], id, time.Now().Unix(), body)
	var span trace.Span
	if c.spans != nil {
		w := &wireFields{b: wire}
		_, span = c.spans.Start(ctx, http.MethodPost, w)
		wire = w.b
	}
	if c.propagate != nil {
		h := make(http.Header, 2)
		c.propagate(ctx, h)
		wire = appendFields(wire, h)
	}
	wire = appendBody(wire, body)
	a, err := c.direct.pool.exchange(ctx, wire, time.Now().Add(c.timeout), true, nil)
	putBuffer(wp, wire)
	if span != nil {
		c.spans.End(span, http.MethodPost, a.status, err)
	}
	if err != nil {
		return nil, 0, c.classifyDirect(ctx, err)
	}
	if a.status >= 200 && a.status < 300 && isEventStream(a.contentType) {
		releaseSlot = false
		return &translate.Reply{Stream: &streamBody{body: a.stream(ctx), done: func() { c.inflight.Add(-1) }}}, 0, nil
	}
	status, ra := a.status, a.retryAfter
	b, rerr := a.readBody(c.maxAnswer)
	if rerr != nil && !errors.Is(rerr, errTooLarge) {
		rerr = c.classifyDirect(ctx, rerr)
	}
	return c.answered(status, ra, b, rerr)
}

// classifyDirect maps an error of the direct route to the translate
// sentinels: the attempt's deadline is the connection's.
func (c *Client) classifyDirect(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w after %v", translate.ErrTimeout, c.timeout)
	default:
		return fmt.Errorf("%w: %v", translate.ErrUnreachable, err)
	}
}

// exchange sends wire, a whole request, on an idle connection (or a new
// one) and reads the answer's head; before deadline unless it is zero.
// Both entries into a connection come here: the Client's direct route and
// Transport.RoundTrip (hdr, when not nil, collects the answer's header).
//
// A reused connection that fails before any byte of the answer (the
// backend closed it while idle) is replaced by a fresh one once when
// replay allows: a webhook delivery always does, since it carries its
// Webhook-Id and a backend deduplicates a request that did arrive.
func (p *hostPool) exchange(ctx context.Context, wire []byte, deadline time.Time, replay bool, hdr http.Header) (answer, error) {
	pc := p.get()
	reused := pc != nil
	for {
		if pc == nil {
			dctx, cancel := ctx, context.CancelFunc(nil)
			if !deadline.IsZero() {
				dctx, cancel = context.WithDeadline(ctx, deadline)
			}
			var err error
			pc, err = p.dial(dctx)
			if cancel != nil {
				cancel()
			}
			if err != nil {
				return answer{}, err
			}
		}
		a, err := pc.exchange(ctx, wire, deadline, hdr)
		if err == nil || !reused || !replay || ctx.Err() != nil ||
			(!deadline.IsZero() && !time.Now().Before(deadline)) {
			return a, err
		}
		var ne *nothingReadError // declared here: As moves it to the heap
		if !errors.As(err, &ne) {
			return a, err
		}
		pc, reused = nil, false
		clear(hdr)
	}
}

// answer is an answer's head, read from pc, which it owns until its body
// is read or closed.
type answer struct {
	head
	pc   *persistConn
	stop func() bool // ends the context's hold on pc
}

// neverStop is the stop of an answer whose context cannot be cancelled.
func neverStop() bool { return true }

// exchange writes wire on pc and reads the answer's head. On error pc is
// closed; an error before any byte of the answer is a nothingReadError.
func (pc *persistConn) exchange(ctx context.Context, wire []byte, deadline time.Time, hdr http.Header) (answer, error) {
	stop := neverStop
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, pc.abortFn)
	}
	fail := func(err error) (answer, error) {
		stop()
		pc.conn.Close()
		return answer{}, err
	}
	if err := pc.conn.SetDeadline(deadline); err != nil {
		return fail(&nothingReadError{fmt.Errorf("webhook: write request: %w", err)})
	}
	if err := pc.writeAwait(wire); err != nil {
		return fail(&nothingReadError{err})
	}
	if _, err := pc.br.Peek(1); err != nil {
		return fail(&nothingReadError{fmt.Errorf("webhook: read answer: %w", err)})
	}
	a := answer{pc: pc, stop: stop}
	for i := 0; ; i++ {
		if i > 0 {
			clear(hdr) // an informational answer's fields are not the final one's
		}
		if err := readHead(pc.br, &a.head, hdr); err != nil {
			return fail(fmt.Errorf("webhook: read answer: %w", err))
		}
		if a.status >= 200 {
			return a, nil
		}
		if a.status == http.StatusSwitchingProtocols {
			return fail(errors.New("webhook: read answer: 101 Switching Protocols to a request without Upgrade"))
		}
		if i == maxInformational {
			return fail(fmt.Errorf("webhook: more than %d informational answers", maxInformational))
		}
	}
}

// writeAwait writes wire and waits until the answer can be read.
//
// Written and then read through net.Conn, a request costs a read that
// finds nothing yet (the backend has not answered) before the wait for
// the answer, one system call in six of a delivery. Here the write is made
// from inside the wait on the descriptor: RawConn.Read forgets the
// readiness seen before it, and only then does the request go out, so
// whatever arrives after it (the answer, or the reset of a connection the
// backend had closed) ends the wait, and the read that follows finds it.
// The read deadline bounds the wait; a write that cannot complete at once
// finishes through net.Conn.
func (pc *persistConn) writeAwait(wire []byte) error {
	if pc.raw == nil {
		if _, err := pc.conn.Write(wire); err != nil {
			return fmt.Errorf("webhook: write request: %w", err)
		}
		return nil
	}
	w := pc.awaiter()
	w.wire, w.n, w.err, w.first = wire, 0, nil, true
	err := pc.raw.Read(w.fn)
	n, werr := w.n, w.err
	w.wire = nil
	if werr != nil {
		return fmt.Errorf("webhook: write request: %w", werr)
	}
	if n < len(wire) {
		if _, err := pc.conn.Write(wire[n:]); err != nil {
			return fmt.Errorf("webhook: write request: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("webhook: read answer: %w", err)
	}
	return nil
}

// writeFD writes p on the descriptor fd with one system call. It is the
// only raw-descriptor write of the package, kept apart so that a shared
// helper can take its place.
func writeFD(fd uintptr, p []byte) (int, error) {
	return rawconn.Write(fd, p)
}

// awaitWrite is writeAwait's state. Its function is made once per
// connection: a closure made per call would be allocated per call, since
// RawConn.Read keeps no promise about it.
type awaitWrite struct {
	wire  []byte
	n     int
	err   error
	first bool
	fn    func(fd uintptr) bool
}

func (pc *persistConn) awaiter() *awaitWrite {
	if pc.aw != nil {
		return pc.aw
	}
	w := &awaitWrite{}
	w.fn = func(fd uintptr) bool {
		if !w.first {
			return true
		}
		w.first = false
		for w.n < len(w.wire) {
			m, err := writeFD(fd, w.wire[w.n:])
			if m > 0 {
				w.n += m
			}
			switch {
			case err == syscall.EINTR:
			case err == syscall.EAGAIN:
				return true // net.Conn writes the rest
			case err != nil:
				w.err = err
				return true
			case m <= 0:
				w.err = io.ErrShortWrite
				return true
			}
		}
		return false // all written: wait for the answer
	}
	pc.aw = w
	return w
}

// readBody reads the answer's body, at most max bytes, and gives the
// connection back: to the pool when the answer allows, else closed. The
// body is a slice of its own (a Reply aliases it).
func (a *answer) readBody(max int64) ([]byte, error) {
	var b []byte
	var err error
	switch {
	case a.length > max:
		err = errTooLarge
	case a.length >= 0:
		b = make([]byte, a.length)
		_, err = io.ReadFull(a.pc.br, b)
	default: // chunked, or until the connection's end
		b, err = readMax(a.bodyReader(), max)
	}
	release(a.pc, a.stop, a.keepAlive && err == nil)
	return b, err
}

// bodyReader reads the answer's body as its head delimits it: by length,
// chunked (its trailer read at its end), or up to the connection's end
// (then keepAlive is false).
func (a *answer) bodyReader() io.Reader {
	switch {
	case a.chunked:
		return &chunkedBody{cr: httputil.NewChunkedReader(a.pc.br), br: a.pc.br}
	case a.length >= 0:
		return io.LimitReader(a.pc.br, a.length)
	}
	return a.pc.br
}

// stream returns the body of a text/event-stream answer, read as it
// comes: no deadline bounds it (the translator bounds its silences), the
// context aborts it, and closing it before its end closes the connection.
func (a *answer) stream(ctx context.Context) io.ReadCloser {
	a.pc.conn.SetDeadline(time.Time{})
	return a.body(ctx)
}

// body returns the answer's body, which owns the connection from now on.
func (a *answer) body(ctx context.Context) *body {
	return &body{r: a.bodyReader(), ctx: ctx, pc: a.pc, stop: a.stop, reuse: a.keepAlive}
}

// chunkedBody is a chunked body read to its end, trailer included.
type chunkedBody struct {
	cr io.Reader
	br *bufio.Reader
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	n, err := c.cr.Read(p)
	if err == io.EOF {
		if terr := skipTrailer(c.br); terr != nil {
			return n, terr
		}
	}
	return n, err
}
