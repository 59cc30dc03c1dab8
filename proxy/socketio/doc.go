// Package socketio is a Socket.IO v5 server (socket.io 4.8 on the wire, and
// socket.io 2.x clients over EIO=3) built on package engineio.
//
// # Lifecycle
//
// NewServer creates the main namespace "/". Namespaces are static (Of) or
// created on demand from a pattern (OfPattern). Each Engine.IO connection
// becomes a client; a CONNECT packet for a namespace runs its Middleware
// (which may reject with a ConnectError, set data and join rooms), then the
// socket joins the room named by its id, the CONNECT acknowledgement
// ({"sid"}, plus "pid" when recovery is on) is written and the OnConnection
// handlers run. Events reach the socket's OnAny and On handlers, in order,
// on the connection's reader. A socket leaves with a DisconnectReason:
// OnDisconnecting handlers see its rooms, OnDisconnect handlers run after.
// Shutdown disconnects everything with ReasonServerShuttingDown.
//
// With Config.Recovery, a socket that leaves for a recoverable reason keeps
// its session in the namespace's SessionStore for the window; one that
// does not come back is reported once to the OnSessionExpired handlers
// (expiry.go), which the reference server has no equivalent of. With
// Config.CleanupEmptyChildNamespaces, a pattern's child namespace is
// removed, its adapter closed, once it has no socket left (cleanup.go).
//
// # Packets and arguments
//
// Arguments stay json.RawMessage from decode to handler and from emit to the
// wire: only the event name is decoded. Binary arguments travel as
// placeholders ({"_placeholder":true,"num":n}) in the JSON plus an
// attachments slice, both ways.
//
// That holds whatever the wire format: Config.Parser nil is
// socket.io-parser's (a text message, then one binary message per
// attachment); MsgpackParser is socket.io-msgpack-parser's (one binary
// msgpack message per packet, binary inline), converted to and from the
// same JSON and attachments at the connection, so nothing past the codec
// depends on it (see Parser).
//
// # Broadcast
//
// Rooms and broadcasts go through the namespace's Adapter
// (proxy/adapter provides the in-memory one). A broadcast is encoded once
// and the same []engineio.Packet is queued for every recipient, so its cost
// in allocations does not grow with the number of recipients. With
// permessage-deflate (engineio.Config.PerMessageDeflate) its messages are
// compressed once too, for every WebSocket that negotiated it
// (engineio.Share).
//
// # Bad input
//
// A packet the codec refuses (errors wrapping ErrParse) closes the
// connection with ReasonParseError and no handler sees it; a packet out of
// place (an EVENT for a namespace not joined, a second CONNECT) closes it
// with ReasonForcedServerClose. Both are logged at Warn with the sid.
package socketio
