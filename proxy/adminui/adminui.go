package adminui

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// Features the UI knows (the package's Feature enum).
const (
	featureEmit             = "EMIT"
	featureJoin             = "JOIN"
	featureLeave            = "LEAVE"
	featureDisconnect       = "DISCONNECT"
	featureMJoin            = "MJOIN"
	featureMLeave           = "MLEAVE"
	featureMDisconnect      = "MDISCONNECT"
	featureAggregatedEvents = "AGGREGATED_EVENTS"
	featureAllEvents        = "ALL_EVENTS"
)

// queryTimeout bounds a fetch or a command that goes through the
// adapter to the other nodes.
const queryTimeout = 10 * time.Second

// processStart stands for the process start, for server_stats' uptime.
var processStart = time.Now()

// ui is one instrumented server.
type ui struct {
	cfg      Config
	srv      *socketio.Server
	nsp      *socketio.Namespace
	log      *slog.Logger
	dev      bool
	features []string
	hostname string // read once, as the package's baseStats

	events   eventBuffer
	obs      *observer
	out      *emitter
	sessions sessions

	ctx     context.Context
	cancel  context.CancelFunc
	stopped atomic.Bool
	wg      sync.WaitGroup
}

// Instrument serves the admin UI protocol on srv, as the package's
// instrument(io, opts): it creates cfg.Namespace with its authentication
// middleware, installs srv's Observer (one per server: a second
// Instrument replaces the first one's) and broadcasts server_stats every
// 2 s until ctx ends or stop is called. stop refuses new admin sockets,
// disconnects this node's, removes the Observer and waits for the
// package's goroutines; it may be called more than once.
func Instrument(ctx context.Context, srv *socketio.Server, cfg Config) (stop func(), err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	u := &ui{
		cfg: cfg,
		srv: srv,
		nsp: srv.Of(cfg.Namespace),
		log: cfg.Logger.With("component", "adminui"),
		dev: cfg.Mode == ModeDevelopment,

		hostname: hostname(),
	}
	u.features = features(cfg)
	u.ctx, u.cancel = context.WithCancel(context.WithoutCancel(ctx))
	u.out = newEmitter(u.nsp, u.log)
	u.obs = newObserver(u)
	u.nsp.Use(u.authenticate)
	u.nsp.OnConnection(u.onConnection)
	srv.SetObserver(u.obs)
	u.wg.Add(1)
	go u.statsLoop()
	var once sync.Once
	stop = func() { once.Do(u.stop) }
	go func() {
		select {
		case <-ctx.Done():
			stop()
		case <-u.ctx.Done():
		}
	}()
	u.log.Info("adminui: serving the admin UI", "namespace", cfg.Namespace, "mode", cfg.Mode, "read_only", cfg.ReadOnly, "server_id", cfg.ServerID)
	return stop, nil
}

// features are the config event's supportedFeatures: the commands unless
// read-only, the aggregated events always, every event in development.
func features(cfg Config) []string {
	var f []string
	if !cfg.ReadOnly {
		f = append(f, featureEmit, featureJoin, featureLeave, featureDisconnect, featureMJoin, featureMLeave, featureMDisconnect)
	}
	f = append(f, featureAggregatedEvents)
	if cfg.Mode == ModeDevelopment {
		f = append(f, featureAllEvents)
	}
	return f
}

func (u *ui) stop() {
	u.stopped.Store(true)
	u.cancel()
	u.srv.SetObserver(nil)
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	_ = u.nsp.Local().DisconnectSockets(ctx, false)
	u.wg.Wait()
	u.out.stop()
}

// onConnection greets an admin socket: its session id after a login,
// the config, and in development mode every socket of the cluster.
func (u *ui) onConnection(s *socketio.Socket) {
	if id, ok := u.sessions.takeIssued(s); ok {
		_ = s.Emit("session", []json.RawMessage{mustJSON(id)}, nil)
	}
	if !u.cfg.ReadOnly {
		u.registerCommands(s)
	}
	_ = s.Emit("config", []json.RawMessage{mustJSON(map[string][]string{"supportedFeatures": u.features})}, nil)
	if !u.dev || u.stopped.Load() {
		return
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		sockets := u.allSockets()
		_ = s.Emit("all_sockets", []json.RawMessage{mustJSON(sockets)}, nil)
	}()
}

// allSockets describes every socket of every namespace, across the
// cluster when the adapter is distributed (the package's
// fetchAllSockets).
func (u *ui) allSockets() []serializedSocket {
	ctx, cancel := context.WithTimeout(u.ctx, queryTimeout)
	defer cancel()
	out := []serializedSocket{}
	for _, n := range sortedNamespaces(u.srv) {
		infos, err := n.FetchSockets(ctx)
		if err != nil {
			u.log.Warn("adminui: fetching sockets failed", "namespace", n.Name(), "err", err)
		}
		for _, info := range infos {
			if s := n.Socket(info.ID); s != nil {
				out = append(out, serializeLocal(s))
			} else {
				out = append(out, serializeInfo(info, n.Name()))
			}
		}
	}
	return out
}

// sortedNamespaces lists srv's namespaces by name ("/" first).
func sortedNamespaces(srv *socketio.Server) []*socketio.Namespace {
	nsps := srv.Namespaces()
	slices.SortFunc(nsps, func(a, b *socketio.Namespace) int { return strings.Compare(a.Name(), b.Name()) })
	return nsps
}

// serverStats is server_stats' payload, fields in the package's order.
type serverStats struct {
	ServerID            string            `json:"serverId"`
	Hostname            string            `json:"hostname"`
	PID                 int               `json:"pid"`
	Uptime              float64           `json:"uptime"`
	ClientsCount        int               `json:"clientsCount"`
	PollingClientsCount int               `json:"pollingClientsCount"`
	AggregatedEvents    []aggregatedEvent `json:"aggregatedEvents"`
	Namespaces          []namespaceStats  `json:"namespaces"`
}

type namespaceStats struct {
	Name         string `json:"name"`
	SocketsCount int    `json:"socketsCount"`
}

// statsLoop broadcasts server_stats at once and then every interval.
func (u *ui) statsLoop() {
	defer u.wg.Done()
	t := time.NewTicker(u.cfg.interval)
	defer t.Stop()
	for {
		u.emitStats()
		select {
		case <-u.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (u *ui) emitStats() {
	st := serverStats{
		ServerID:            u.cfg.ServerID,
		Hostname:            u.hostname,
		PID:                 os.Getpid(),
		Uptime:              time.Since(processStart).Seconds(),
		ClientsCount:        u.srv.Clients(),
		PollingClientsCount: u.obs.pollingCount(),
		AggregatedEvents:    u.events.take(time.Now()),
		Namespaces:          []namespaceStats{},
	}
	for _, n := range sortedNamespaces(u.srv) {
		st.Namespaces = append(st.Namespaces, namespaceStats{Name: n.Name(), SocketsCount: n.Len()})
	}
	u.out.emit("server_stats", nil, mustJSON(st))
}
