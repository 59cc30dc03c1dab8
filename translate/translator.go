package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/plugins"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
)

// On-connect modes of a Route.
const (
	// OnConnectWebhook asks the backend with a connect delivery.
	OnConnectWebhook = "webhook"
	// OnConnectAccept accepts at once, without a delivery.
	OnConnectAccept = "accept"
)

// Defaults of Config and Route.
const (
	// DefaultMaxInFlight bounds the connect and event deliveries in
	// flight at once, over every socket and route.
	DefaultMaxInFlight = 1024
	// DefaultMaxQueue bounds the events of one socket waiting behind the
	// one in flight. A client may burst thousands of small events, as
	// socket.io lets it; DefaultMaxQueueBytes is what bounds memory.
	DefaultMaxQueue = 4096
	// DefaultMaxQueueBytes bounds the bytes of arguments and attachments
	// of one socket's waiting events.
	DefaultMaxQueueBytes = 1 << 20
	// DefaultMaxPendingDisconnects bounds the disconnect deliveries
	// under way (with their retries) at once.
	DefaultMaxPendingDisconnects = 10000
	// DefaultTimeout is Route.Timeout's zero value.
	DefaultTimeout = 5 * time.Second
	// DefaultErrorEvent is Route.ErrorEvent's zero value.
	DefaultErrorEvent = "error"
)

// Config configures a Translator.
type Config struct {
	// Routes are tried in order for each namespace; the first whose Name
	// equals it or whose Pattern matches it wins.
	Routes []Route
	// MaxInFlight bounds the connect and event deliveries in flight,
	// in total. At the bound a new event fails at once with ErrOverloaded
	// (the client's ack error or error event, status 503) and a connect
	// is rejected with "backend unavailable". Zero means
	// DefaultMaxInFlight.
	MaxInFlight int
	// MaxQueue bounds the events one socket may have waiting while its
	// previous event is in flight. At the bound a new event fails at once
	// with ErrQueueFull (status 429). Zero means DefaultMaxQueue.
	MaxQueue int
	// MaxQueueBytes bounds the bytes (arguments and binary attachments)
	// of the events one socket has waiting. An event that would pass it
	// fails at once with ErrQueueFull (status 429), unless nothing is
	// waiting: one event of any accepted size always fits. Zero means
	// DefaultMaxQueueBytes.
	MaxQueueBytes int
	// MaxPendingDisconnects bounds the disconnect deliveries under way.
	// Over it a disconnect delivery is not sent and an error is logged.
	// Zero means DefaultMaxPendingDisconnects.
	MaxPendingDisconnects int
	// Logger receives the translator's logs. Nil means slog.Default().
	Logger *slog.Logger
	// TracerProvider makes the spans of connects, events, deliveries'
	// parents and emits (see package telemetry). Nil means no spans.
	TracerProvider trace.TracerProvider
	// Propagator reads the trace context a client sent in its handshake
	// headers, the parent of its connect span. Nil means W3C trace
	// context (traceparent, tracestate).
	Propagator propagation.TextMapPropagator
	// MeterProvider makes the translator's metrics (sockets, connects,
	// disconnects, events, deliveries, drops, queue depths). Nil means
	// none.
	MeterProvider metric.MeterProvider
}

// Route is what one [[namespace]] block asks for.
type Route struct {
	// Name is the exact namespace ("/chat"). Exactly one of Name and
	// Pattern is set.
	Name string
	// Pattern matches namespace names, as socket.io's io.of(/regexp/).
	Pattern *regexp.Regexp
	// Backend receives the connect, event and disconnect deliveries. Nil
	// means the route sends none (its sockets are served by other parts,
	// such as bridges).
	Backend Backend
	// Events lists the events forwarded: "*" matches any, a trailing "*"
	// a prefix ("file.*"), anything else exactly. Nil means every event.
	// Others fail with ErrNotForwarded.
	Events []string
	// ErrorEvent is emitted to a socket whose event, sent without ack,
	// failed: {"message","event","requestId"}. Empty means "error".
	ErrorEvent string
	// Timeout bounds the silence inside a streamed answer (the Backend
	// bounds the wait for the answer itself), and an event's wait for a
	// slot under Concurrency. Zero means DefaultTimeout.
	Timeout time.Duration
	// OnConnect is OnConnectWebhook or OnConnectAccept. Empty means
	// OnConnectWebhook when Backend is set, else OnConnectAccept.
	OnConnect string
	// Concurrency bounds the deliveries awaiting Backend's answer at
	// once; the others wait in the sidecar in arrival order (see gate),
	// an event at most Timeout, after which it fails with ErrTimeout.
	// Zero adapts the bound to the backend: it shrinks while the
	// backend's answers slow down as deliveries are added, and grows up
	// to DefaultMaxConcurrency while they do not. Negative sends every
	// delivery at once.
	Concurrency int
	// Plugins run on the route's sockets: connect hooks before the
	// connect delivery, inbound hooks before the events filter, outbound
	// hooks on the executor's emits to the route's namespaces. Nil means
	// none. The Translator does not shut them down.
	Plugins *plugins.Chain
}

