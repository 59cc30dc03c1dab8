package telemetry

import (
	"context"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of iobridge's spans and metrics.
const ScopeName = "github.com/iobridge/iobridge"

// MessagingSystem is the messaging.system value of Socket.IO spans.
const MessagingSystem = "socket.io"

// Operations (messaging.operation) and the event name of a connect.
const (
	OperationReceive = "receive"
	OperationSend    = "send"
	// ConnectEvent is the event name of a connect span, as the handler
	// socket.io's io.on("connection") runs for.
	ConnectEvent = "connection"
	// DisconnectEvent is the event name of a disconnect span.
	DisconnectEvent = "disconnect"
)

// Attribute keys. The messaging.* keys are those of
// @opentelemetry/instrumentation-socket.io; the iobridge.* keys are ours.
const (
	AttrMessagingSystem          = attribute.Key("messaging.system")
	AttrMessagingDestination     = attribute.Key("messaging.destination")
	AttrMessagingDestinationKind = attribute.Key("messaging.destination_kind")
	AttrMessagingOperation       = attribute.Key("messaging.operation")
	AttrSocketIOEventName        = attribute.Key("messaging.socket.io.event_name")
	AttrSocketIORooms            = attribute.Key("messaging.socket.io.rooms")
	AttrSocketIONamespace        = attribute.Key("messaging.socket.io.namespace")

	AttrSocketID         = attribute.Key("iobridge.socket.id")
	AttrDeliveryID       = attribute.Key("iobridge.delivery.id")
	AttrStream           = attribute.Key("iobridge.stream")
	AttrDisconnectReason = attribute.Key("iobridge.disconnect.reason")
	// AttrBridgeFrame is the type of a bridge frame: "event" sent, "ack",
	// "emit", "join" or "leave" received, "malformed".
	AttrBridgeFrame = attribute.Key("iobridge.bridge.frame")
)

// Tracer returns the tracer of iobridge's spans from tp, or nil when tp is
// nil or a no-op provider: the Start helpers do nothing with a nil tracer,
// so a library keeps Tracer(cfg.TracerProvider) and pays nothing when
// tracing is off.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	switch tp.(type) {
	case nil, noop.TracerProvider, *noop.TracerProvider:
		return nil
	}
	return tp.Tracer(ScopeName)
}

// ReceiveSpanName is the name of an inbound event's span: "<event>
// receive" in the main namespace, "<namespace> <event> receive" in
// another.
func ReceiveSpanName(namespace, event string) string {
	if namespace == "/" || namespace == "" {
		return event + " " + OperationReceive
	}
	return namespace + " " + event + " " + OperationReceive
}

// SendSpanName is the name of an emit's span: "<namespace> send", or
// "<namespace>[room1,room2] send" when rooms are selected.
func SendSpanName(namespace string, rooms []string) string {
	if len(rooms) == 0 {
		return namespace + " " + OperationSend
	}
	return namespace + "[" + strings.Join(rooms, ",") + "] " + OperationSend
}

// Attributes that never change, made once.
var (
	kvSystem      = AttrMessagingSystem.String(MessagingSystem)
	kvReceive     = AttrMessagingOperation.String(OperationReceive)
	kvTopic       = AttrMessagingDestinationKind.String("topic")
	startConsumer = trace.WithSpanKind(trace.SpanKindConsumer)
	startProducer = trace.WithSpanKind(trace.SpanKindProducer)
)

// attrs is a span's attributes while they are set: SetAttributes copies
// them into the span, so the buffer goes back to attrPool at once and a
// span's attributes cost the SDK's one copy, in one call (each further
// SetAttributes call on a span grows its attribute slice again). They are
// set once the span is known to record, so a span the sampler dropped
// costs none. The alternative, trace.WithAttributes at Start, hands them
// to the sampler too but copies them twice more (the option and the
// start config), sampled or not.
type attrs struct {
	kv [8]attribute.KeyValue
	n  int
}

var attrPool = sync.Pool{New: func() any { return new(attrs) }}

func getAttrs() *attrs { return attrPool.Get().(*attrs) }

func (a *attrs) add(kv attribute.KeyValue) { a.kv[a.n] = kv; a.n++ }

