// Package redis provides the Redis socketio.Adapter: iobridge nodes share
// rooms, broadcasts and queries through Redis, speaking the wire formats of
// Node's own packages so that iobridge nodes, Node.js socket.io servers and
// @socket.io/redis-emitter can form one cluster.
//
// A Cluster holds the Redis connections of one process: a client for
// commands, one publisher goroutine feeding them in order, one
// subscriber connection and, in the streams mode, one reading connection
// per stream. Its Factory makes one adapter per namespace, each
// with its own id, as Node makes one adapter per namespace:
//
//   - mode "classic" speaks @socket.io/redis-adapter 8.x createAdapter:
//     PUBLISH/PSUBSCRIBE, request types 0–9, notepack (msgpack) broadcasts
//     and JSON requests;
//   - mode "sharded" speaks createShardedAdapter: Redis 7 SPUBLISH and
//     SSUBSCRIBE, socket.io-adapter's ClusterAdapter messages (types 1–13),
//     JSON unless the message carries binary;
//   - mode "streams" speaks @socket.io/redis-streams-adapter 0.3
//     createAdapter with the same ClusterAdapter messages (sharded.go's
//     logic; streams.go is the transport): broadcasts without acks and
//     remote joins, leaves and disconnects are XADDed to a stream that each
//     process reads on a connection of its own (XREAD BLOCK, from the last
//     entry it saw), the rest goes over PUBLISH/SUBSCRIBE in msgpack. It is
//     the mode where connection state recovery works across nodes: offsets
//     are stream entry ids, and the adapter is the namespace's
//     socketio.SessionStore over Redis (sio:session:<pid>), so a session
//     persisted by any node, iobridge or Node, is restored by any other;
//     the iobridge node that persisted a session claims it at the end of
//     the window and reports it lapsed if no node restored it (expiry.go).
//
// Local delivery is the in-memory adapter's (adapter.Memory): a broadcast
// is encoded once and written to every local recipient; what comes from
// Redis is decoded once per message, never per recipient.
//
// Redis faults never stop local service: a publish that fails is counted
// and logged, the subscriber reconnects and resubscribes by itself, and
// Ready says what is wrong meanwhile.
package redis
