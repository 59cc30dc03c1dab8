// Package interop proves that real Socket.IO clients cannot tell iobridge
// from the reference Node.js server.
//
// Its tests drive the pinned npm clients in package.json (socket.io-client
// 4.x, and 2.x through Engine.IO 3) with node, speaking JSON lines with
// client.js. Every scenario runs twice, each time against its own server:
// first against the reference socket.io server (reference.js), which proves
// the scenario's expectations, then against iobridge's proxy/socketio server
// running the same scenario application in Go.
//
// Run npm ci in this directory before go test.
package interop
