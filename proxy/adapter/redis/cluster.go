// This file is the Cluster: opening the connections, the subscriber's
// receive loop, health, and the channel routing table. It is one piece
// because subscribe, unsubscribe and the receive loop share the routes
// table and its refcounts, and health decides what the loops do. The
// publish queue is in publish.go.

package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// Modes.
const (
	ModeClassic = "classic"
	ModeSharded = "sharded"
	// ModeStreams is @socket.io/redis-streams-adapter 0.3's protocol:
	// ClusterAdapter messages that must reach every node (broadcasts
	// without ack, remote joins, leaves and disconnects) are XADDed to a
	// Redis stream read by every node, the others PUBLISHed; with
	// connection state recovery, offsets are stream entry ids and sessions
	// live in Redis, so a client recovers on any node.
	ModeStreams = "streams"
)

// Subscription modes of the sharded adapter, as createShardedAdapter's
// subscriptionMode.
const (
	SubscribeStatic         = "static"
	SubscribeDynamic        = "dynamic"
	SubscribeDynamicPrivate = "dynamic-private"
)

// Defaults.
const (
	DefaultKeyPrefix      = "socket.io"
	DefaultRequestTimeout = 5 * time.Second
	// DefaultPublishQueue bounds the messages waiting to be published.
	DefaultPublishQueue = 10000
	// DefaultMaxMessageBytes bounds a message received from Redis.
	DefaultMaxMessageBytes = 16 << 20
	// DefaultStreamMaxLen is the streams mode's MAXLEN ~ bound, as the
	// streams adapter's maxLen.
	DefaultStreamMaxLen = 10000
	// StreamReaderName is the CLIENT SETNAME of the streams mode's reading
	// connection, as CLIENT LIST shows it.
	StreamReaderName = "iobridge-stream-reader"
	// DefaultSessionKeyPrefix is the streams adapter's sessionKeyPrefix.
	DefaultSessionKeyPrefix = "sio:session:"
)

// Errors.
var (
	// ErrTimeout is returned by a query to other nodes that did not get
	// every answer in time.
	// It wraps socketio.ErrRemoteTimeout.
	ErrTimeout = fmt.Errorf("redis: timeout reached: %w", socketio.ErrRemoteTimeout)
	// ErrUnavailable wraps what is wrong while Redis cannot be reached.
	ErrUnavailable = errors.New("redis: unavailable")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("redis: adapter closed")
)

// Config configures a Cluster.
type Config struct {
	// URL is redis://[user:password@]host:port/db or rediss:// for TLS.
	URL string
	// KeyPrefix is the channel prefix, as the Node adapters' key and
	// channelPrefix ("socket.io" when empty).
	KeyPrefix string
	// Mode is ModeClassic (default), ModeSharded or ModeStreams.
	Mode string
	// StreamMaxLen is the streams mode's approximate bound on the stream's
	// length (XADD MAXLEN ~); DefaultStreamMaxLen when zero. A client
	// away longer than the stream holds what it missed cannot recover (it
	// gets a new session).
	StreamMaxLen int64
	// StreamCount is the number of streams, as the streams adapter's
	// streamCount: with more than one, a namespace's stream is
	// KeyPrefix-<hashCode(namespace) % StreamCount>, as Node computes it.
	// Zero means 1 (the stream is named KeyPrefix). Every node of a
	// cluster must use the same.
	StreamCount int
	// SubscriptionMode is the sharded adapter's: SubscribeDynamic
	// (default), SubscribeStatic or SubscribeDynamicPrivate. Every node of
	// a cluster must use the same.
	SubscriptionMode string
	// RequestTimeout bounds queries to other nodes (fetch sockets, all
	// rooms); DefaultRequestTimeout when zero.
	RequestTimeout time.Duration
	// PublishQueue bounds the messages waiting to be published
	// (DefaultPublishQueue when zero). At the bound, a broadcast is
	// delivered to this node's sockets but not published: it is counted
	// as dropped and logged.
	PublishQueue int
	// MaxMessageBytes bounds a message received from Redis
	// (DefaultMaxMessageBytes when zero); a larger one is dropped and
	// logged.
	MaxMessageBytes int
	// Memory tunes the local, in-memory part of each namespace's adapter.
	Memory adapter.Options
	// Logger receives the adapter's logs; nil means slog.Default().
	Logger *slog.Logger
	// MeterProvider receives the adapter's metrics; nil means none.
	MeterProvider metric.MeterProvider
}

