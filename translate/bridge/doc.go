// Package bridge gives each Socket.IO socket of a namespace its own plain
// WebSocket to a backend: client events become JSON frames on it, and the
// backend's frames become emits (through translate's Executor) and acks.
//
// # Frames (JSON text)
//
// Sidecar to backend:
//
//	{"type":"connect","namespace":"/chat","socket":{"id","rooms","data","handshake"},"recovered":false}
//	{"type":"event","event":"e","args":[…],"id":7}      ("id" only when the client wants an ack)
//
// The connect frame comes first, once the socket is connected (its rooms
// include its own id and those a connect webhook answered); "socket" is
// the object webhook envelopes carry.
//
// Backend to sidecar:
//
//	{"type":"ack","id":7,"args":[…]}                    answers the event with id 7
//	{"to":[…],"event":"e","args":[…],…}                 an instruction; "type" absent or "emit"
//	[frame, …]                                          several, applied in order
//	{"type":"join","rooms":[…]}, {"type":"leave","rooms":[…]}   this socket's rooms
//
// An instruction without "to" goes to this bridge's socket; without
// "namespace", to the bridge's namespace. Binary values travel as
// {"_binary":"<base64>"} both ways. A frame that breaks these rules is
// skipped and logged at Warn; the bridge stays open.
//
// # Lifecycle
//
// A Bridge is both a translate.Backend and a pair of namespace hooks. main
// makes it the Backend of the namespace's translate.Route, so client
// events go through the translator (events filter, per-socket order,
// error events, the client's ack) and reach Deliver, which writes them as
// frames and waits for the ack frame when the client asked for one.
// Connect and disconnect deliveries go to Config.Webhook when there is
// one. Attach, called after translate.New, adds the namespace's last
// middleware (the dial: after on_connect accepted) and a connection
// handler (the connect frame, the reader).
//
//   - The dial carries Config.Header and the client's handshake headers
//     named in Config.ForwardHeaders (its Authorization or Cookie, say);
//     the connect frame carries the whole handshake: headers, query, auth.
//   - The dial happens while the client's CONNECT waits. If it fails, the
//     client gets a connect_error "bridge unavailable" with data
//     {"status":N}: the backend's HTTP status when it refused the upgrade,
//     504 when the dial timed out, 502 otherwise.
//   - The client leaves: the sidecar sends a close frame (1000) whose reason
//     is the Socket.IO disconnect reason ("client namespace disconnect",
//     "transport close", "ping timeout", "server shutting down", …) and
//     closes the connection when the backend answers it, or after
//     CloseTimeout.
//   - The backend closes (or the connection breaks): only that socket is
//     disconnected from its namespace; the client sees "io server
//     disconnect". An event waiting for its ack fails with 502.
//
// A socket that recovers its session (connection state recovery) skips
// the middleware; its bridge is dialed when it connects, and its events
// wait for the dial (up to Timeout). If that dial fails, the socket is
// disconnected.
//
// # Bounds
//
//   - One reader goroutine and one WebSocket per bridged socket; write
//     buffers are pooled, the read buffer is Config.ReadBufferSize.
//   - A backend frame: Config.MaxMessageBytes (default 1 MiB); a larger one
//     closes the bridge (1009), which disconnects the socket.
//   - A frame write waits at most Timeout for a backend that does not
//     read; then the bridge is closed and the socket disconnected.
//   - An event with ack waits at most Timeout for the ack frame; then the
//     client's ack gets {"error":{"status":504,…}}.
//   - Keepalive: a ping every Config.PingInterval (default 25s) from a
//     timer, no goroutine; a backend silent (no pong, no frame) for
//     PingInterval plus Timeout is closed as if it had closed, and its
//     socket disconnected ("io server disconnect").
//   - Outgoing frames: a bridge has no queue of its own. Frames are written
//     one at a time, straight to the connection; the events waiting behind
//     them are the socket's delivery queue in translate (MaxQueue events
//     and MaxQueueBytes, then status 429 to the client), so a bridge holds at most one frame
//     being written per socket, and a write stuck for Timeout closes it.
package bridge
