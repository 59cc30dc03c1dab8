package telemetry

import (
	"context"
	"strings"

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

// StartReceive starts the consumer span of event received on a socket of
// namespace (ConnectEvent for a connect), as a child of the span in ctx.
// With a nil tracer it returns ctx and a non-recording span at no cost.
func StartReceive(ctx context.Context, tr trace.Tracer, namespace, event, socketID string) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx, span := tr.Start(ctx, ReceiveSpanName(namespace, event), trace.WithSpanKind(trace.SpanKindConsumer))
	if span.IsRecording() {
		span.SetAttributes(
			AttrMessagingSystem.String(MessagingSystem),
			AttrMessagingDestination.String(namespace),
			AttrMessagingOperation.String(OperationReceive),
			AttrSocketIOEventName.String(event),
		)
		if socketID != "" {
			span.SetAttributes(AttrSocketID.String(socketID))
		}
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
	ctx, span := tr.Start(ctx, SendSpanName(namespace, rooms), trace.WithSpanKind(trace.SpanKindProducer))
	if span.IsRecording() {
		span.SetAttributes(
			AttrMessagingSystem.String(MessagingSystem),
			AttrMessagingDestinationKind.String("topic"),
			AttrMessagingDestination.String(namespace),
			AttrSocketIONamespace.String(namespace),
			AttrSocketIOEventName.String(event),
		)
		if len(rooms) > 0 {
			span.SetAttributes(AttrSocketIORooms.StringSlice(rooms))
		}
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
	ctx, span := tr.Start(ctx, stream+" "+OperationReceive, trace.WithSpanKind(trace.SpanKindConsumer))
	if span.IsRecording() {
		span.SetAttributes(
			AttrMessagingDestination.String(stream),
			AttrMessagingOperation.String(OperationReceive),
			AttrStream.String(stream),
		)
		if event != "" {
			span.SetAttributes(AttrSocketIOEventName.String(event))
		}
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
		span.SetAttributes(
			AttrMessagingSystem.String(MessagingSystem),
			AttrMessagingDestination.String(namespace),
			AttrMessagingOperation.String(operation),
			AttrSocketIOEventName.String(event),
			AttrSocketID.String(socketID),
		)
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
