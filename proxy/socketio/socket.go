// This file is the Socket: its identity, rooms, handlers, emits and close.
// It stays one piece because emit, Disconnect and close share the socket's
// state machine (connecting, connected, closed) and its lock; the ack
// plumbing is in ack.go.

package socketio

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iobridge/iobridge/internal/jsonstr"
	"github.com/iobridge/iobridge/proxy/engineio"
)

// AckFunc answers a client's event that asked for an acknowledgement. The
// args are raw JSON; attachments, if any, are referenced from args by
// placeholders (see Placeholder) and make the answer a BINARY_ACK. Only the
// first call sends anything. It may be called from any goroutine.
type AckFunc func(args []json.RawMessage, attachments [][]byte) error

// AckCallback receives a client's acknowledgement of a server emit, or err
// (ErrAckTimeout, ErrSocketClosed) when none will come.
type AckCallback func(args []json.RawMessage, attachments [][]byte, err error)

// Event is an event received from a client.
type Event struct {
	// Name is the event name (for a numeric first element, which the
	// reference accepts, its JSON text).
	Name string
	// Args are the arguments after the name, raw JSON that aliases the
	// received message; binary arguments are placeholders referring to
	// Attachments.
	Args        []json.RawMessage
	Attachments [][]byte
	// Ack is nil unless the client asked for an acknowledgement.
	Ack AckFunc
}

// EventHandler handles a client event. Handlers of one socket run one at a
// time, in the order the client sent its packets, on the connection's
// reader: they must not block for long (hand slow work to a goroutine and
// answer through e.Ack later).
type EventHandler func(e Event)

const (
	stateNew int32 = iota
	stateConnected
	stateClosed
)

// Socket is one client's membership of one namespace (socket.ts). Its
// methods are safe for concurrent use.
//
// Most sockets sit idle, so a Socket keeps only what it cannot rebuild:
// the handshake is assembled from the connection's request when asked for
// (Handshake), and a channel to wait for the connection handlers is made
// only by an event that arrives before they have run.
type Socket struct {
	id        string
	pid       string
	nsp       *Namespace
	client    *client
	auth      json.RawMessage
	issued    int64 // connection time, Unix milliseconds
	recovered bool

	state atomic.Int32
	ready atomic.Bool // the connection handlers have run

	mu            sync.Mutex
	readyCh       chan struct{} // closed by markReady; made by waitReady
	data          any
	anyHandlers   []EventHandler
	handlers      map[string][]EventHandler
	disconnecting []func(DisconnectReason)
	upgrade       []func(transport string)
	disconnect    []func(DisconnectReason)
	acks          map[uint64]*ackWaiter
	acksClosed    bool
	// Set as close calls each handler list: a handler added after that
	// (a connection handler still running on another goroutine when the
	// connection closed) is called at once with closeReason, so none is
	// missed.
	closeReason       DisconnectReason
	disconnectingDone bool
	disconnectDone    bool
}

func newSocket(n *Namespace, c *client, auth json.RawMessage, sess *Session) *Socket {
	s := &Socket{nsp: n, client: c, auth: auth, issued: time.Now().UnixMilli()}
	if sess != nil {
		s.id, s.pid, s.data, s.recovered = sess.SID, sess.PID, sess.Data, true
	} else {
		switch {
		case c.proto == 3 && n.name == "/":
			s.id = c.conn.ID()
		case c.proto == 3:
			s.id = n.name + "#" + c.conn.ID()
		default:
			s.id = newID()
		}
		if n.recovery() {
			s.pid = newID()
		}
	}
	if sess != nil {
		if len(sess.Rooms) > 0 {
			s.addRooms(sess.Rooms)
		}
		for _, p := range sess.MissedPackets {
			if p.Namespace != n.name {
				cp := *p
				cp.Namespace = n.name
				p = &cp
			}
			c.send(p)
		}
		s.logAttrs(slog.LevelDebug, "socketio: session recovered", slog.Int("packets", len(sess.MissedPackets)))
	}
	return s
}

// ID is the socket id: 20 random characters (for EIO=3 clients, the
// Engine.IO id, prefixed by "<namespace>#" outside the main namespace, as
// socket.io 2.x clients expect).
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// ConnID returns the Engine.IO session id of the socket's connection.
func (s *Socket) ConnID() string { return s.client.conn.ID() }

// Protocol returns the connection's Engine.IO protocol version (3 or 4).
func (s *Socket) Protocol() int { return s.client.proto }

// Handshake returns what the client sent when connecting. It is built
// from the connection's handshake request (Conn.Request) on each call, so
// callers that need it often should keep it. Its maps may be shared with
// the connection and must not be modified.
func (s *Socket) Handshake() Handshake {
	return newHandshake(s.client.conn.Request(), s.auth, time.UnixMilli(s.issued))
}

