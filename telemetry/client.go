package telemetry

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ClientSpans makes the client span of each request an HTTP client sends
// to one URL (the webhook client's attempts): named after the method
// ("POST"), with the HTTP client conventions (http.request.method,
// server.address, server.port, url.full, http.response.status_code,
// error.type), its context injected into the request's header as
// traceparent and tracestate.
//
// It is a hook the client calls around its own request, whatever carries
// it, rather than an http.RoundTripper wrapped around the transport (as
// otelhttp.NewTransport is): a wrapper needs an http.Request and an
// http.Response per request, which a client that writes its requests as
// wire bytes has no use for, and it cannot tell the client's route apart
// from another one. The span ends when the answer's headers arrive (End):
// a streamed answer's span does not last as long as the stream.
//
// A ClientSpans is safe for concurrent use.
type ClientSpans struct {
	tr   trace.Tracer
	prop propagation.TextMapPropagator
	// url holds server.address, server.port and url.full, made once.
	url [3]attribute.KeyValue
}

// NewClientSpans returns the spans of requests to u, or nil when tp is nil
// or a no-op provider (see Tracer): a nil *ClientSpans is tracing off, and
// a client tests for it before building anything. A nil prop means
// propagation.TraceContext.
func NewClientSpans(tp trace.TracerProvider, prop propagation.TextMapPropagator, u *url.URL) *ClientSpans {
	tr := Tracer(tp)
	if tr == nil {
		return nil
	}
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	p, _ := strconv.Atoi(port)
	return &ClientSpans{tr: tr, prop: prop, url: [3]attribute.KeyValue{
		attribute.String("server.address", u.Hostname()),
		attribute.Int("server.port", p),
		attribute.String("url.full", u.Redacted()),
	}}
}

var startClient = trace.WithSpanKind(trace.SpanKindClient)

// Start starts the client span of a request with method, a child of ctx's
// span, and injects its context into h (the request's header fields, as
// the client writes them). It returns the span's context and the span, to
// be given to End.
func (c *ClientSpans) Start(ctx context.Context, method string, h propagation.TextMapCarrier) (context.Context, trace.Span) {
	ctx, span := c.tr.Start(ctx, method, startClient)
	c.prop.Inject(ctx, h)
	return ctx, span
}

// End ends span with the request's outcome: the answer's status when its
// headers arrived (err nil), else the error that ended the request
// (error.type "timeout" for a net.Error timeout, else "transport"). An
// answer with a status of 400 or more has an Error status.
func (c *ClientSpans) End(span trace.Span, method string, status int, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	// Every attribute in one call, once the outcome is known (see attrs
	// in spans.go).
	a := getAttrs()
	a.add(attribute.String("http.request.method", method))
	for _, kv := range c.url {
		a.add(kv)
	}
	switch {
	case err != nil:
		kind := "transport"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			kind = "timeout"
		}
		a.add(attribute.String("error.type", kind))
		a.set(span)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	case status >= 400:
		a.add(attribute.Int("http.response.status_code", status))
		a.add(attribute.String("error.type", strconv.Itoa(status)))
		a.set(span)
		span.SetStatus(codes.Error, "")
	default:
		a.add(attribute.Int("http.response.status_code", status))
		a.set(span)
	}
	span.End()
}
