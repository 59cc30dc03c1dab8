package otelsdk

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/telemetry"
)

// OTLP protocols of Config.Protocol.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http"
)

// DefaultServiceName is Config.ServiceName's zero value.
const DefaultServiceName = "iobridge"

// metricInterval is how often metrics are pushed by OTLP (the SDK's
// default, 60s, unless OTEL_METRIC_EXPORT_INTERVAL says otherwise).
const metricInterval = 60 * time.Second

// Config configures New. Its zero value collects metrics for /metrics and
// traces nothing.
type Config struct {
	// OTLPEndpoint is where spans and metrics are exported: "host:port"
	// (or a URL) for grpc, a base URL for http ("/v1/traces" and
	// "/v1/metrics" are appended, as OTEL_EXPORTER_OTLP_ENDPOINT does).
	// Empty means the OTEL_EXPORTER_OTLP_* variables decide; without them
	// nothing is exported and tracing is off.
	OTLPEndpoint string
	// Protocol is ProtocolGRPC or ProtocolHTTP. Empty means
	// OTEL_EXPORTER_OTLP_PROTOCOL ("grpc", "http/protobuf"), else grpc.
	Protocol string
	// ServiceName is the service.name resource attribute (OTEL_SERVICE_NAME
	// overrides it). Empty means DefaultServiceName.
	ServiceName string
	// ServiceVersion is the service.version resource attribute.
	ServiceVersion string
	// SampleRatio is the fraction of new traces sampled (0 to 1); a trace
	// whose parent came with a sampling decision (a handshake traceparent)
	// follows it. OTEL_TRACES_SAMPLER, when set, replaces this sampler.
	SampleRatio float64
	// Getenv looks up OTEL_* variables for the decisions New makes itself
	// (is tracing on, which protocol); the exporters and the resource read
	// the standard variables on their own. Nil means none are set.
	Getenv func(string) (string, bool)
	// RuntimeMetrics adds the Go runtime collector (go_goroutines,
	// go_memstats_*, ...) and the process collector (process_open_fds,
	// process_resident_memory_bytes, ...) to /metrics. Off by default.
	RuntimeMetrics bool
	// SpanProcessor, when set, receives the spans too (and turns tracing
	// on): tests pass one over an in-memory exporter.
	SpanProcessor sdktrace.SpanProcessor
	// Logger receives export errors. Nil means slog.Default().
	Logger *slog.Logger
}

// Telemetry is the OpenTelemetry SDK of one process: providers, the
// propagator and the Prometheus handler. Its methods are safe for
// concurrent use.
type Telemetry struct {
	tp      *sdktrace.TracerProvider // nil when tracing is off
	mp      *sdkmetric.MeterProvider
	prop    propagation.TextMapPropagator
	metrics http.Handler
}

// New sets up the SDK for cfg. Exporters connect lazily: an unreachable
// collector does not fail New; spans and metrics that cannot be exported
// are dropped and the error is logged.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = func(string) (string, bool) { return "", false }
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	env := func(k string) string { v, _ := getenv(k); return strings.TrimSpace(v) }
	disabled := strings.EqualFold(env("OTEL_SDK_DISABLED"), "true")

	protocol := cfg.Protocol
	if cfg.OTLPEndpoint == "" || protocol == "" {
		p := env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
		if p == "" {
			p = env("OTEL_EXPORTER_OTLP_PROTOCOL")
		}
		switch {
		case strings.HasPrefix(p, "http"):
			protocol = ProtocolHTTP
		case p == "grpc":
			protocol = ProtocolGRPC
		}
	}
	switch protocol {
	case "":
		protocol = ProtocolGRPC
	case ProtocolGRPC, ProtocolHTTP:
	default:
		return nil, fmt.Errorf("telemetry: protocol %q: want %q or %q", protocol, ProtocolGRPC, ProtocolHTTP)
	}
	export := !disabled && (cfg.OTLPEndpoint != "" || env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "")
	tracing := export && !strings.EqualFold(env("OTEL_TRACES_EXPORTER"), "none")
	exportMetrics := export && !strings.EqualFold(env("OTEL_METRICS_EXPORTER"), "none")

	name := cfg.ServiceName
	if name == "" {
		name = DefaultServiceName
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithAttributes(attrs...), resource.WithFromEnv())
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES: keep what could be read.
		log.Warn("telemetry: resource", "err", err)
	}

	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("telemetry: export failed", "err", err)
	}))

	t := &Telemetry{prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}

	// Metrics: always for /metrics, on a registry of our own (no Go
	// runtime collectors unless asked for: the sidecar's /metrics lists
	// what it measures).
	reg := prometheus.NewRegistry()
	pe, err := promexporter.New(
		promexporter.WithRegisterer(reg),
		promexporter.WithoutScopeInfo(),
		promexporter.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	if cfg.RuntimeMetrics {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(pe)}
	if env("OTEL_METRICS_EXEMPLAR_FILTER") == "" {
		// No exemplars unless asked for: with tracing on, the SDK's
		// default keeps the trace of a sampled measurement on every
		// webhook delivery, a cost per event that /metrics does not show.
		mopts = append(mopts, sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	}
	if exportMetrics {
		me, err := metricExporter(ctx, protocol, cfg.OTLPEndpoint)
		if err != nil {
			return nil, err
		}
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(interval(env)))))
	}
	t.mp = sdkmetric.NewMeterProvider(mopts...)
	t.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)})

	if tracing || cfg.SpanProcessor != nil {
		topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
		if env("OTEL_TRACES_SAMPLER") == "" {
			ratio := min(max(cfg.SampleRatio, 0), 1)
			topts = append(topts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))))
		}
		if tracing {
			te, err := traceExporter(ctx, protocol, cfg.OTLPEndpoint)
			if err != nil {
				t.mp.Shutdown(ctx)
				return nil, err
			}
			b := newBatcher(te)
			topts = append(topts, sdktrace.WithSpanProcessor(b))
			_, err = t.mp.Meter(telemetry.ScopeName).Int64ObservableCounter(telemetry.MetricSpansDropped,
				metric.WithDescription("Spans dropped at the export queue's bound (8192 spans) instead of waiting."),
				metric.WithUnit("{span}"),
				metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
					o.Observe(int64(b.Dropped()))
					return nil
				}))
			if err != nil {
				otel.Handle(err)
			}
		}
		if cfg.SpanProcessor != nil {
			topts = append(topts, sdktrace.WithSpanProcessor(cfg.SpanProcessor))
		}
		t.tp = sdktrace.NewTracerProvider(topts...)
	}
	return t, nil
}

