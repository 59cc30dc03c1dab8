package main

// This file builds the sidecar from the configuration and stops it: the
// Socket.IO server, the adapter, the routes and their backends, the
// translator, the streams and the control API. main.go has the command
// around it.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/iobridge/iobridge/config"
	"github.com/iobridge/iobridge/internal/clientbundle"
	"github.com/iobridge/iobridge/plugins"
	"github.com/iobridge/iobridge/proxy/adapter"
	redisadapter "github.com/iobridge/iobridge/proxy/adapter/redis"
	"github.com/iobridge/iobridge/proxy/adminui"
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
		UpgradeTimeout:    s.UpgradeTimeout.Std(),
		Transports:        s.Transports,
		DisableUpgrades:   !s.AllowUpgrades,
		Cookie:            engineCookie(s.Cookie),
		HTTPCompression:   s.HTTPCompression,
		PerMessageDeflate: s.PerMessageDeflate,
		Logger:            logger,
	}
}

// engineCookie maps [server.cookie] onto Engine.IO's cookie; nil without
// the table, as the reference without its cookie option.
func engineCookie(c *config.Cookie) *engineio.Cookie {
	if c == nil {
		return nil
	}
	sameSite := map[string]http.SameSite{
		"lax": http.SameSiteLaxMode, "strict": http.SameSiteStrictMode, "none": http.SameSiteNoneMode,
	}[c.SameSite]
	return &engineio.Cookie{Name: c.Name, Path: c.Path, HTTPOnly: c.HTTPOnly, SameSite: sameSite}
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
	sio *socketio.Server
	// handler serves server.path: sio, behind the client builds when
	// serve_client is on.
	handler http.Handler
	tr      *translate.Translator
	api     *api.API // nil without [api]
	apiLn   net.Listener
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
	parser, err := socketio.ParserByName(cfg.Server.Parser)
	if err != nil { // config has validated parser; this is a guard
		return nil, fmt.Errorf("server.parser: %w", err)
	}
	sio := socketio.NewServer(socketio.Config{
		Engine:                      ecfg,
		Adapter:                     factory,
		ConnectTimeout:              cfg.Server.ConnectTimeout.Std(),
		Recovery:                    cfg.Server.Recovery.Std(),
		Parser:                      parser,
		CleanupEmptyChildNamespaces: cfg.Server.CleanupEmptyChildNamespaces,
		Logger:                      logger,
	})
	sc.sio, sc.handler = sio, sio
	if cfg.Server.ServeClient {
		// Before Engine.IO sees the request, behind the same CORS
		// handling, as the reference's serveClient.
		sc.handler = clientbundle.Wrap(cfg.Server.Path, sio, engineio.CORS(ecfg))
	}
	if a := cfg.AdminUI; a != nil {
		stop, err := adminui.Instrument(context.Background(), sio, adminui.Config{
			Namespace:    a.Namespace,
			Username:     a.Username,
			PasswordHash: a.Password,
			ReadOnly:     a.ReadOnly,
			Mode:         a.Mode,
			ServerID:     a.ServerID,
			Logger:       logger,
		})
		if err != nil {
			return nil, fmt.Errorf("admin_ui: %w", err)
		}
		sc.front.add(func(context.Context) error { stop(); return nil })
	}
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
				URL:     n.Webhook,
				Secret:  n.Secret,
				Timeout: n.Timeout.Std(),
				Logger:  logger,
				// A client span per attempt, made inside the client on
				// the route it takes with tracing off too; nil when
				// tracing is off.
				TracerProvider: tel.TracerProvider(),
				Propagator:     tel.Propagator(),
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
