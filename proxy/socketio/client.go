package socketio

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
)

// client is one Engine.IO connection: it decodes packets and routes them
// to the connection's sockets, one per namespace (client.ts).
//
// An idle connection is the common case, tens of thousands per process, so
// a client keeps little: its sockets in a slice (a connection rarely joins
// more than a couple of namespaces), and a context only once something
// asks for one.
type client struct {
	srv   *Server
	conn  Conn
	dconn DeferredConn // conn, if it is one; nil otherwise
	proto int
	dec   Decoder // reader goroutine only

	mu sync.Mutex
	// ctx is canceled when the connection closes; made by the first
	// context call.
	ctx         context.Context
	cancel      context.CancelFunc
	socks       []*Socket // one per namespace joined
	pending     []string  // namespaces whose CONNECT is under way
	closed      bool
	closeReason DisconnectReason
	timer       *time.Timer
}

var _ engineio.Handler = (*client)(nil)

func newClient(s *Server, c Conn) *client {
	dc, _ := c.(DeferredConn)
	return &client{
		srv:   s,
		conn:  c,
		dconn: dc,
		proto: c.Protocol(),
		dec:   Decoder{MaxAttachments: s.cfg.MaxAttachments},
	}
}

// context returns a context canceled when the connection closes (already
// canceled if it has).
func (c *client) context() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithCancel(context.Background())
		if c.closed {
			c.cancel()
		}
	}
	return c.ctx
}

// socketLocked returns the socket of namespace name, nil if none.
func (c *client) socketLocked(name string) *Socket {
	for _, s := range c.socks {
		if s.nsp.name == name {
			return s
		}
	}
	return nil
}

// unpendLocked forgets a CONNECT under way; the slice is dropped once
// empty.
func (c *client) unpendLocked(name string) {
	for i, p := range c.pending {
		if p == name {
			c.pending = slices.Delete(c.pending, i, i+1)
			break
		}
	}
	if len(c.pending) == 0 {
		c.pending = nil
	}
}

// start arms the connect timeout and, for EIO=3 clients, connects the main
// namespace implicitly (socket.io 2.x clients never send CONNECT for "/").
func (c *client) start() {
	if d := c.srv.cfg.ConnectTimeout; d > 0 {
		c.mu.Lock()
		c.timer = time.AfterFunc(d, c.onConnectTimeout)
		c.mu.Unlock()
	}
	if c.proto == 3 {
		// Queued packets follow the engine's OPEN packet.
		c.connect("/", json.RawMessage("{}"))
	}
}

func (c *client) onConnectTimeout() {
	c.mu.Lock()
	n := len(c.socks)
	c.mu.Unlock()
	if n == 0 {
		c.logAttrs(slog.LevelDebug, "socketio: no namespace joined in time, closing", slog.String("reason", string(ReasonForcedServerClose)))
		c.closeWith(ReasonForcedServerClose, engineio.ReasonForcedClose)
	}
}

func (c *client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed || c.closeReason != ""
}

// OnMessage implements engineio.Handler.
func (c *client) OnMessage(data []byte, binary bool) {
	if c.isClosed() {
		return
	}
	if o := c.srv.observer(); o != nil {
		o.Received(c.conn, data, binary)
	}
	p, err := c.decode(data, binary)
	if err != nil {
		c.logAttrs(slog.LevelWarn, "socketio: invalid packet, closing", slog.Any("err", err), slog.Int("bytes", len(data)), slog.String("reason", string(ReasonParseError)))
		c.closeWith(ReasonParseError, engineio.ReasonParseError)
		return
	}
	if p != nil {
		c.ondecoded(p)
	}
}

func (c *client) ondecoded(p *Packet) {
	name := p.Namespace
	auth := p.Data
	if c.proto == 3 {
		var query string
		name, query, _ = strings.Cut(name, "?")
		if p.Type == PacketConnect {
			auth = queryAuth(query)
		}
	} else if p.Type == PacketConnect && auth == nil {
		auth = json.RawMessage("{}")
	}
	c.mu.Lock()
	s := c.socketLocked(name)
	pending := slices.Contains(c.pending, name)
	c.mu.Unlock()
	switch {
	case s == nil && p.Type == PacketConnect:
		if pending {
			c.logAttrs(slog.LevelWarn, "socketio: CONNECT while connecting, ignored", slog.String("namespace", name))
			return
		}
		c.connect(name, auth)
	case s != nil && p.Type != PacketConnect && p.Type != PacketConnectError:
		s.onpacket(p)
	default:
		c.logAttrs(slog.LevelWarn, "socketio: packet out of place, closing", slog.String("namespace", name), slog.String("type", p.Type.String()), slog.String("reason", string(ReasonForcedServerClose)))
		c.closeWith(ReasonForcedServerClose, engineio.ReasonForcedClose)
	}
}