// Cluster is one process's membership of a Redis cluster: the connections
// and goroutines every namespace adapter shares. It is safe for concurrent
// use.
type Cluster struct {
	cfg Config
	log *slog.Logger
	rdb *goredis.Client
	ps  *goredis.PubSub
	met *metrics

	queue   chan outgoing
	pending atomic.Int64 // queued or being sent
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closed  atomic.Bool

	// readers are the streams mode's dedicated connections, one per
	// stream read (XREAD BLOCK), by stream key; ropts makes them.
	readerMu sync.Mutex
	readers  map[string]*goredis.Client
	ropts    *goredis.Options

	mu sync.RWMutex
	// routes are the namespace adapters listening on each channel or
	// pattern: one in a process serving each namespace once, more while a
	// namespace is made anew before the old one is closed.
	routes map[string][]route

	// claims are the streams mode's sessions this node persisted, claimed
	// at the end of their window to report them lapsed (expiry.go).
	claims claims

	state    atomic.Pointer[redisState]
	failures atomic.Int64 // publishes lost since the last log line
	everUp   atomic.Bool
	dropped  atomic.Int64
}

type redisState struct {
	err   error // nil when Redis answers
	since time.Time
}

// outgoing is one message to publish: PUBLISH or SPUBLISH payload on
// channel, or (fields set) XADD fields to the stream named channel (reply,
// when set, gets the entry id or the error).
type outgoing struct {
	channel string
	payload []byte
	sharded bool
	fields  []any
	reply   chan xaddResult
}

type xaddResult struct {
	id  string
	err error
}

// route says which namespace adapter gets what arrives on a channel.
type route struct {
	h    handler
	kind int
}

// handler is a namespace adapter receiving from Redis.
type handler interface {
	receive(kind int, channel string, payload []byte)
}