// route is a Route ready to serve.
type route struct {
	Route
	all      bool
	gate     *gate // nil: no bound on the deliveries in flight
	exact    map[string]struct{}
	prefixes []string
}

func (r *route) forwards(event string) bool {
	if r.all {
		return true
	}
	if _, ok := r.exact[event]; ok {
		return true
	}
	for _, p := range r.prefixes {
		if strings.HasPrefix(event, p) {
			return true
		}
	}
	return false
}

func (r *route) matches(name string) bool {
	if r.Pattern != nil {
		return r.Pattern.MatchString(name)
	}
	return r.Name == name
}

// Translator turns the sockets of the routed namespaces into backend
// deliveries, and the backends' answers into emits, acks, joins, leaves
// and disconnects. See the package documentation for the lifecycle and
// bounds. Its methods are safe for concurrent use.
type Translator struct {
	srv    *socketio.Server
	routes []*route
	exec   *Executor
	log    *slog.Logger

	maxInFlight int64
	maxQueue    int
	maxQBytes   int
	maxDisc     int64

	inflight atomic.Int64
	disc     atomic.Int64

	ctx    context.Context
	cancel context.CancelFunc

	lifeMu sync.RWMutex
	closed bool
	wg     sync.WaitGroup // tasks under way
	// tasks hands work to idle workers. Workers outlive their task for
	// workerIdle, so a busy sidecar reuses goroutines whose stacks have
	// already grown to the depth of an HTTP round trip, rather than a new
	// goroutine per event growing its stack again (copystack was a tenth
	// of the CPU of an echo benchmark).
	tasks   chan func()
	workers sync.WaitGroup

	// connects holds the answers of connect deliveries between the
	// middleware and the connection handler (emits follow the CONNECT
	// acknowledgement).
	connects sync.Map // *socketio.Socket -> *connectAnswer

	tracer     trace.Tracer // nil: no spans
	prop       propagation.TextMapPropagator
	metrics    *telemetry.Metrics // nil: no metrics
	unregister func()
	queued     atomic.Int64 // events waiting in the sockets' queues
	// spans holds the connect span's context between the middleware and
	// the connection handler (tracing only).
	spans sync.Map // *socketio.Socket -> *trace.SpanContext
}

type connectAnswer struct {
	emit []Instruction
}

