// Package webhook is the HTTP backend of translate: each delivery is a
// signed Standard Webhooks POST of the translate.Envelope, and the answer
// becomes a translate.Reply.
//
// Requests carry webhook-id (the envelope id, the same on every retry),
// webhook-timestamp (unix seconds of the attempt) and webhook-signature
// ("v1,<base64 HMAC-SHA256 of id.timestamp.body>") when a secret is set,
// plus the trace context (traceparent, tracestate) of the attempt's client
// span with Config.TracerProvider, and whatever Config.Propagate adds.
// Redirects are not followed: a 3xx answer is a failure with its status.
// Disconnect deliveries are retried with exponential backoff, honoring
// Retry-After.
// Any delivery written on a kept-alive connection the backend had closed
// (it fails before any byte of the answer) is sent once more, the same
// bytes, on a fresh connection (see Transport).
//
// Deliveries to http:// URLs take one path, Transport's, with tracing on
// or off: the span of an attempt is a hook inside the Client (the span
// started and its context written among the request's header fields, the
// span ended when the answer's headers arrive), not a RoundTripper wrapped
// around the transport, which would need an http.Request and an
// http.Response per attempt. net/http carries only what that path cannot:
// https:// URLs and proxied requests (see Transport), the same hook
// around its RoundTrip.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/telemetry"
	"github.com/iobridge/iobridge/translate"
)

// Defaults of Config.
const (
	// DefaultTimeout bounds one attempt until the answer's headers (and
	// the body of a JSON answer).
	DefaultTimeout = 5 * time.Second
	// DefaultMaxInFlight bounds one Client's requests in flight.
	DefaultMaxInFlight = 1024
	// DefaultMaxAnswerBytes bounds a JSON answer's body.
	DefaultMaxAnswerBytes = 4 << 20
	// DefaultAttempts is the number of attempts of a disconnect delivery.
	DefaultAttempts = 5
	// DefaultBackoff is the wait before the first retry; it doubles on
	// each retry.
	DefaultBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff caps each wait between attempts, Retry-After
	// included.
	DefaultMaxBackoff = 30 * time.Second
)