// set sets the attributes on span and returns the buffer to the pool.
func (a *attrs) set(span trace.Span) {
	span.SetAttributes(a.kv[:a.n]...)
	clear(a.kv[:a.n])
	a.n = 0
	attrPool.Put(a)
}

// StartReceive starts the consumer span of event received on a socket of
// namespace (ConnectEvent for a connect), as a child of the span in ctx.
// With a nil tracer it returns ctx and a non-recording span at no cost.
func StartReceive(ctx context.Context, tr trace.Tracer, namespace, event, socketID string) (context.Context, trace.Span) {
	return StartEvent(ctx, tr, namespace, event, socketID, "")
}

// StartEvent is StartReceive for an inbound event whose delivery id is
// known (iobridge.delivery.id, not set when empty): every attribute is set
// in one call.
func StartEvent(ctx context.Context, tr trace.Tracer, namespace, event, socketID, deliveryID string) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx, span := tr.Start(ctx, ReceiveSpanName(namespace, event), startConsumer)
	if span.IsRecording() {
		a := getAttrs()
		a.add(kvSystem)
		a.add(AttrMessagingDestination.String(namespace))
		a.add(kvReceive)
		a.add(AttrSocketIOEventName.String(event))
		if socketID != "" {
			a.add(AttrSocketID.String(socketID))
		}
		if deliveryID != "" {
			a.add(AttrDeliveryID.String(deliveryID))
		}
		a.set(span)
	}
	return ctx, span
}

// StartSend starts the producer span of an emit of event to the sockets of
// namespace in any of rooms (all of them when rooms is empty), as a child
// of the span in ctx. With a nil tracer it returns ctx and a non-recording
// span at no cost.
func StartSend(ctx context.Context, tr trace.Tracer, namespace, event string, rooms []string) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx, span := tr.Start(ctx, SendSpanName(namespace, rooms), startProducer)
	if span.IsRecording() {
		a := getAttrs()
		a.add(kvSystem)
		a.add(kvTopic)
		a.add(AttrMessagingDestination.String(namespace))
		a.add(AttrSocketIONamespace.String(namespace))
		a.add(AttrSocketIOEventName.String(event))
		if len(rooms) > 0 {
			a.add(AttrSocketIORooms.StringSlice(rooms))
		}
		a.set(span)
	}
	return ctx, span
}

// StartStreamSpan starts the consumer span of one message read from a
// backend stream (SSE or WebSocket) named stream: "<stream> receive",
// with messaging.destination the stream's name and iobridge.stream. The
// instructions the message carries go to the Executor with the returned
// ctx, so their emit spans are its children. For translate/stream.
func StartStreamSpan(ctx context.Context, tr trace.Tracer, stream, event string) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx, span := tr.Start(ctx, stream+" "+OperationReceive, startConsumer)
	if span.IsRecording() {
		a := getAttrs()
		a.add(AttrMessagingDestination.String(stream))
		a.add(kvReceive)
		a.add(AttrStream.String(stream))
		if event != "" {
			a.add(AttrSocketIOEventName.String(event))
		}
		a.set(span)
	}
	return ctx, span
}

// StartBridgeSpan starts the span of one message on a socket's bridge
// (translate/bridge): with OperationSend, a client event going out as a
// frame to the backend (producer "<namespace> <event> send"); with
// OperationReceive, a backend frame coming in (consumer "<namespace>
// <event> receive"). Attributes as StartReceive.
func StartBridgeSpan(ctx context.Context, tr trace.Tracer, operation, namespace, event, socketID string) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	kind := trace.SpanKindConsumer
	name := ReceiveSpanName(namespace, event)
	if operation == OperationSend {
		kind = trace.SpanKindProducer
		name = strings.TrimSuffix(name, OperationReceive) + OperationSend
	}
	ctx, span := tr.Start(ctx, name, trace.WithSpanKind(kind))
	if span.IsRecording() {
		a := getAttrs()
		a.add(kvSystem)
		a.add(AttrMessagingDestination.String(namespace))
		a.add(AttrMessagingOperation.String(operation))
		a.add(AttrSocketIOEventName.String(event))
		a.add(AttrSocketID.String(socketID))
		a.set(span)
	}
	return ctx, span
}

// End ends span, first recording err (when not nil) with an Error status.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// Fail records err on span with an Error status, without ending it.
func Fail(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
}
