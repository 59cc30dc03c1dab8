package translate

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
)

// Spans and metrics of the translator (see package telemetry for their
// names). With Config.TracerProvider nil no span is started and no
// context is made; with Config.MeterProvider nil nothing is counted.
//
// A socket's events are children of its connect span, so a traceparent
// sent in the handshake reaches every delivery of the socket. The
// alternative, a new trace per event linked to the connect span, keeps
// traces short but loses that parent; a socket's trace grows with its
// events either way in the span count, not in memory here: the socket
// keeps only its connect span's context.

// setupTelemetry reads the telemetry fields of cfg.
func (t *Translator) setupTelemetry(cfg Config) error {
	t.tracer = telemetry.Tracer(cfg.TracerProvider)
	t.prop = cfg.Propagator
	if t.prop == nil {
		t.prop = propagation.TraceContext{}
	}
	t.metrics = telemetry.NewMetrics(cfg.MeterProvider)
	t.exec.tracer, t.exec.metrics = t.tracer, t.metrics
	gauges := []telemetry.Gauge{
		{Name: telemetry.MetricInFlight, Description: "Connect and event deliveries in flight.", Unit: "{delivery}", Observe: t.inflight.load},
		{Name: telemetry.MetricQueued, Description: "Events waiting in the sockets' queues behind the delivery in flight.", Unit: "{event}", Observe: t.queued.Load},
		{Name: "iobridge.disconnects.pending", Description: "Disconnect and expired deliveries under way, retries included.", Unit: "{delivery}", Observe: t.disc.load},
		// The Engine.IO server's drops, kept in its atomics.
		{Name: telemetry.MetricVolatileDropped, Counter: true, Unit: "{packet}",
			Description: "Volatile packets not sent because the transport was busy (one per recipient).",
			Observe:     func() int64 { return int64(t.srv.EngineStats().VolatileDropped) }},
		{Name: telemetry.MetricQueueFullDropped, Counter: true, Unit: "{packet}",
			Description: "Packets dropped at a connection's outbound queue bound (slow consumer): the one that hit it and those queued.",
			Observe:     func() int64 { return int64(t.srv.EngineStats().QueueFullPackets) }},
		{Name: telemetry.MetricSlowConsumers, Counter: true, Unit: "{connection}",
			Description: "Connections closed at their outbound queue bound (slow consumer).",
			Observe:     func() int64 { return int64(t.srv.EngineStats().SlowConsumers) }},
	}
	for _, r := range t.routes {
		g := r.gate
		if g == nil {
			continue
		}
		ns := r.Name
		if r.Pattern != nil {
			ns = r.Pattern.String()
		}
		set := attribute.NewSet(telemetry.LabelNamespace.String(ns))
		gauges = append(gauges,
			telemetry.Gauge{Name: telemetry.MetricWebhookLimit, Attributes: set, Unit: "{delivery}",
				Description: "Deliveries the namespace's webhook gets at once (webhook_concurrency, adapted to the backend unless fixed).",
				Observe:     func() int64 { limit, _ := g.state(); return int64(limit) }},
			telemetry.Gauge{Name: telemetry.MetricWebhookWaiting, Attributes: set, Unit: "{delivery}",
				Description: "Deliveries waiting in the sidecar for the webhook to take them.",
				Observe:     func() int64 { _, waiting := g.state(); return int64(waiting) }},
		)
	}
	unregister, err := t.metrics.RegisterGauges(gauges...)
	if err != nil {
		return err
	}
	t.unregister = unregister
	return nil
}

