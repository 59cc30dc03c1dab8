package engineio

import "net/http"

// CORS returns middleware answering CORS as a Server with cfg does (see
// Config.CORSOrigins and CORSCredentials): the headers on every request,
// and a preflight (OPTIONS) answered 204 without reaching the wrapped
// handler. With no CORSOrigins it adds nothing.
//
// It is for handlers served beside the Server under its path that the
// reference puts behind the same cors middleware: socket.io runs it in
// front of the client builds of serveClient too, so a page on another
// origin can import socket.io.esm.min.js.
func CORS(cfg Config) func(http.Handler) http.Handler {
	if len(cfg.CORSOrigins) == 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	// setCORS and preflight read only the configuration.
	s := &Server{cfg: cfg}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			allowed := s.setCORS(w, r)
			if r.Method == http.MethodOptions {
				s.preflight(w, r, allowed)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