// Open connects to Redis and starts the publisher, the subscriber and the
// health check. Redis need not be up: the connections are retried until
// Close, and Ready reports the state. It fails only on a bad Config.
func Open(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultKeyPrefix
	}
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeClassic
	case ModeClassic, ModeSharded, ModeStreams:
	default:
		return nil, fmt.Errorf("redis: mode %q is not %q, %q or %q", cfg.Mode, ModeClassic, ModeSharded, ModeStreams)
	}
	if cfg.StreamMaxLen <= 0 {
		cfg.StreamMaxLen = DefaultStreamMaxLen
	}
	if cfg.StreamCount <= 0 {
		cfg.StreamCount = 1
	}
	switch cfg.SubscriptionMode {
	case "":
		cfg.SubscriptionMode = SubscribeDynamic
	case SubscribeStatic, SubscribeDynamic, SubscribeDynamicPrivate:
	default:
		return nil, fmt.Errorf("redis: subscription mode %q is not static, dynamic or dynamic-private", cfg.SubscriptionMode)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.PublishQueue <= 0 {
		cfg.PublishQueue = DefaultPublishQueue
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MeterProvider == nil {
		cfg.MeterProvider = noop.NewMeterProvider()
	}
	libraryLogs.Do(func() { goredis.SetLogger(debugLogger{cfg.Logger}) })
	opts, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis: url: %w", err)
	}
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = 3 * time.Second
	opts.WriteTimeout = 3 * time.Second
	// No CLIENT SETINFO: older servers answer it with an error.
	opts.DisableIdentity = true
	c := &Cluster{
		cfg:    cfg,
		log:    cfg.Logger.With("adapter", "redis", "mode", cfg.Mode),
		rdb:    goredis.NewClient(opts),
		queue:  make(chan outgoing, cfg.PublishQueue),
		routes: make(map[string][]route),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.state.Store(&redisState{err: fmt.Errorf("%w: not connected yet", ErrUnavailable), since: time.Now()})
	if c.met, err = newMetrics(cfg.MeterProvider, c); err != nil {
		return nil, err
	}
	c.ps = c.rdb.Subscribe(c.ctx)
	c.checkHealth(ctx)
	if cfg.Mode == ModeStreams {
		ropts := *opts
		ropts.PoolSize = 1
		ropts.MinIdleConns = 0
		ropts.ClientName = StreamReaderName
		c.ropts = &ropts
		c.readers = make(map[string]*goredis.Client)
		if cfg.StreamCount == 1 {
			c.read(ctx, cfg.KeyPrefix)
		} else {
			for i := range cfg.StreamCount {
				c.read(ctx, cfg.KeyPrefix+"-"+strconv.Itoa(i))
			}
		}
	}
	msgs := c.ps.ChannelWithSubscriptions(
		goredis.WithChannelSize(1024),
		goredis.WithChannelHealthCheckInterval(time.Second),
		goredis.WithChannelSendTimeout(time.Hour),
	)
	c.wg.Add(3)
	go c.publishLoop()
	go c.receiveLoop(msgs)
	go c.healthLoop()
	return c, nil
}

// libraryLogs routes go-redis's own logs (one line per failed dial while
// Redis is down) to the first Cluster's logger at debug level: the
// Cluster logs each outage itself, once.
var libraryLogs sync.Once

type debugLogger struct{ log *slog.Logger }

func (l debugLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// Factory returns the AdapterFactory making each namespace's adapter.
func (c *Cluster) Factory() socketio.AdapterFactory {
	return func(nsp *socketio.Namespace) socketio.Adapter {
		if c.cfg.Mode == ModeSharded || c.cfg.Mode == ModeStreams {
			return newSharded(c, nsp)
		}
		return newClassic(c, nsp)
	}
}

// Ready returns nil while Redis answers, else what is wrong. While Redis
// is down, each node serves its own sockets only.
func (c *Cluster) Ready() error {
	if c.closed.Load() {
		return ErrClosed
	}
	return c.state.Load().err
}

// Close stops the goroutines and closes the connections. Messages still
// queued are published first, for at most a second.
func (c *Cluster) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	deadline := time.Now().Add(time.Second)
	for c.pending.Load() > 0 && time.Now().Before(deadline) && c.state.Load().err == nil {
		time.Sleep(5 * time.Millisecond)
	}
	c.claims.stop()
	c.cancel()
	err := c.ps.Close()
	c.readerMu.Lock()
	for _, r := range c.readers {
		err = errors.Join(err, r.Close())
	}
	c.readerMu.Unlock()
	c.wg.Wait()
	c.met.unregister()
	return errors.Join(err, c.rdb.Close())
}

// receiveLoop hands every message to its namespace adapter, in arrival
// order.
func (c *Cluster) receiveLoop(msgs <-chan any) {
	defer c.wg.Done()
	for {
		var x any
		select {
		case <-c.ctx.Done():
			return
		case x = <-msgs:
		}
		switch m := x.(type) {
		case *goredis.Message:
			c.met.received.Add(c.ctx, 1)
			key := m.Channel
			if m.Pattern != "" {
				key = m.Pattern
			}
			c.mu.RLock()
			rs := c.routes[key]
			c.mu.RUnlock()
			if len(rs) == 0 {
				continue
			}
			if len(m.Payload) > c.cfg.MaxMessageBytes {
				c.log.Warn("redis: message over the size bound dropped", "channel", m.Channel, "bytes", len(m.Payload), "bound", c.cfg.MaxMessageBytes)
				continue
			}
			payload := []byte(m.Payload)
			for _, r := range rs {
				r.h.receive(r.kind, m.Channel, payload)
			}
		case *goredis.Subscription:
			c.log.Debug("redis: subscribed", "kind", m.Kind, "channel", m.Channel, "count", m.Count)
		}
	}
}

// healthLoop pings Redis every second and logs state changes, with the
// publishes lost while it was down.
func (c *Cluster) healthLoop() {
	defer c.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.checkHealth(c.ctx)
			if n := c.dropped.Swap(0); n > 1 {
				c.log.Warn("redis: publish queue was full, messages delivered on this node only", "dropped", n)
			}
		}
	}
}

func (c *Cluster) checkHealth(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c.setState(c.rdb.Ping(ctx).Err())
}