// Config configures a Client.
type Config struct {
	// URL is the http(s) endpoint that receives every delivery. Required.
	URL string
	// Secret is the Standard Webhooks signing secret ("whsec_" + base64).
	// Empty sends deliveries unsigned. Never logged.
	Secret string
	// Timeout bounds one attempt: until the answer's headers, and for a
	// JSON answer until its whole body. A text/event-stream answer is not
	// bounded by it once its headers arrived (the translator bounds its
	// silences). Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxInFlight bounds this Client's requests in flight. At the bound
	// Deliver fails at once with translate.ErrOverloaded (a disconnect
	// delivery waits and retries instead). Zero means DefaultMaxInFlight.
	MaxInFlight int
	// MaxAnswerBytes bounds a JSON answer's body; a longer one is an
	// invalid answer. Zero means DefaultMaxAnswerBytes.
	MaxAnswerBytes int64
	// Attempts is the number of attempts of a disconnect delivery (the
	// backend must learn that a socket left). Connect and event
	// deliveries are attempted once: the client is waiting. Zero means
	// DefaultAttempts; 1 disables retries.
	Attempts int
	// Backoff is the wait before the first retry, doubled on each retry
	// (with jitter). Zero means DefaultBackoff.
	Backoff time.Duration
	// MaxBackoff caps each wait, including a Retry-After. Zero means
	// DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Transport sends the requests. Nil means DefaultTransport(), whose
	// idle connections every Client reuses (https:// URLs go through
	// SharedTransport). Tracing is not a Transport: see TracerProvider.
	Transport http.RoundTripper
	// TracerProvider makes a client span per attempt ("POST", with the
	// HTTP client attributes; see telemetry.ClientSpans), a child of the
	// delivery's context, whose context goes to the backend as
	// traceparent and tracestate. The span is made inside the Client, on
	// whatever route the attempt takes, so turning tracing on changes no
	// route. Nil (or a no-op provider) makes no span.
	TracerProvider trace.TracerProvider
	// Propagator writes the span's context into the request's header
	// fields. Nil means propagation.TraceContext.
	Propagator propagation.TextMapPropagator
	// Propagate, when set, adds header fields from the delivery's context
	// to each request (its trace context, when the span is made
	// elsewhere). With TracerProvider set too, both fields go out: set
	// one of them.
	Propagate func(ctx context.Context, h http.Header)
	// UserAgent is the User-Agent header. Empty means "iobridge".
	UserAgent string
	// Logger receives retry logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Client delivers envelopes to one webhook URL. It implements
// translate.Backend and is safe for concurrent use.
type Client struct {
	url       *url.URL
	urlString string
	signer    *Signer
	timeout   time.Duration
	max       int64
	maxAnswer int64
	attempts  int
	backoff   time.Duration
	maxWait   time.Duration
	rt        http.RoundTripper
	req       *http.Request // the fields every attempt shares
	direct    *direct       // nil: attempts go through rt.RoundTrip
	propagate func(context.Context, http.Header)
	spans     *telemetry.ClientSpans // nil: tracing off
	userAgent []string
	log       *slog.Logger

	inflight atomic.Int64
}

var _ translate.Backend = (*Client)(nil)

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook: URL %q: want an http or https URL", cfg.URL)
	}
	c := &Client{
		url:       u,
		urlString: u.Redacted(),
		timeout:   cfg.Timeout,
		max:       int64(cfg.MaxInFlight),
		maxAnswer: cfg.MaxAnswerBytes,
		attempts:  cfg.Attempts,
		backoff:   cfg.Backoff,
		maxWait:   cfg.MaxBackoff,
		rt:        cfg.Transport,
		propagate: cfg.Propagate,
		spans:     telemetry.NewClientSpans(cfg.TracerProvider, cfg.Propagator, u),
		userAgent: []string{cfg.UserAgent},
		log:       cfg.Logger,
	}
	c.req = &http.Request{
		Method:     http.MethodPost,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Host:       u.Host,
	}
	if cfg.Secret != "" {
		if c.signer, err = NewSigner(cfg.Secret); err != nil {
			return nil, err
		}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.max <= 0 {
		c.max = DefaultMaxInFlight
	}
	if c.maxAnswer <= 0 {
		c.maxAnswer = DefaultMaxAnswerBytes
	}
	if c.attempts <= 0 {
		c.attempts = DefaultAttempts
	}
	if c.backoff <= 0 {
		c.backoff = DefaultBackoff
	}
	if c.maxWait <= 0 {
		c.maxWait = DefaultMaxBackoff
	}
	if c.rt == nil {
		c.rt = DefaultTransport()
	}
	if cfg.UserAgent == "" {
		c.userAgent = []string{"iobridge"}
	}
	c.direct = newDirect(c.rt, u, c.userAgent[0])
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}

var (
	sharedOnce sync.Once
	shared     *http.Transport
)

// SharedTransport is the net/http Transport of Clients for https:// URLs
// and proxies (DefaultTransport's Fallback): keep-alive
// connections, up to 512 idle per backend host (enough for hundreds of
// sockets with a delivery in flight each, so none redials), no
// compression (answers are small and local), and dial and TLS timeouts.
func SharedTransport() *http.Transport {
	sharedOnce.Do(func() {
		shared = &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   5 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			MaxIdleConns:          4096,
			MaxIdleConnsPerHost:   512,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ExpectContinueTimeout: time.Second,
			DisableCompression:    true,
			ForceAttemptHTTP2:     true,
		}
	})
	return shared
}

// URL returns the webhook URL, its password redacted.
func (c *Client) URL() string { return c.urlString }

// errDeadline is the cancel cause of an attempt that ran out of time.
var errDeadline = errors.New("webhook: attempt deadline")

// Deliver POSTs env and returns the answer (see translate.Backend). A
// disconnect delivery is retried, with the same webhook-id, on timeouts,
// unreachable backends, 408, 429 and 5xx answers.
func (c *Client) Deliver(ctx context.Context, env *translate.Envelope) (*translate.Reply, error) {
	var body []byte
	if c.direct != nil {
		// The direct route is done with the body when an attempt
		// returns, so it is encoded in a pooled buffer.
		bp := bufPool.Get().(*[]byte)
		body = env.AppendJSON((*bp)[:0])
		defer func() { putBuffer(bp, body) }()
	} else {
		body = encode(env)
	}
	attempts := 1
	if env.Type == translate.TypeDisconnect {
		attempts = c.attempts
	}
	for i := 1; ; i++ {
		reply, retryAfter, err := c.attempt(ctx, env.ID, body)
		if err == nil {
			return reply, nil
		}
		if i >= attempts || !retryable(err) || ctx.Err() != nil {
			return nil, fmt.Errorf("deliver %s %s to %s: %w", env.Type, env.ID, c.urlString, err)
		}
		wait := c.backoffFor(i)
		if retryAfter > 0 {
			wait = retryAfter
		}
		wait = min(wait, c.maxWait)
		c.log.Warn("webhook: delivery failed, retrying", "delivery_id", env.ID, "backend", c.urlString,
			"attempt", i, "wait", wait.String(), "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("deliver %s %s to %s: %w (retry abandoned: %v)", env.Type, env.ID, c.urlString, err, ctx.Err())
		}
	}
}

