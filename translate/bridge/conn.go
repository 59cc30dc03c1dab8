package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/internal/jsonstr"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
	"github.com/iobridge/iobridge/translate"
)

// conn states.
const (
	stateOpen    = iota
	stateLeaving // the sidecar sent its close frame
	stateGone    // the bridge is over
)

// conn is one socket's bridge.
type conn struct {
	b  *Bridge
	s  *socketio.Socket
	ns string

	// ready is closed once ws is set, or the dial failed (ws nil).
	ready chan struct{}
	ws    *websocket.Conn
	// done is closed when the bridge is over.
	done chan struct{}
	// orphan stops the close that ties the bridge to the client's
	// connection until the socket is connected.
	orphan func() bool

	wmu sync.Mutex // one data frame writer at a time

	mu      sync.Mutex
	state   int
	running bool   // run has started or will: it ends the bridge
	reason  string // the close reason, once leaving
	nextID  uint64
	pending []pendingAck
}

type pendingAck struct {
	id uint64
	ch chan []json.RawMessage
	sc trace.SpanContext // the event frame's span, the ack frame's parent
}

// start makes run own the bridge of a connected socket. It reports false
// when the bridge is already closed (its client connection closed first).
func (c *conn) start() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return false
	}
	c.running = true
	return true
}

// unstart undoes start when run could not be started.
func (c *conn) unstart() {
	c.mu.Lock()
	c.running = false
	c.mu.Unlock()
}

func newConn(b *Bridge, s *socketio.Socket) *conn {
	return &conn{b: b, s: s, ns: s.Namespace().Name(), ready: make(chan struct{}), done: make(chan struct{})}
}

func (c *conn) setWS(ws *websocket.Conn) {
	c.ws = ws
	close(c.ready)
}

// dialLate dials the bridge of a socket already connected (recovered),
// then runs it. A failed dial disconnects the socket.
func (c *conn) dialLate() {
	ws, err := c.b.dial(context.Background(), c.s)
	if err != nil {
		c.s.Logger().Warn("bridge: dial failed; socket disconnected", "status", dialStatus(err), "err", err)
		c.fail(err)
		c.s.Disconnect(false)
		return
	}
	c.setWS(ws)
	c.run()
}

// fail ends a bridge whose dial failed.
func (c *conn) fail(error) {
	c.mu.Lock()
	c.state = stateGone
	c.mu.Unlock()
	select {
	case <-c.ready:
	default:
		close(c.ready)
	}
	close(c.done)
	c.b.conns.CompareAndDelete(c.s.ID(), c)
}

// run sends the connect frame and reads the backend's frames until the
// bridge closes. When the backend closed it, the socket is disconnected.
func (c *conn) run() {
	ws := c.ws
	c.mu.Lock()
	leaving, reason := c.state != stateOpen, c.reason
	c.mu.Unlock()
	if leaving { // the socket left while the bridge was being dialed
		c.sendClose(reason)
	} else if err := c.write(c.connectFrame()); err != nil {
		c.s.Logger().Warn("bridge: connect frame not sent", "err", err)
	}
	stopPing := c.keepAlive()
	var err error
	for {
		var typ int
		var msg []byte
		typ, msg, err = ws.ReadMessage()
		if err != nil {
			break
		}
		c.alive()
		if typ != websocket.TextMessage {
			c.s.Logger().Warn("bridge: binary frame skipped", "bytes", len(msg))
			continue
		}
		c.handle(msg)
	}
	stopPing()
	ws.Close()
	c.b.open.Add(-1)
	c.mu.Lock()
	backendClosed := c.state == stateOpen
	c.state = stateGone
	c.pending = nil
	c.mu.Unlock()
	close(c.done)
	c.b.conns.CompareAndDelete(c.s.ID(), c)
	if backendClosed {
		log := c.s.Logger()
		if log.Enabled(context.Background(), slog.LevelInfo) {
			log.Info("bridge: closed by the backend; socket disconnected", "err", err)
		}
		c.s.Disconnect(false)
	}
}

