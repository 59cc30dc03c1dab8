package socketio

import "net/http"

// initEngine creates the Engine.IO server behind ServeHTTP.
func (s *Server) initEngine() {
	s.engine = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "socketio: engine.io server not available", http.StatusServiceUnavailable)
	})
}