// backoffFor is the wait after attempt i (1-based): Backoff doubled each
// time, with up to 25% jitter.
func (c *Client) backoffFor(i int) time.Duration {
	d := c.backoff << (i - 1)
	if d <= 0 || d > c.maxWait {
		d = c.maxWait
	}
	jitter := time.Duration(time.Now().UnixNano() % int64(d/4+1))
	return d - d/8 + jitter/2
}

func retryable(err error) bool {
	var se *translate.StatusError
	if errors.As(err, &se) {
		return se.Status >= 500 || se.Status == http.StatusTooManyRequests || se.Status == http.StatusRequestTimeout
	}
	return errors.Is(err, translate.ErrTimeout) || errors.Is(err, translate.ErrUnreachable) || errors.Is(err, translate.ErrOverloaded)
}

// attempt sends the body once.
func (c *Client) attempt(ctx context.Context, id string, body []byte) (*translate.Reply, time.Duration, error) {
	if c.direct != nil {
		return c.attemptDirect(ctx, id, body)
	}
	if err := c.take(); err != nil {
		return nil, 0, err
	}
	releaseSlot := true
	defer func() {
		if releaseSlot {
			c.inflight.Add(-1)
		}
	}()
	actx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(c.timeout, func() { cancel(errDeadline) })
	cancelAll := func() {
		timer.Stop()
		cancel(nil)
	}
	h := make(http.Header, 8)
	var span trace.Span
	sctx := context.Context(actx)
	if c.spans != nil {
		sctx, span = c.spans.Start(actx, http.MethodPost, propagation.HeaderCarrier(h))
	}
	// One copy of the template, with the attempt's (and span's) context.
	req := c.req.WithContext(sctx)
	req.Header = h
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.ContentLength = int64(len(body))
	h["Content-Type"] = contentTypeJSON
	h["User-Agent"] = c.userAgent
	h["Webhook-Id"] = []string{id}
	ts := time.Now().Unix()
	var tsBuf [20]byte
	h["Webhook-Timestamp"] = []string{string(strconv.AppendInt(tsBuf[:0], ts, 10))}
	if c.signer != nil {
		var sig [64]byte
		h["Webhook-Signature"] = []string{string(c.signer.AppendSignature(sig[:0], id, ts, body))}
	}
	if c.propagate != nil {
		c.propagate(ctx, h)
	}
	resp, err := c.rt.RoundTrip(req)
	if span != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		c.spans.End(span, http.MethodPost, status, err)
	}
	if err != nil {
		cause := context.Cause(actx)
		cancelAll()
		return nil, 0, c.classify(ctx, cause, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 && isEventStream(resp.Header.Get("Content-Type")) {
		timer.Stop()
		releaseSlot = false
		return &translate.Reply{Stream: &streamBody{body: resp.Body, done: func() {
			cancel(nil)
			c.inflight.Add(-1)
		}}}, 0, nil
	}
	b, rerr := readAnswer(resp, c.maxAnswer)
	cause := context.Cause(actx)
	resp.Body.Close()
	cancelAll()
	if rerr != nil && !errors.Is(rerr, errTooLarge) {
		rerr = c.classify(ctx, cause, rerr)
	}
	return c.answered(resp.StatusCode, resp.Header.Get("Retry-After"), b, rerr)
}

// answered makes an attempt's result of an answer that is not a stream:
// its status, Retry-After header and body, and the error reading the body
// (errTooLarge, or already mapped to the translate sentinels).
func (c *Client) answered(status int, retry string, b []byte, rerr error) (*translate.Reply, time.Duration, error) {
	if status < 200 || status >= 300 {
		return nil, retryAfter(retry), statusError(status, b)
	}
	if errors.Is(rerr, errTooLarge) {
		return nil, 0, fmt.Errorf("%w: answer over %d bytes", translate.ErrInvalidAnswer, c.maxAnswer)
	}
	if rerr != nil {
		return nil, 0, rerr
	}
	reply, err := translate.DecodeReply(b)
	if err != nil {
		return nil, 0, err
	}
	return reply, 0, nil
}

// take takes one of the Client's in-flight slots, or fails at the bound.
func (c *Client) take() error {
	if c.inflight.Add(1) > c.max {
		c.inflight.Add(-1)
		return fmt.Errorf("%w (webhook bound %d)", translate.ErrOverloaded, c.max)
	}
	return nil
}

var contentTypeJSON = []string{"application/json"}

// classify maps a transport error to the translate sentinels.
func (c *Client) classify(ctx context.Context, cause, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message repeats the URL
	}
	switch {
	case errors.Is(cause, errDeadline):
		return fmt.Errorf("%w after %v", translate.ErrTimeout, c.timeout)
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		return fmt.Errorf("%w: %v", translate.ErrUnreachable, err)
	}
}