// Recovered reports whether the socket's session was recovered (same id,
// rooms and data, missed packets replayed).
func (s *Socket) Recovered() bool { return s.recovered }

// Connected reports whether the socket is connected.
func (s *Socket) Connected() bool { return s.state.Load() == stateConnected }

// Logger returns a logger for the socket, with namespace, sid and socket
// bound. A new one is made on each call, cheaply: the socket keeps none,
// and the attributes are added only to records that are written. Keep it
// for the duration of a task rather than storing it per socket.
func (s *Socket) Logger() *slog.Logger {
	return slog.New(&scopedHandler{h: s.nsp.log.Handler(), scope: [2]slog.Attr{
		slog.String("sid", s.client.conn.ID()),
		slog.String("socket", s.id),
	}})
}

// markReady records that the connection handlers have run and releases
// events waiting for them.
func (s *Socket) markReady() {
	s.mu.Lock()
	s.ready.Store(true)
	ch := s.readyCh
	s.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// waitReady waits until the connection handlers have run; false if the
// connection closed first.
func (s *Socket) waitReady() bool {
	if s.ready.Load() {
		return true
	}
	s.mu.Lock()
	if s.ready.Load() {
		s.mu.Unlock()
		return true
	}
	if s.readyCh == nil {
		s.readyCh = make(chan struct{})
	}
	ch := s.readyCh
	s.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-s.client.context().Done():
		return false
	}
}

// Data returns the value set with SetData (nil by default).
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData attaches a value to the socket, reported by FetchSockets and kept
// by recovery. It should be JSON-serializable for distributed adapters.
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
	if o := s.observer(); o != nil {
		o.DataSet(s)
	}
}

// Join adds the socket to rooms. It works from Middleware, before the
// socket is connected; after disconnection it does nothing.
func (s *Socket) Join(rooms ...string) {
	if len(rooms) == 0 || s.state.Load() == stateClosed {
		return
	}
	s.addRooms(rooms)
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) { s.delRoom(room) }

// Rooms returns the rooms the socket is in, its own id included.
func (s *Socket) Rooms() []string { return s.nsp.adapter.SocketRooms(s.id) }

// On adds a handler for one event name.
func (s *Socket) On(event string, h EventHandler) {
	s.mu.Lock()
	if s.handlers == nil {
		s.handlers = make(map[string][]EventHandler)
	}
	s.handlers[event] = append(s.handlers[event], h)
	s.mu.Unlock()
}

// OnAny adds a handler for every event; catch-all handlers run before the
// handlers of the event's name.
func (s *Socket) OnAny(h EventHandler) {
	s.mu.Lock()
	s.anyHandlers = append(s.anyHandlers, h)
	s.mu.Unlock()
}

// OnDisconnecting adds a handler called when the socket starts to leave,
// while Rooms still reports its rooms. Added after the socket started to
// leave, fn is called at once.
func (s *Socket) OnDisconnecting(fn func(reason DisconnectReason)) {
	s.mu.Lock()
	if s.disconnectingDone {
		reason := s.closeReason
		s.mu.Unlock()
		fn(reason)
		return
	}
	s.disconnecting = append(s.disconnecting, fn)
	s.mu.Unlock()
}

// OnUpgrade adds a handler called when the socket's connection changes
// transport (an Engine.IO upgrade from polling to "websocket" completed),
// on the connection's reader, not overlapping its event handlers; it
// must not block. A socket that connects after the upgrade is not told:
// Transport already reports the new transport then.
func (s *Socket) OnUpgrade(fn func(transport string)) {
	s.mu.Lock()
	s.upgrade = append(s.upgrade, fn)
	s.mu.Unlock()
}

// upgraded calls the OnUpgrade handlers.
func (s *Socket) upgraded(transport string) {
	s.mu.Lock()
	fns := s.upgrade
	s.mu.Unlock()
	for _, fn := range fns {
		fn(transport)
	}
}

// Transport returns the connection's current transport ("polling" or
// "websocket"), or "" when its Conn does not say (a Conn without a
// Transport method).
func (s *Socket) Transport() string {
	if t, ok := s.client.conn.(interface{ Transport() string }); ok {
		return t.Transport()
	}
	return ""
}

// OnDisconnect adds a handler called once the socket has left. Added after
// that, fn is called at once.
func (s *Socket) OnDisconnect(fn func(reason DisconnectReason)) {
	s.mu.Lock()
	if s.disconnectDone {
		reason := s.closeReason
		s.mu.Unlock()
		fn(reason)
		return
	}
	s.disconnect = append(s.disconnect, fn)
	s.mu.Unlock()
}