// keepAlive pings the backend every PingInterval, from a timer (no
// goroutine while the bridge is idle), and gives the backend PingInterval
// plus Timeout to show it is alive (a pong or any frame; the read
// deadline then ends run). It returns the function that stops the pings.
func (c *conn) keepAlive() (stop func()) {
	every := c.b.cfg.PingInterval
	if every < 0 {
		return func() {}
	}
	c.ws.SetPongHandler(func(string) error { c.alive(); return nil })
	c.alive()
	var (
		mu      sync.Mutex
		t       *time.Timer
		stopped bool
	)
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.b.cfg.Timeout))
		mu.Lock()
		defer mu.Unlock()
		if err == nil && !stopped {
			t.Reset(every)
		}
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// alive moves the read deadline on: the backend answered. While the bridge
// is closing, the close handshake's deadline stays.
func (c *conn) alive() {
	if c.b.cfg.PingInterval < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateOpen {
		_ = c.ws.SetReadDeadline(time.Now().Add(c.b.cfg.PingInterval + c.b.cfg.Timeout))
	}
}

// leave closes the bridge from the sidecar's side: a close frame with
// reason, then the connection once the backend answers or CloseTimeout
// passes (run does that; a bridge whose run never started is closed
// here).
func (c *conn) leave(reason string) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.state, c.reason = stateLeaving, reason
	running := c.running
	c.mu.Unlock()
	c.b.conns.CompareAndDelete(c.s.ID(), c)
	if !running {
		c.sendClose(reason)
		c.ws.Close()
		c.b.open.Add(-1)
		c.mu.Lock()
		c.state = stateGone
		c.mu.Unlock()
		close(c.done)
		return
	}
	select {
	case <-c.ready:
	default:
		return // run sends it once the dial is done
	}
	if c.ws != nil {
		c.sendClose(reason)
	}
}

// sendClose writes the close frame and bounds the wait for the backend's.
func (c *conn) sendClose(reason string) {
	if len(reason) > 123 { // a close frame's reason is at most 123 bytes
		reason = reason[:123]
	}
	deadline := time.Now().Add(c.b.cfg.CloseTimeout)
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, reason), deadline)
	_ = c.ws.NetConn().SetReadDeadline(deadline)
}

// abort closes the connection at once (Shutdown's deadline passed).
func (c *conn) abort() {
	select {
	case <-c.ready:
		if c.ws != nil {
			c.ws.Close()
		}
	default:
	}
}

// connectFrame is {"type":"connect","namespace","socket":{…},"recovered"}.
func (c *conn) connectFrame() []byte {
	s := c.s
	rooms := s.Rooms()
	slices.Sort(rooms)
	if rooms == nil {
		rooms = []string{}
	}
	data := translate.EncodeData(s.Data())
	if data == nil {
		data = json.RawMessage("{}")
	}
	f := struct {
		Type      string               `json:"type"`
		Namespace string               `json:"namespace"`
		Socket    translate.SocketInfo `json:"socket"`
		Recovered bool                 `json:"recovered"`
	}{
		Type:      "connect",
		Namespace: c.ns,
		Socket:    translate.SocketInfo{ID: s.ID(), Rooms: rooms, Data: data, Handshake: translate.EncodeHandshake(s.Handshake())},
		Recovered: s.Recovered(),
	}
	b, err := json.Marshal(f)
	if err != nil { // socket data that is not JSON: send it as {}
		f.Socket.Data = json.RawMessage("{}")
		b, _ = json.Marshal(f)
	}
	return b
}

// write sends one data frame, waiting at most Timeout. A write that fails
// leaves the connection unusable: it is closed, which ends the bridge.
func (c *conn) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.b.cfg.Timeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		c.ws.Close()
		return err
	}
	return nil
}