// New registers the routes' connect middleware and connection handlers on
// srv's namespaces and returns the Translator. Namespaces are created for
// named routes (srv.Of) and pattern routes (srv.OfPattern).
func New(cfg Config, srv *socketio.Server) (*Translator, error) {
	t := &Translator{
		srv:         srv,
		log:         cfg.Logger,
		maxInFlight: int64(cfg.MaxInFlight),
		maxQueue:    cfg.MaxQueue,
		maxQBytes:   cfg.MaxQueueBytes,
		maxDisc:     int64(cfg.MaxPendingDisconnects),
	}
	if t.log == nil {
		t.log = slog.Default()
	}
	if t.maxInFlight <= 0 {
		t.maxInFlight = DefaultMaxInFlight
	}
	if t.maxQueue <= 0 {
		t.maxQueue = DefaultMaxQueue
	}
	if t.maxQBytes <= 0 {
		t.maxQBytes = DefaultMaxQueueBytes
	}
	if t.maxDisc <= 0 {
		t.maxDisc = DefaultMaxPendingDisconnects
	}
	var errs []error
	for i, rc := range cfg.Routes {
		r, err := newRoute(rc)
		if err != nil {
			errs = append(errs, fmt.Errorf("translate: route[%d]: %w", i, err))
			continue
		}
		t.routes = append(t.routes, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.tasks = make(chan func())
	t.exec = &Executor{
		srv:   srv,
		known: func(name string) bool { return t.routeFor(name) != nil },
		chain: func(name string) *plugins.Chain {
			if r := t.routeFor(name); r != nil {
				return r.Plugins
			}
			return nil
		},
	}
	if err := t.setupTelemetry(cfg); err != nil {
		return nil, fmt.Errorf("translate: telemetry: %w", err)
	}
	seen := make(map[*socketio.Namespace]bool)
	for _, r := range t.routes {
		var nsp *socketio.Namespace
		if r.Pattern != nil {
			nsp = srv.OfPattern(r.Pattern)
		} else {
			nsp = srv.Of(r.Name)
		}
		if seen[nsp] {
			continue
		}
		seen[nsp] = true
		nsp.Use(t.middleware)
		nsp.OnConnection(t.onConnection)
	}
	return t, nil
}

func newRoute(rc Route) (*route, error) {
	if (rc.Name == "") == (rc.Pattern == nil) {
		return nil, errors.New("set exactly one of Name and Pattern")
	}
	if rc.Name != "" && !strings.HasPrefix(rc.Name, "/") {
		return nil, fmt.Errorf("name %q does not start with /", rc.Name)
	}
	switch rc.OnConnect {
	case "":
		rc.OnConnect = OnConnectAccept
		if rc.Backend != nil {
			rc.OnConnect = OnConnectWebhook
		}
	case OnConnectAccept:
	case OnConnectWebhook:
		if rc.Backend == nil {
			return nil, errors.New(`on_connect "webhook" needs a backend`)
		}
	default:
		return nil, fmt.Errorf("on_connect %q: want %q or %q", rc.OnConnect, OnConnectWebhook, OnConnectAccept)
	}
	if rc.ErrorEvent == "" {
		rc.ErrorEvent = DefaultErrorEvent
	}
	if rc.Timeout <= 0 {
		rc.Timeout = DefaultTimeout
	}
	r := &route{Route: rc, all: rc.Events == nil}
	if rc.Backend != nil {
		r.gate = newGate(rc.Concurrency, rc.Timeout)
	}
	for _, e := range rc.Events {
		switch {
		case e == "*":
			r.all = true
		case strings.HasSuffix(e, "*"):
			r.prefixes = append(r.prefixes, strings.TrimSuffix(e, "*"))
		default:
			if r.exact == nil {
				r.exact = make(map[string]struct{})
			}
			r.exact[e] = struct{}{}
		}
	}
	return r, nil
}

// Executor returns the executor every instruction goes through; it also
// accepts the namespaces the pattern routes would create.
func (t *Translator) Executor() *Executor { return t.exec }

// InFlight returns the number of connect and event deliveries in flight.
func (t *Translator) InFlight() int { return int(t.inflight.Load()) }

// Drain waits until no connect or event delivery is in flight or queued
// (their answers, acks and emits applied, streamed answers ended), or
// until ctx is done; it returns how many were still in flight then.
// Deliveries go on being accepted meanwhile: an event a client sends while
// the sidecar drains is delivered, not dropped. Call it before the sockets
// are disconnected (socketio.Server.Shutdown), so that an answer in flight
// still finds its socket.
func (t *Translator) Drain(ctx context.Context) int {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n := int(t.inflight.Load())
		if n == 0 {
			return 0
		}
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
	}
}

// Shutdown stops accepting deliveries and waits for those under way
// (event queues, streamed answers, disconnect deliveries and their
// retries) until ctx ends; then it cancels them and waits for their
// goroutines. Call it after the socketio.Server's Shutdown, so that every
// socket's disconnect delivery is under way.
func (t *Translator) Shutdown(ctx context.Context) error {
	t.lifeMu.Lock()
	t.closed = true
	t.lifeMu.Unlock()
	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		// Cut at the bound: the backend may or may not have seen these.
		t.log.Warn("shutdown: deliveries cut at the shutdown bound",
			"events", t.inflight.Load(), "queued_events", t.queued.Load(), "disconnects", t.disc.Load())
	}
	t.cancel()
	<-done
	t.workers.Wait()
	for _, r := range t.routes {
		if r.gate != nil {
			r.gate.stop()
		}
	}
	t.unregister()
	return err
}

