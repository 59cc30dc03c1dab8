// Package engineio is an Engine.IO server (protocol v4, and v3 for
// socket.io-client 2.x when Config.AllowEIO3 is set) that behaves on the
// wire as the reference engine.io 6.6 server does.
//
// # Lifecycle
//
// A client handshakes with GET {Path}?EIO=4&transport=polling (or opens a
// WebSocket with transport=websocket). The Server creates a Session, calls
// the accept function given to NewServer, which returns the session's
// Handler, and answers with the OPEN packet. A polling session may then
// upgrade: the client opens a WebSocket with its sid, probes it ("2probe",
// answered "3probe"), and sends "5"; from then on the session lives on the
// WebSocket. Heartbeats (v4: server pings, client pongs; v3: client pings,
// server pongs) run on one timer per session. The session ends when the
// client closes, a transport fails, the heartbeat lapses, the outbound
// queue passes its bound, Session.Close is called, or Server.Shutdown runs;
// Handler.OnClose is called once, with a CloseReason.
//
// # Concurrency and memory
//
// Each WebSocket has one reader goroutine. Writes happen on a writer
// goroutine that exists only while packets are queued, using pooled write
// buffers; the reader, parked on a shallow stack while the connection is
// idle, borrows its 1 KiB read buffer from a pool only while it reads. So
// an idle WebSocket session costs a parked reader and the session itself,
// which keeps its handshake request's headers packed in one string and
// binds no logger. The alternative, a writer parked per session, would
// cost a goroutine stack and a write buffer per idle client. Session.Send only appends to a queue bounded in bytes
// (Config.MaxQueueBytes); it never blocks and never allocates per
// recipient once the queue has capacity, so a broadcast can hand one
// Packet slice to every recipient.
//
// # Compression
//
// With Config.HTTPCompression, polling answers of at least the threshold
// are gzip- or deflate-compressed as the client's Accept-Encoding
// chooses; with Config.PerMessageDeflate, WebSocket clients that offer
// permessage-deflate get it, without context takeover, and messages of at
// least the threshold are compressed. Either way the compressors are
// pooled and lent for one answer or message, so an idle session holds no
// compression state, and with compression off the write paths are
// unchanged. A broadcast's packets, marked by Share (package socketio
// marks them once its connections compress), are compressed once, by the
// first WebSocket that writes them, and every other recipient that
// negotiated the extension is written the same frame: without context
// takeover it is the frame each would have made itself. Unmarked packets
// (a socket's own emits), and marked ones queued for fewer than four
// WebSockets, for which sharing would cost more than it saves, are
// compressed by each writer.
//
// # Several nodes
//
// Behind a load balancer without sticky sessions, a session's requests
// reach nodes that do not hold it. With Config.NodeID each sid carries the
// issuing node's id (SIDNode reads it back), and Config.Forward hands such
// requests to a Handler serving them for that node (package
// proxy/forward reverse-proxies them); engineio itself knows nothing of
// the other nodes. A request no node serves is answered as an unknown sid
// (UnknownSession).
//
// Handler.OnMessage calls of a session never overlap and come in the order
// the client sent; OnClose comes after the last of them. A Handler may call
// Send and Close on its own session from OnMessage.
package engineio
