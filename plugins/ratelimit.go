package plugins

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// What one event bucket covers (RateLimitConfig.Per).
const (
	PerSocket = "socket"
	PerIP     = "ip"
)

// What happens to an event over the limit (RateLimitConfig.Action).
const (
	ActionError      = "error"
	ActionDisconnect = "disconnect"
)

// RateLimitConfig configures the ratelimit plugin: token buckets from
// golang.org/x/time/rate, refilled at a rate per second up to a burst.
type RateLimitConfig struct {
	// EventsPerSecond refills the event buckets. Zero means events are
	// not limited.
	EventsPerSecond float64
	// Burst is the event bucket's size. Zero means EventsPerSecond
	// rounded up (at least 1).
	Burst int
	// Per is PerSocket (default: one bucket per socket) or PerIP (one
	// bucket shared by every socket from the client's IP address).
	Per string
	// Action is ActionError (default: the event fails with status 429,
	// through its ack or the route's error event, and the socket stays
	// connected) or ActionDisconnect (the socket is told so, then
	// disconnected).
	Action string
	// ConnectsPerSecond refills a bucket per client IP address that each
	// CONNECT takes from. Zero means connects are not limited.
	ConnectsPerSecond float64
	// ConnectBurst is that bucket's size. Zero means ConnectsPerSecond
	// rounded up (at least 1).
	ConnectBurst int
}

// RateLimit limits the events of each socket or client IP address, and
// the connects of each client IP address. An event over the limit never
// reaches the backend. The client IP address is the handshake's remote
// address.
//
// Buckets are kept per connected socket (dropped when it leaves) and per
// IP address; an IP address's bucket that is full and used by no socket
// is dropped on a later insertion, which loses nothing: a new bucket
// starts full.
type RateLimit struct {
	cfg      RateLimitConfig
	events   *buckets // per IP (Per == PerIP); nil otherwise
	connects *buckets // nil when connects are not limited
	over     *Error
	sockets  sync.Map // *socketio.Socket -> *socketBucket
}

type socketBucket struct {
	lim *rate.Limiter
	ip  string // set when lim is an IP address's shared bucket
}

var (
	_ ConnectHook    = (*RateLimit)(nil)
	_ InboundHook    = (*RateLimit)(nil)
	_ DisconnectHook = (*RateLimit)(nil)
)

// NewRateLimit returns the ratelimit plugin.
func NewRateLimit(cfg RateLimitConfig) (*RateLimit, error) {
	if cfg.EventsPerSecond < 0 || cfg.ConnectsPerSecond < 0 || math.IsNaN(cfg.EventsPerSecond) || math.IsNaN(cfg.ConnectsPerSecond) {
		return nil, errors.New("plugins: ratelimit: rates must not be negative")
	}
	if cfg.EventsPerSecond == 0 && cfg.ConnectsPerSecond == 0 {
		return nil, errors.New("plugins: ratelimit: set EventsPerSecond, ConnectsPerSecond or both")
	}
	if cfg.Burst < 0 || cfg.ConnectBurst < 0 {
		return nil, errors.New("plugins: ratelimit: bursts must not be negative")
	}
	cfg.Burst = burstFor(cfg.Burst, cfg.EventsPerSecond)
	cfg.ConnectBurst = burstFor(cfg.ConnectBurst, cfg.ConnectsPerSecond)
	switch cfg.Per {
	case "":
		cfg.Per = PerSocket
	case PerSocket, PerIP:
	default:
		return nil, fmt.Errorf("plugins: ratelimit: per %q: want %q or %q", cfg.Per, PerSocket, PerIP)
	}
	switch cfg.Action {
	case "":
		cfg.Action = ActionError
	case ActionError, ActionDisconnect:
	default:
		return nil, fmt.Errorf("plugins: ratelimit: action %q: want %q or %q", cfg.Action, ActionError, ActionDisconnect)
	}
	p := &RateLimit{cfg: cfg}
	if cfg.EventsPerSecond > 0 && cfg.Per == PerIP {
		p.events = newBuckets(rate.Limit(cfg.EventsPerSecond), cfg.Burst)
	}
	if cfg.ConnectsPerSecond > 0 {
		p.connects = newBuckets(rate.Limit(cfg.ConnectsPerSecond), cfg.ConnectBurst)
	}
	p.over = &Error{
		Plugin:     "ratelimit",
		Status:     http.StatusTooManyRequests,
		Message:    "rate limit exceeded",
		Disconnect: cfg.Action == ActionDisconnect,
		Err:        ErrRateLimited,
	}
	return p, nil
}

