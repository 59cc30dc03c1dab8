package translate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/plugins"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
)

// On-connect modes of a Route.
const (
	// OnConnectWebhook asks the backend with a connect delivery.
	OnConnectWebhook = "webhook"
	// OnConnectAccept accepts at once, without a delivery.
	OnConnectAccept = "accept"
)

// Defaults of Config and Route.
const (
	// DefaultMaxInFlight bounds the connect and event deliveries in
	// flight at once, over every socket and route.
	DefaultMaxInFlight = 1024
	// DefaultMaxQueue bounds the events of one socket waiting behind the
	// one in flight. A client may burst thousands of small events, as
	// socket.io lets it; DefaultMaxQueueBytes is what bounds memory.
	DefaultMaxQueue = 4096
	// DefaultMaxQueueBytes bounds the bytes of arguments and attachments
	// of one socket's waiting events.
	DefaultMaxQueueBytes = 1 << 20
	// DefaultMaxPendingDisconnects bounds the disconnect deliveries
	// under way (with their retries) at once.
	DefaultMaxPendingDisconnects = 10000
	// DefaultTimeout is Route.Timeout's zero value.
	DefaultTimeout = 5 * time.Second
	// DefaultErrorEvent is Route.ErrorEvent's zero value.
	DefaultErrorEvent = "error"
)

// Config configures a Translator.
type Config struct {
	// Routes are tried in order for each namespace; the first whose Name
	// equals it or whose Pattern matches it wins.
	Routes []Route
	// MaxInFlight bounds the connect and event deliveries in flight,
	// in total. At the bound a new event fails at once with ErrOverloaded
	// (the client's ack error or error event, status 503) and a connect
	// is rejected with "backend unavailable". Zero means
	// DefaultMaxInFlight.
	MaxInFlight int
	// MaxQueue bounds the events one socket may have waiting while its
	// previous event is in flight. At the bound a new event fails at once
	// with ErrQueueFull (status 429). Zero means DefaultMaxQueue.
	MaxQueue int
	// MaxQueueBytes bounds the bytes (arguments and binary attachments)
	// of the events one socket has waiting. An event that would pass it
	// fails at once with ErrQueueFull (status 429), unless nothing is
	// waiting: one event of any accepted size always fits. Zero means
	// DefaultMaxQueueBytes.
	MaxQueueBytes int
	// MaxPendingDisconnects bounds the disconnect and expired deliveries
	// under way. Over it one is not sent and an error is logged. Zero
	// means DefaultMaxPendingDisconnects.
	MaxPendingDisconnects int
	// Logger receives the translator's logs. Nil means slog.Default().
	Logger *slog.Logger
	// TracerProvider makes the spans of connects, events, deliveries'
	// parents and emits (see package telemetry). Nil means no spans.
	TracerProvider trace.TracerProvider
	// Propagator reads the trace context a client sent in its handshake
	// headers, the parent of its connect span. Nil means W3C trace
	// context (traceparent, tracestate).
	Propagator propagation.TextMapPropagator
	// MeterProvider makes the translator's metrics (sockets, connects,
	// disconnects, events, deliveries, drops, queue depths). Nil means
	// none.
	MeterProvider metric.MeterProvider
}

// Route is what one [[namespace]] block asks for.
type Route struct {
	// Name is the exact namespace ("/chat"). Exactly one of Name and
	// Pattern is set.
	Name string
	// Pattern matches namespace names, as socket.io's io.of(/regexp/).
	Pattern *regexp.Regexp
	// Backend receives the connect, event and disconnect deliveries. Nil
	// means the route sends none (its sockets are served by other parts,
	// such as bridges).
	Backend Backend
	// Events lists the events forwarded: "*" matches any, a trailing "*"
	// a prefix ("file.*"), anything else exactly. Nil means every event.
	// Others fail with ErrNotForwarded.
	Events []string
	// ErrorEvent is emitted to a socket whose event, sent without ack,
	// failed: {"message","event","requestId"}. Empty means "error".
	ErrorEvent string
	// Timeout bounds the silence inside a streamed answer (the Backend
	// bounds the wait for the answer itself), and an event's wait for a
	// slot under Concurrency. Zero means DefaultTimeout.
	Timeout time.Duration
	// OnConnect is OnConnectWebhook or OnConnectAccept. Empty means
	// OnConnectWebhook when Backend is set, else OnConnectAccept.
	OnConnect string
	// Concurrency bounds the deliveries awaiting Backend's answer at
	// once; the others wait in the sidecar in arrival order (see gate),
	// an event at most Timeout, after which it fails with ErrTimeout.
	// Zero adapts the bound to the backend: it shrinks while the
	// backend's answers slow down as deliveries are added, and grows up
	// to DefaultMaxConcurrency while they do not. Negative sends every
	// delivery at once.
	Concurrency int
	// Plugins run on the route's sockets: connect hooks before the
	// connect delivery, inbound hooks before the events filter, outbound
	// hooks on the executor's emits to the route's namespaces. Nil means
	// none. The Translator does not shut them down.
	Plugins *plugins.Chain
}

