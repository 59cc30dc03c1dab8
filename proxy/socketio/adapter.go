package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// BroadcastFlags modify a broadcast, as socket.io-adapter's BroadcastFlags.
type BroadcastFlags struct {
	// Volatile packets are dropped for a recipient whose transport cannot
	// write right now, and are never stored for recovery.
	Volatile bool
	// Local restricts the broadcast to this node (distributed adapters).
	Local bool
	// Timeout bounds the wait for acks of BroadcastWithAck; zero means no
	// bound other than the caller's context.
	Timeout time.Duration
}

// BroadcastOptions select the recipients of a broadcast or query: the
// sockets in any of Rooms (every socket of the namespace when Rooms is
// empty) that are in none of Except. Every socket is in the room named by
// its own id. The slices are not modified by adapters.
type BroadcastOptions struct {
	Rooms  []string
	Except []string
	Flags  BroadcastFlags
}

// BroadcastAck receives the outcome of Adapter.BroadcastWithAck.
type BroadcastAck struct {
	// ClientCount is called once per node with the number of sockets the
	// packet was written to there.
	ClientCount func(n int)
	// Recipient is called for each local socket the packet is written to,
	// before it is written.
	Recipient func(socketID string)
	// Ack is called once per recipient: with the client's ack arguments,
	// or with err set (ErrSocketClosed) when the socket closed first.
	// socketID is "" for a recipient on another node.
	Ack func(socketID string, args []json.RawMessage, attachments [][]byte, err error)
}

// Adapter keeps one namespace's rooms and delivers its broadcasts, as
// socket.io-adapter's Adapter does. An AdapterFactory makes one per
// namespace. Methods may be called from many goroutines at once. None may
// call back into the Namespace while it holds a lock that the Namespace's
// own calls into the Adapter need (AddAll, Del, DelAll from Socket).
//
// Optional capabilities (SocketFetcher, ServerSideEmitter, SessionStore,
// ServerCounter, Initializer, Closer) are separate interfaces, asserted once when the
// namespace is created.
type Adapter interface {
	// AddAll adds socket id to each room, creating rooms as needed.
	AddAll(id string, rooms []string)
	// Del removes socket id from room.
	Del(id, room string)
	// DelAll removes socket id from every room.
	DelAll(id string)
	// Broadcast delivers p to every matching socket. p is encoded once per
	// broadcast (Namespace.Encode, in the server's wire format) and the
	// same []engineio.Packet is written to every
	// local recipient (Socket.WriteEncoded), without allocating per
	// recipient. With recovery on, a non-volatile EVENT without ack id gets
	// its offset appended as last argument and is stored (SessionStore).
	// p must not be modified; copy it to change it.
	Broadcast(p *Packet, opts *BroadcastOptions) error
	// BroadcastWithAck is Broadcast for a packet expecting acks: p.ID is
	// already set (from Namespace.NextAckID, one id for every recipient);
	// it registers an ack waiter on every local recipient
	// (Socket.ExpectAck) before writing to it and reports through acks.
	// Such packets are never stored for recovery.
	BroadcastWithAck(p *Packet, opts *BroadcastOptions, acks *BroadcastAck) error
	// Sockets returns the ids of the local sockets in any of rooms (every
	// socket when rooms is empty).
	Sockets(rooms []string) []string
	// SocketRooms returns the rooms of a local socket, nil if unknown.
	SocketRooms(id string) []string
}

// AdapterFactory makes the Adapter of a namespace. It is called once per
// namespace, including child namespaces created from a pattern.
type AdapterFactory func(nsp *Namespace) Adapter

// SocketInfo describes a socket returned by FetchSockets. Data is the
// socket's data as set with Socket.SetData.
type SocketInfo struct {
	ID        string
	Handshake Handshake
	Rooms     []string
	Data      any
}

// ErrRemoteTimeout is wrapped by a distributed adapter's query (fetch
// sockets) that did not get every other node's answer in time.
var ErrRemoteTimeout = errors.New("socketio: other nodes did not all answer in time")

// SocketFetcher is implemented by adapters that answer queries across nodes
// (fetchSockets, addSockets, delSockets, disconnectSockets). Without it,
// these operations act on this node's sockets only.
type SocketFetcher interface {
	FetchSockets(ctx context.Context, opts *BroadcastOptions) ([]SocketInfo, error)
	AddSockets(ctx context.Context, opts *BroadcastOptions, rooms []string) error
	DelSockets(ctx context.Context, opts *BroadcastOptions, rooms []string) error
	DisconnectSockets(ctx context.Context, opts *BroadcastOptions, close bool) error
}

// ServerSideEmitter is implemented by adapters that can send events to the
// other nodes of a cluster (serverSideEmit). Received events are handed to
// Namespace.DispatchServerSideEmit.
type ServerSideEmitter interface {
	ServerSideEmit(ctx context.Context, event string, args []json.RawMessage) error
}

// ServerCounter is implemented by distributed adapters: the number of nodes
// expected to answer a BroadcastWithAck (ClientCount calls). Without it, 1.
type ServerCounter interface {
	ServerCount(ctx context.Context) (int, error)
}

// Initializer is implemented by adapters that start work once their
// namespace is set up (socket.io-adapter's init): a distributed adapter
// subscribes there, so that nothing it receives reaches a namespace not
// yet ready. Init is called once, right after the AdapterFactory.
type Initializer interface {
	Init()
}

// Closer is implemented by adapters holding resources; Server.Shutdown
// calls Close once per namespace.
type Closer interface {
	Close() error
}

// Session is a disconnected socket's state kept for connection state
// recovery, as socket.io-adapter's Session.
type Session struct {
	// SID is the socket id, PID the private session id the client sends
	// back in its CONNECT auth ({"pid","offset"}).
	SID, PID string
	Rooms    []string
	Data     any
	// MissedPackets are the stored EVENT packets the client missed, in
	// order, their offset as last argument (set by RestoreSession).
	MissedPackets []*Packet
	// Reason and Handshake are what the socket left with and connected
	// with, set when the socket persists its session, for the
	// OnSessionExpired handlers. Stores that serialize sessions do not
	// write them: the node that persisted a session keeps it to report its
	// expiry, and a restored session needs neither.
	Reason    DisconnectReason
	Handshake *Handshake
}

// SessionStore is implemented by adapters supporting connection state
// recovery (SessionAwareAdapter). Without it, Config.Recovery has no effect
// on that namespace (logged once at startup).
//
// A store reports each session it persisted that will never be restored
// (its window lapsed, or the store had to drop it) to
// Namespace.SessionExpired, once, and never one that was restored, on this
// node or on another: backends learn when to drop a socket's state.
type SessionStore interface {
	// PersistSession keeps s for the recovery window.
	PersistSession(s *Session)
	// RestoreSession returns the session for pid with the packets sent
	// after offset, or nil when it expired, is unknown, or offset is too
	// old. A restored session is consumed.
	RestoreSession(ctx context.Context, pid, offset string) (*Session, error)
}
