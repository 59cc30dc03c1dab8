// Package telemetry is iobridge's instrumentation, written against the
// OpenTelemetry API only: span names and attributes, the span helpers,
// metric instruments and gauge registration, and the webhook client
// spans (ClientSpans). Libraries import it and take a trace.TracerProvider, a
// metric.MeterProvider and a propagator in their Config, doing nothing
// when they are nil.
//
// It links no SDK, exporter, Prometheus or gRPC package, so a library
// that wants a span helper does not carry them; the SDK is set up by
// telemetry/otelsdk, which only main imports (TestDependencies holds the
// libraries to this).
//
// # Spans
//
// Names and attributes follow OpenTelemetry's messaging conventions as
// @opentelemetry/instrumentation-socket.io writes them, so traces from
// Node.js Socket.IO servers and from iobridge look alike:
//
//   - an inbound event is a consumer span "<event> receive" (namespace
//     "/") or "<namespace> <event> receive", with messaging.system
//     "socket.io", messaging.destination (the namespace),
//     messaging.operation "receive" and messaging.socket.io.event_name;
//   - an emit is a producer span "<namespace> send", or
//     "<namespace>[room1,room2] send" when it targets rooms, with
//     messaging.system, messaging.destination_kind "topic",
//     messaging.destination and messaging.socket.io.namespace (the
//     namespace), messaging.socket.io.event_name and
//     messaging.socket.io.rooms;
//   - a connect is the receive span of the event "connection" (the
//     handler socket.io's io.on("connection") runs), whose parent is the
//     traceparent the client sent in its handshake headers.
//
// iobridge adds iobridge.socket.id, iobridge.delivery.id and
// iobridge.stream where they apply. Errors are recorded on the span
// (RecordError) with an Error status.
//
// StartReceive, StartEvent, StartSend, StartStreamSpan and StartBridgeSpan
// are the helpers; they return at once, without allocating, when the
// tracer is nil, and set a span's attributes in one call once it records.
package telemetry
