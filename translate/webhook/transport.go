package webhook

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of Transport.
const (
	// DefaultMaxIdleConnsPerHost bounds the idle connections kept per
	// backend host: enough for hundreds of sockets with a delivery in
	// flight each, so that none redials.
	DefaultMaxIdleConnsPerHost = 512
	// DefaultIdleConnTimeout is how long an idle connection is kept.
	DefaultIdleConnTimeout = 90 * time.Second
	// DefaultDialTimeout bounds a connection's dial.
	DefaultDialTimeout = 5 * time.Second
)

// Transport is an HTTP/1.1 http.RoundTripper for plain http:// backends
// that writes each request and reads its answer on the calling goroutine,
// over keep-alive connections.
//
// net/http's Transport runs a reader and a writer goroutine per connection
// and hands each request to them, and the answer back, through channels:
// three goroutine switches and their scheduling per delivery, more CPU
// than the request's own syscalls on a local backend. Here a connection
// belongs to one request at a time: taken from the idle pool (or dialed),
// the request written with one write (headers and body), the answer's
// headers read; then the answer's Body owns the connection. Read to its
// end, the connection goes back to the pool, unless the answer asked to
// close it (Connection: close, HTTP/1.0 without keep-alive, a body
// delimited by the connection's end). Closed before its end (a
// text/event-stream answer the caller stops reading), the connection is
// closed: what is left of the answer is not drained.
//
// There is one path through it: a Client on a URL this Transport carries
// hands it the request as wire-ready bytes (see direct.go), and RoundTrip
// serializes its Request to such bytes; from there both take the same
// connections, the same write and the same answer parser (readHead). A
// Client's tracing is no wrapper around it but a hook inside the Client
// (Config.TracerProvider), so a traced attempt takes that path too, with
// no Request or Response built for it.
//
// The request's context aborts a blocked dial, write or read, the Body's
// included, until the Body has been read to its end or closed.
//
// A connection that the server closed while it was idle is only found out
// on use: when a reused connection fails before any byte of the answer
// arrived, the request is sent once more on a fresh connection if it is
// idempotent: its method is, or it carries a Webhook-Id (a Standard
// Webhooks receiver deduplicates on it) or an Idempotency-Key, and its
// body, if any, can be had again (GetBody). net/http's Transport retries
// the same way.
//
// https:// URLs, http:// URLs that Proxy routes through a proxy, and
// requests with an upgrade go to Fallback (net/http): the one path speaks
// neither TLS nor a proxy's protocol. Those are the only requests that
// net/http carries; a Client's tracing hook runs around them as well. Neither HTTP/2 nor compression is
// spoken: it is meant for backends next to the sidecar.
//
// A Transport is safe for concurrent use. Its zero value uses the
// defaults below; set the fields before the first request.
type Transport struct {
	// Fallback carries the requests this Transport does not (see above).
	// Nil means SharedTransport().
	Fallback http.RoundTripper
	// Proxy, when set, picks a proxy for a request (as in
	// http.Transport); a request that gets one, or an error, goes to
	// Fallback. Nil means no proxy.
	Proxy func(*http.Request) (*url.URL, error)
	// DialContext dials connections. Nil means a net.Dialer with
	// DefaultDialTimeout and 30s TCP keep-alives.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdleConnsPerHost bounds the idle connections kept per host; a
	// connection freed beyond it is closed. Zero means
	// DefaultMaxIdleConnsPerHost; negative keeps none.
	MaxIdleConnsPerHost int
	// IdleConnTimeout is how long a connection stays idle before it is
	// closed. Zero means DefaultIdleConnTimeout.
	IdleConnTimeout time.Duration

	pools sync.Map // URL.Host -> *hostPool
}

var (
	defaultOnce sync.Once
	defaultRT   *Transport
)

// DefaultTransport is the RoundTripper Clients use by default: a
// Transport shared by every Client, with the environment's proxy settings
// (http.ProxyFromEnvironment) and SharedTransport as its Fallback.
func DefaultTransport() *Transport {
	defaultOnce.Do(func() {
		defaultRT = &Transport{Fallback: SharedTransport(), Proxy: http.ProxyFromEnvironment}
	})
	return defaultRT
}

var defaultDialer = &net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}

