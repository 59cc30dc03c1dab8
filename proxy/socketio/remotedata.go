package socketio

// RemoteDataDecorator may be implemented by an Observer (see SetObserver)
// that adds to a socket's data as other nodes see it: the admin UI puts
// data._admin there, as the reference's instrument() keeps it in
// socket.data. What this node's own code sees (Data, FetchSockets of a
// local socket, Info) is left as set with SetData.
type RemoteDataDecorator interface {
	// RemoteData returns what a description of s for another node carries
	// as its data, given data, s's own (as Data returns it). It must not
	// modify data, and what it returns should encode as JSON. It is called
	// on the adapter's goroutines and must not block.
	RemoteData(s *Socket, data any) any
}

// RemoteInfo describes the socket for another node's query (a
// distributed adapter's fetch answer): Info, with Data passed through the
// Observer's RemoteDataDecorator when it has one. Without one it costs
// one atomic load more than Info and allocates nothing more. The
// in-memory adapter answers no other node and never calls it.
func (s *Socket) RemoteInfo() SocketInfo {
	info := s.info()
	if b := s.nsp.srv.obs.Load(); b != nil && b.rd != nil {
		info.Data = b.rd.RemoteData(s, info.Data)
	}
	return info
}
