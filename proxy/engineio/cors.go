// This file is CORS on the Engine.IO endpoint: the headers every polling
// request gets, preflights, and the same as middleware for what is served
// beside the server under its path.

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

// setCORS adds the headers Node's `cors` package adds to a request,
// configured as socket.io's cors option with origin CORSOrigins and
// credentials CORSCredentials, and reports whether the request's origin
// is allowed.
//
// An exact listed origin is reflected, with Vary: Origin and, when
// CORSCredentials is set, Access-Control-Allow-Credentials. Any other
// origin gets "*" when "*" is listed (without Vary, as {origin: "*"};
// with it when credentials make a listed origin's answer differ), and
// otherwise no Access-Control-Allow-Origin, only Vary: Origin.
//
// Two choices differ from the `cors` package on purpose. It sends
// Access-Control-Allow-Credentials to every request when credentials is
// on, "*" and unlisted origins included; only a reflected exact origin
// gets it here, so that "*" can never hand out credentials, whatever the
// configuration. And an origin not allowed gets no Allow-Methods or
// Allow-Headers on a preflight (see preflight): a browser fails such a
// preflight either way.
func (s *Server) setCORS(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	origin := r.Header.Get("Origin")
	listed, anyOrigin, exact := s.corsMatch(origin)
	creds := s.cfg.CORSCredentials
	switch {
	case listed && (creds || !anyOrigin):
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		if creds {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		return true
	case anyOrigin:
		if creds && exact {
			// A listed origin is answered differently (reflected, with
			// credentials), so caches must key this answer on Origin.
			h.Add("Vary", "Origin")
		}
		h.Set("Access-Control-Allow-Origin", "*")
		return true
	default:
		h.Add("Vary", "Origin")
		return false
	}
}

// corsMatch reports whether origin is one of CORSOrigins' exact origins,
// whether CORSOrigins holds "*", and whether it holds any exact origin.
// An empty origin (no Origin header) is never listed.
func (s *Server) corsMatch(origin string) (listed, anyOrigin, exact bool) {
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" {
			anyOrigin = true
			continue
		}
		exact = true
		if origin != "" && o == origin {
			listed = true
		}
	}
	return listed, anyOrigin, exact
}

// preflight answers a CORS preflight with 204, as the `cors` package does:
// an allowed origin gets its default methods and the requested headers
// reflected. An origin not allowed gets neither (the package sends them
// anyway; they grant nothing without Access-Control-Allow-Origin).
func (s *Server) preflight(w http.ResponseWriter, r *http.Request, allowed bool) {
	h := w.Header()
	if allowed {
		h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
		if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
			h.Set("Access-Control-Allow-Headers", reqHeaders)
			h.Add("Vary", "Access-Control-Request-Headers")
		}
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}