// Emit sends an event to this client. args are raw JSON values;
// attachments make it a BINARY_EVENT, args referring to them with
// Placeholder(i). With recovery on, the event carries its offset and is
// kept for replay.
func (s *Socket) Emit(event string, args []json.RawMessage, attachments [][]byte) error {
	return s.emit(event, args, attachments, false, nil, 0)
}

// EmitVolatile is Emit, except the event is dropped if the transport
// cannot write it now (socket.volatile.emit).
func (s *Socket) EmitVolatile(event string, args []json.RawMessage, attachments [][]byte) error {
	return s.emit(event, args, attachments, true, nil, 0)
}

// EmitWithAck sends an event asking for an acknowledgement; cb gets the
// client's answer, ErrAckTimeout after timeout (zero: no timeout), or
// ErrSocketClosed if the socket leaves first. cb runs exactly once, possibly
// before EmitWithAck returns; it must not block.
func (s *Socket) EmitWithAck(event string, args []json.RawMessage, attachments [][]byte, timeout time.Duration, cb AckCallback) error {
	return s.emit(event, args, attachments, false, cb, timeout)
}

func (s *Socket) emit(event string, args []json.RawMessage, attachments [][]byte, volatile bool, cb AckCallback, timeout time.Duration) error {
	if IsReservedEvent(event) {
		return ErrReservedEvent
	}
	if s.state.Load() != stateConnected {
		return ErrSocketClosed
	}
	p := &Packet{
		Type:        PacketEvent,
		Namespace:   s.nsp.name,
		Data:        AppendEventData(make([]byte, 0, eventSize(event, args)), event, args),
		Attachments: attachments,
	}
	if cb != nil {
		p.ID, p.HasID = s.nsp.NextAckID(), true
		s.expectAck(p.ID, cb, timeout)
	} else if !volatile && s.nsp.recovery() {
		// Through the adapter, so the packet gets an offset and is kept.
		return s.nsp.adapter.Broadcast(p, &BroadcastOptions{Rooms: []string{s.id}})
	}
	pkts, err := s.client.srv.encode(p)
	if err != nil {
		if cb != nil {
			s.cancelAck(p.ID)
		}
		return err
	}
	if o := s.observer(); o != nil {
		o.Sent(s.client.conn, s, pkts)
	}
	if volatile {
		s.client.conn.SendVolatile(pkts)
		return nil
	}
	if err := s.client.conn.Send(pkts); err != nil {
		if cb != nil {
			s.cancelAck(p.ID)
		}
		return err
	}
	return nil
}

func eventSize(event string, args []json.RawMessage) int {
	n := len(event) + 4
	for _, a := range args {
		n += len(a) + 1
	}
	return n
}

// WriteEncoded writes packets already encoded (by Namespace.Encode) to the socket's
// connection: the per-recipient step of a broadcast, which adapters call
// with one shared slice for every recipient. It reports whether the
// packets were queued; a socket that is not connected gets nothing.
func (s *Socket) WriteEncoded(pkts []engineio.Packet, volatile bool) bool {
	if s.state.Load() != stateConnected {
		return false
	}
	if o := s.observer(); o != nil {
		o.Sent(s.client.conn, s, pkts)
	}
	if volatile {
		return s.client.conn.SendVolatile(pkts)
	}
	if dc := s.client.dconn; dc != nil {
		return dc.SendDeferred(pkts) == nil
	}
	return s.client.conn.Send(pkts) == nil
}

// To returns a broadcast operator for the sockets in rooms, this one
// excepted (socket.to).
func (s *Socket) To(rooms ...string) *BroadcastOperator {
	return (&BroadcastOperator{nsp: s.nsp}).Except(s.id).To(rooms...)
}

// Broadcast returns a broadcast operator for every socket of the namespace
// but this one (socket.broadcast).
func (s *Socket) Broadcast() *BroadcastOperator {
	return (&BroadcastOperator{nsp: s.nsp}).Except(s.id)
}

// Except returns a broadcast operator for every socket but this one and
// those in rooms.
func (s *Socket) Except(rooms ...string) *BroadcastOperator {
	return (&BroadcastOperator{nsp: s.nsp}).Except(s.id).Except(rooms...)
}

// Disconnect makes the socket leave its namespace: the client gets a
// DISCONNECT packet (its reason: "io server disconnect") and the socket's
// handlers ReasonServerNamespaceDisconnect. With close, every socket of the
// connection is disconnected that way and the connection closed.
func (s *Socket) Disconnect(close bool) {
	if s.state.Load() != stateConnected {
		return
	}
	if close {
		s.client.disconnectAll()
		return
	}
	s.close(ReasonServerNamespaceDisconnect, true)
}