func burstFor(burst int, perSecond float64) int {
	if burst > 0 || perSecond <= 0 {
		return burst
	}
	return max(1, int(min(1<<30, math.Ceil(perSecond))))
}

// Name is "ratelimit".
func (p *RateLimit) Name() string { return "ratelimit" }

// OnConnect takes a token from the client IP address's connect bucket.
func (p *RateLimit) OnConnect(_ context.Context, e ConnectEvent) (ConnectReply, error) {
	if p.connects == nil || p.connects.allow(e.Handshake.Address) {
		return ConnectReply{}, nil
	}
	return ConnectReply{}, &Error{
		Plugin:  "ratelimit",
		Status:  http.StatusTooManyRequests,
		Message: "rate limit exceeded: too many connections",
		Err:     ErrRateLimited,
	}
}

// OnInbound takes a token from the socket's (or its IP address's) event
// bucket. It does not allocate, but for a socket's first event.
func (p *RateLimit) OnInbound(_ context.Context, e InboundEvent) (InboundReply, error) {
	if p.cfg.EventsPerSecond == 0 {
		return InboundReply{}, nil
	}
	v, ok := p.sockets.Load(e.Socket)
	if !ok {
		v = p.attach(e.Socket)
	}
	if v.(*socketBucket).lim.Allow() {
		return InboundReply{}, nil
	}
	return InboundReply{}, p.over
}

// attach gives s its bucket on its first event.
func (p *RateLimit) attach(s *socketio.Socket) *socketBucket {
	sb := &socketBucket{}
	if p.events != nil {
		sb.ip = s.Handshake().Address
		sb.lim = p.events.acquire(sb.ip)
	} else {
		sb.lim = rate.NewLimiter(rate.Limit(p.cfg.EventsPerSecond), p.cfg.Burst)
	}
	v, loaded := p.sockets.LoadOrStore(s, sb)
	if loaded {
		p.release(sb)
		return v.(*socketBucket)
	}
	if !s.Connected() { // it left meanwhile: OnDisconnect may have run already
		if p.sockets.CompareAndDelete(s, sb) {
			p.release(sb)
		}
	}
	return sb
}

func (p *RateLimit) release(sb *socketBucket) {
	if p.events != nil {
		p.events.releaseRef(sb.ip)
	}
}

// OnDisconnect drops the socket's bucket.
func (p *RateLimit) OnDisconnect(_ context.Context, e DisconnectEvent) {
	if v, ok := p.sockets.LoadAndDelete(e.Socket); ok {
		p.release(v.(*socketBucket))
	}
}

// buckets are token buckets by IP address.
type buckets struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	m       map[string]*ipBucket
	sweepAt int
}

type ipBucket struct {
	lim  *rate.Limiter
	refs int // sockets holding lim
}

// minSweep is the map size below which buckets are never swept.
const minSweep = 1024

func newBuckets(limit rate.Limit, burst int) *buckets {
	return &buckets{limit: limit, burst: burst, m: make(map[string]*ipBucket), sweepAt: minSweep}
}

func (b *buckets) get(ip string) *ipBucket {
	e := b.m[ip]
	if e == nil {
		if len(b.m) >= b.sweepAt {
			b.sweep(time.Now())
		}
		e = &ipBucket{lim: rate.NewLimiter(b.limit, b.burst)}
		b.m[ip] = e
	}
	return e
}

// allow takes one token from ip's bucket.
func (b *buckets) allow(ip string) bool {
	b.mu.Lock()
	e := b.get(ip)
	b.mu.Unlock()
	return e.lim.Allow()
}

// acquire returns ip's bucket, counting a holder.
func (b *buckets) acquire(ip string) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.get(ip)
	e.refs++
	return e.lim
}

func (b *buckets) releaseRef(ip string) {
	b.mu.Lock()
	if e := b.m[ip]; e != nil && e.refs > 0 {
		e.refs--
	}
	b.mu.Unlock()
}

// sweep drops the buckets no socket holds that are full again; the next
// sweep waits until the map has doubled.
func (b *buckets) sweep(now time.Time) {
	for ip, e := range b.m {
		if e.refs == 0 && e.lim.TokensAt(now) >= float64(b.burst) {
			delete(b.m, ip)
		}
	}
	b.sweepAt = max(minSweep, 2*len(b.m))
}

// len returns the number of buckets kept (tests).
func (b *buckets) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}