// observeConnection counts a connected socket and takes its connect
// span's context; hs is its handshake when already built.
func (st *socketState) observeConnection(hs *socketio.Handshake) {
	t := st.t
	if t.tracer != nil {
		if sc, ok := t.spans.take(st.s); ok {
			st.pctx = trace.ContextWithSpanContext(context.Background(), *sc)
		}
	}
	if t.metrics == nil {
		return
	}
	st.mns = t.metrics.Namespace(st.ns)
	st.mns.Connect(context.Background(), telemetry.ConnectAccepted)
	// The socket is counted under its connection's transport now and
	// moves on an upgrade. Under st.mu, the hook sees either no transport
	// yet (the upgrade came first: Transport already says websocket) or
	// the one counted.
	st.s.OnUpgrade(st.upgraded)
	st.mu.Lock()
	tr := st.s.Transport()
	if tr == "" {
		if hs == nil {
			h := st.s.Handshake()
			hs = &h
		}
		tr = hs.Query.Get("transport")
	}
	st.transport = transportName(tr)
	st.mns.SocketOpened(context.Background(), st.transport)
	st.mu.Unlock()
}

// upgraded moves the socket to transport in the sockets gauge.
func (st *socketState) upgraded(transport string) {
	to := transportName(transport)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.transport == "" || st.transport == to {
		return
	}
	st.mns.SocketMoved(context.Background(), st.transport, to)
	st.transport = to
}

// transportName interns the handshake's transport for the metric label.
func transportName(s string) string {
	switch s {
	case "websocket":
		return "websocket"
	case "polling":
		return "polling"
	case "webtransport":
		return "webtransport"
	}
	return "unknown"
}

// parent returns a context whose span is the socket's connect span (base
// itself when tracing is off or the connect was not traced).
func (st *socketState) parent(base context.Context) context.Context {
	if st.pctx == nil {
		return base
	}
	if base == context.Background() {
		return st.pctx // made once: no context per event
	}
	return trace.ContextWithSpanContext(base, trace.SpanContextFromContext(st.pctx))
}

// startEvent counts an inbound event and starts its span, a child of the
// connect span, with its delivery id.
func (st *socketState) startEvent(event, id string) trace.Span {
	st.mns.EventIn(context.Background())
	if st.t.tracer == nil {
		return noSpan
	}
	_, span := telemetry.StartEvent(st.parent(context.Background()), st.t.tracer, st.ns, event, st.s.ID(), id)
	return span
}

// noSpan is the span of jobs when tracing is off.
var noSpan = trace.SpanFromContext(context.Background())

// spanContext returns base with span as its current span (base itself
// when tracing is off).
func (st *socketState) spanContext(base context.Context, span trace.Span) context.Context {
	if st.t.tracer == nil {
		return base
	}
	return trace.ContextWithSpan(base, span)
}

// deliver sends env to the route's backend, recording the delivery's
// metrics and its id on the span in ctx (an event's span has it from its
// start). It returns the backend's answer time for the route's gate (see
// answerTime).
func (st *socketState) deliver(ctx context.Context, env *Envelope) (*Reply, time.Duration, error) {
	if st.t.tracer != nil && env.Type != TypeEvent {
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(telemetry.AttrDeliveryID.String(env.ID))
		}
	}
	start := time.Now()
	reply, err := st.r.Backend.Deliver(ctx, env)
	d := time.Since(start)
	if st.mns != nil {
		st.mns.Delivery(ctx, env.Type, deliveryOutcome(reply, err), d)
	}
	return reply, answerTime(err, d), err
}

// deliverConnect sends a connect delivery, recording its metrics and id.
func (t *Translator) deliverConnect(ctx context.Context, r *route, env *Envelope) (*Reply, time.Duration, error) {
	st := socketState{t: t, r: r, ns: env.Namespace}
	if t.metrics != nil {
		st.mns = t.metrics.Namespace(env.Namespace)
	}
	return st.deliver(ctx, env)
}

// Delivery outcomes (the outcome label of iobridge.webhook.deliveries).
const (
	outcomeOK          = "ok"
	outcomeStream      = "stream"
	outcomeRejected    = "rejected" // 4xx
	outcomeFailed      = "failed"   // 5xx
	outcomeTimeout     = "timeout"
	outcomeUnreachable = "unreachable"
	outcomeOverloaded  = "overloaded"
	outcomeInvalid     = "invalid"
	outcomeError       = "error"
)