// spawn runs fn on a goroutine the translator waits for, unless it is
// shutting down.
func (t *Translator) spawn(fn func()) bool {
	t.lifeMu.RLock()
	defer t.lifeMu.RUnlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	task := func() {
		defer t.wg.Done()
		fn()
	}
	select {
	case t.tasks <- task:
	default:
		t.workers.Add(1)
		go t.worker(task)
	}
	return true
}

// workerIdle is how long a worker waits for a next task before it exits.
const workerIdle = 5 * time.Second

func (t *Translator) worker(task func()) {
	defer t.workers.Done()
	var idle *time.Timer
	for {
		task()
		if idle == nil {
			idle = time.NewTimer(workerIdle)
		} else {
			idle.Reset(workerIdle)
		}
		select {
		case task = <-t.tasks:
			idle.Stop()
		case <-idle.C:
			return
		case <-t.ctx.Done():
			return
		}
	}
}

func (t *Translator) acquire() bool {
	if t.inflight.Add(1) > t.maxInFlight {
		t.inflight.Add(-1)
		return false
	}
	return true
}

func (t *Translator) release() { t.inflight.Add(-1) }

func (t *Translator) routeFor(name string) *route {
	for _, r := range t.routes {
		if r.matches(name) {
			return r
		}
	}
	return nil
}

// socketInfo describes s for an envelope.
func socketInfo(s *socketio.Socket, handshake json.RawMessage) SocketInfo {
	rooms := s.Rooms()
	slices.Sort(rooms)
	if rooms == nil {
		rooms = []string{}
	}
	return SocketInfo{ID: s.ID(), Rooms: rooms, Data: EncodeData(s.Data()), Handshake: handshake}
}

// EncodeData encodes socket.data for an envelope: raw JSON as is,
// anything else with encoding/json; nil (and what cannot be encoded)
// becomes nil, which envelopes write as {}.
func EncodeData(v any) json.RawMessage {
	switch d := v.(type) {
	case nil:
		return nil
	case json.RawMessage:
		return d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return nil
		}
		return b
	}
}

// connect asks the backend whether a socket may connect.
func (t *Translator) connect(ctx context.Context, s *socketio.Socket) error {
	nsName := s.Namespace().Name()
	r := t.routeFor(nsName)
	if r == nil {
		return nil
	}
	if r.Plugins.HasConnect() {
		if err := r.Plugins.Connect(ctx, s); err != nil {
			logRefusal(s, "translate: connection refused by plugin", "", err)
			return err
		}
	}
	if r.OnConnect != OnConnectWebhook {
		return nil
	}
	env := Envelope{
		Type:      TypeConnect,
		ID:        NewDeliveryID(),
		Time:      time.Now(),
		Namespace: nsName,
		Socket:    socketInfo(s, EncodeHandshake(s.Handshake())),
		Recovered: s.Recovered(),
	}
	log := s.Logger()
	if !t.acquire() {
		log.Warn("translate: connect refused: too many deliveries in flight", "delivery_id", env.ID, "bound", t.maxInFlight)
		return unavailable(ErrOverloaded)
	}
	if r.gate != nil {
		if err := r.gate.acquire(ctx, true); err != nil {
			t.release()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			log.Warn("translate: connect delivery failed", "delivery_id", env.ID, "status", Status(err), "err", err)
			return unavailable(err)
		}
	}
	reply, rtt, err := t.deliverConnect(ctx, r, &env)
	if r.gate != nil {
		r.gate.leave(rtt, false, nil)
	}
	t.release()
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) && se.Status >= 400 && se.Status < 500 {
			msg := se.Message
			if msg == "" {
				msg = "connection rejected"
			}
			log.Info("translate: backend rejected the connection", "delivery_id", env.ID, "status", se.Status)
			return &socketio.ConnectError{Message: msg, Data: se.Data, Err: err}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("translate: connect delivery failed", "delivery_id", env.ID, "status", Status(err), "err", err)
		return unavailable(err)
	}
	if reply.Stream != nil {
		reply.Stream.Close()
		err := fmt.Errorf("%w: a connect answer cannot be a stream", ErrInvalidAnswer)
		log.Warn("translate: connect delivery failed", "delivery_id", env.ID, "status", Status(err), "err", err)
		return unavailable(err)
	}
	if len(reply.Rooms) > 0 {
		s.Join(reply.Rooms...)
	}
	if reply.Data != nil {
		s.SetData(reply.Data)
	}
	if len(reply.Emit) > 0 || s.Recovered() {
		t.connects.Store(s, &connectAnswer{emit: reply.Emit})
		// If the socket never connects (its connection closes first),
		// the answer goes with the connection.
		context.AfterFunc(ctx, func() { t.connects.Delete(s) })
	}
	return nil
}

