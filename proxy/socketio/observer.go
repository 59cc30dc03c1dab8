package socketio

import (
	"slices"

	"github.com/iobridge/iobridge/proxy/engineio"
)

// Observer sees what happens on a Server, for a tool that reports it (the
// admin UI): connections opening, changing transport and closing, the
// messages they carry, sockets connecting and leaving, rooms joined and
// left, and events received. It is what the reference's instrumentation
// gets from engine and adapter events, onAny and onAnyOutgoing.
//
// Its methods are called on the goroutines where things happen
// (connection readers, broadcasters, middleware), often at once, and
// must not block. Arguments alias the server's buffers: copy what is kept
// past the call.
type Observer interface {
	// ConnOpened is called when an Engine.IO connection is attached;
	// transport is its transport ("polling", "websocket", or "" when the
	// Conn does not say).
	ConnOpened(c Conn, transport string)
	// ConnUpgraded is called when a connection's transport changed.
	ConnUpgraded(c Conn, transport string)
	// ConnClosed is called once when a connection closed, with the
	// Engine.IO reason.
	ConnClosed(c Conn, reason engineio.CloseReason)
	// Received is called with every Engine.IO message a connection
	// receives, before it is decoded.
	Received(c Conn, data []byte, binary bool)
	// Sent is called with the messages of every Socket.IO packet queued
	// to a connection: s is the socket it is for, nil for a packet of no
	// connected socket (a CONNECT_ERROR, a replayed packet). A broadcast
	// calls it once per recipient with the same slice.
	Sent(c Conn, s *Socket, pkts []engineio.Packet)
	// SocketConnected is called once a socket is connected (its CONNECT
	// acknowledgement written), before the OnConnection handlers.
	SocketConnected(s *Socket)
	// SocketDisconnected is called when a connected socket starts to
	// leave, before its OnDisconnecting handlers and before it leaves its
	// rooms (RoomLeft follows for each).
	SocketDisconnected(s *Socket, reason DisconnectReason)
	// RoomJoined is called when the socket joined a room it was not in,
	// its own room included; RoomLeft when it left one it was in.
	RoomJoined(s *Socket, room string)
	RoomLeft(s *Socket, room string)
	// EventReceived is called with each event of a connected socket,
	// before its OnAny and On handlers.
	EventReceived(s *Socket, e Event)
	// DataSet is called when the socket's data is replaced (SetData).
	DataSet(s *Socket)
}

// observerBox lets the Observer interface sit behind an atomic pointer,
// with its RemoteDataDecorator side asserted once.
type observerBox struct {
	o  Observer
	rd RemoteDataDecorator // nil when o is not one
}

// SetObserver installs o (nil removes it). One Observer is kept; a second
// call replaces the first. Without one, the server's hot paths pay one
// atomic load per hook and allocate nothing for it. An o that is also a
// RemoteDataDecorator decorates the data of this node's sockets in the
// answers to other nodes (Socket.RemoteInfo) while it is installed.
func (s *Server) SetObserver(o Observer) {
	if o == nil {
		s.obs.Store(nil)
		return
	}
	rd, _ := o.(RemoteDataDecorator)
	s.obs.Store(&observerBox{o: o, rd: rd})
}

// observer returns the installed Observer, or nil.
func (s *Server) observer() Observer {
	if b := s.obs.Load(); b != nil {
		return b.o
	}
	return nil
}

// observer returns the socket's server's Observer, or nil.
func (s *Socket) observer() Observer { return s.nsp.srv.observer() }

// connTransport is c's transport, "" when the Conn does not say.
func connTransport(c Conn) string {
	if t, ok := c.(interface{ Transport() string }); ok {
		return t.Transport()
	}
	return ""
}

// joinObserved adds the socket to rooms through the adapter and tells o
// about each room it was not in yet.
func (s *Socket) joinObserved(o Observer, rooms []string) {
	before := s.nsp.adapter.SocketRooms(s.id)
	s.nsp.adapter.AddAll(s.id, rooms)
	for i, r := range rooms {
		if !slices.Contains(before, r) && !slices.Contains(rooms[:i], r) {
			o.RoomJoined(s, r)
		}
	}
}

// leaveAllObserved removes the socket from every room and tells o about
// each.
func (s *Socket) leaveAllObserved(o Observer) {
	rooms := s.nsp.adapter.SocketRooms(s.id)
	s.nsp.adapter.DelAll(s.id)
	for _, r := range rooms {
		o.RoomLeft(s, r)
	}
}

// addRooms adds the socket to rooms, told to the Observer if there is one.
func (s *Socket) addRooms(rooms []string) {
	if o := s.observer(); o != nil {
		s.joinObserved(o, rooms)
		return
	}
	s.nsp.adapter.AddAll(s.id, rooms)
}

// delRoom removes the socket from room, told to the Observer if there is
// one and the socket was in it.
func (s *Socket) delRoom(room string) {
	o := s.observer()
	if o == nil {
		s.nsp.adapter.Del(s.id, room)
		return
	}
	in := slices.Contains(s.nsp.adapter.SocketRooms(s.id), room)
	s.nsp.adapter.Del(s.id, room)
	if in {
		o.RoomLeft(s, room)
	}
}

// delAllRooms removes the socket from every room, told to the Observer if
// there is one.
func (s *Socket) delAllRooms() {
	if o := s.observer(); o != nil {
		s.leaveAllObserved(o)
		return
	}
	s.nsp.adapter.DelAll(s.id)
}
