// Command iobridge is a sidecar that speaks Socket.IO v4 to clients and
// plain HTTP to backends.
//
// Usage:
//
//	iobridge [-config FILE] [-log-format text|json] [-log-level LEVEL]
//	iobridge -check [-config FILE]
//	iobridge demo
//	iobridge -version
//
// Without -config it reads config.toml from the working directory. -check
// validates the configuration, prints every problem on its own line to
// stderr and exits 1, or prints "ok". demo runs the sidecar on the example
// configuration built into the binary.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/iobridge/iobridge/config"
	"github.com/iobridge/iobridge/examples/demo"
	"github.com/iobridge/iobridge/internal/gctune"
	"github.com/iobridge/iobridge/plugins"
	"github.com/iobridge/iobridge/proxy/adapter"
	redisadapter "github.com/iobridge/iobridge/proxy/adapter/redis"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/forward"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry/otelsdk"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/api"
	"github.com/iobridge/iobridge/translate/bridge"
	"github.com/iobridge/iobridge/translate/stream"
	"github.com/iobridge/iobridge/translate/webhook"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

// exampleConfig is config.example.toml, which `iobridge demo` runs.
//
//go:embed config.example.toml
var exampleConfig []byte

const (
	defaultConfigFile = "config.toml"
	// readHeaderTimeout bounds how long a client may take to send request
	// headers.
	readHeaderTimeout = 10 * time.Second
)

func main() {
	gctune.Tune()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	idleCtx, stopIdle := context.WithCancel(ctx)
	idleDone := gctune.ReleaseWhenIdle(idleCtx)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopIdle()
	<-idleDone
	stop()
	os.Exit(code)
}

// options are the parsed command line.
type options struct {
	configFile string
	check      bool
	version    bool
	demo       bool
	logFormat  string
	logLevel   string
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("iobridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.configFile, "config", "", "configuration `file` (default config.toml in the working directory)")
	fs.BoolVar(&o.check, "check", false, "validate the configuration, print every problem, and exit")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage:\n  iobridge [-config FILE] [flags]   run the sidecar\n  iobridge -check [-config FILE]     validate a configuration\n  iobridge demo [flags]             run the sidecar on the example configuration\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if len(args) > 0 && args[0] == "demo" {
		o.demo = true
		args = args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	rest := fs.Args()
	if len(rest) > 0 && rest[0] == "demo" && !o.demo {
		o.demo = true
		rest = rest[1:]
	}
	if len(rest) > 0 {
		fs.Usage()
		return o, fmt.Errorf("unexpected argument %q", rest[0])
	}
	if o.demo && o.configFile != "" {
		return o, errors.New("demo runs the built-in example configuration; drop -config, or run without demo")
	}
	switch o.logFormat {
	case "text", "json":
	default:
		return o, fmt.Errorf("-log-format %q: want text or json", o.logFormat)
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return o, err
	}
	return o, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("-log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// run is the whole command; main adds only the signals and the exit code.
// It returns when ctx is done (after a graceful shutdown) or on an error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "iobridge:", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	level, _ := parseLevel(o.logLevel)
	logger := newLogger(stderr, o.logFormat, level)

	cfg, warnings, err := loadConfig(o, logger)
	if err != nil {
		var cerr *config.Error
		if errors.As(err, &cerr) {
			for _, p := range cerr.Problems {
				fmt.Fprintln(stderr, p.String())
			}
		} else {
			fmt.Fprintln(stderr, "iobridge:", err)
		}
		return 1
	}
	if o.check {
		for _, w := range warnings {
			fmt.Fprintln(stderr, "warning:", w.String())
		}
		if bad := unsupported(cfg); len(bad) > 0 {
			for _, b := range bad {
				fmt.Fprintln(stderr, b)
			}
			return 1
		}
		fmt.Fprintln(stdout, "ok")
		return 0
	}
	for _, w := range warnings {
		logger.Warn("config: "+w.Message, "key", w.Path)
	}
	if err := serve(ctx, cfg, logger, o.demo); err != nil {
		logger.Error("stopped", "err", err)
		return 1
	}
	return 0
}

// loadConfig reads the configuration the options name.
func loadConfig(o options, logger *slog.Logger) (*config.Config, []config.Problem, error) {
	if o.demo {
		env, defaulted := demo.LookupEnv(os.LookupEnv)
		if defaulted {
			logger.Info("IOBRIDGE_API_TOKEN is not set; the demo set it to the public demo token (see README)")
		}
		return config.Parse(exampleConfig, env)
	}
	file := o.configFile
	if file == "" {
		file = defaultConfigFile
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			return nil, nil, errors.New("no config.toml in the working directory: pass -config FILE (config.example.toml is a start), or run `iobridge demo`")
		}
	}
	return config.Load(file)
}

func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func versionString() string {
	s := "iobridge " + version + " (" + runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
				s += ", " + kv.Value[:12]
			}
		}
	}
	return s + ")"
}

