// Package otelsdk is iobridge's OpenTelemetry SDK setup: the trace and
// meter providers, the OTLP exporters (gRPC and HTTP), the W3C
// propagator, the Prometheus handler behind GET /metrics and the Go
// runtime and process collectors. Only main imports it: libraries take
// the providers it makes through the OTel API (see package telemetry),
// so they link none of this.
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
// # Export
//
// Spans go to the OTLP exporter through a batcher of our own: at most
// 8192 wait, exported in batches of up to 2048; ending a span never waits,
// and a span past the bound is dropped and counted
// (telemetry.MetricSpansDropped).
package otelsdk