func deliveryOutcome(reply *Reply, err error) string {
	switch {
	case err == nil && reply != nil && reply.Stream != nil:
		return outcomeStream
	case err == nil:
		return outcomeOK
	}
	return errorOutcome(err)
}

// errorOutcome is deliveryOutcome for a failed delivery. (Apart, so that
// the StatusError errors.As fills is allocated for failures only.)
func errorOutcome(err error) string {
	var se *StatusError
	switch {
	case errors.As(err, &se):
		if se.Status >= 400 && se.Status < 500 {
			return outcomeRejected
		}
		return outcomeFailed
	case errors.Is(err, ErrTimeout):
		return outcomeTimeout
	case errors.Is(err, ErrUnreachable):
		return outcomeUnreachable
	case errors.Is(err, ErrOverloaded):
		return outcomeOverloaded
	case errors.Is(err, ErrInvalidAnswer):
		return outcomeInvalid
	}
	return outcomeError
}

// dropped counts a job dropped at a bound.
func (st *socketState) dropped(err error) {
	switch {
	case st.mns == nil:
	case errors.Is(err, ErrQueueFull):
		st.mns.Dropped(context.Background(), telemetry.BoundSocketQueue)
	case errors.Is(err, ErrOverloaded):
		st.mns.Dropped(context.Background(), telemetry.BoundInFlight)
	}
}

// emitted counts an emit to the socket (a streamed answer's message) and
// returns its span, to be ended once it is queued.
func (st *socketState) emitted(parent trace.Span, event string) trace.Span {
	st.mns.EventOut(context.Background())
	if st.t.tracer == nil {
		return noSpan
	}
	_, span := telemetry.StartSend(trace.ContextWithSpan(context.Background(), parent), st.t.tracer, st.ns, event, []string{st.s.ID()})
	return span
}

// closed counts a socket leaving and returns the context of its
// disconnect delivery: a disconnect span, child of the connect span.
func (st *socketState) closed(reason socketio.DisconnectReason) (context.Context, trace.Span) {
	if st.mns != nil {
		st.mu.Lock()
		transport := st.transport
		st.transport = "" // no move after the close
		st.mu.Unlock()
		st.mns.SocketClosed(context.Background(), transport, string(reason))
		if reason == socketio.ReasonSlowConsumer {
			st.mns.Dropped(context.Background(), telemetry.BoundSlowConsumer)
		}
	}
	if st.t.tracer == nil {
		return st.t.ctx, noSpan
	}
	ctx, span := telemetry.StartReceive(st.parent(st.t.ctx), st.t.tracer, st.ns, telemetry.DisconnectEvent, st.s.ID())
	if span.IsRecording() {
		span.SetAttributes(telemetry.AttrDisconnectReason.String(string(reason)))
	}
	return ctx, span
}

// traced is Execute with telemetry: the emit span (a child of the span
// in ctx) and the counts of emits and acks timed out.
func (x *Executor) traced(ctx context.Context, ins *Instruction, opts ExecOptions) (Result, error) {
	name := ins.Namespace
	if name == "" {
		name = opts.Namespace
	}
	if name == "" {
		name = "/"
	} else if name[0] != '/' {
		name = "/" + name
	}
	ctx, span := telemetry.StartSend(ctx, x.tracer, name, ins.Event, ins.To)
	res, err := x.execute(ctx, ins, opts)
	if x.metrics != nil && (err == nil || len(res.Acks) > 0 || len(res.Timeouts) > 0) {
		n := x.metrics.Namespace(name)
		n.EventOut(ctx)
		n.AcksTimedOut(ctx, len(res.Timeouts))
	}
	telemetry.End(span, err)
	return res, err
}