// queryAuth turns an EIO=3 namespace query string into the auth object, as
// url.parse(nsp, true).query: one value is a string, repeated keys an array.
func queryAuth(q string) json.RawMessage {
	vals, _ := url.ParseQuery(q)
	if len(vals) == 0 {
		return json.RawMessage("{}")
	}
	m := make(map[string]any, len(vals))
	for k, v := range vals {
		if len(v) == 1 {
			m[k] = v[0]
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

func (c *client) connect(name string, auth json.RawMessage) {
	n := c.srv.acquire(name)
	if n == nil {
		c.logAttrs(slog.LevelDebug, "socketio: connect to unknown namespace refused", slog.String("namespace", name))
		c.send(&Packet{Type: PacketConnectError, Namespace: name, Data: json.RawMessage(`{"message":"Invalid namespace"}`)})
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		n.release()
		return
	}
	c.pending = append(c.pending, name)
	c.mu.Unlock()
	n.add(c, auth)
}

// register records a connecting socket; false if the connection closed.
func (c *client) register(s *Socket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unpendLocked(s.nsp.name)
	if c.closed {
		return false
	}
	c.socks = append(c.socks, s)
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	return true
}

func (c *client) unpend(name string) {
	c.mu.Lock()
	c.unpendLocked(name)
	c.mu.Unlock()
}

func (c *client) remove(s *Socket) {
	c.mu.Lock()
	if i := slices.Index(c.socks, s); i >= 0 {
		c.socks = slices.Delete(c.socks, i, i+1)
		if len(c.socks) == 0 {
			c.socks = nil
		}
	}
	c.mu.Unlock()
}

// send encodes and queues one packet; errors mean the connection is closed
// (or closing), which its OnClose reports, or that the packet cannot be
// written in the server's wire format, which is logged.
func (c *client) send(p *Packet) {
	pkts, err := c.srv.encode(p)
	if err != nil {
		c.logAttrs(slog.LevelWarn, "socketio: packet not sent", slog.String("type", p.Type.String()), slog.Any("err", err))
		return
	}
	if o := c.srv.observer(); o != nil {
		o.Sent(c.conn, nil, pkts)
	}
	_ = c.conn.Send(pkts)
}

// closeWith closes the connection, reporting reason to its sockets instead
// of the engine's reason.
func (c *client) closeWith(reason DisconnectReason, er engineio.CloseReason) {
	c.mu.Lock()
	if c.closeReason == "" {
		c.closeReason = reason
	}
	c.mu.Unlock()
	c.conn.Close(er)
}

// disconnectAll disconnects every socket of the connection, then closes it
// (socket.disconnect(true)).
func (c *client) disconnectAll() {
	c.mu.Lock()
	socks := slices.Clone(c.socks)
	c.mu.Unlock()
	for _, s := range socks {
		s.Disconnect(false)
	}
	c.closeWith(ReasonForcedServerClose, engineio.ReasonForcedClose)
}

// OnClose implements engineio.Handler.
var _ engineio.UpgradeHandler = (*client)(nil)

// OnUpgrade tells the connected sockets that the connection's transport
// is now transport.
func (c *client) OnUpgrade(transport string) {
	if o := c.srv.observer(); o != nil {
		o.ConnUpgraded(c.conn, transport)
	}
	c.mu.Lock()
	socks := slices.Clone(c.socks)
	c.mu.Unlock()
	for _, s := range socks {
		if s.Connected() {
			s.upgraded(transport)
		}
	}
}

func (c *client) OnClose(reason engineio.CloseReason, err error) {
	if reason == engineio.ReasonSlowConsumer {
		// The engine may report this from inside Send, called while an
		// adapter iterates its rooms: leave that call stack before the
		// sockets leave their rooms.
		c.srv.wg.Add(1)
		go func() {
			defer c.srv.wg.Done()
			c.onclose(reason, err)
		}()
		return
	}
	c.onclose(reason, err)
}

func (c *client) onclose(reason engineio.CloseReason, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	r := c.closeReason
	if r == "" {
		r = DisconnectReason(reason)
	}
	socks := c.socks
	c.socks = nil
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if err != nil {
		c.logAttrs(slog.LevelDebug, "socketio: connection closed", slog.String("reason", string(r)), slog.Any("err", err))
	} else {
		c.logAttrs(slog.LevelDebug, "socketio: connection closed", slog.String("reason", string(r)))
	}
	for _, s := range socks {
		s.onclose(r)
	}
	c.srv.removeClient(c)
	if o := c.srv.observer(); o != nil {
		o.ConnClosed(c.conn, reason)
	}
}
