// Package translate turns Socket.IO sockets into plain HTTP deliveries and
// backend answers into Socket.IO emits: routes, the delivery envelope, the
// instruction object and its executor, and the Backend seam.
//
// # Lifecycle
//
// main builds one Backend per [[namespace]] block (translate/webhook's
// Client) and calls New with the routes and the socketio.Server. New adds
// a connect middleware and a connection handler to each routed namespace:
//
//   - connect: with OnConnect "webhook" the middleware sends a connect
//     delivery. A 2xx answer's rooms are joined and its data set before
//     the CONNECT acknowledgement; its emits follow the acknowledgement. A
//     4xx rejects the connection with the answer's message and data (the
//     client's connect_error); a 5xx, a timeout or an unreachable backend
//     rejects it with "backend unavailable" and data {"status":N}. A
//     socket that recovers its session gets a connect delivery with
//     "recovered": true (its rooms come back from the session).
//   - event: each client event goes to the socket's queue. A socket has at
//     most one delivery in flight; the others wait in the order the client
//     sent them, and answers are applied in that order (ack, emit, join,
//     leave, disconnect). Different sockets proceed in parallel. A
//     text/event-stream answer is relayed until it ends, the client
//     leaves, or it is silent for the route's timeout; the socket's next
//     event waits for it.
//   - disconnect: a disconnect delivery goes out at once (not behind the
//     socket's queue), with the socket.io reason; the Backend retries it.
//   - expired: with connection state recovery on, a socket that left and
//     did not come back within the recovery window gets an expired
//     delivery when the window lapses (its last id, rooms, data and
//     handshake; "reason" is the disconnect reason it left with), once
//     across a cluster; a socket that recovers, on any node, gets none. It
//     follows the disconnect delivery's rules. Nothing is sent for the
//     sessions of a server shutting down.
//
// Executor.Execute is the one path from backends to clients: webhook
// answers, POST /v1/emit and backend streams all hand it an Instruction.
//
// # Bounds
//
//   - One delivery in flight per socket; behind it at most
//     Config.MaxQueue (default 4096) events holding at most
//     Config.MaxQueueBytes (default 1 MiB) of arguments and attachments
//     wait. The next event fails at once with status 429.
//   - Config.MaxInFlight (default 1024) connect and event deliveries in
//     flight in total (a streamed answer counts until it ends). The next
//     event fails at once with status 503; a connect is rejected with
//     "backend unavailable".
//   - Config.MaxPendingDisconnects (default 10000) disconnect and expired
//     deliveries under way with their retries; beyond it one is not sent
//     and an error is logged.
//   - Route.Concurrency: the deliveries awaiting a route's backend at
//     once, adapted to the backend by default (see gate). The others
//     wait in one first-come, first-served line per route: an event at
//     most the route's Timeout (then it fails with status 504), a connect
//     as long, a disconnect as long as it takes. A socket with more
//     events goes to the back of the line after each one.
//
// A failed event is never silent: the client's ack gets
// {"error":{"status","message"}}, or, without an ack, the socket gets the
// route's error event with {"message","event","requestId"}, and a log
// line names the socket, namespace, event and delivery id.
package translate
