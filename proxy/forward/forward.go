package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/iobridge/iobridge/proxy/engineio"
)

// HopHeader marks a forwarded request; its value is the forwarding node's
// id. A request with it is never forwarded again.
const HopHeader = "X-Iobridge-Forwarded"

// Defaults applied to zero Config fields.
const (
	DefaultTTL         = 15 * time.Second
	DefaultDialTimeout = time.Second
	// DefaultIdleConns bounds the kept-alive connections to each other
	// node. A parked polling GET holds one for up to ping_interval, so a
	// node forwarding for many polling clients needs many.
	DefaultIdleConns = 1024
)

const (
	// cacheFor is how long a node's URL is used before it is read again
	// (in the background; the old one serves meanwhile).
	cacheFor = 5 * time.Second
	// missFor is how long "no node holds this id" is remembered.
	missFor = time.Second
	// downFor is how long after a failed dial a node's requests are
	// answered as unknown sids at once, without dialing.
	downFor = time.Second
	// lookupTimeout bounds a registry read on a request's path.
	lookupTimeout = time.Second
	// maxMisses bounds the cache; past it the misses are forgotten
	// (random sids from clients must not grow it).
	maxMisses = 4096
)

// copyBuffers lends the reverse proxies their copy buffers: without it
// each forwarded request allocates 32 KiB. Polling payloads are mostly
// small; a larger one is copied in several reads.
var copyBuffers = &bufferPool{}

type bufferPool struct{ p sync.Pool }

const copyBufferSize = 8 << 10

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, copyBufferSize)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != copyBufferSize {
		return
	}
	buf = buf[:copyBufferSize]
	b.p.Put(&buf)
}

// Registry is where nodes find each other: node id → the base URL other
// nodes reach it at. Implementations are safe for concurrent use; every
// method blocks for at most ctx's deadline.
type Registry interface {
	// Register records id → url for ttl unless another URL holds id;
	// then it returns ErrTaken. Registering again with the same URL
	// extends the ttl (it is how a node refreshes its entry).
	Register(ctx context.Context, id, url string, ttl time.Duration) error
	// Lookup returns id's URL, or "" and a nil error when no node holds
	// id.
	Lookup(ctx context.Context, id string) (string, error)
	// Unregister removes id if it still holds url.
	Unregister(ctx context.Context, id, url string) error
}

// ErrTaken is returned by Registry.Register when another node holds the
// id.
var ErrTaken = errors.New("forward: node id taken by another node")

// Config configures a Proxy.
type Config struct {
	// URL is this node's base URL as other nodes reach it, such as
	// "http://10.0.0.5:8080" (the Engine.IO path is the request's). It
	// may be set later, before Start, with SetURL.
	URL string
	// Registry is where the nodes register (required).
	Registry Registry
	// TTL is how long a registration lasts unless refreshed; the node
	// refreshes it every TTL/3. A killed node's sids are answered as
	// unknown at once while its registration lives (its dials fail), and
	// without a dial once it lapses. Zero means DefaultTTL.
	TTL time.Duration
	// DialTimeout bounds a dial to another node; past it the request is
	// answered as an unknown sid. Zero means DefaultDialTimeout.
	DialTimeout time.Duration
	// IdleConns bounds the idle kept-alive connections to each other
	// node. Zero means DefaultIdleConns.
	IdleConns int
	// Transport, if set, replaces the pooled transport built from
	// DialTimeout and IdleConns (tests, TLS settings).
	Transport http.RoundTripper
	// Logger receives the logs; nil means slog.Default().
	Logger *slog.Logger
	// MeterProvider receives the counts of Stats as
	// iobridge.forward.requests and iobridge.forward.failed, read at
	// each collection (nothing per request); nil means none.
	MeterProvider metric.MeterProvider
}

// Proxy forwards Engine.IO requests to the nodes owning their sessions and
// keeps this node registered. It is safe for concurrent use.
type Proxy struct {
	cfg       Config
	id        string
	log       *slog.Logger
	transport http.RoundTripper

	url atomic.Pointer[string]

	mu    sync.Mutex
	nodes map[string]*node // by node id: found, or a miss (target nil)

	forwarded, failed atomic.Uint64

	runMu sync.Mutex
	stop  context.CancelFunc // nil unless running
	done  chan struct{}

	metrics metric.Registration // nil without a MeterProvider
}

// node is a cache entry: another node's URL and its reverse proxy.
type node struct {
	id     string
	target *url.URL // nil: no node holds the id
	rp     *httputil.ReverseProxy
	// expires (unix nanos) is when the entry is read again; a
	// background refresh moves it while requests read it.
	expires atomic.Int64
	// refreshing is set while a background lookup runs.
	refreshing atomic.Bool
	// downUntil (unix nanos) is set by a failed dial.
	downUntil atomic.Int64
	// warned is set once the node's unreachability was logged, and
	// cleared by a forwarded request that got an answer.
	warned atomic.Bool
}

