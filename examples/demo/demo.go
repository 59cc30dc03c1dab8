// Package demo serves the demo page of `iobridge demo`: a static page
// (HTML, CSS and JavaScript, no build step) with a chat, a file-copy job
// whose progress the backend pushes, an assistant whose answer streams
// token by token, a ticker fed by a backend SSE stream, and a legacy chat
// on a namespace bridged to a backend WebSocket. The page loads the
// Socket.IO browser client from the builds embedded by
// internal/clientbundle, served as the reference server's serveClient
// serves them.
//
// The rest of `iobridge demo` is here too, so main only wires it:
// LookupEnv supplies the public demo token, ListenBackend points the
// example configuration at the example backend's listener, and
// Backend.Start mounts the page and serves that backend.
package demo

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/iobridge/iobridge/internal/clientbundle"
)

//go:embed index.html demo.css demo.js
var files embed.FS

var page = template.Must(template.ParseFS(files, "index.html"))

// Config says where the page's socket connects.
type Config struct {
	// Path is the Socket.IO path, as the client's `path` option. Empty
	// means "/socket.io/".
	Path string
	// Namespace is the namespace the page connects to. Empty means "/".
	Namespace string
	// Legacy is the bridged namespace of the legacy chat panel. Empty
	// means "/legacy".
	Legacy string
}

// Mount registers the page at "/" (and its /demo.css and /demo.js), and
// the Socket.IO client builds at <Path>socket.io.js and the other names of
// clientbundle.Names, on mux. The client paths are more specific than the
// Engine.IO handler's <Path> pattern, so both live on one mux; the page
// needs the client whether or not serve_client is on.
func Mount(mux *http.ServeMux, cfg Config) error {
	if cfg.Path == "" {
		cfg.Path = "/socket.io/"
	}
	if !strings.HasSuffix(cfg.Path, "/") {
		cfg.Path += "/"
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "/"
	}
	if cfg.Legacy == "" {
		cfg.Legacy = "/legacy"
	}
	var html bytes.Buffer
	if err := page.Execute(&html, cfg); err != nil {
		return err
	}
	mux.Handle("/", static("/", "text/html; charset=utf-8", html.Bytes()))
	mux.Handle("/demo.css", static("/demo.css", "text/css; charset=utf-8", mustRead("demo.css")))
	mux.Handle("/demo.js", static("/demo.js", "text/javascript; charset=utf-8", mustRead("demo.js")))
	clientbundle.Mount(mux, cfg.Path)
	return nil
}

// static serves one embedded file at exactly path (the "/" pattern matches
// every path the mux has no better pattern for: those are 404).
func static(path, contentType string, body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

func mustRead(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}