// setState records whether Redis answers, logging each change once.
func (c *Cluster) setState(err error) {
	if c.closed.Load() && err != nil {
		return
	}
	old := c.state.Load()
	if (old.err == nil) == (err == nil) {
		return
	}
	next := &redisState{since: time.Now()}
	if err != nil {
		next.err = fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if !c.state.CompareAndSwap(old, next) {
		return
	}
	if err != nil {
		c.log.Error("redis: unreachable; sockets of this node are served, nothing reaches other nodes until it is back", "err", err)
		return
	}
	lost := c.failures.Swap(0)
	if !c.everUp.Swap(true) {
		c.log.Info("redis: connected")
		return
	}
	c.log.Info("redis: connected again", "down_for", time.Since(old.since).Round(time.Millisecond).String(), "publishes_lost", lost)
}

// subscribe adds channels (or patterns) to the subscriber connection and
// routes them to h. A failure is logged: the subscriber subscribes again
// when it reconnects.
func (c *Cluster) subscribe(kind string, h handler, routes map[string]int) {
	names := make([]string, 0, len(routes))
	c.mu.Lock()
	for ch, k := range routes {
		rs := c.routes[ch]
		if slices.ContainsFunc(rs, func(r route) bool { return r.h == h }) {
			continue
		}
		if len(rs) == 0 {
			names = append(names, ch)
		}
		c.routes[ch] = append(rs, route{h: h, kind: k})
	}
	c.mu.Unlock()
	if len(names) == 0 {
		return
	}
	if err := c.pubsub(kind, true, names); err != nil && !c.closed.Load() {
		c.log.Warn("redis: subscribing failed, retried on reconnect", "channels", strings.Join(names, " "), "err", err)
	}
}

// unsubscribe removes h from channels (or patterns), and leaves those it
// was the last on.
func (c *Cluster) unsubscribe(kind string, h handler, channels ...string) {
	var names []string
	c.mu.Lock()
	for _, ch := range channels {
		rs := slices.DeleteFunc(slices.Clone(c.routes[ch]), func(r route) bool { return r.h == h })
		if len(rs) == 0 {
			if _, ok := c.routes[ch]; ok {
				names = append(names, ch)
			}
			delete(c.routes, ch)
		} else {
			c.routes[ch] = rs
		}
	}
	c.mu.Unlock()
	if c.closed.Load() || len(names) == 0 {
		return
	}
	if err := c.pubsub(kind, false, names); err != nil {
		c.log.Debug("redis: unsubscribing failed", "channels", strings.Join(names, " "), "err", err)
	}
}

// unsubscribeAll removes h from every channel it is on, leaving those it
// was the last on: a closing adapter whose channels came and went with its
// rooms leaves whatever it holds, whichever rooms it knows of.
func (c *Cluster) unsubscribeAll(kind string, h handler) {
	c.mu.RLock()
	var channels []string
	for ch, rs := range c.routes {
		if slices.ContainsFunc(rs, func(r route) bool { return r.h == h }) {
			channels = append(channels, ch)
		}
	}
	c.mu.RUnlock()
	c.unsubscribe(kind, h, channels...)
}

// pubsub subscribes to (on) or leaves names: channels, patterns
// ("psubscribe") or shard channels ("ssubscribe").
func (c *Cluster) pubsub(kind string, on bool, names []string) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.RequestTimeout)
	defer cancel()
	type op func(context.Context, ...string) error
	ops := map[string][2]op{
		"psubscribe": {c.ps.PUnsubscribe, c.ps.PSubscribe},
		"ssubscribe": {c.ps.SUnsubscribe, c.ps.SSubscribe},
		"subscribe":  {c.ps.Unsubscribe, c.ps.Subscribe},
	}[kind]
	if on {
		return ops[1](ctx, names...)
	}
	return ops[0](ctx, names...)
}

// numSub returns the number of subscribers of channel (shard channel when
// sharded): the number of nodes serving the namespace, this one included.
// While Redis is down it is 1: this node alone.
func (c *Cluster) numSub(ctx context.Context, channel string, sharded bool) int {
	if c.state.Load().err != nil {
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	var (
		m   map[string]int64
		err error
	)
	if sharded {
		m, err = c.rdb.PubSubShardNumSub(ctx, channel).Result()
	} else {
		m, err = c.rdb.PubSubNumSub(ctx, channel).Result()
	}
	if err != nil {
		c.setState(err)
		return 1
	}
	if n := int(m[channel]); n > 1 {
		return n
	}
	return 1
}