// unavailable is the connect_error for a backend that could not decide.
func unavailable(err error) error {
	return &socketio.ConnectError{
		Message: "backend unavailable",
		Data:    json.RawMessage(`{"status":` + fmt.Sprint(Status(err)) + `}`),
		Err:     err,
	}
}

// onConnection sets up a connected socket: its event handler, its
// disconnect delivery, and the connect answer's emits.
func (t *Translator) onConnection(s *socketio.Socket) {
	nsName := s.Namespace().Name()
	r := t.routeFor(nsName)
	if r == nil {
		return
	}
	st := &socketState{t: t, r: r, s: s, ns: nsName, left: make(chan struct{})}
	var hs *socketio.Handshake
	if r.Backend != nil {
		h := s.Handshake()
		hs = &h
		st.handshake = EncodeHandshake(h)
		s.OnAny(st.onEvent)
	}
	st.observeConnection(hs)
	s.OnDisconnecting(st.onDisconnecting)
	var delivered bool
	if v, ok := t.connects.LoadAndDelete(s); ok {
		delivered = true
		st.applyEmits(st.parent(t.ctx), v.(*connectAnswer).emit, "")
	}
	if s.Recovered() && r.OnConnect == OnConnectWebhook && !delivered {
		st.enqueue(job{kind: TypeConnect})
	}
}

// job is one delivery waiting in a socket's queue.
type job struct {
	kind  string // TypeEvent or TypeConnect (a recovered socket's)
	id    string // the delivery id when made before (tracing), else ""
	event string
	args  []json.RawMessage
	atts  [][]byte
	ack   socketio.AckFunc
	span  trace.Span // the event's span; failures are recorded on it
	bytes int        // size(), counted against Config.MaxQueueBytes while queued
}

// size is what j counts against Config.MaxQueueBytes.
func (j *job) size() int {
	n := 0
	for _, a := range j.args {
		n += len(a)
	}
	for _, a := range j.atts {
		n += len(a)
	}
	return n
}

// socketState is a routed socket's delivery queue: one delivery in flight
// at a time, the others waiting in order. A goroutine runs only while the
// queue is not empty.
type socketState struct {
	t         *Translator
	r         *route
	s         *socketio.Socket
	ns        string
	handshake json.RawMessage
	left      chan struct{} // closed when the socket starts leaving

	mu      sync.Mutex
	running bool
	queue   []job
	qbytes  int // the size of queue's jobs

	pctx      context.Context      // Background with the connect span's context; nil without tracing
	mns       *telemetry.Namespace // nil without metrics
	transport string               // the connection's, for metrics; under mu
}

func (st *socketState) onEvent(e socketio.Event) {
	// With tracing the delivery id is made now, so that the event's span
	// gets every attribute at its start.
	var id string
	if st.t.tracer != nil {
		id = NewDeliveryID()
	}
	span := st.startEvent(e.Name, id)
	queued := false
	defer func() {
		if !queued {
			span.End()
		}
	}()
	if st.r.Plugins.HasInbound() {
		rep, err := st.r.Plugins.Inbound(st.t.ctx, plugins.InboundEvent{
			Socket: st.s, Name: e.Name, Args: e.Args, Attachments: e.Attachments, Ack: e.Ack != nil,
		})
		if err != nil {
			st.fail(job{event: e.Name, ack: e.Ack, span: span}, deliveryID(id), err)
			var pe *plugins.Error
			if errors.As(err, &pe) && pe.Disconnect {
				st.s.Disconnect(false)
			}
			return
		}
		if rep.Handled {
			if e.Ack != nil {
				_ = e.Ack(rep.AckArgs, nil)
			}
			return
		}
		if rep.Args != nil {
			e.Args = rep.Args
		}
	}
	if !st.r.forwards(e.Name) {
		st.fail(job{event: e.Name, ack: e.Ack, span: span}, deliveryID(id), fmt.Errorf("%w: %q", ErrNotForwarded, e.Name))
		return
	}
	queued = st.enqueue(job{kind: TypeEvent, id: id, event: e.Name, args: e.Args, atts: e.Attachments, ack: e.Ack, span: span})
}

