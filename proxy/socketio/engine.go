package socketio

import "github.com/iobridge/iobridge/proxy/engineio"

// initEngine creates the Engine.IO server behind ServeHTTP.
func (s *Server) initEngine() {
	e := engineio.NewServer(s.cfg.Engine, func(sess *engineio.Session) engineio.Handler {
		return s.Attach(sess)
	})
	s.engine = e
	s.eio.Store(e)
	s.engineShutdown = e.Shutdown
}

var _ Conn = (*engineio.Session)(nil)
