// Package stream subscribes the sidecar to backend streams: a Server-Sent
// Events endpoint (http, https) or a WebSocket (ws, wss) whose messages
// are instructions, applied through translate's Executor as webhook
// answers and POST /v1/emit are.
//
// # Wire format
//
// Each SSE message's data (the "data:" lines joined), or each WebSocket
// text frame, is one instruction object or a JSON array of them:
//
//	{"namespace":"/","to":["room"],"except":[],"event":"e","args":[…],"volatile":false}
//
// An instruction without "namespace" goes to the stream's Namespace; one
// without "to" goes to every socket of the namespace. SSE "event:" names
// are ignored (the instruction names the event); "id:" is remembered and
// sent back as Last-Event-ID when the stream reconnects; "retry:" sets the
// next reconnect delay. A message that is not an instruction (not JSON,
// no event, a reserved event name, a bad _binary value) is skipped and
// logged at Warn; the connection stays open. WebSocket binary frames are
// skipped the same way. An instruction's "ack" is ignored: a stream has
// no one to hand the acks to.
//
// # Lifecycle
//
// New checks the Config; Start opens the connection on a goroutine the
// Stream owns, which reconnects whenever the connection fails or ends,
// after a delay that doubles from Config.MinBackoff up to
// Config.MaxBackoff (and restarts from MinBackoff after a connection that
// delivered a message). Ready reports whether the stream is connected
// (for /readyz). Shutdown closes the connection and waits for the
// goroutine.
//
// # Metrics and traces
//
// With Config.MeterProvider, each attempt to connect again after a
// failure or an end is counted in telemetry.MetricStreamReconnects and
// each skipped message or instruction in MetricSkipped, both labelled
// with the stream's name; Stats has the same counts. With
// Config.TracerProvider, each message is a consumer span
// (telemetry.StartStreamSpan), the parent of its instructions' emits.
//
// # Bounds
//
//   - One message: Config.MaxMessageBytes (default 1 MiB), an SSE line or a
//     WebSocket frame. A longer SSE line ends the connection (it cannot be
//     skipped without reading it), which reconnects; a longer WebSocket
//     frame closes the WebSocket with 1009 and reconnects.
//   - Instructions are applied one at a time, in the order they arrive; a
//     slow recipient never blocks the stream (each socket's outbound queue
//     is bounded by the Socket.IO server, which closes a socket at its
//     bound).
package stream
