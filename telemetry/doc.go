// Package telemetry is iobridge's OpenTelemetry: the SDK setup (trace and
// meter providers, OTLP exporters, the W3C propagator, the Prometheus
// handler behind GET /metrics) and the instrumentation every other
// package shares (span names and attributes, metric instruments).
//
// # Setup
//
// main calls New with the [telemetry] block and hands the providers to the
// libraries (translate, translate/api, the webhook transport), which take
// OTel API interfaces in their Config and do nothing when they are nil.
// Tracing is on when an OTLP endpoint is configured, in the file or by the
// standard OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
// variables, unless OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
// Metrics are always collected and served in the Prometheus text format
// (Telemetry.MetricsHandler); with an endpoint they are also pushed by OTLP.
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
//
// # Export
//
// Spans go to the OTLP exporter through a batcher of our own: at most
// 8192 wait, exported in batches of up to 2048; ending a span never waits,
// and a span past the bound is dropped and counted (MetricSpansDropped).
package telemetry
