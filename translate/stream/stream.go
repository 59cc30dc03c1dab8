package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/telemetry"
	"github.com/iobridge/iobridge/translate"
)

// MetricSkipped counts the messages and instructions a stream skipped as
// malformed or not applicable, by stream (Prometheus:
// iobridge_stream_skipped_total). Reconnects are counted by
// telemetry.MetricStreamReconnects.
const MetricSkipped = "iobridge.stream.skipped"

// Defaults of Config.
const (
	// DefaultMinBackoff is the first reconnect delay.
	DefaultMinBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff caps the reconnect delay.
	DefaultMaxBackoff = 30 * time.Second
	// DefaultMaxMessageBytes bounds one SSE line or WebSocket frame.
	DefaultMaxMessageBytes = 1 << 20
	// DefaultDialTimeout bounds connecting, up to the response headers
	// or the WebSocket handshake.
	DefaultDialTimeout = 10 * time.Second
)

// Sentinel errors.
var (
	// ErrConfig: New got an unusable Config.
	ErrConfig = errors.New("stream: invalid config")
	// ErrNotConnected: Ready's answer while the stream is not connected.
	ErrNotConnected = errors.New("stream: not connected")
	// ErrStatus: the backend answered the SSE request with a non-2xx
	// status or a Content-Type other than text/event-stream.
	ErrStatus = errors.New("stream: unexpected answer")
)

// Config configures one subscription.
type Config struct {
	// Name identifies the stream in logs and readiness reasons. Empty
	// means the URL without its query and credentials.
	Name string
	// URL is the backend endpoint: http or https for Server-Sent Events,
	// ws or wss for a WebSocket. Required.
	URL string
	// Namespace is the namespace of instructions that name none. Empty
	// means "/".
	Namespace string
	// Executor applies the instructions. Required.
	Executor *translate.Executor
	// Header is added to every request (an Authorization header, for
	// example). It is not logged.
	Header http.Header
	// Client sends the SSE requests. Nil means a client over
	// http.DefaultTransport without an overall timeout (a stream lasts).
	Client *http.Client
	// Dialer opens WebSockets. Nil means a Dialer with the proxy from the
	// environment, DialTimeout as handshake timeout and pooled write
	// buffers.
	Dialer *websocket.Dialer
	// DialTimeout bounds connecting, up to the SSE response headers or
	// the end of the WebSocket handshake. Zero means DefaultDialTimeout.
	DialTimeout time.Duration
	// MinBackoff is the first reconnect delay; it doubles after each
	// connection that delivered no message, up to MaxBackoff. An SSE
	// "retry:" field replaces it. Zero means DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// MaxMessageBytes bounds one SSE line or WebSocket frame (see the
	// package documentation for what happens at the bound). Zero means
	// DefaultMaxMessageBytes.
	MaxMessageBytes int
	// Logger receives the stream's logs. Nil means slog.Default().
	Logger *slog.Logger
	// MeterProvider receives the stream's metrics: reconnects
	// (telemetry.MetricStreamReconnects) and skipped messages
	// (MetricSkipped), labelled with the stream's name. Nil means none.
	MeterProvider metric.MeterProvider
	// TracerProvider makes a consumer span per message read
	// (telemetry.StartStreamSpan: "<name> receive", with iobridge.stream
	// and, for a message of one instruction, its event); the emits of the
	// message's instructions are its children. A malformed message or an
	// instruction that fails is recorded on the span with an Error
	// status. Nil means no spans.
	TracerProvider trace.TracerProvider
}

// Stats are a stream's counters since New.
type Stats struct {
	// Connects counts connections established.
	Connects uint64
	// Reconnects counts the attempts to connect again after a connection
	// failed or ended (the first attempt is not one).
	Reconnects uint64
	// Messages counts messages read; Instructions those applied;
	// Skipped messages and instructions skipped as malformed or not
	// applicable.
	Messages, Instructions, Skipped uint64
}

// Stream is one subscription. Its methods are safe for concurrent use.
type Stream struct {
	cfg  Config
	name string
	sse  bool
	url  *url.URL
	log  *slog.Logger
	opts translate.ExecOptions

	ctx    context.Context
	cancel context.CancelFunc
	start  sync.Once
	done   chan struct{}

	connected atomic.Bool
	lastErr   atomic.Pointer[error]
	lastID    string // SSE Last-Event-ID; the run goroutine's own

	connects, reconnects, messages, instructions, skipped atomic.Uint64

	tracer     trace.Tracer // nil without a TracerProvider
	metrics    *telemetry.Metrics
	skippedCtr metric.Int64Counter // nil without a MeterProvider
	label      metric.MeasurementOption
}