// RoundTrip implements http.RoundTripper. A request Transport carries
// itself takes the Client's direct route from its write on: it is written
// whole (its body read into memory first) with one write, and its answer
// read by the same parser (see exchange); only the Request and Response
// values are extra.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.direct(req) {
		fb := t.Fallback
		if fb == nil {
			fb = SharedTransport()
		}
		return fb.RoundTrip(req)
	}
	ctx := req.Context()
	wp := bufPool.Get().(*[]byte)
	wire, err := wireRequest((*wp)[:0], req) // closes req.Body
	if err != nil {
		putBuffer(wp, wire)
		return nil, err
	}
	hdr := make(http.Header, 8)
	a, err := t.pool(req.URL.Host).exchange(ctx, wire, time.Time{}, replayable(req), hdr)
	putBuffer(wp, wire)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	a.keepAlive = a.keepAlive && !req.Close
	resp := &http.Response{
		Status:        a.statusText,
		StatusCode:    a.status,
		Proto:         a.proto,
		ProtoMajor:    1,
		ProtoMinor:    int(a.proto[7] - '0'),
		Header:        hdr,
		ContentLength: a.length,
		Close:         !a.keepAlive,
		Request:       req,
	}
	if a.chunked {
		resp.TransferEncoding = []string{"chunked"}
	}
	if a.length == 0 {
		resp.Body = http.NoBody
		release(a.pc, a.stop, a.keepAlive)
		return resp, nil
	}
	resp.Body = a.body(ctx)
	return resp, nil
}

// wireRequest appends req as it goes on the wire (Request.Write),
// body included, and closes the body.
func wireRequest(b []byte, req *http.Request) ([]byte, error) {
	w := &sliceWriter{b: b}
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(w)
	err := req.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	bw.Reset(nil)
	writerPool.Put(bw)
	if err != nil {
		return w.b, fmt.Errorf("webhook: write request: %w", err)
	}
	return w.b, nil
}

// sliceWriter appends what is written to b.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// direct reports whether t itself carries req.
func (t *Transport) direct(req *http.Request) bool {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" {
		return false
	}
	if _, ok := req.Header["Upgrade"]; ok {
		return false
	}
	if t.Proxy != nil {
		if u, err := t.Proxy(req); err != nil || u != nil {
			return false
		}
	}
	return true
}

// replayable reports whether req may be sent again after a reused
// connection failed before any byte of the answer.
func replayable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	h := req.Header
	return len(h["Webhook-Id"]) > 0 || len(h["Idempotency-Key"]) > 0 || len(h["X-Idempotency-Key"]) > 0
}

// CloseIdleConnections closes the idle connections, Fallback's included.
// Connections in use are left alone.
func (t *Transport) CloseIdleConnections() {
	t.pools.Range(func(_, v any) bool {
		v.(*hostPool).closeIdle()
		return true
	})
	fb := t.Fallback
	if fb == nil {
		fb = SharedTransport()
	}
	if ci, ok := fb.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

func (t *Transport) pool(host string) *hostPool {
	if v, ok := t.pools.Load(host); ok {
		return v.(*hostPool)
	}
	p := &hostPool{t: t, addr: host}
	if _, port, err := net.SplitHostPort(host); err != nil || port == "" {
		p.addr = net.JoinHostPort(trimBrackets(host), "80")
	}
	v, _ := t.pools.LoadOrStore(host, p)
	return v.(*hostPool)
}

func trimBrackets(host string) string {
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		return host[1 : len(host)-1]
	}
	return host
}

func (t *Transport) idleTimeout() time.Duration {
	if t.IdleConnTimeout > 0 {
		return t.IdleConnTimeout
	}
	return DefaultIdleConnTimeout
}

func (t *Transport) maxIdle() int {
	switch {
	case t.MaxIdleConnsPerHost > 0:
		return t.MaxIdleConnsPerHost
	case t.MaxIdleConnsPerHost < 0:
		return 0
	}
	return DefaultMaxIdleConnsPerHost
}

// hostPool holds one host's idle connections, most recently used last.
// While it holds any, a timer is armed for the oldest one's expiry.
type hostPool struct {
	t    *Transport
	addr string // dial address, host:port

	mu    sync.Mutex
	idle  []*persistConn
	timer *time.Timer
	armed bool
}

// get takes the most recently used idle connection, or returns nil.
func (p *hostPool) get() *persistConn {
	now := time.Now()
	p.mu.Lock()
	n := len(p.idle)
	if n == 0 {
		p.mu.Unlock()
		return nil
	}
	pc := p.idle[n-1]
	if now.Sub(pc.idleAt) < p.t.idleTimeout() {
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return pc
	}
	// The newest has expired (its timer is late): so have all the others.
	old := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, pc := range old {
		pc.conn.Close()
	}
	return nil
}

// put returns pc to the pool, or closes it at the bound.
func (p *hostPool) put(pc *persistConn) {
	max := p.t.maxIdle()
	p.mu.Lock()
	if len(p.idle) >= max {
		p.mu.Unlock()
		pc.conn.Close()
		return
	}
	pc.idleAt = time.Now() // under mu: idle stays ordered by idleAt
	p.idle = append(p.idle, pc)
	if !p.armed {
		p.armed = true
		if p.timer == nil {
			p.timer = time.AfterFunc(p.t.idleTimeout(), p.expire)
		} else {
			p.timer.Reset(p.t.idleTimeout())
		}
	}
	p.mu.Unlock()
}