// unsupported lists what the configuration asks for that this build
// cannot do safely: starting without it would weaken security or
// correctness (plain HTTP where TLS was asked for, one node where a
// cluster was asked for), so the sidecar refuses to start.
// Nothing today: every Redis mode is served.
func unsupported(*config.Config) []string {
	return nil
}

// notYet lists what the configuration sets up that this build does not
// serve yet but can start without.
func notYet(cfg *config.Config) []string {
	var out []string
	return out
}

// engineConfig maps [server] onto the Engine.IO server's Config.
func engineConfig(s config.Server, logger *slog.Logger) engineio.Config {
	return engineio.Config{
		Path:              s.Path,
		PingInterval:      s.PingInterval.Std(),
		PingTimeout:       s.PingTimeout.Std(),
		MaxHTTPBufferSize: s.MaxHTTPBufferSize,
		MaxQueueBytes:     s.MaxQueueBytes,
		BatchDelay:        batchDelay(s.BroadcastDelay.Std()),
		CORSOrigins:       s.CORSOrigins,
		CORSCredentials:   s.CORSCredentials,
		AllowEIO3:         s.AllowEIO3,
		Logger:            logger,
	}
}

// batchDelay maps server.broadcast_delay, where "0" means no wait, onto
// engineio.Config.BatchDelay, where zero means the default.
func batchDelay(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// sidecar is everything serve runs: the Socket.IO server, the translator
// between its namespaces and the backends, and the control API.
type sidecar struct {
	sio   *socketio.Server
	tr    *translate.Translator
	api   *api.API // nil without [api]
	apiLn net.Listener
	// streams are the backend streams (namespace stream and [[stream]]).
	streams []*stream.Stream
	// tel is OpenTelemetry: metrics for /metrics, spans when configured.
	tel *otelsdk.Telemetry
	// cluster is the Redis adapter's connections, nil with the in-memory
	// adapter.
	cluster *redisadapter.Cluster
	// fwd forwards polling requests for other nodes' sessions to them
	// and registers this node (with the Redis adapter only).
	fwd *forward.Proxy
	// front are the stops of what takes work in (the Redis adapter and
	// forwarding, the Socket.IO server, the streams, the API), back those
	// of what finishes it (telemetry, plugins, the translator, the
	// bridges); each part registers its stop as it is built, and shutdown
	// unwinds front, then back.
	front, back cleanups
}

// newAdapter makes the adapter factory [adapter] asks for: in-memory, or
// Redis (whose connections are returned to be closed at shutdown).
func newAdapter(a config.Adapter, logger *slog.Logger, tel *otelsdk.Telemetry) (socketio.AdapterFactory, *redisadapter.Cluster, error) {
	if a.Type != "redis" {
		return adapter.Factory(adapter.Options{}), nil, nil
	}
	c, err := redisadapter.Open(context.Background(), redisadapter.Config{
		URL:              a.URL,
		KeyPrefix:        a.KeyPrefix,
		Mode:             a.Mode,
		SubscriptionMode: a.SubscriptionMode,
		RequestTimeout:   a.RequestTimeout.Std(),
		PublishQueue:     a.PublishQueue,
		StreamMaxLen:     a.StreamMaxLen,
		StreamCount:      a.StreamCount,
		Logger:           logger.With("component", "adapter"),
		MeterProvider:    tel.MeterProvider(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("adapter: %w", err)
	}
	if err := c.Ready(); err != nil {
		logger.Warn("adapter: Redis is not reachable yet; serving this node's sockets and retrying", "err", err)
	}
	return c.Factory(), c, nil
}

// newSidecar builds the Socket.IO server from [server], a translate route
// per [[namespace]] block (translate creates the namespaces: by name with
// Of, by pattern with OfPattern, in file order), and the control API from
// [api]. It opens the API's listener; the caller serves it. On an error
// what was built is shut down.
func newSidecar(cfg *config.Config, logger *slog.Logger) (_ *sidecar, err error) {
	sc := &sidecar{}
	defer func() {
		if err != nil {
			sc.shutdown(context.Background())
		}
	}()
	tel, err := newTelemetry(cfg, logger)
	if err != nil {
		return nil, err
	}
	sc.tel = tel
	sc.back.add(tel.Shutdown) // unwound last: the spans of the shutdown are flushed
	chains, err := newChains(cfg, logger)
	if err != nil {
		return nil, err
	}
	sc.back.add(func(ctx context.Context) error { return shutdownChains(ctx, chains) })
	ecfg := engineConfig(cfg.Server, logger)
	ecfg.AllowRequest = plugins.AllowRequest(chains)
	factory, cluster, err := newAdapter(cfg.Adapter, logger, tel)
	if err != nil {
		return nil, err
	}
	if cluster != nil {
		sc.cluster = cluster
		// Closed after the namespaces left their channels.
		sc.front.add(func(context.Context) error { return cluster.Close() })
		// Sticky-free polling: this node's id in its sids, and requests
		// for other nodes' sids forwarded to them.
		fwd, err := forward.New(forward.Config{
			URL:           cfg.Adapter.Advertise, // "" until serve knows the listener
			Registry:      cluster.Nodes(),
			Logger:        logger.With("component", "forward"),
			MeterProvider: tel.MeterProvider(),
		})
		if err != nil { // config has validated advertise; this is a guard
			return nil, fmt.Errorf("adapter.advertise: %w", err)
		}
		sc.fwd = fwd
		sc.front.add(fwd.Close) // other nodes stop forwarding here at once
		ecfg.NodeID, ecfg.Forward = fwd.ID(), fwd.Forward
	}
	sio := socketio.NewServer(socketio.Config{
		Engine:         ecfg,
		Adapter:        factory,
		ConnectTimeout: cfg.Server.ConnectTimeout.Std(),
		Recovery:       cfg.Server.Recovery.Std(),
		Logger:         logger,
	})
	sc.sio = sio
	// Each socket gets its disconnect delivery under way, each bridge its
	// close frame; the translator and the bridges, in back, wait for them.
	sc.front.add(sio.Shutdown)
	if cluster != nil {
		for i, ch := range chains {
			if ch.HasOutbound() {
				logger.Warn("adapter: a plugin's outbound hook runs once per recipient on this node, so this namespace's instructions reach this node's sockets only", "namespace", cfg.Namespaces[i].Name)
			}
		}
	}
	routes, bridged, err := newRoutes(cfg, logger, tel, sio, chains)
	if err != nil {
		return nil, err
	}
	tr, err := translate.New(translate.Config{
		Routes:         routes,
		Logger:         logger,
		TracerProvider: tel.TracerProvider(),
		Propagator:     tel.Propagator(),
		MeterProvider:  tel.MeterProvider(),
	}, sio)
	if err != nil {
		return nil, fmt.Errorf("translate: %w", err)
	}
	sc.tr = tr
	sc.back.add(tr.Shutdown) // waits for the disconnect deliveries
	// After translate.New: a bridge dials after on_connect and the
	// plugins accepted the socket. A bridge starts nothing before Attach,
	// so it has nothing to stop until then.
	for _, b := range bridged {
		if b.route.Pattern != nil {
			b.br.Attach(sio.OfPattern(b.route.Pattern))
		} else {
			b.br.Attach(sio.Of(b.route.Name))
		}
		sc.back.add(b.br.Shutdown)
	}
	if err := sc.newStreams(cfg, logger); err != nil {
		return nil, err
	}
	if cfg.API != nil {
		if err := sc.newAPI(cfg.API, logger); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

// bridgedNamespace is a route whose events go to a bridge.
type bridgedNamespace struct {
	route translate.Route
	br    *bridge.Bridge
}

// newRoutes maps each [[namespace]] block onto a translate route with its
// plugin chain and backend: a webhook client, a bridge, or both (the
// bridge carries the events; connect and disconnect deliveries still go to
// the webhook). The bridges are returned to be attached once the
// translator has registered its middleware.
func newRoutes(cfg *config.Config, logger *slog.Logger, tel *otelsdk.Telemetry, sio *socketio.Server, chains []*plugins.Chain) ([]translate.Route, []bridgedNamespace, error) {
	routes := make([]translate.Route, 0, len(cfg.Namespaces))
	// Bridges apply their backends' instructions to their namespaces,
	// with emit spans and counts as the translator's Executor.
	bridgeExec := translate.NewExecutor(sio).WithTelemetry(tel.TracerProvider(), tel.MeterProvider())
	var bridged []bridgedNamespace
	for i, n := range cfg.Namespaces {
		r := translate.Route{
			Name:       n.Name,
			Events:     n.Events,
			ErrorEvent: n.ErrorEvent,
			Timeout:    n.Timeout.Std(),
			OnConnect:  n.OnConnect,
			// 0 (the default) adapts the bound; config refuses negatives.
			Concurrency: n.WebhookConcurrency,
			Plugins:     chains[i],
		}
		if n.Pattern != "" {
			re, err := regexp.Compile(n.Pattern)
			if err != nil { // config has validated it; this is a guard
				return nil, nil, fmt.Errorf("namespace[%d].pattern: %w", i, err)
			}
			r.Pattern = re
		}
		if n.Webhook != "" {
			wh, err := webhook.New(webhook.Config{
				URL:       n.Webhook,
				Secret:    n.Secret,
				Timeout:   n.Timeout.Std(),
				Transport: webhookTransport(tel),
				Logger:    logger,
			})
			if err != nil { // config has validated the URL and secret; this is a guard
				return nil, nil, fmt.Errorf("namespace[%d].webhook: %w", i, err)
			}
			r.Backend = wh
		}
		if n.Bridge != "" {
			br, err := bridge.New(bridge.Config{
				URL:            n.Bridge,
				Executor:       bridgeExec,
				Webhook:        r.Backend,
				Timeout:        n.Timeout.Std(),
				ForwardHeaders: n.BridgeHeaders,
				// Bridges are pinged as the clients are.
				PingInterval:   cfg.Server.PingInterval.Std(),
				Logger:         logger,
				TracerProvider: tel.TracerProvider(),
			})
			if err != nil { // config has validated the URL; this is a guard
				return nil, nil, fmt.Errorf("namespace[%d].bridge: %w", i, err)
			}
			r.Backend = br
			bridged = append(bridged, bridgedNamespace{route: r, br: br})
		}
		routes = append(routes, r)
	}
	return routes, bridged, nil
}

// newAPI makes the control API from [api], opens its listener and adds
// the readiness checks of the streams and Redis.
func (sc *sidecar) newAPI(c *config.API, logger *slog.Logger) error {
	a, err := api.New(api.Config{
		Token:    c.Token,
		Server:   sc.sio,
		Executor: sc.tr.Executor(),
		Logger:   logger.With("component", "api"),
		// /metrics: the OpenTelemetry meter in the Prometheus format.
		Metrics:        sc.tel.MetricsHandler(),
		TracerProvider: sc.tel.TracerProvider(),
		Propagator:     sc.tel.Propagator(),
		MeterProvider:  sc.tel.MeterProvider(),
	})
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("api: listen on %s: %w", c.Listen, err)
	}
	sc.api, sc.apiLn = a, ln
	sc.front.add(a.Shutdown) // unwound first: backends stop emitting
	for _, st := range sc.streams {
		a.AddReadiness("stream "+st.Name(), st.Ready)
	}
	if sc.cluster != nil {
		a.AddReadiness("redis", func(context.Context) error { return sc.cluster.Ready() })
	}
	return nil
}

// newStreams makes a stream per namespace stream key and [[stream]]
// block; start starts them. A namespace block given by pattern has no
// single namespace: its stream's instructions must name theirs (or go to
// "/").
func (sc *sidecar) newStreams(cfg *config.Config, logger *slog.Logger) error {
	type spec struct{ key, name, url, namespace string }
	var specs []spec
	for i, n := range cfg.Namespaces {
		if n.Stream != "" {
			key := fmt.Sprintf("namespace[%d].stream", i)
			specs = append(specs, spec{key, key, n.Stream, n.Name})
		}
	}
	for i, st := range cfg.Streams {
		specs = append(specs, spec{fmt.Sprintf("stream[%d]", i), st.Name, st.URL, st.Namespace})
	}
	for _, sp := range specs {
		st, err := stream.New(stream.Config{
			Name:      sp.name,
			URL:       sp.url,
			Namespace: sp.namespace,
			Executor:  sc.tr.Executor(),
			Logger:    logger,
			// Reconnects and skipped messages, on /metrics.
			MeterProvider:  sc.tel.MeterProvider(),
			TracerProvider: sc.tel.TracerProvider(),
		})
		if err != nil { // config has validated the URL; this is a guard
			return fmt.Errorf("%s: %w", sp.key, err)
		}
		sc.streams = append(sc.streams, st)
		sc.front.add(st.Shutdown)
	}
	return nil
}

// startStreams connects the backend streams.
func (sc *sidecar) startStreams() {
	for _, st := range sc.streams {
		st.Start()
	}
}

// drain is the first step of a graceful shutdown: /readyz answers 503 and
// new Engine.IO connections are refused at once, so a load balancer sends
// new clients elsewhere; the sockets in place stay connected while the
// connect and event deliveries in flight (webhooks, streamed answers,
// bridge frames) finish and their acks and emits reach the clients. It
// leaves a quarter of timeout, at most 2s, to shutdown: the disconnects
// and their deliveries.
func (sc *sidecar) drain(ctx context.Context, timeout time.Duration, logger *slog.Logger) {
	if sc.api != nil {
		sc.api.Drain()
	}
	sc.sio.Drain()
	if sc.tr == nil {
		return
	}
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, timeout-min(timeout/4, 2*time.Second))
	defer cancel()
	if n := sc.tr.Drain(dctx); n > 0 {
		logger.Warn("shutdown: deliveries still in flight at the drain bound; their sockets are disconnected with them under way",
			"in_flight", n, "waited", time.Since(start).Round(time.Millisecond).String())
		return
	}
	logger.Info("shutdown: deliveries in flight finished", "took", time.Since(start).Round(time.Millisecond).String())
}

// shutdown stops the parts in order, unwinding front then back: the API
// and the streams first (backends stop emitting), then the sockets (each
// gets its disconnect delivery under way, each bridge its close frame),
// then forwarding and the Redis adapter, then the bridges, then the
// translator (waits for those deliveries), then the plugins, then
// telemetry (the spans of the shutdown are flushed). It stops only what
// was built, and each part once.
func (sc *sidecar) shutdown(ctx context.Context) error {
	return errors.Join(sc.front.unwind(ctx), sc.back.unwind(ctx))
}

// startForward registers this node for sticky-free polling, at
// adapter.advertise or, by default, at the Socket.IO listener's address
// (its real port when server.listen asks for port 0).
func (sc *sidecar) startForward(ln net.Listener) error {
	if sc.fwd.URL() == "" {
		if err := sc.fwd.SetURL(listenURL(ln.Addr())); err != nil {
			return fmt.Errorf("adapter.advertise: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return sc.fwd.Start(ctx)
}

// serve runs the sidecar until ctx is done, then shuts down gracefully.
// With demoMode it also serves the demo page and runs the example backend.
func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger, demoMode bool) error {
	if bad := unsupported(cfg); len(bad) > 0 {
		return fmt.Errorf("the configuration needs what this build lacks:\n  %s", strings.Join(bad, "\n  "))
	}
	for _, what := range notYet(cfg) {
		logger.Warn("configured but not served by this build yet", "what", what)
	}
	var demoBackend *demo.Backend
	if demoMode {
		var err error
		if demoBackend, err = demo.ListenBackend(cfg); err != nil {
			return err
		}
	}
	sc, err := newSidecar(cfg, logger)
	if err != nil {
		if demoBackend != nil {
			demoBackend.Close()
		}
		return err
	}
	// started are the stops of what serve starts after the sidecar;
	// fail stops the sidecar, then them, on an early return.
	var started cleanups
	fail := func(err error) error {
		sc.shutdown(context.Background())
		started.unwind(context.Background())
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(cfg.Server.Path, sc.sio)
	stopDemo := func() {}
	if demoMode {
		var apiURL, token string
		if sc.apiLn != nil && cfg.API != nil {
			apiURL, token = strings.TrimSuffix(listenURL(sc.apiLn.Addr()), "/"), cfg.API.Token
		}
		if stopDemo, err = demoBackend.Start(mux, cfg.Server.Path, apiURL, token, logger); err != nil {
			return fail(err)
		}
	}
	defer stopDemo() // after the sidecar: its disconnect deliveries reach the backend

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fail(fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err))
	}
	started.add(func(context.Context) error { return ln.Close() }) // until srv serves it
	edge, err := newEdgeTLS(cfg.TLS, ln, logger)
	if err != nil {
		return fail(err)
	}
	if edge != nil {
		started.add(edge.Shutdown) // a no-op after the graceful one below
	}
	if sc.fwd != nil {
		if err := sc.startForward(ln); err != nil {
			return fail(err)
		}
	}
	scheme := "http"
	if edge != nil {
		ln, scheme = edge.Listener(ln), "https"
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	started.add(func(context.Context) error { return srv.Close() })
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("listening", "url", scheme+strings.TrimPrefix(listenURL(ln.Addr()), "http"), "path", cfg.Server.Path, "version", version)
	if edge != nil {
		if err := edge.Start(); err != nil {
			return fail(err)
		}
	}
	sc.startStreams()
	if sc.api != nil {
		go func() {
			if err := sc.api.Serve(sc.apiLn); err != nil {
				errc <- fmt.Errorf("api: %w", err)
			}
		}()
		logger.Info("control API listening", "url", listenURL(sc.apiLn.Addr()))
	}
	if demoMode {
		logger.Info("demo: open the page in a browser", "url", listenURL(ln.Addr()))
	}

	select {
	case err := <-errc:
		return fail(fmt.Errorf("serve: %w", err))
	case <-ctx.Done():
	}
	timeout := time.Duration(cfg.Server.ShutdownTimeout)
	logger.Info("shutting down", "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Drain first: the HTTP server keeps serving the connections in place
	// (polling requests, the API) while the deliveries in flight finish.
	sc.drain(sctx, timeout, logger)
	// Then the sidecar's sockets (they are told the server is shutting
	// down), then HTTP: WebSocket connections are hijacked, so
	// http.Server.Shutdown does not wait for them.
	scErr := sc.shutdown(sctx)
	srvErr := srv.Shutdown(sctx)
	var tlsErr error
	if edge != nil {
		tlsErr = edge.Shutdown(sctx)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	if err := errors.Join(scErr, srvErr, tlsErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// listenURL is the base URL for a listener's address; an unspecified host
// (":8080") is shown as 127.0.0.1, where it can be opened.
func listenURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
