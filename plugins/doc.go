// Package plugins is the sidecar's policy seam: small pieces of code run
// at the hooks of a namespace's sockets, for what a legacy backend should
// not have to do itself: who may connect, how fast a client may emit,
// which events may pass.
//
// # Hooks
//
// A Plugin has a Name and any of these hooks, each taking a
// context.Context and an event struct and returning a decision struct (so
// fields can be added later):
//
//   - ConnectHook: a socket asks to join the namespace. It may refuse
//     (the client's connect_error gets the message, and data
//     {"plugin","status"}), join rooms and add to socket.data. It runs
//     before the backend's connect delivery, which sees those rooms and
//     data.
//   - InboundHook: a client event. It may refuse it (the client's ack
//     gets {"error":{"status","message"}}, or the socket the route's error
//     event, and the event never reaches the backend), rewrite its args,
//     or answer it itself (Handled, with the ack's args).
//   - OutboundHook: an instruction's emit, once per recipient: it may
//     drop it or rewrite its args for that socket.
//   - DisconnectHook: a connected socket left (to release state).
//
// Capabilities are separate interfaces: RequestChecker judges the
// Engine.IO handshake request (see AllowRequest), Shutdowner stops a
// plugin's goroutines. NewChain asserts hooks and capabilities once, at
// start; nothing is asserted per packet, and a chain without inbound or
// outbound hooks costs the event and broadcast paths nothing.
//
// # Order
//
// A namespace's plugins run in configured order: the first refusal stops
// the chain, and a later plugin sees an earlier one's rooms, data and
// rewritten args. Put cheap refusals first (origin before jwt, filter
// before ratelimit if denied events should not use up the budget).
//
// # Built-ins
//
// JWT (verify a token on connect; claims into socket.data, rooms from
// claims), RateLimit (token buckets per socket or IP address for events,
// per IP address for connects), Filter (event names, args size and
// depth) and Origin (allowed Origins: protection against cross-site
// WebSocket hijacking). main builds them from [[namespace.plugin]]
// blocks; a program embedding the proxy builds its own chain (see the
// example).
//
// # Errors
//
// A hook refuses by returning an error; *Error carries the status and the
// client's message. Any other error is sent with status 403 and its text
// as the message, as socket.io sends a middleware's error message: a
// plugin's errors must be fit for clients. The boundary that answers the
// client (translate) logs the refusal with the socket id and the plugin
// name.
package plugins