// expire closes the connections idle for IdleConnTimeout and re-arms the
// timer for the oldest of the others.
func (p *hostPool) expire() {
	d := p.t.idleTimeout()
	now := time.Now()
	p.mu.Lock()
	i := 0
	for i < len(p.idle) && now.Sub(p.idle[i].idleAt) >= d {
		i++
	}
	old := make([]*persistConn, i)
	copy(old, p.idle[:i])
	n := copy(p.idle, p.idle[i:])
	clear(p.idle[n:])
	p.idle = p.idle[:n]
	if n > 0 {
		p.timer.Reset(p.idle[0].idleAt.Add(d).Sub(now))
	} else {
		p.armed = false
	}
	p.mu.Unlock()
	for _, pc := range old {
		pc.conn.Close()
	}
}

func (p *hostPool) closeIdle() {
	p.mu.Lock()
	old := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, pc := range old {
		pc.conn.Close()
	}
}

func (p *hostPool) dial(ctx context.Context) (*persistConn, error) {
	dial := p.t.DialContext
	if dial == nil {
		dial = defaultDialer.DialContext
	}
	conn, err := dial(ctx, "tcp", p.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	pc := &persistConn{pool: p, conn: conn, br: bufio.NewReaderSize(conn, 4096)}
	pc.abortFn = pc.abort
	if sc, ok := conn.(syscall.Conn); ok {
		pc.raw, _ = sc.SyscallConn()
	}
	return pc, nil
}

// persistConn is a keep-alive connection. Its reader lives with it (an
// answer's body is read from it); the writer is borrowed for a request's
// write only.
type persistConn struct {
	pool   *hostPool
	conn   net.Conn
	br     *bufio.Reader
	idleAt time.Time
	// abortFn is abort, bound once rather than per request.
	abortFn func()
	// raw is the connection's descriptor, nil when the dialer's
	// connection has none (see writeAwait).
	raw syscall.RawConn
	aw  *awaitWrite // made on first use
}

var writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4096) }}

// aLongTimeAgo is a deadline in the past: setting it makes blocked reads
// and writes return at once.
var aLongTimeAgo = time.Unix(1, 0)

func (pc *persistConn) abort() { pc.conn.SetDeadline(aLongTimeAgo) }

// nothingReadError is a failure on a connection before any byte of the
// answer arrived: the request may be sent again elsewhere.
type nothingReadError struct{ err error }

func (e *nothingReadError) Error() string { return e.err.Error() }
func (e *nothingReadError) Unwrap() error { return e.err }

// maxInformational bounds the 1xx answers skipped before the final one.
const maxInformational = 5

// release ends pc's request: back to the pool if reuse allows and the
// context did not abort it, else closed.
func release(pc *persistConn, stop func() bool, reuse bool) {
	if stop() && reuse {
		pc.pool.put(pc)
		return
	}
	pc.conn.Close()
}

// body is an answer's body; it owns the connection until its end (see
// Transport). Read and Close may be called from different goroutines:
// Close then closes the connection, which ends a blocked Read.
type body struct {
	r     io.Reader // the answer's body as its head delimits it
	ctx   context.Context
	pc    *persistConn
	stop  func() bool
	reuse bool
	state atomic.Int32 // bodyReading, bodyEnded or bodyClosed
}

// States of a body: the connection is its own, released after the end,
// or closed.
const (
	bodyReading = iota
	bodyEnded
	bodyClosed
)

func (b *body) Read(p []byte) (int, error) {
	switch b.state.Load() {
	case bodyEnded:
		return 0, io.EOF
	case bodyClosed:
		return 0, errBodyClosed
	}
	n, err := b.r.Read(p)
	if err != nil {
		st := int32(bodyEnded)
		if err != io.EOF {
			st = bodyClosed
		}
		if b.state.CompareAndSwap(bodyReading, st) {
			release(b.pc, b.stop, b.reuse && err == io.EOF)
		} else if b.state.Load() == bodyClosed {
			return n, errBodyClosed
		}
		if err != io.EOF && b.ctx.Err() != nil {
			err = b.ctx.Err() // the context aborted the read
		}
	}
	return n, err
}

var errBodyClosed = errors.New("webhook: read on a closed answer body")

// Close closes the connection unless the body was read to its end.
func (b *body) Close() error {
	if b.state.CompareAndSwap(bodyReading, bodyClosed) {
		b.stop()
		return b.pc.conn.Close()
	}
	return nil
}