func isEventStream(ct string) bool {
	if !strings.HasPrefix(ct, "text/event-stream") {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "text/event-stream"
}

var errTooLarge = errors.New("webhook: answer too large")

// readAnswer reads resp's body, at most max bytes. A body of known
// length is read into a slice of that size (the Reply aliases it, so it
// cannot come from a pool), and up to its EOF, which frees the connection
// for the next request.
func readAnswer(resp *http.Response, max int64) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= max {
		b := make([]byte, n, n+1) // the spare byte takes the read to EOF
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, err
		}
		if m, err := resp.Body.Read(b[n : n+1]); m > 0 || (err != nil && err != io.EOF) {
			if err == nil {
				err = errors.New("webhook: answer longer than its Content-Length")
			}
			return nil, err
		}
		return b, nil
	}
	return readMax(resp.Body, max)
}

// readMax reads r to its end, failing with errTooLarge past max bytes.
func readMax(r io.Reader, max int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, max+1))
	if err != nil {
		return buf.Bytes(), err
	}
	if n > max {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}

// statusError builds the error for a non-2xx answer: message and data from
// a JSON body ({"message","data"}, or {"error":"…"} / {"error":{"message"}}),
// or a short plain-text body as the message.
func statusError(status int, body []byte) *translate.StatusError {
	se := &translate.StatusError{Status: status}
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return se
	}
	if b[0] == '{' {
		var w struct {
			Message any             `json:"message"`
			Error   any             `json:"error"`
			Data    json.RawMessage `json:"data"`
		}
		if json.Unmarshal(b, &w) == nil {
			switch m := w.Message.(type) {
			case string:
				se.Message = m
			}
			if se.Message == "" {
				switch e := w.Error.(type) {
				case string:
					se.Message = e
				case map[string]any:
					if m, ok := e["message"].(string); ok {
						se.Message = m
					}
				}
			}
			if len(w.Data) > 0 && string(w.Data) != "null" {
				se.Data = w.Data
			}
			return se
		}
	}
	if len(b) <= 200 && !bytes.ContainsAny(b, "\r\n<") {
		se.Message = string(b)
	}
	return se
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// streamBody is a text/event-stream answer: closing it ends the request
// and frees its in-flight slot.
type streamBody struct {
	body io.ReadCloser
	once sync.Once
	done func()
}

func (s *streamBody) Read(p []byte) (int, error) { return s.body.Read(p) }

func (s *streamBody) Close() error {
	err := s.body.Close()
	s.once.Do(s.done)
	return err
}

// bufPool holds scratch buffers for encoding envelopes, so that encoding
// does not grow a fresh slice append by append.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxPooledBuffer = 64 << 10

// encode returns env's JSON in a slice of its own. The request body is a
// *bytes.Reader over it: net/http then writes headers and body with one
// write (for other body types it flushes the headers first, one more
// packet per delivery). The transport may read a body until it closes it,
// even after RoundTrip returns, and a bytes.Reader tells us nothing about
// that; so the body is not returned to a pool, only the scratch is.
func encode(env *translate.Envelope) []byte {
	bp := bufPool.Get().(*[]byte)
	scratch := env.AppendJSON((*bp)[:0])
	body := make([]byte, len(scratch))
	copy(body, scratch)
	putBuffer(bp, scratch)
	return body
}

// putBuffer gives b, grown from *bp, back to bufPool, unless it grew too
// large to keep.
func putBuffer(bp *[]byte, b []byte) {
	if cap(b) <= maxPooledBuffer {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}