// deliveryID returns id, or a new delivery id when id is empty.
func deliveryID(id string) string {
	if id != "" {
		return id
	}
	return NewDeliveryID()
}

// enqueue hands j to the socket's queue and reports whether it was taken
// (else it has failed).
func (st *socketState) enqueue(j job) bool {
	st.mu.Lock()
	if st.running {
		if len(st.queue) >= st.t.maxQueue {
			st.mu.Unlock()
			st.fail(j, deliveryID(j.id), fmt.Errorf("%w (bound %d events)", ErrQueueFull, st.t.maxQueue))
			return false
		}
		j.bytes = j.size()
		if len(st.queue) > 0 && st.qbytes+j.bytes > st.t.maxQBytes {
			st.mu.Unlock()
			st.fail(j, deliveryID(j.id), fmt.Errorf("%w (bound %d bytes)", ErrQueueFull, st.t.maxQBytes))
			return false
		}
		st.queue = append(st.queue, j)
		st.qbytes += j.bytes
		st.t.queued.Add(1)
		st.mu.Unlock()
		return true
	}
	if !st.t.acquire() {
		st.mu.Unlock()
		st.fail(j, deliveryID(j.id), fmt.Errorf("%w (bound %d)", ErrOverloaded, st.t.maxInFlight))
		return false
	}
	st.running = true
	st.mu.Unlock()
	if g := st.r.gate; g != nil {
		g.start(st, j)
		return true
	}
	if !st.t.spawn(func() { st.run(j) }) {
		st.mu.Lock()
		st.running = false
		st.mu.Unlock()
		st.t.release()
		st.fail(j, deliveryID(j.id), ErrClosed)
		return false
	}
	return true
}

// spawnRun runs j and what follows on a goroutine of its own, with a slot
// of the route's gate. If the translator is shutting down, j and the
// socket's queued jobs fail with ErrClosed and the slot is given back.
func (st *socketState) spawnRun(j job) {
	if st.t.spawn(func() { st.run(j) }) {
		return
	}
	for ok := true; ok; j, ok = st.nextJob() {
		st.fail(j, deliveryID(j.id), ErrClosed)
		if j.span != nil {
			j.span.End()
		}
	}
	st.r.gate.leave(0, false, nil)
}

// nextJob takes the socket's next queued job. With none, the socket
// stops running and gives back its in-flight slot.
func (st *socketState) nextJob() (job, bool) {
	st.mu.Lock()
	if len(st.queue) == 0 {
		st.running = false
		st.queue = nil
		st.qbytes = 0
		st.mu.Unlock()
		st.t.release()
		return job{}, false
	}
	j := st.queue[0]
	st.queue[0] = job{}
	st.queue = st.queue[1:]
	st.qbytes -= j.bytes
	st.t.queued.Add(-1)
	st.mu.Unlock()
	return j, true
}

// run delivers j and then every job queued behind it, holding one
// in-flight slot throughout. With a gate, run starts with one of its
// slots; after each delivery the socket's next job goes to the back of
// the gate's line, and run goes on with the line's head, whichever
// socket's it is, until the line is empty.
func (st *socketState) run(j job) {
	g := st.r.gate
	held := g != nil
	for {
		rtt, released := st.process(j, held)
		if j.span != nil {
			j.span.End()
		}
		nj, more := st.nextJob()
		if g == nil {
			if !more {
				return
			}
			j = nj
			continue
		}
		if released {
			held = false
		}
		if !held {
			// A streamed answer gave the slot back at its headers.
			if !more {
				return
			}
			if !g.enter() {
				g.enqueue(st, nj)
				return
			}
			j, held = nj, true
			continue
		}
		var back *gateEntry
		if more {
			back = &gateEntry{st: st, j: nj}
		}
		next, nj, ok := g.leave(rtt, true, back)
		if !ok {
			return
		}
		st, j = next, nj
	}
}

