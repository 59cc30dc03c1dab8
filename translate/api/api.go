// Package api is the control HTTP API that backends call: emit to rooms or
// sockets (optionally waiting for acks), make sockets join or leave rooms,
// disconnect them, list sockets and rooms, plus health, readiness and
// metrics. It is built on gin and listens on its own address, separate
// from the Socket.IO listener.
//
// Routes (JSON; everything under /v1/ needs "Authorization: Bearer <token>"):
//
//	POST /v1/emit        instruction            202 {"recipients":N}
//	                     with "ack"             200 {"acks":[{"socket","args"}],"timeouts":[ids]}
//	POST /v1/join        {"namespace","to","rooms"}  200 {"sockets":N}
//	POST /v1/leave       {"namespace","to","rooms"}  200 {"sockets":N}
//	POST /v1/disconnect  {"namespace","to","close"}  200 {"sockets":N}
//	GET  /v1/sockets     ?namespace=&room=      200 {"sockets":[{"id","rooms","data","handshake"}]}
//	GET  /v1/rooms       ?namespace=            200 {"rooms":[{"name","size"}]}
//	GET  /healthz                               200 {"status":"ok"}
//	GET  /readyz                                200 {"status":"ready"} or 503 with reasons
//	GET  /metrics                               Prometheus text
//
// Emits go through translate's Executor, the same path as webhook answers
// and backend streams. Every error is {"error":{"code","message"}}, mapped
// in one place (see the Code constants).
//
// Lifecycle: New, then Serve on a listener (or mount Handler elsewhere),
// then Shutdown.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
	"github.com/iobridge/iobridge/translate"
)

// DefaultMaxBodyBytes is Config.MaxBodyBytes's zero value.
const DefaultMaxBodyBytes = 1 << 20

// Sentinel errors of New.
var (
	ErrNoToken    = errors.New("api: a token is required")
	ErrNoServer   = errors.New("api: a socketio server is required")
	ErrNoExecutor = errors.New("api: an executor is required")
)