// New returns a Proxy with a fresh node id (ID), not yet registered.
func New(cfg Config) (*Proxy, error) {
	if cfg.Registry == nil {
		return nil, errors.New("forward: Config.Registry is required")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.IdleConns <= 0 {
		cfg.IdleConns = DefaultIdleConns
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Proxy{
		cfg:   cfg,
		id:    engineio.NewNodeID(),
		log:   cfg.Logger,
		nodes: make(map[string]*node),
		done:  make(chan struct{}),
	}
	if cfg.URL != "" {
		if err := p.SetURL(cfg.URL); err != nil {
			return nil, err
		}
	}
	if cfg.MeterProvider != nil {
		if err := p.registerMetrics(cfg.MeterProvider); err != nil {
			return nil, err
		}
	}
	p.transport = cfg.Transport
	if p.transport == nil {
		p.transport = &http.Transport{
			Proxy: nil, // node to node: never through HTTP_PROXY
			DialContext: (&net.Dialer{
				Timeout:   cfg.DialTimeout,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			MaxIdleConnsPerHost: cfg.IdleConns,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 5 * time.Second,
		}
	}
	return p, nil
}

func (p *Proxy) registerMetrics(mp metric.MeterProvider) error {
	m := mp.Meter("github.com/iobridge/iobridge/proxy/forward")
	fwd, err1 := m.Int64ObservableCounter("iobridge.forward.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Requests for another node's session forwarded to it (sticky-free polling)."))
	failed, err2 := m.Int64ObservableCounter("iobridge.forward.failed", metric.WithUnit("{request}"),
		metric.WithDescription("Requests for another node's session answered as an unknown sid because that node could not be reached."))
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("forward: metrics: %w", err)
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := p.Stats()
		o.ObserveInt64(fwd, int64(st.Forwarded))
		o.ObserveInt64(failed, int64(st.Failed))
		return nil
	}, fwd, failed)
	if err != nil {
		return fmt.Errorf("forward: metrics: %w", err)
	}
	p.metrics = reg
	return nil
}

// ID returns this node's id, for engineio.Config.NodeID.
func (p *Proxy) ID() string { return p.id }

// SetURL sets the URL registered for this node; call it before Start.
func (p *Proxy) SetURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("forward: URL %q is not a base URL such as \"http://10.0.0.5:8080\"", raw)
	}
	s := u.Scheme + "://" + u.Host
	p.url.Store(&s)
	return nil
}

// URL returns the URL registered for this node.
func (p *Proxy) URL() string {
	if s := p.url.Load(); s != nil {
		return *s
	}
	return ""
}

// Start registers this node, once now (bounded by ctx) and then every
// TTL/3 until Close. A failed registration is logged and retried; the node
// serves meanwhile, and other nodes answer its sids as unknown.
func (p *Proxy) Start(ctx context.Context) error {
	if p.URL() == "" {
		return errors.New("forward: Start without a URL")
	}
	p.runMu.Lock()
	defer p.runMu.Unlock()
	if p.stop != nil {
		return errors.New("forward: started twice")
	}
	err := p.register(ctx)
	switch {
	case errors.Is(err, ErrTaken):
		// One chance in 16.7M per pair of nodes: the id is in the sids
		// already issued, so it cannot change now.
		p.log.Error("forward: another node holds this node's id; other nodes answer this node's sids as unknown until it lapses: restart this node to pick another id", "node", p.id)
	case err != nil:
		p.log.Warn("forward: node not registered yet; other nodes answer this node's sids as unknown until it is", "node", p.id, "err", err)
	}
	loop, stop := context.WithCancel(context.Background())
	p.stop = stop
	go p.refreshLoop(loop, err == nil)
	return nil
}

func (p *Proxy) register(ctx context.Context) error {
	return p.cfg.Registry.Register(ctx, p.id, p.URL(), p.cfg.TTL)
}

func (p *Proxy) refreshLoop(ctx context.Context, ok bool) {
	defer close(p.done)
	t := time.NewTicker(p.cfg.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, p.cfg.TTL/3)
		err := p.register(rctx)
		cancel()
		switch {
		case err != nil && ok && ctx.Err() == nil:
			p.log.Warn("forward: node registration failed; retrying", "node", p.id, "err", err)
		case err == nil && !ok:
			p.log.Info("forward: node registered", "node", p.id, "url", p.URL())
		}
		ok = err == nil
	}
}

// Close stops refreshing and removes this node's registration, so other
// nodes answer its sids as unknown at once. A registry that cannot be
// reached is logged, not returned: the registration lapses after TTL
// anyway. Stop, below, is the crash.
func (p *Proxy) Close(ctx context.Context) error {
	if p.metrics != nil {
		_ = p.metrics.Unregister()
	}
	if !p.Stop() {
		return nil
	}
	if err := p.cfg.Registry.Unregister(ctx, p.id, p.URL()); err != nil {
		p.log.Warn("forward: node not unregistered; its registration lapses by itself", "node", p.id, "ttl", p.cfg.TTL.String(), "err", err)
	}
	return nil
}