var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// deliver writes an event frame and, when the client wants an ack, waits
// for the backend's: send, in the frame's span when tracing.
func (c *conn) deliver(ctx context.Context, env *translate.Envelope) (*translate.Reply, error) {
	if c.b.tracer == nil {
		return c.send(ctx, env)
	}
	ctx, span := telemetry.StartBridgeSpan(ctx, c.b.tracer, telemetry.OperationSend, c.ns, env.Event, c.s.ID())
	if span.IsRecording() {
		span.SetAttributes(frameEvent)
	}
	reply, err := c.send(ctx, env)
	telemetry.End(span, err)
	return reply, err
}

// Values of telemetry.AttrBridgeFrame, made once.
var (
	frameEvent     = telemetry.AttrBridgeFrame.String("event")
	frameMalformed = telemetry.AttrBridgeFrame.String("malformed")
)

func (c *conn) send(ctx context.Context, env *translate.Envelope) (*translate.Reply, error) {
	select {
	case <-c.ready:
	default:
		t := time.NewTimer(c.b.cfg.Timeout)
		select {
		case <-c.ready:
			t.Stop()
		case <-t.C:
			return nil, fmt.Errorf("%w: bridge not dialed within %v", translate.ErrTimeout, c.b.cfg.Timeout)
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	var p pendingAck
	c.mu.Lock()
	if c.state != stateOpen || c.ws == nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %w", translate.ErrUnreachable, ErrClosed)
	}
	if env.Ack {
		c.nextID++
		p = pendingAck{id: c.nextID, ch: make(chan []json.RawMessage, 1)}
		if c.b.tracer != nil {
			p.sc = trace.SpanContextFromContext(ctx)
		}
		c.pending = append(c.pending, p)
	}
	c.mu.Unlock()

	bp := framePool.Get().(*[]byte)
	f := append((*bp)[:0], `{"type":"event","event":`...)
	f = jsonstr.Append(f, env.Event)
	f = append(f, `,"args":`...)
	f = socketio.AppendArray(f, env.Args)
	if env.Ack {
		f = append(f, `,"id":`...)
		f = strconv.AppendUint(f, p.id, 10)
	}
	f = append(f, '}')
	err := c.write(f)
	if cap(f) <= 64<<10 {
		*bp = f
		framePool.Put(bp)
	}
	if err != nil {
		c.forget(p.id)
		return nil, fmt.Errorf("%w: write: %v", translate.ErrUnreachable, err)
	}
	if !env.Ack {
		return &translate.Reply{}, nil
	}
	t := time.NewTimer(c.b.cfg.Timeout)
	defer t.Stop()
	select {
	case args := <-p.ch:
		return &translate.Reply{Ack: args, HasAck: true}, nil
	case <-t.C:
		c.forget(p.id)
		return nil, fmt.Errorf("%w: no ack frame within %v", translate.ErrTimeout, c.b.cfg.Timeout)
	case <-c.done:
		return nil, fmt.Errorf("%w: %w", translate.ErrUnreachable, ErrClosed)
	case <-ctx.Done():
		c.forget(p.id)
		return nil, ctx.Err()
	}
}

// forget drops a pending ack.
func (c *conn) forget(id uint64) {
	if id == 0 {
		return
	}
	c.mu.Lock()
	c.pending = slices.DeleteFunc(c.pending, func(p pendingAck) bool { return p.id == id })
	c.mu.Unlock()
}

// resolve hands an ack frame's args to the event waiting for them.
func (c *conn) resolve(id uint64, args []json.RawMessage) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.pending {
		if p.id == id {
			c.pending = slices.Delete(c.pending, i, i+1)
			p.ch <- args
			return true
		}
	}
	return false
}

// pendingSpan returns the span context of the event waiting for the ack
// frame id (none when no event waits).
func (c *conn) pendingSpan(id uint64) trace.SpanContext {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.pending {
		if p.id == id {
			return p.sc
		}
	}
	return trace.SpanContext{}
}
