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
// Disconnect and expired deliveries are retried with exponential backoff,
// honoring Retry-After.
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
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
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
	// DefaultAttempts is the number of attempts of a disconnect or
	// expired delivery.
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
	// Deliver fails at once with translate.ErrOverloaded (a disconnect or
	// expired delivery waits and retries instead). Zero means DefaultMaxInFlight.
	MaxInFlight int
	// MaxAnswerBytes bounds a JSON answer's body; a longer one is an
	// invalid answer. Zero means DefaultMaxAnswerBytes.
	MaxAnswerBytes int64
	// Attempts is the number of attempts of a disconnect or expired
	// delivery (the backend must learn that a socket left, or is gone). Connect and event
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
