// Package adminui serves the @socket.io/admin-ui protocol (the package's
// instrument(io, opts), version 0.5) on a namespace of a socketio.Server,
// so that the admin UI (admin.socket.io, or the package's self-hosted
// build) shows the server's sockets, rooms, namespaces, events and stats,
// and can emit to, join, leave and disconnect sockets.
//
// # What the UI gets
//
// An admin socket authenticates in the namespace's middleware with the
// CONNECT payload {username, password}, the password checked against a
// bcrypt hash, or with {sessionId} from an earlier login (the "session"
// event); anything else gets the connect_error "invalid credentials".
// Once connected it gets "config" (the supported features), then, in
// development mode, "all_sockets": every socket of every namespace of the
// cluster (FetchSockets through the adapter). Every 2 s every admin socket
// of the cluster gets "server_stats" from every node. In development mode
// it also gets socket_connected, socket_updated, socket_disconnected,
// room_joined, room_left, event_received and event_sent as they happen;
// in production mode only the stats. The commands ("emit", "join",
// "leave", "_disconnect") go through the adapter, so they reach every
// node; with ReadOnly they are not listened to, as the package does.
//
// # Clusters
//
// The admin namespace's broadcasts go through its adapter like any
// other: with a distributed adapter, one UI connected to any node sees
// every node's stats and events, Node servers running instrument()
// included, and its commands reach every node's sockets.
//
// # Differences from the package
//
// The package adds socket.data._admin ({clientId, transport}) to every
// socket; here socket.data is left as the application set it, so backends
// see no new key. The _admin member is added only to what other nodes
// get of this node's sockets (the Observer is a
// socketio.RemoteDataDecorator): their fetches find it first in the
// socket's data, as a Node server with instrument() answers, so a UI on a
// Node server or on another iobridge node shows each socket's client id
// and transport. This node's sockets are described from their
// connections; another node's from its data._admin; a socket of a node
// without the admin UI gets its own id as client id. The "session" event
// follows the CONNECT acknowledgement instead of preceding it.
package adminui
