package socketio

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
)

// client is one Engine.IO connection: it decodes packets and routes them
// to the connection's sockets, one per namespace (client.ts).
type client struct {
	srv   *Server
	conn  Conn
	proto int
	log   *slog.Logger
	dec   Decoder // reader goroutine only

	ctx    context.Context // canceled when the connection closes
	cancel context.CancelFunc

	mu          sync.Mutex
	nsps        map[string]*Socket
	pending     map[string]struct{}
	closed      bool
	closeReason DisconnectReason
	timer       *time.Timer
}

var _ engineio.Handler = (*client)(nil)

func newClient(s *Server, c Conn) *client {
	ctx, cancel := context.WithCancel(context.Background())
	return &client{
		srv:     s,
		conn:    c,
		proto:   c.Protocol(),
		log:     s.log.With("sid", c.ID()),
		dec:     Decoder{MaxAttachments: s.cfg.MaxAttachments},
		ctx:     ctx,
		cancel:  cancel,
		nsps:    make(map[string]*Socket),
		pending: make(map[string]struct{}),
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
	n := len(c.nsps)
	c.mu.Unlock()
	if n == 0 {
		c.log.Info("socketio: no namespace joined in time, closing", "reason", ReasonForcedServerClose)
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
	p, err := c.dec.Add(data, binary)
	if err != nil {
		c.log.Warn("socketio: invalid packet, closing", "err", err, "bytes", len(data), "reason", ReasonParseError)
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
	s := c.nsps[name]
	_, pending := c.pending[name]
	c.mu.Unlock()
	switch {
	case s == nil && p.Type == PacketConnect:
		if pending {
			c.log.Warn("socketio: CONNECT while connecting, ignored", "namespace", name)
			return
		}
		c.connect(name, auth)
	case s != nil && p.Type != PacketConnect && p.Type != PacketConnectError:
		s.onpacket(p)
	default:
		c.log.Warn("socketio: packet out of place, closing", "namespace", name, "type", p.Type.String(), "reason", ReasonForcedServerClose)
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
	n := c.srv.lookup(name)
	if n == nil {
		c.log.Info("socketio: connect to unknown namespace refused", "namespace", name)
		c.send(&Packet{Type: PacketConnectError, Namespace: name, Data: json.RawMessage(`{"message":"Invalid namespace"}`)})
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.pending[name] = struct{}{}
	c.mu.Unlock()
	n.add(c, auth)
}

// register records a connecting socket; false if the connection closed.
func (c *client) register(s *Socket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, s.nsp.name)
	if c.closed {
		return false
	}
	c.nsps[s.nsp.name] = s
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	return true
}

func (c *client) unpend(name string) {
	c.mu.Lock()
	delete(c.pending, name)
	c.mu.Unlock()
}

func (c *client) remove(s *Socket) {
	c.mu.Lock()
	if c.nsps[s.nsp.name] == s {
		delete(c.nsps, s.nsp.name)
	}
	c.mu.Unlock()
}

// send encodes and queues one packet; errors mean the connection is closed
// (or closing), which its OnClose reports.
func (c *client) send(p *Packet) {
	_ = c.conn.Send(Encode(p))
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
	socks := make([]*Socket, 0, len(c.nsps))
	for _, s := range c.nsps {
		socks = append(socks, s)
	}
	c.mu.Unlock()
	for _, s := range socks {
		s.Disconnect(false)
	}
	c.closeWith(ReasonForcedServerClose, engineio.ReasonForcedClose)
}

// OnClose implements engineio.Handler.
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
	socks := make([]*Socket, 0, len(c.nsps))
	for _, s := range c.nsps {
		socks = append(socks, s)
	}
	clear(c.nsps)
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.mu.Unlock()
	c.cancel()
	if err != nil {
		c.log.Debug("socketio: connection closed", "reason", r, "err", err)
	} else {
		c.log.Debug("socketio: connection closed", "reason", r)
	}
	for _, s := range socks {
		s.onclose(r)
	}
	c.srv.removeClient(c)
}
