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
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/iobridge/iobridge/config"
	"github.com/iobridge/iobridge/examples/demo"
	"github.com/iobridge/iobridge/internal/gctune"
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
	mux.Handle(cfg.Server.Path, sc.handler)
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
