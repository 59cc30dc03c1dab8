package socketio

import (
	"encoding/json"
	"errors"

	"github.com/iobridge/iobridge/proxy/engineio"
)

// Sentinel errors.
var (
	// ErrReservedEvent is returned when the server tries to emit an event
	// name reserved by Socket.IO (connect, connect_error, disconnect,
	// disconnecting, newListener, removeListener).
	ErrReservedEvent = errors.New("socketio: reserved event name")
	// ErrSocketClosed is returned by emits on a socket that is not
	// connected, and passed to pending ack callbacks when their socket
	// disconnects before answering.
	ErrSocketClosed = errors.New("socketio: socket closed")
	// ErrAckTimeout is passed to an ack callback (or returned by
	// EmitWithAck) when the client did not answer in time.
	ErrAckTimeout = errors.New("socketio: operation has timed out")
	// ErrNotSupported is returned by operations the configured Adapter
	// does not provide.
	ErrNotSupported = errors.New("socketio: not supported by the adapter")
)

// ConnectError rejects a connection from a Middleware. The client's
// connect_error sees Message and Data: the CONNECT_ERROR payload is
// {"message":Message,"data":Data} (Data left out when nil). Any other error
// returned by a Middleware is sent with its Error() as the message.
type ConnectError struct {
	Message string
	// Data is raw JSON; nil means no data.
	Data json.RawMessage
	// Err is an optional cause, reported by Unwrap and never sent.
	Err error
}

func (e *ConnectError) Error() string { return e.Message }

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// DisconnectReason says why a socket left its namespace. The set is closed
// and the strings are those the reference server reports, plus
// ReasonSlowConsumer.
type DisconnectReason string

// Disconnect reasons reported server-side.
const (
	// ReasonClientNamespaceDisconnect: the client sent DISCONNECT
	// (socket.disconnect() on the client).
	ReasonClientNamespaceDisconnect = DisconnectReason("client namespace disconnect")
	// ReasonServerNamespaceDisconnect: Socket.Disconnect or
	// DisconnectSockets on the server. The client sees
	// ReasonIOServerDisconnect.
	ReasonServerNamespaceDisconnect = DisconnectReason("server namespace disconnect")
	ReasonTransportClose            = DisconnectReason(engineio.ReasonTransportClose)
	ReasonTransportError            = DisconnectReason(engineio.ReasonTransportError)
	ReasonPingTimeout               = DisconnectReason(engineio.ReasonPingTimeout)
	// ReasonParseError: the client sent a packet the codec refuses; the
	// connection is closed.
	ReasonParseError  = DisconnectReason(engineio.ReasonParseError)
	ReasonForcedClose = DisconnectReason(engineio.ReasonForcedClose)
	// ReasonForcedServerClose: the server closed the connection because of
	// a packet out of place (for example an EVENT for a namespace the
	// client has not joined), or the engine session was closed by the
	// server.
	ReasonForcedServerClose = DisconnectReason("forced server close")
	// ReasonServerShuttingDown: Server.Shutdown.
	ReasonServerShuttingDown = DisconnectReason("server shutting down")
	// ReasonSlowConsumer: the connection's outbound queue hit its bound.
	ReasonSlowConsumer = DisconnectReason(engineio.ReasonSlowConsumer)
)

// Reasons as a socket.io client reports them (for mapping and logs).
const (
	ReasonIOServerDisconnect = DisconnectReason("io server disconnect")
	ReasonIOClientDisconnect = DisconnectReason("io client disconnect")
)

// recoverable lists the reasons after which a session is persisted when
// connection state recovery is on (socket.ts RECOVERABLE_DISCONNECT_REASONS,
// plus slow consumer: a transport-level failure too).
func (r DisconnectReason) recoverable() bool {
	switch r {
	case ReasonTransportError, ReasonTransportClose, ReasonForcedClose, ReasonPingTimeout,
		ReasonServerShuttingDown, ReasonForcedServerClose, ReasonSlowConsumer:
		return true
	}
	return false
}