// Config configures the API.
type Config struct {
	// Token is the bearer token every /v1/ request must carry. Required.
	// It is compared in constant time and never logged.
	Token string
	// Server is the Socket.IO server whose sockets the API lists and
	// whose gauges /metrics reports. Required.
	Server *socketio.Server
	// Executor applies instructions (emit, join, leave, disconnect), the
	// one path from backends to clients. Required.
	Executor *translate.Executor
	// MaxBodyBytes caps a request body; a larger one is answered 413.
	// Zero means DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// Metrics, when set, serves GET /metrics instead of the built-in
	// handler (a few gauges and counters in the Prometheus text format):
	// the seam for an OpenTelemetry Prometheus exporter.
	Metrics http.Handler
	// TracerProvider, when set, gives each request a server span (otelgin;
	// /metrics, /healthz and /readyz excepted) whose context flows into
	// the executor, so an emit's span is its child. Nil means no spans.
	TracerProvider trace.TracerProvider
	// Propagator reads the trace context of requests (traceparent). Nil
	// means W3C trace context.
	Propagator propagation.TextMapPropagator
	// MeterProvider, when set, receives the API's metrics: requests by
	// route and code (iobridge.api.requests) and the Engine.IO
	// connections (iobridge.connections). Nil means none.
	MeterProvider metric.MeterProvider
	// Logger receives the API's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// Check is a readiness check: nil means ready. It must return soon after
// ctx ends.
type Check func(ctx context.Context) error

// API is the control API. Its methods are safe for concurrent use.
type API struct {
	cfg Config
	log *slog.Logger
	// emitMu orders the emits that answer before they fan out (emit).
	emitMu sync.Mutex
	engine *gin.Engine
	token  [sha256.Size]byte // digest of the token: compared in constant time

	mu       sync.Mutex
	checks   []namedCheck
	srv      *http.Server
	stopping atomic.Bool
	draining atomic.Bool // Drain: /readyz is 503, requests are served

	metrics    requestCounter
	tel        *telemetry.Metrics // nil: no OTel metrics
	unregister func()
}

type namedCheck struct {
	name  string
	check Check
}

var releaseMode sync.Once

// New returns an API. It fails when a required Config field is missing.
func New(cfg Config) (*API, error) {
	switch {
	case cfg.Token == "":
		return nil, ErrNoToken
	case cfg.Server == nil:
		return nil, ErrNoServer
	case cfg.Executor == nil:
		return nil, ErrNoExecutor
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	a := &API{cfg: cfg, log: cfg.Logger, token: sha256.Sum256([]byte(cfg.Token))}
	if a.log == nil {
		a.log = slog.Default()
	}
	// Release mode: no debug output on stdout. gin's mode is global; the
	// API never runs gin in another mode.
	releaseMode.Do(func() { gin.SetMode(gin.ReleaseMode) })
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(nil); err != nil { // ClientIP is the peer address
		return nil, fmt.Errorf("api: %w", err)
	}
	if cfg.TracerProvider != nil {
		prop := cfg.Propagator
		if prop == nil {
			prop = propagation.TraceContext{}
		}
		e.Use(otelgin.Middleware("iobridge",
			otelgin.WithTracerProvider(cfg.TracerProvider),
			otelgin.WithPropagators(prop),
			// The API's own counter is iobridge.api.requests.
			otelgin.WithMeterProvider(metricnoop.NewMeterProvider()),
			otelgin.WithGinFilter(func(c *gin.Context) bool {
				switch c.Request.URL.Path {
				case "/metrics", "/healthz", "/readyz":
					return false
				}
				return true
			}),
		))
	}
	a.tel = telemetry.NewMetrics(cfg.MeterProvider)
	unregister, err := a.tel.RegisterGauges(telemetry.Gauge{
		Name: "iobridge.connections", Description: "Engine.IO connections attached to the Socket.IO server.", Unit: "{connection}",
		Observe: func() int64 { return int64(cfg.Server.Clients()) },
	})
	if err != nil {
		return nil, fmt.Errorf("api: metrics: %w", err)
	}
	a.unregister = unregister
	e.Use(a.recoverer, a.logRequests)
	// Under /v1/ the token is checked first, so the API does not tell
	// strangers which routes exist.
	e.NoRoute(a.authenticateV1, func(c *gin.Context) {
		abort(c, http.StatusNotFound, CodeNotFound, "no route "+c.Request.URL.Path)
	})
	e.NoMethod(a.authenticateV1, func(c *gin.Context) {
		abort(c, http.StatusMethodNotAllowed, CodeMethodNotAllowed, c.Request.Method+" is not allowed on "+c.Request.URL.Path)
	})

	e.GET("/healthz", a.healthz)
	e.GET("/readyz", a.readyz)
	if cfg.Metrics != nil {
		e.GET("/metrics", gin.WrapH(cfg.Metrics))
	} else {
		e.GET("/metrics", a.metricsHandler)
	}
	v1 := e.Group("/v1", a.authenticate, a.limitBody)
	v1.POST("/emit", a.emit)
	v1.POST("/join", a.join)
	v1.POST("/leave", a.leave)
	v1.POST("/disconnect", a.disconnect)
	v1.GET("/sockets", a.sockets)
	v1.GET("/rooms", a.rooms)
	a.engine = e
	return a, nil
}

// Handler returns the API's http.Handler.
func (a *API) Handler() http.Handler { return a.engine }

// AddReadiness registers a check that GET /readyz runs: the API is ready
// when every check returns nil. name appears in the reasons of a 503.
func (a *API) AddReadiness(name string, check Check) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.checks = append(a.checks, namedCheck{name, check})
}

// Serve serves the API on ln until Shutdown, returning nil then. It closes
// ln.
func (a *API) Serve(ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.engine,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.mu.Lock()
	if a.stopping.Load() {
		a.mu.Unlock()
		ln.Close()
		return nil
	}
	a.srv = srv
	a.mu.Unlock()
	a.log.Info("api: listening", "addr", ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", err)
	}
	return nil
}

// Drain makes /readyz answer 503 "shutting down" while the API goes on
// serving requests: a load balancer stops sending new clients, and
// backends can still emit to the clients that are being drained.
func (a *API) Drain() { a.draining.Store(true) }

// Shutdown makes /readyz answer 503, stops accepting requests and waits
// for those in progress (an emit waiting for acks included), or for ctx.
func (a *API) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.stopping.Store(true)
	srv := a.srv
	a.mu.Unlock()
	a.unregister()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// authenticate checks "Authorization: Bearer <token>" in constant time:
// both sides are hashed first, so neither the token's content nor its
// length leaks through timing.
func (a *API) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], a.token[:]) != 1 {
		c.Header("WWW-Authenticate", `Bearer realm="iobridge"`)
		abort(c, http.StatusUnauthorized, CodeUnauthorized, "missing or invalid bearer token")
		return
	}
	c.Next()
}

// authenticateV1 is authenticate for paths under /v1/ only.
func (a *API) authenticateV1(c *gin.Context) {
	if strings.HasPrefix(c.Request.URL.Path, "/v1/") {
		a.authenticate(c)
	}
}

// limitBody caps the request body; reading past the cap fails, and
// decode answers 413.
func (a *API) limitBody(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, a.cfg.MaxBodyBytes)
	c.Next()
}

// recoverer turns a panic in a handler into a 500 and an Error log.
func (a *API) recoverer(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.Error("api: handler panicked", "method", c.Request.Method, "path", c.Request.URL.Path, "err", fmt.Sprint(v))
			if !c.Writer.Written() {
				abort(c, http.StatusInternalServerError, CodeInternal, "internal error")
			}
		}
	}()
	c.Next()
}

// logRequests logs each request (Debug; Warn for a 5xx) and counts it for
// /metrics. Bodies and the Authorization header are never logged.
func (a *API) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	status := c.Writer.Status()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	a.metrics.add(route, status)
	a.tel.APIRequest(c.Request.Context(), route, status)
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
	}
	if a.log.Enabled(c.Request.Context(), level) {
		a.log.Log(c.Request.Context(), level, "api: request",
			"method", c.Request.Method, "path", c.Request.URL.Path, "status", status,
			"duration", time.Since(start), "remote_addr", c.Request.RemoteAddr)
	}
}