// onconnect marks the socket connected, joins its own room and writes the
// CONNECT acknowledgement (socket.ts _onconnect).
func (s *Socket) onconnect() bool {
	if !s.state.CompareAndSwap(stateNew, stateConnected) {
		return false
	}
	s.addRooms([]string{s.id})
	p := &Packet{Type: PacketConnect, Namespace: s.nsp.name}
	if s.client.proto != 3 {
		b := append([]byte(`{"sid":`), jsonstr.Append(nil, s.id)...)
		if s.pid != "" {
			b = append(b, `,"pid":`...)
			b = jsonstr.Append(b, s.pid)
		}
		p.Data = append(b, '}')
	}
	s.client.send(p)
	s.logAttrs(slog.LevelDebug, "socketio: socket connected", slog.Bool("recovered", s.recovered))
	return true
}

// onpacket handles a packet for this socket, on the connection's reader.
func (s *Socket) onpacket(p *Packet) {
	switch p.Type {
	case PacketEvent:
		s.onevent(p)
	case PacketAck:
		s.onack(p)
	case PacketDisconnect:
		s.onclose(ReasonClientNamespaceDisconnect)
	}
}

func (s *Socket) onevent(p *Packet) {
	name, args, err := EventName(p.Data)
	if err != nil {
		s.logAttrs(slog.LevelWarn, "socketio: event without name ignored", slog.Int("bytes", len(p.Data)))
		return
	}
	if !s.waitReady() {
		return
	}
	if s.state.Load() != stateConnected {
		return
	}
	ev := Event{Name: name, Args: args, Attachments: p.Attachments}
	if p.HasID {
		ev.Ack = s.ackFunc(p.ID)
	}
	if o := s.observer(); o != nil {
		o.EventReceived(s, ev)
	}
	if s.nsp.log.Enabled(context.Background(), slog.LevelDebug) {
		s.logAttrs(slog.LevelDebug, "socketio: event", slog.String("event", name), slog.Int("bytes", len(p.Data)))
	}
	s.mu.Lock()
	anyh := s.anyHandlers
	h := s.handlers[name]
	s.mu.Unlock()
	for _, fn := range anyh {
		fn(ev)
	}
	for _, fn := range h {
		fn(ev)
	}
}

func (s *Socket) onclose(reason DisconnectReason) { s.close(reason, false) }

// close makes the socket leave (socket.ts _onclose); with sendDisconnect it
// first writes a DISCONNECT packet.
func (s *Socket) close(reason DisconnectReason, sendDisconnect bool) {
	prev := s.state.Swap(stateClosed)
	if prev == stateClosed {
		return
	}
	if prev == stateNew {
		s.cleanup()
		return
	}
	if sendDisconnect {
		s.client.send(&Packet{Type: PacketDisconnect, Namespace: s.nsp.name})
	}
	if o := s.observer(); o != nil {
		o.SocketDisconnected(s, reason)
	}
	s.mu.Lock()
	disconnecting := s.disconnecting
	s.closeReason, s.disconnectingDone = reason, true
	s.mu.Unlock()
	for _, fn := range disconnecting {
		fn(reason)
	}
	if s.nsp.recovery() && reason.recoverable() {
		h := s.Handshake()
		s.nsp.store.PersistSession(&Session{SID: s.id, PID: s.pid, Rooms: s.Rooms(), Data: s.Data(), Reason: reason, Handshake: &h})
	}
	s.cleanup()
	s.client.remove(s)
	s.mu.Lock()
	acks := s.acks
	s.acks = nil
	s.acksClosed = true
	disconnect := s.disconnect
	s.disconnectDone = true
	s.mu.Unlock()
	for _, w := range acks {
		if w.timer != nil {
			w.timer.Stop()
		}
		w.fn(nil, nil, ErrSocketClosed)
	}
	s.logAttrs(slog.LevelDebug, "socketio: socket disconnected", slog.String("reason", string(reason)))
	for _, fn := range disconnect {
		fn(reason)
	}
}

// cleanup leaves every room and the namespace.
func (s *Socket) cleanup() {
	s.state.Store(stateClosed)
	s.delAllRooms()
	s.nsp.remove(s)
}

// Info describes the socket as FetchSockets does on this node, its data
// as set with SetData. Adapters answering other nodes' queries use
// RemoteInfo.
func (s *Socket) Info() SocketInfo { return s.info() }

// info describes the socket for FetchSockets.
func (s *Socket) info() SocketInfo {
	return SocketInfo{ID: s.id, Handshake: s.Handshake(), Rooms: slices.Clone(s.Rooms()), Data: s.Data()}
}