// The Translator's parts, a file and a type each:
//
//   - route.go: routes compiled and matched (route);
//   - connect.go: the connect middleware, the one rule for a connect's
//     outcome (judgeConnect), and the stash of what the middleware leaves
//     for the connection handler (stash);
//   - socket.go: a connected socket, its events and its queue
//     (socketState; the queue is a boundedQueue, queue.go);
//   - run.go: delivering a socket's jobs one at a time, with the route's
//     gate (gate.go, which hands back opaque entries and runs none);
//   - apply.go: applying an answer (applyReply, one place for connect,
//     event and disconnect answers);
//   - errors.go: failures as the client sees them (fail, the error JSON);
//   - disconnect.go: disconnect deliveries and their bound; expired.go:
//     expired deliveries (a recovery window that lapsed), under the same
//     bound;
//   - limits.go: the global bounds (bound); workers.go: the goroutines
//     (workers); telemetry.go: spans and metrics.

// Translator turns the sockets of the routed namespaces into backend
// deliveries, and the backends' answers into emits, acks, joins, leaves
// and disconnects. See the package documentation for the lifecycle and
// bounds. Its methods are safe for concurrent use.
type Translator struct {
	srv    *socketio.Server
	routes []*route
	exec   *Executor
	log    *slog.Logger

	maxQueue  int // Config.MaxQueue
	maxQBytes int // Config.MaxQueueBytes

	inflight *bound       // connect and event deliveries in flight
	disc     *bound       // disconnect deliveries under way
	queued   atomic.Int64 // events waiting in the sockets' queues

	ctx    context.Context // cancelled when Shutdown gives up waiting
	cancel context.CancelFunc
	pool   *workers

	// connects holds the answers of connect deliveries between the
	// middleware and the connection handler (emits follow the CONNECT
	// acknowledgement).
	connects stash[*connectAnswer]
	// spans holds the connect span's context between the middleware and
	// the connection handler (tracing only).
	spans stash[*trace.SpanContext]

	tracer     trace.Tracer // nil: no spans
	prop       propagation.TextMapPropagator
	metrics    *telemetry.Metrics // nil: no metrics
	unregister func()
}

// New registers the routes' connect middleware and connection handlers on
// srv's namespaces and returns the Translator. Namespaces are created for
// named routes (srv.Of) and pattern routes (srv.OfPattern).
func New(cfg Config, srv *socketio.Server) (*Translator, error) {
	t := &Translator{
		srv:       srv,
		log:       cfg.Logger,
		maxQueue:  cfg.MaxQueue,
		maxQBytes: cfg.MaxQueueBytes,
		inflight:  newBound(cfg.MaxInFlight, DefaultMaxInFlight),
		disc:      newBound(cfg.MaxPendingDisconnects, DefaultMaxPendingDisconnects),
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	if t.maxQueue <= 0 {
		t.maxQueue = DefaultMaxQueue
	}
	if t.maxQBytes <= 0 {
		t.maxQBytes = DefaultMaxQueueBytes
	}
	var errs []error
	for i, rc := range cfg.Routes {
		r, err := newRoute(rc)
		if err != nil {
			errs = append(errs, fmt.Errorf("translate: route[%d]: %w", i, err))
			continue
		}
		t.routes = append(t.routes, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.pool = newWorkers(t.ctx.Done())
	t.exec = &Executor{
		srv:   srv,
		known: func(name string) bool { return t.routeFor(name) != nil },
		chain: func(name string) *plugins.Chain {
			if r := t.routeFor(name); r != nil {
				return r.Plugins
			}
			return nil
		},
	}
	if err := t.setupTelemetry(cfg); err != nil {
		return nil, fmt.Errorf("translate: telemetry: %w", err)
	}
	seen := make(map[*socketio.Namespace]bool)
	for _, r := range t.routes {
		var nsp *socketio.Namespace
		if r.Pattern != nil {
			nsp = srv.OfPattern(r.Pattern)
		} else {
			nsp = srv.Of(r.Name)
		}
		if seen[nsp] {
			continue
		}
		seen[nsp] = true
		nsp.Use(t.middleware)
		nsp.OnConnection(t.onConnection)
		nsp.OnSessionExpired(t.onSessionExpired)
	}
	return t, nil
}

// Executor returns the executor every instruction goes through; it also
// accepts the namespaces the pattern routes would create.
func (t *Translator) Executor() *Executor { return t.exec }

// InFlight returns the number of connect and event deliveries in flight.
func (t *Translator) InFlight() int { return int(t.inflight.load()) }

// Drain waits until no connect or event delivery is in flight or queued
// (their answers, acks and emits applied, streamed answers ended), or
// until ctx is done; it returns how many were still in flight then.
// Deliveries go on being accepted meanwhile: an event a client sends while
// the sidecar drains is delivered, not dropped. Call it before the sockets
// are disconnected (socketio.Server.Shutdown), so that an answer in flight
// still finds its socket.
func (t *Translator) Drain(ctx context.Context) int {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n := int(t.inflight.load())
		if n == 0 {
			return 0
		}
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
	}
}

// Shutdown stops accepting deliveries and waits for those under way
// (event queues, streamed answers, disconnect deliveries and their
// retries) until ctx ends; then it cancels them and waits for their
// goroutines. Call it after the socketio.Server's Shutdown, so that every
// socket's disconnect delivery is under way.
func (t *Translator) Shutdown(ctx context.Context) error {
	t.pool.close()
	done := t.pool.finished()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		// Cut at the bound: the backend may or may not have seen these.
		t.log.Warn("shutdown: deliveries cut at the shutdown bound",
			"events", t.inflight.load(), "queued_events", t.queued.Load(), "disconnects", t.disc.load())
	}
	t.cancel()
	<-done
	t.pool.wait()
	for _, r := range t.routes {
		if r.gate != nil {
			r.gate.stop()
		}
	}
	t.unregister()
	return err
}