// interval is OTEL_METRIC_EXPORT_INTERVAL (milliseconds) or metricInterval.
func interval(env func(string) string) time.Duration {
	var ms int64
	if _, err := fmt.Sscan(env("OTEL_METRIC_EXPORT_INTERVAL"), &ms); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return metricInterval
}

// traceExporter makes the OTLP span exporter. Without endpoint the
// exporter reads OTEL_EXPORTER_OTLP_* itself.
func traceExporter(ctx context.Context, protocol, endpoint string) (sdktrace.SpanExporter, error) {
	var (
		e   sdktrace.SpanExporter
		err error
	)
	if protocol == ProtocolHTTP {
		var opts []otlptracehttp.Option
		if endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/")+"/v1/traces"))
		}
		e, err = otlptracehttp.New(ctx, opts...)
	} else {
		var opts []otlptracegrpc.Option
		switch {
		case strings.Contains(endpoint, "://"):
			opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
		case endpoint != "":
			opts = append(opts, otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithInsecure())
		}
		e, err = otlptracegrpc.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP %s span exporter: %w", protocol, err)
	}
	return e, nil
}

// metricExporter makes the OTLP metric exporter (see traceExporter).
func metricExporter(ctx context.Context, protocol, endpoint string) (sdkmetric.Exporter, error) {
	var (
		e   sdkmetric.Exporter
		err error
	)
	if protocol == ProtocolHTTP {
		var opts []otlpmetrichttp.Option
		if endpoint != "" {
			opts = append(opts, otlpmetrichttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/")+"/v1/metrics"))
		}
		e, err = otlpmetrichttp.New(ctx, opts...)
	} else {
		var opts []otlpmetricgrpc.Option
		switch {
		case strings.Contains(endpoint, "://"):
			opts = append(opts, otlpmetricgrpc.WithEndpointURL(endpoint))
		case endpoint != "":
			opts = append(opts, otlpmetricgrpc.WithEndpoint(endpoint), otlpmetricgrpc.WithInsecure())
		}
		e, err = otlpmetricgrpc.New(ctx, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP %s metric exporter: %w", protocol, err)
	}
	return e, nil
}

// Tracing reports whether spans are recorded and exported.
func (t *Telemetry) Tracing() bool { return t.tp != nil }

// TracerProvider returns the tracer provider, nil when tracing is off (the
// libraries then skip their spans altogether).
func (t *Telemetry) TracerProvider() trace.TracerProvider {
	if t.tp == nil {
		return nil
	}
	return t.tp
}

// MeterProvider returns the meter provider.
func (t *Telemetry) MeterProvider() metric.MeterProvider { return t.mp }

// Propagator returns the W3C propagator (traceparent, tracestate,
// baggage), nil when tracing is off.
func (t *Telemetry) Propagator() propagation.TextMapPropagator {
	if t.tp == nil {
		return nil
	}
	return t.prop
}

// MetricsHandler serves the metrics in the Prometheus text format.
func (t *Telemetry) MetricsHandler() http.Handler { return t.metrics }

// Shutdown flushes spans and metrics and stops the exporters, or gives up
// when ctx ends.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	if t.tp != nil {
		errs = append(errs, t.tp.Shutdown(ctx))
	}
	errs = append(errs, t.mp.Shutdown(ctx))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telemetry: shutdown: %w", err)
	}
	return nil
}
