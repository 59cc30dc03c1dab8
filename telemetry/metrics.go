package telemetry

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Metric names, as OTel writes them; the Prometheus exporter replaces the
// dots with underscores and adds _total to counters and _seconds to
// durations (iobridge_events_in_total, iobridge_webhook_duration_seconds).
const (
	MetricSockets          = "iobridge.sockets"              // up-down counter {namespace, transport}
	MetricConnects         = "iobridge.connects"             // counter {namespace, outcome}
	MetricDisconnects      = "iobridge.disconnects"          // counter {namespace, reason}
	MetricEventsIn         = "iobridge.events.in"            // counter {namespace}
	MetricEventsOut        = "iobridge.events.out"           // counter {namespace}
	MetricDeliveries       = "iobridge.webhook.deliveries"   // counter {namespace, type, outcome}
	MetricDeliveryDuration = "iobridge.webhook.duration"     // histogram, seconds {namespace, type, outcome}
	MetricAcksTimedOut     = "iobridge.acks.timed_out"       // counter {namespace}
	MetricDropped          = "iobridge.dropped"              // counter {namespace, bound}
	MetricStreamReconnects = "iobridge.stream.reconnects"    // counter {stream}
	MetricAPIRequests      = "iobridge.api.requests"         // counter {route, code}
	MetricInFlight         = "iobridge.deliveries.in_flight" // gauge
	MetricQueued           = "iobridge.deliveries.queued"    // gauge
	MetricWebhookLimit     = "iobridge.webhook.concurrency"  // gauge {namespace}: deliveries the webhook gets at once
	MetricWebhookWaiting   = "iobridge.webhook.waiting"      // gauge {namespace}: deliveries waiting for one of those
	// Counts the Engine.IO server keeps (observed at each collection).
	MetricVolatileDropped  = "iobridge.volatile.dropped"   // counter
	MetricQueueFullDropped = "iobridge.queue_full.dropped" // counter
	MetricSlowConsumers    = "iobridge.slow_consumers"     // counter
	MetricSpansDropped     = "iobridge.spans.dropped"      // counter: spans dropped at the export queue bound
)

// Label keys of the metrics.
const (
	LabelNamespace = attribute.Key("namespace")
	LabelTransport = attribute.Key("transport")
	LabelOutcome   = attribute.Key("outcome")
	LabelReason    = attribute.Key("reason")
	LabelType      = attribute.Key("type")
	LabelBound     = attribute.Key("bound")
	LabelStream    = attribute.Key("stream")
	LabelRoute     = attribute.Key("route")
	LabelCode      = attribute.Key("code")
)

// Connect outcomes (the outcome label of iobridge.connects).
const (
	ConnectAccepted    = "accepted"
	ConnectRejected    = "rejected"    // the backend answered 4xx
	ConnectUnavailable = "unavailable" // 5xx, timeout, unreachable, overloaded
)

// Bounds (the bound label of iobridge.dropped).
const (
	BoundSocketQueue        = "socket_queue"        // translate MaxQueue
	BoundInFlight           = "in_flight"           // translate MaxInFlight
	BoundPendingDisconnects = "pending_disconnects" // translate MaxPendingDisconnects
	BoundSlowConsumer       = "slow_consumer"       // a connection's outbound queue
)

// durationBuckets are the webhook latency histogram's bounds, in seconds:
// from a loopback answer (half a millisecond) to the default timeout.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// maxCachedNamespaces bounds the per-namespace attribute cache; namespaces
// past it are measured with attribute sets built per call.
const maxCachedNamespaces = 1024

// Metrics holds iobridge's metric instruments. A nil *Metrics records
// nothing, so libraries keep NewMetrics(cfg.MeterProvider) and call it
// unconditionally. Its methods are safe for concurrent use.
//
// Instruments of the same name made from the same MeterProvider share
// their data, so each package may make its own Metrics.
type Metrics struct {
	sockets          metric.Int64UpDownCounter
	connects         metric.Int64Counter
	disconnects      metric.Int64Counter
	eventsIn         metric.Int64Counter
	eventsOut        metric.Int64Counter
	deliveries       metric.Int64Counter
	deliveryDuration metric.Float64Histogram
	acksTimedOut     metric.Int64Counter
	dropped          metric.Int64Counter
	streamReconnects metric.Int64Counter
	apiRequests      metric.Int64Counter

	mu    sync.RWMutex
	byNS  map[string]*Namespace
	meter metric.Meter
}