// Stop stops refreshing without unregistering (the registration lapses
// after TTL), as a node that crashed would. It reports whether the Proxy
// was running.
func (p *Proxy) Stop() bool {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	if p.stop == nil {
		return false
	}
	p.stop()
	p.stop = nil
	<-p.done
	p.done = make(chan struct{})
	return true
}

// Stats are counts since New.
type Stats struct {
	// Forwarded counts requests forwarded to another node.
	Forwarded uint64
	// Failed counts those answered as unknown sids because the owner
	// could not be reached.
	Failed uint64
}

// Stats returns the counts.
func (p *Proxy) Stats() Stats {
	return Stats{Forwarded: p.forwarded.Load(), Failed: p.failed.Load()}
}

// Forward is engineio.Config.Forward: the handler serving r for the node
// that owns sid, or nil when this node cannot know one (the sid is this
// node's or no node holds its id, or r was forwarded already).
func (p *Proxy) Forward(r *http.Request, sid string) http.Handler {
	if r.Header.Get(HopHeader) != "" {
		return nil
	}
	id := engineio.SIDNode(sid)
	if id == "" || id == p.id {
		return nil
	}
	n := p.lookup(r.Context(), id)
	if n == nil || n.target == nil {
		return nil
	}
	if d := n.downUntil.Load(); d != 0 && time.Now().UnixNano() < d {
		return http.HandlerFunc(p.unreachable)
	}
	p.forwarded.Add(1)
	return n.rp
}

func (p *Proxy) unreachable(w http.ResponseWriter, r *http.Request) {
	p.failed.Add(1)
	engineio.UnknownSession(w, r)
}

// lookup returns id's cache entry, reading the registry when it has none
// or a stale one (stale ones serve while a background read runs).
func (p *Proxy) lookup(ctx context.Context, id string) *node {
	now := time.Now()
	p.mu.Lock()
	n := p.nodes[id]
	p.mu.Unlock()
	if n != nil {
		if now.UnixNano() < n.expires.Load() {
			return n
		}
		if n.target != nil {
			if n.refreshing.CompareAndSwap(false, true) {
				go p.refresh(id, n)
			}
			return n
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
	defer cancel()
	return p.read(ctx, id, n)
}

func (p *Proxy) refresh(id string, old *node) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	p.read(ctx, id, old)
	old.refreshing.Store(false)
}

// read reads id from the registry and caches the result. On a registry
// error the old entry (if it had a URL) keeps serving.
func (p *Proxy) read(ctx context.Context, id string, old *node) *node {
	raw, err := p.cfg.Registry.Lookup(ctx, id)
	now := time.Now()
	if err != nil {
		if old != nil && old.target != nil {
			return old
		}
		p.log.Debug("forward: node lookup failed", "node", id, "err", err)
		return nil
	}
	n := &node{id: id}
	n.expires.Store(now.Add(missFor).UnixNano())
	if raw != "" {
		u, perr := url.Parse(raw)
		if perr != nil || u.Host == "" {
			p.log.Warn("forward: a node registered a bad URL", "node", id, "url", raw)
		} else {
			if old != nil && old.target != nil && old.target.String() == u.String() {
				old.expires.Store(now.Add(cacheFor).UnixNano())
				return old
			}
			n.target = u
			n.expires.Store(now.Add(cacheFor).UnixNano())
			n.rp = p.reverseProxy(n)
		}
	}
	p.mu.Lock()
	if len(p.nodes) >= maxMisses {
		for k, v := range p.nodes {
			if v.target == nil {
				delete(p.nodes, k)
			}
		}
	}
	p.nodes[id] = n
	p.mu.Unlock()
	return n
}

// reverseProxy builds the proxy to one node: the request as it came (path,
// query, Host, body streamed), HopHeader and X-Forwarded-For added, the
// answer streamed back; upgrades become a tunnel.
func (p *Proxy) reverseProxy(n *node) *httputil.ReverseProxy {
	target := n.target
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			if prior, ok := pr.In.Header["X-Forwarded-For"]; ok {
				pr.Out.Header["X-Forwarded-For"] = prior
			}
			pr.SetXForwarded()
			pr.Out.Header.Set(HopHeader, p.id)
		},
		Transport:     p.transport,
		BufferPool:    copyBuffers,
		FlushInterval: -1, // polling answers are complete when written; no buffering delay
		ErrorLog:      slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		ModifyResponse: func(*http.Response) error {
			n.warned.Store(false)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.failed.Add(1)
			if r.Context().Err() != nil {
				return // the client left; nobody reads an answer
			}
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				n.downUntil.Store(time.Now().Add(downFor).UnixNano())
			}
			if n.warned.CompareAndSwap(false, true) {
				p.log.Warn("forward: the node owning a session cannot be reached; its clients are told the sid is unknown and reconnect", "node", n.id, "url", target.String(), "err", err)
			}
			engineio.UnknownSession(w, r)
		},
	}
}
