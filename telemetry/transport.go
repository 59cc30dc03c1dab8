package telemetry

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

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
	// last holds the URL attributes of the last request's URL: a Client
	// sends every request to one URL (the same *url.URL), so they are
	// made once rather than per request.
	last atomic.Pointer[urlAttrs]
}

// urlAttrs are server.address, server.port and url.full of u.
type urlAttrs struct {
	u   *url.URL
	kvs [3]attribute.KeyValue
}

func (t *transport) urlAttrs(u *url.URL) *urlAttrs {
	if a := t.last.Load(); a != nil && a.u == u {
		return a
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	p, _ := strconv.Atoi(port)
	a := &urlAttrs{u: u, kvs: [3]attribute.KeyValue{
		attribute.String("server.address", host),
		attribute.Int("server.port", p),
		attribute.String("url.full", u.Redacted()),
	}}
	t.last.Store(a)
	return a
}

var startClient = trace.WithSpanKind(trace.SpanKindClient)

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := t.tr.Start(r.Context(), r.Method, startClient)
	out := r.WithContext(ctx)
	out.Header = make(http.Header, len(r.Header)+2)
	for k, v := range r.Header {
		out.Header[k] = v
	}
	t.prop.Inject(ctx, propagation.HeaderCarrier(out.Header))
	res, err := t.rt.RoundTrip(out)
	if !span.IsRecording() {
		span.End()
		return res, err
	}
	// Every attribute in one call, once the outcome is known (see
	// attrs in spans.go).
	a := getAttrs()
	a.add(attribute.String("http.request.method", r.Method))
	for _, kv := range t.urlAttrs(r.URL).kvs {
		a.add(kv)
	}
	if err != nil {
		kind := "transport"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			kind = "timeout"
		}
		a.add(attribute.String("error.type", kind))
		a.set(span)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.End()
		return res, err
	}
	a.add(attribute.Int("http.response.status_code", res.StatusCode))
	if res.StatusCode >= 400 {
		a.add(attribute.String("error.type", strconv.Itoa(res.StatusCode)))
		a.set(span)
		span.SetStatus(codes.Error, "")
	} else {
		a.set(span)
	}
	span.End()
	return res, nil
}
