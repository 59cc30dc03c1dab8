package telemetry

import (
	"errors"
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Transport returns rt with a client span per request ("POST", the HTTP
// client conventions: http.request.method, server.address, server.port,
// url.full, http.response.status_code, error.type) and the span's context
// injected as traceparent and tracestate. With a nil tracer it returns rt.
//
// It is for webhook deliveries, in place of otelhttp.NewTransport, whose
// request body wrapper hides the in-memory body from net/http: the
// headers then go out in a packet of their own before the body, one more
// write per delivery on both sides. This one leaves the body as it is. The
// span ends when the answer's headers arrive: a streamed answer's span
// does not last as long as the stream.
//
// The request is not modified: the copy sent has its own header map.
func Transport(rt http.RoundTripper, tr trace.Tracer, prop propagation.TextMapPropagator) http.RoundTripper {
	if tr == nil {
		return rt
	}
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return &transport{rt: rt, tr: tr, prop: prop}
}

type transport struct {
	rt   http.RoundTripper
	tr   trace.Tracer
	prop propagation.TextMapPropagator
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := t.tr.Start(r.Context(), r.Method, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		host, port := r.URL.Hostname(), r.URL.Port()
		if port == "" {
			port = "80"
			if r.URL.Scheme == "https" {
				port = "443"
			}
		}
		p, _ := strconv.Atoi(port)
		span.SetAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("server.address", host),
			attribute.Int("server.port", p),
			attribute.String("url.full", r.URL.Redacted()),
		)
	}
	out := r.WithContext(ctx)
	out.Header = make(http.Header, len(r.Header)+2)
	for k, v := range r.Header {
		out.Header[k] = v
	}
	t.prop.Inject(ctx, propagation.HeaderCarrier(out.Header))
	res, err := t.rt.RoundTrip(out)
	if err != nil {
		if span.IsRecording() {
			kind := "transport"
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				kind = "timeout"
			}
			span.SetAttributes(attribute.String("error.type", kind))
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		return res, err
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
		if res.StatusCode >= 400 {
			span.SetAttributes(attribute.String("error.type", strconv.Itoa(res.StatusCode)))
			span.SetStatus(codes.Error, "")
		}
	}
	span.End()
	return res, nil
}