// process delivers j and applies the answer. held says whether it has a
// slot of the route's gate: it returns the backend's answer time (0 when
// it did not answer), and whether it gave the slot back early (a streamed
// answer holds none while it is relayed).
func (st *socketState) process(j job, held bool) (rtt time.Duration, released bool) {
	t := st.t
	env := Envelope{
		Type:      j.kind,
		ID:        deliveryID(j.id),
		Time:      time.Now(),
		Namespace: st.ns,
		Socket:    socketInfo(st.s, st.handshake),
	}
	if j.kind == TypeConnect {
		env.Recovered = true
	} else {
		env.Event, env.Ack, env.Args = j.event, j.ack != nil, j.args
		if len(j.atts) > 0 {
			env.Args = make([]json.RawMessage, len(j.args))
			for i, a := range j.args {
				b, err := AttachmentsToBinary(a, j.atts)
				if err != nil {
					b = a
				}
				env.Args[i] = b
			}
		}
	}
	ctx := t.ctx
	if j.span != nil {
		ctx = st.spanContext(ctx, j.span)
	}
	reply, rtt, err := st.deliver(ctx, &env)
	if err != nil {
		if j.kind == TypeConnect {
			st.connectFailed(env.ID, err)
			return rtt, false
		}
		st.fail(j, env.ID, err)
		return rtt, false
	}
	if reply.Stream != nil {
		if j.kind == TypeConnect {
			reply.Stream.Close()
			st.connectFailed(env.ID, fmt.Errorf("%w: a connect answer cannot be a stream", ErrInvalidAnswer))
			return rtt, false
		}
		if held {
			// The backend answered; relaying the stream is the
			// sidecar's work, which must not keep others waiting.
			st.r.gate.leave(rtt, false, nil)
		}
		st.relay(j, env.ID, reply.Stream)
		return 0, held
	}
	if j.kind == TypeConnect {
		if len(reply.Rooms) > 0 {
			st.s.Join(reply.Rooms...)
		}
		if reply.Data != nil {
			st.s.SetData(reply.Data)
		}
		st.applyEmits(ctx, reply.Emit, env.ID)
		return rtt, false
	}
	st.apply(ctx, j, env.ID, reply)
	return rtt, false
}

// answerTime is d if the backend answered (a 2xx answer, or an error
// status), else 0: a delivery that timed out or found no backend tells
// nothing of its answer time.
func answerTime(err error, d time.Duration) time.Duration {
	if err == nil || isStatusError(err) {
		return max(d, 1)
	}
	return 0
}

// isStatusError reports whether err is a backend's error status. (Its
// own function: the target errors.As fills is then allocated on errors
// only, not on every delivery.)
func isStatusError(err error) bool {
	var se *StatusError
	return errors.As(err, &se)
}

// connectFailed handles a failed connect delivery of a recovered socket,
// which is already connected: a 4xx disconnects it, anything else is
// logged.
func (st *socketState) connectFailed(id string, err error) {
	var se *StatusError
	if errors.As(err, &se) && se.Status >= 400 && se.Status < 500 {
		st.s.Logger().Info("translate: backend rejected the recovered connection", "delivery_id", id, "status", se.Status)
		st.s.Disconnect(false)
		return
	}
	st.s.Logger().Warn("translate: connect delivery failed", "delivery_id", id, "status", Status(err), "err", err)
}

// apply applies an event's answer: ack, emit, join, leave, disconnect.
func (st *socketState) apply(ctx context.Context, j job, id string, reply *Reply) {
	if j.ack != nil {
		args, atts, err := BinaryToAttachments(reply.Ack)
		if err != nil {
			st.fail(j, id, fmt.Errorf("%w: ack: %v", ErrInvalidAnswer, err))
			j.ack = nil
		} else {
			_ = j.ack(args, atts)
		}
	}
	st.applyEmits(ctx, reply.Emit, id)
	if len(reply.Join) > 0 {
		st.s.Join(reply.Join...)
	}
	for _, room := range reply.Leave {
		st.s.Leave(room)
	}
	if reply.Disconnect {
		st.s.Disconnect(false)
	}
}

// applyEmits runs a delivery answer's emits through the executor. An
// emit that cannot be applied is logged: the client already has its
// answer, and the fault is the backend's.
func (st *socketState) applyEmits(ctx context.Context, emits []Instruction, id string) {
	for i := range emits {
		if _, err := st.t.exec.Execute(ctx, &emits[i], ExecOptions{Namespace: st.ns}); err != nil {
			st.s.Logger().Warn("translate: emit from backend answer not applied", "delivery_id", id, "event", emits[i].Event, "err", err)
		}
	}
}

