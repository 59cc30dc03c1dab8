// Package forward lets iobridge nodes run behind a load balancer without
// sticky sessions: a polling request (or a WebSocket upgrade) carrying a
// sid that another node issued is reverse-proxied to that node.
//
// # How a node finds the owner
//
// Each node picks a random node id at start (engineio.NewNodeID) and puts
// it in every sid it issues (engineio.Config.NodeID): the sid's first four
// characters. It registers the id with the URL other nodes reach it at in
// a Registry (the Redis adapter's: <key_prefix>:node:<id> with a TTL the
// node refreshes). A node that gets a request for a sid it does not hold
// reads the owner's id from the sid, finds its URL (cached), and serves the
// request through an httputil.ReverseProxy to it. The rejected alternative,
// relaying polling payloads over Redis pub/sub, would put every polling
// request's packets through Redis twice and hold a parked GET open on a
// subscription; node-to-node HTTP costs one extra hop on a kept-alive
// connection and nothing in Redis per request.
//
// # What the client sees
//
// A forwarded request is answered by the owner, byte for byte. When the
// owner cannot be reached (no node holds the id, its registration expired,
// the dial fails or the connection breaks before an answer), the request is
// answered as the reference server answers an unknown sid: 400
// {"code":1,"message":"Session ID unknown"}, never a 5xx, so the client
// drops the session and reconnects, through the load balancer, to a live
// node. WebSocket upgrades are forwarded too: the WebSocket then runs
// through this node for its whole life (two hops instead of one).
//
// A forwarded request carries HopHeader; a node never forwards a request
// that has it, so a request crosses at most one hop even while nodes
// disagree about who owns a session. X-Forwarded-For gets the client's
// address appended, as any reverse proxy does.
package forward