// NewMetrics makes the instruments from mp. A nil or no-op mp gives a nil
// *Metrics, which records nothing.
func NewMetrics(mp metric.MeterProvider) *Metrics {
	switch mp.(type) {
	case nil, noop.MeterProvider, *noop.MeterProvider:
		return nil
	}
	m := &Metrics{meter: mp.Meter(ScopeName), byNS: make(map[string]*Namespace)}
	mt := m.meter
	var err error
	keep := func(e error) {
		if e != nil && err == nil {
			err = e
		}
	}
	var e error
	m.sockets, e = mt.Int64UpDownCounter(MetricSockets, metric.WithDescription("Connected sockets by namespace and current transport (a socket moves on an upgrade)."), metric.WithUnit("{socket}"))
	keep(e)
	m.connects, e = mt.Int64Counter(MetricConnects, metric.WithDescription("Socket.IO connects by namespace and outcome."), metric.WithUnit("{connect}"))
	keep(e)
	m.disconnects, e = mt.Int64Counter(MetricDisconnects, metric.WithDescription("Socket disconnects by namespace and reason."), metric.WithUnit("{disconnect}"))
	keep(e)
	m.eventsIn, e = mt.Int64Counter(MetricEventsIn, metric.WithDescription("Events received from clients."), metric.WithUnit("{event}"))
	keep(e)
	m.eventsOut, e = mt.Int64Counter(MetricEventsOut, metric.WithDescription("Emits to clients (one per emit, not per recipient)."), metric.WithUnit("{event}"))
	keep(e)
	m.deliveries, e = mt.Int64Counter(MetricDeliveries, metric.WithDescription("Webhook deliveries by namespace, type and outcome."), metric.WithUnit("{delivery}"))
	keep(e)
	m.deliveryDuration, e = mt.Float64Histogram(MetricDeliveryDuration, metric.WithDescription("Webhook delivery latency, until the answer (or its headers, for a stream)."), metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(durationBuckets...))
	keep(e)
	m.acksTimedOut, e = mt.Int64Counter(MetricAcksTimedOut, metric.WithDescription("Client acks that did not come in time, for emits that asked for them."), metric.WithUnit("{ack}"))
	keep(e)
	m.dropped, e = mt.Int64Counter(MetricDropped, metric.WithDescription("Events and deliveries dropped at a bound, by bound."), metric.WithUnit("{packet}"))
	keep(e)
	m.streamReconnects, e = mt.Int64Counter(MetricStreamReconnects, metric.WithDescription("Reconnects of backend streams."), metric.WithUnit("{reconnect}"))
	keep(e)
	m.apiRequests, e = mt.Int64Counter(MetricAPIRequests, metric.WithDescription("Control API requests by route and status code."), metric.WithUnit("{request}"))
	keep(e)
	if err != nil {
		otel.Handle(err) // the instruments still work; the error is a naming problem
	}
	return m
}

// Gauge is an observed value: Observe is called at each collection.
type Gauge struct {
	Name        string
	Description string
	Unit        string
	Observe     func() int64
	// Counter makes it an observable counter: Observe returns a total
	// that only grows (a count kept in an atomic elsewhere), exported as
	// a counter (Prometheus: _total).
	Counter bool
	// Attributes label the observation. Gauges of one name, in one
	// RegisterGauges call, share an instrument and differ by these.
	Attributes attribute.Set
}

// RegisterGauges registers gauges observed at each collection (queue
// depths, connection counts). The returned function unregisters them. A
// nil *Metrics registers nothing.
func (m *Metrics) RegisterGauges(gauges ...Gauge) (unregister func(), err error) {
	if m == nil || len(gauges) == 0 {
		return func() {}, nil
	}
	var obs []metric.Observable
	insts := make([]metric.Int64Observable, len(gauges))
	opts := make([]metric.ObserveOption, len(gauges))
	byName := map[string]metric.Int64Observable{}
	for i, g := range gauges {
		opts[i] = metric.WithAttributeSet(g.Attributes)
		if inst, ok := byName[g.Name]; ok {
			insts[i] = inst
			continue
		}
		if g.Counter {
			insts[i], err = m.meter.Int64ObservableCounter(g.Name, metric.WithDescription(g.Description), metric.WithUnit(g.Unit))
		} else {
			insts[i], err = m.meter.Int64ObservableGauge(g.Name, metric.WithDescription(g.Description), metric.WithUnit(g.Unit))
		}
		if err != nil {
			return nil, err
		}
		byName[g.Name] = insts[i]
		obs = append(obs, insts[i])
	}
	reg, err := m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for i, g := range gauges {
			o.ObserveInt64(insts[i], g.Observe(), opts[i])
		}
		return nil
	}, obs...)
	if err != nil {
		return nil, err
	}
	return func() { _ = reg.Unregister() }, nil
}

// StreamReconnect counts a reconnect of the backend stream named stream.
// For translate/stream.
func (m *Metrics) StreamReconnect(ctx context.Context, stream string) {
	if m == nil {
		return
	}
	m.streamReconnects.Add(ctx, 1, metric.WithAttributes(LabelStream.String(stream)))
}

// APIRequest counts a control API request answered with code on route.
func (m *Metrics) APIRequest(ctx context.Context, route string, code int) {
	if m == nil {
		return
	}
	m.apiRequests.Add(ctx, 1, metric.WithAttributes(LabelRoute.String(route), LabelCode.Int(code)))
}