// fail reports a failed delivery to the client and the log: the ack, if
// the client asked for one, gets {"error":{"status","message"}};
// otherwise the socket gets the route's error event with
// {"message","event","requestId"}.
func (st *socketState) fail(j job, id string, err error) {
	status, msg := Status(err), clientMessage(err)
	if j.span != nil {
		telemetry.Fail(j.span, err)
	}
	st.dropped(err)
	log := st.s.Logger()
	if !logRefusal(st.s, "translate: event refused by plugin", j.event, err) && log.Enabled(context.Background(), slog.LevelWarn) {
		log.Warn("translate: delivery failed", "event", j.event, "delivery_id", id, "status", status, "err", err)
	}
	if j.kind == TypeConnect {
		return
	}
	if j.ack != nil {
		b := make([]byte, 0, 64+len(msg))
		b = append(b, `{"error":{"status":`...)
		b = fmt.Appendf(b, "%d", status)
		b = append(b, `,"message":`...)
		b = appendString(b, msg)
		b = append(b, "}}"...)
		_ = j.ack([]json.RawMessage{b}, nil)
		return
	}
	b := make([]byte, 0, 96+len(msg)+len(j.event))
	b = append(b, `{"message":`...)
	b = appendString(b, msg)
	b = append(b, `,"event":`...)
	b = appendString(b, j.event)
	b = append(b, `,"requestId":`...)
	b = appendString(b, id)
	b = append(b, '}')
	if err := st.s.Emit(st.r.ErrorEvent, []json.RawMessage{b}, nil); err != nil && !errors.Is(err, socketio.ErrSocketClosed) {
		log.Warn("translate: error event not sent", "event", st.r.ErrorEvent, "delivery_id", id, "err", err)
	}
}

// onDisconnecting sends the disconnect delivery at once, with the rooms
// the socket is leaving.
func (st *socketState) onDisconnecting(reason socketio.DisconnectReason) {
	close(st.left)
	if st.r.Plugins.HasDisconnect() {
		st.r.Plugins.Disconnect(st.t.ctx, st.s, reason)
	}
	ctx, span := st.closed(reason)
	if st.r.Backend == nil {
		span.End()
		return
	}
	t := st.t
	env := &Envelope{
		Type:      TypeDisconnect,
		ID:        NewDeliveryID(),
		Time:      time.Now(),
		Namespace: st.ns,
		Socket:    socketInfo(st.s, st.handshake),
		Reason:    string(reason),
	}
	log := st.s.Logger()
	if t.disc.Add(1) > t.maxDisc {
		t.disc.Add(-1)
		if st.mns != nil {
			st.mns.Dropped(ctx, telemetry.BoundPendingDisconnects)
		}
		telemetry.End(span, ErrOverloaded)
		log.Error("translate: disconnect delivery not sent: too many under way", "delivery_id", env.ID, "reason", reason, "bound", t.maxDisc)
		return
	}
	ok := t.spawn(func() {
		defer t.disc.Add(-1)
		g := st.r.gate
		if g != nil {
			// It waits in line as long as it takes: the backend must
			// learn that the socket left.
			if err := g.acquire(t.ctx, false); err != nil {
				telemetry.End(span, ErrClosed)
				log.Error("translate: disconnect delivery not sent: shutting down", "delivery_id", env.ID, "reason", reason)
				return
			}
		}
		reply, rtt, err := st.deliver(ctx, env)
		if g != nil {
			g.leave(rtt, false, nil)
		}
		telemetry.End(span, err)
		if err != nil {
			log.Error("translate: disconnect delivery failed", "delivery_id", env.ID, "reason", reason, "status", Status(err), "err", err)
			return
		}
		if reply.Stream != nil {
			reply.Stream.Close()
		}
		st.applyEmits(ctx, reply.Emit, env.ID)
	})
	if !ok {
		t.disc.Add(-1)
		telemetry.End(span, ErrClosed)
		log.Error("translate: disconnect delivery not sent: shutting down", "delivery_id", env.ID, "reason", reason)
	}
}

// logRefusal logs a plugin's refusal with the plugin's name, at Info (a
// refused client is policy at work, not a fault), and reports whether
// err was one.
func logRefusal(s *socketio.Socket, msg, event string, err error) bool {
	var pe *plugins.Error
	if !errors.As(err, &pe) {
		return false
	}
	log := s.Logger()
	if !log.Enabled(context.Background(), slog.LevelInfo) {
		return true
	}
	attrs := []slog.Attr{slog.String("plugin", pe.Plugin), slog.Int("status", pe.Status), slog.String("err", pe.Error())}
	if event != "" {
		attrs = append(attrs, slog.String("event", event))
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
	return true
}
