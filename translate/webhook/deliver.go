package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/translate"
)

// errDeadline is the cancel cause of an attempt that ran out of time.
var errDeadline = errors.New("webhook: attempt deadline")

// Deliver POSTs env and returns the answer (see translate.Backend). A
// disconnect or expired delivery is retried, with the same webhook-id, on
// timeouts, unreachable backends, 408, 429 and 5xx answers: nothing else
// would tell the backend.
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
	if env.Type == translate.TypeDisconnect || env.Type == translate.TypeExpired {
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