// Namespace returns the recorder of one namespace's metrics, with its
// attribute sets built once. A nil *Metrics gives a nil *Namespace, which
// records nothing.
func (m *Metrics) Namespace(name string) *Namespace {
	if m == nil {
		return nil
	}
	m.mu.RLock()
	n := m.byNS[name]
	m.mu.RUnlock()
	if n != nil {
		return n
	}
	n = &Namespace{m: m, name: name, base: newOpts(attribute.NewSet(LabelNamespace.String(name))), sets: map[labelKey]*opts{}}
	m.mu.Lock()
	if old := m.byNS[name]; old != nil {
		n = old
	} else if len(m.byNS) < maxCachedNamespaces {
		m.byNS[name] = n
	}
	m.mu.Unlock()
	return n
}

// Namespace records the metrics of one namespace. A nil *Namespace records
// nothing. Its methods are safe for concurrent use.
type Namespace struct {
	m    *Metrics
	name string
	base *opts // {namespace}
	mu   sync.RWMutex
	sets map[labelKey]*opts
}

type labelKey struct {
	k1, v1, k2, v2 string
}

// opts are an attribute set as the options Add and Record take, made
// once: passing a stored slice on spares the slice a variadic call
// allocates each time.
type opts struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

func newOpts(set attribute.Set) *opts {
	o := metric.WithAttributeSet(set)
	return &opts{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}}
}

// with returns the options for {namespace, k1=v1[, k2=v2]}, built once.
// Every value it is called with comes from a small closed set.
func (n *Namespace) with(k1 attribute.Key, v1 string, k2 attribute.Key, v2 string) *opts {
	key := labelKey{string(k1), v1, string(k2), v2}
	n.mu.RLock()
	o := n.sets[key]
	n.mu.RUnlock()
	if o != nil {
		return o
	}
	kvs := []attribute.KeyValue{LabelNamespace.String(n.name), k1.String(v1)}
	if k2 != "" {
		kvs = append(kvs, k2.String(v2))
	}
	o = newOpts(attribute.NewSet(kvs...))
	n.mu.Lock()
	n.sets[key] = o
	n.mu.Unlock()
	return o
}

// EventIn counts an event received from a client.
func (n *Namespace) EventIn(ctx context.Context) {
	if n == nil {
		return
	}
	n.m.eventsIn.Add(ctx, 1, n.base.add...)
}

// EventOut counts an emit (once, whatever the number of recipients).
func (n *Namespace) EventOut(ctx context.Context) {
	if n == nil {
		return
	}
	n.m.eventsOut.Add(ctx, 1, n.base.add...)
}

// AcksTimedOut counts k acks that did not come in time.
func (n *Namespace) AcksTimedOut(ctx context.Context, k int) {
	if n == nil || k <= 0 {
		return
	}
	n.m.acksTimedOut.Add(ctx, int64(k), n.base.add...)
}

// Dropped counts a packet or delivery dropped at bound (a Bound constant).
func (n *Namespace) Dropped(ctx context.Context, bound string) {
	if n == nil {
		return
	}
	n.m.dropped.Add(ctx, 1, n.with(LabelBound, bound, "", "").add...)
}

// Connect counts a connect with its outcome (a Connect constant).
func (n *Namespace) Connect(ctx context.Context, outcome string) {
	if n == nil {
		return
	}
	n.m.connects.Add(ctx, 1, n.with(LabelOutcome, outcome, "", "").add...)
}

// SocketOpened counts a socket connected over transport.
func (n *Namespace) SocketOpened(ctx context.Context, transport string) {
	if n == nil {
		return
	}
	n.m.sockets.Add(ctx, 1, n.with(LabelTransport, transport, "", "").add...)
}

// SocketMoved moves a socket from transport from to transport to (an
// upgrade).
func (n *Namespace) SocketMoved(ctx context.Context, from, to string) {
	if n == nil || from == to {
		return
	}
	n.m.sockets.Add(ctx, -1, n.with(LabelTransport, from, "", "").add...)
	n.m.sockets.Add(ctx, 1, n.with(LabelTransport, to, "", "").add...)
}

// SocketClosed counts a socket of transport leaving for reason.
func (n *Namespace) SocketClosed(ctx context.Context, transport, reason string) {
	if n == nil {
		return
	}
	n.m.sockets.Add(ctx, -1, n.with(LabelTransport, transport, "", "").add...)
	n.m.disconnects.Add(ctx, 1, n.with(LabelReason, reason, "", "").add...)
}

// Delivery records a webhook delivery of type typ (connect, event,
// disconnect) that took d and ended with outcome (see Outcome).
func (n *Namespace) Delivery(ctx context.Context, typ, outcome string, d time.Duration) {
	if n == nil {
		return
	}
	o := n.with(LabelType, typ, LabelOutcome, outcome)
	n.m.deliveries.Add(ctx, 1, o.add...)
	n.m.deliveryDuration.Record(ctx, d.Seconds(), o.rec...)
}