// New checks cfg and returns a Stream; Start connects it.
func New(cfg Config) (*Stream, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: URL %q: want an http, https, ws or wss URL", ErrConfig, cfg.URL)
	}
	s := &Stream{cfg: cfg, url: u, log: cfg.Logger, done: make(chan struct{})}
	switch u.Scheme {
	case "http", "https":
		s.sse = true
	case "ws", "wss":
	default:
		return nil, fmt.Errorf("%w: URL %q: want an http, https, ws or wss URL", ErrConfig, cfg.URL)
	}
	if cfg.Executor == nil {
		return nil, fmt.Errorf("%w: an executor is required", ErrConfig)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.name = cfg.Name
	if s.name == "" {
		r := *u
		r.User, r.RawQuery, r.Fragment = nil, "", ""
		s.name = r.String()
	}
	s.log = s.log.With("stream", s.name)
	if s.cfg.DialTimeout <= 0 {
		s.cfg.DialTimeout = DefaultDialTimeout
	}
	if s.cfg.MinBackoff <= 0 {
		s.cfg.MinBackoff = DefaultMinBackoff
	}
	if s.cfg.MaxBackoff <= 0 {
		s.cfg.MaxBackoff = DefaultMaxBackoff
	}
	s.cfg.MaxBackoff = max(s.cfg.MaxBackoff, s.cfg.MinBackoff)
	if s.cfg.MaxMessageBytes <= 0 {
		s.cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if s.cfg.Client == nil {
		s.cfg.Client = &http.Client{}
	}
	if s.cfg.Dialer == nil {
		s.cfg.Dialer = &websocket.Dialer{
			Proxy:            http.ProxyFromEnvironment,
			HandshakeTimeout: s.cfg.DialTimeout,
			WriteBufferPool:  &sync.Pool{},
		}
	}
	s.opts = translate.ExecOptions{Namespace: cfg.Namespace}
	s.tracer = telemetry.Tracer(cfg.TracerProvider)
	if s.metrics = telemetry.NewMetrics(cfg.MeterProvider); s.metrics != nil {
		s.label = metric.WithAttributes(telemetry.LabelStream.String(s.name))
		c, err := cfg.MeterProvider.Meter(telemetry.ScopeName).Int64Counter(MetricSkipped,
			metric.WithDescription("Backend stream messages and instructions skipped as malformed."), metric.WithUnit("{message}"))
		if err == nil {
			s.skippedCtr = c
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	err = ErrNotConnected
	s.lastErr.Store(&err)
	return s, nil
}

// Name is the stream's name in logs.
func (s *Stream) Name() string { return s.name }

// Start connects the stream on its own goroutine, which reconnects until
// Shutdown. Calls after the first do nothing.
func (s *Stream) Start() {
	s.start.Do(func() { go s.run() })
}

// Ready returns nil while the stream is connected, else an error wrapping
// ErrNotConnected with the last failure. It is a readiness check.
func (s *Stream) Ready(context.Context) error {
	if s.connected.Load() {
		return nil
	}
	if err := *s.lastErr.Load(); !errors.Is(err, ErrNotConnected) {
		return fmt.Errorf("%w: %v", ErrNotConnected, err)
	}
	return ErrNotConnected
}

// Stats returns the stream's counters.
func (s *Stream) Stats() Stats {
	return Stats{
		Connects:     s.connects.Load(),
		Reconnects:   s.reconnects.Load(),
		Messages:     s.messages.Load(),
		Instructions: s.instructions.Load(),
		Skipped:      s.skipped.Load(),
	}
}

// Shutdown closes the connection, stops reconnecting and waits for the
// stream's goroutine or ctx.
func (s *Stream) Shutdown(ctx context.Context) error {
	s.cancel()
	s.start.Do(func() { close(s.done) }) // never started
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run connects, reads until the connection ends, and reconnects.
func (s *Stream) run() {
	defer close(s.done)
	delay := s.cfg.MinBackoff
	failures := 0
	for {
		var delivered bool
		var retry time.Duration
		var err error
		if s.sse {
			delivered, retry, err = s.runSSE()
		} else {
			delivered, err = s.runWS()
		}
		s.connected.Store(false)
		if s.ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("stream ended")
		}
		s.lastErr.Store(&err)
		if delivered {
			delay, failures = s.cfg.MinBackoff, 0
		}
		if retry > 0 {
			delay = retry
		}
		failures++
		// The first failure of a run of them is a Warn; the rest, until
		// the stream delivers again, are Debug.
		level := slog.LevelWarn
		if failures > 1 {
			level = slog.LevelDebug
		}
		s.log.Log(s.ctx, level, "stream: disconnected; reconnecting", "err", err, "delay", delay.String(), "attempt", failures)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
		if retry == 0 {
			delay = min(2*delay, s.cfg.MaxBackoff)
		}
		s.reconnects.Add(1)
		s.metrics.StreamReconnect(s.ctx, s.name)
	}
}

// skip counts a skipped message or instruction.
func (s *Stream) skip() {
	s.skipped.Add(1)
	if s.skippedCtr != nil {
		s.skippedCtr.Add(s.ctx, 1, s.label)
	}
}

// connectedNow records an established connection.
func (s *Stream) connectedNow() {
	s.connects.Add(1)
	s.connected.Store(true)
	s.log.Info("stream: connected")
}

// apply decodes one message and applies its instructions in order. It
// reports whether the message held an instruction that was applied.
func (s *Stream) apply(msg []byte) bool {
	s.messages.Add(1)
	ins, err := Decode(msg)
	if err != nil {
		s.skip()
		s.log.Warn("stream: message skipped", "bytes", len(msg), "err", err)
		if s.tracer != nil {
			_, span := telemetry.StartStreamSpan(s.ctx, s.tracer, s.name, "")
			telemetry.End(span, err)
		}
		return false
	}
	ctx, span := s.ctx, trace.Span(nil)
	if s.tracer != nil {
		event := ""
		if len(ins) == 1 {
			event = ins[0].Event
		}
		ctx, span = telemetry.StartStreamSpan(ctx, s.tracer, s.name, event)
	}
	applied := false
	for i := range ins {
		if _, err := s.cfg.Executor.Execute(ctx, &ins[i], s.opts); err != nil {
			s.skip()
			s.log.Warn("stream: instruction skipped", "event", ins[i].Event, "namespace", ins[i].Namespace, "err", err)
			if span != nil {
				telemetry.Fail(span, fmt.Errorf("instruction %d (%s): %w", i, ins[i].Event, err))
			}
			continue
		}
		s.instructions.Add(1)
		applied = true
	}
	if span != nil {
		span.End()
	}
	return applied
}
