package redis

import "github.com/iobridge/iobridge/proxy/socketio"

// What both protocols do to this node's sockets, for a request of this
// node or of another.

func joinLocal(nsp *socketio.Namespace, opts *socketio.BroadcastOptions, rooms []string) {
	for _, s := range nsp.LocalSockets(opts) {
		s.Join(rooms...)
	}
}

func leaveLocal(nsp *socketio.Namespace, opts *socketio.BroadcastOptions, rooms []string) {
	for _, s := range nsp.LocalSockets(opts) {
		for _, r := range rooms {
			s.Leave(r)
		}
	}
}

func disconnectLocal(nsp *socketio.Namespace, opts *socketio.BroadcastOptions, close bool) {
	for _, s := range nsp.LocalSockets(opts) {
		s.Disconnect(close)
	}
}

// infosLocal describes this node's matching sockets for FetchSockets.
func infosLocal(nsp *socketio.Namespace, opts *socketio.BroadcastOptions) []socketio.SocketInfo {
	var out []socketio.SocketInfo
	for _, s := range nsp.LocalSockets(opts) {
		out = append(out, s.Info())
	}
	return out
}

// detailsLocal describes this node's matching sockets for another node.
func detailsLocal(nsp *socketio.Namespace, opts *socketio.BroadcastOptions) []wireSocket {
	out := []wireSocket{}
	for _, s := range nsp.LocalSockets(opts) {
		out = append(out, socketDetails(s))
	}
	return out
}
