package clientbundle

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/iobridge/iobridge/internal/acceptenc"
)

// offered are the codings the reference offers the client files in, in
// its order: serveClient asks accepts(req).encodings(["br", "gzip",
// "deflate"]), so acceptenc.Negotiate over this list gives a client the
// encoding it would get from the reference.
var offered = []string{"br", "gzip", "deflate"}

// Wrap returns a handler that answers the requests for the client files
// under path as the reference's serveClient does, and hands every other
// request to next (the Engine.IO server, mounted at path).
//
// A request is for a client file when its URL, as sent (undecoded, query
// included), starts with path without its trailing slash, and what
// follows the next character, up to any '?', is one of Names: the
// reference's test, which runs before Engine.IO sees the request, so
// "<path>socket.io.js?EIO=4&transport=polling" is the file too. Any
// method is answered so, as the reference. An unknown name such as
// "socket.io.foo.js" goes to next, which refuses it as Engine.IO does.
//
// Each file is answered:
//   - 304 Not Modified, with no other header, to an If-None-Match of
//     exactly "<Version>" or W/"<Version>";
//   - otherwise 200, with Cache-Control "public, max-age=0",
//     Content-Type application/javascript (a source map:
//     application/json) with charset=utf-8, ETag "<Version>", and the
//     body compressed with br, gzip or deflate when Accept-Encoding
//     accepts one, chosen as the reference chooses (see offered).
//
// One header is added that the reference does not send: Vary:
// Accept-Encoding on a 200, without which a shared cache could hand a
// compressed body to a client that did not ask for it.
//
// The middleware, outermost first, wrap the answers for the files only:
// the reference puts its cors middleware there (engineio.CORS answers as
// it does), so that a page on another origin may import the ESM build.
func Wrap(path string, next http.Handler, middleware ...func(http.Handler) http.Handler) http.Handler {
	prefix := strings.TrimSuffix(path, "/")
	var files http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serve(w, r, lookup(prefix, r))
	})
	for i := len(middleware) - 1; i >= 0; i-- {
		files = middleware[i](files)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lookup(prefix, r) != nil {
			files.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Mount registers a handler for each of Names at path+name on mux, for a
// mux whose handler at path is not wrapped by Wrap (the demo's). A
// request the mux routes there is answered as Wrap answers it.
func Mount(mux *http.ServeMux, path string) {
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	for _, name := range names {
		f := files[name]
		mux.Handle(path+name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			serve(w, r, f)
		}))
	}
}

// lookup returns the client file r asks for under prefix, or nil, as the
// reference's extractFilename: the URL after prefix and one more
// character, up to '?'.
func lookup(prefix string, r *http.Request) *file {
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	if !strings.HasPrefix(uri, prefix) || len(uri) <= len(prefix) {
		return nil
	}
	name, _, _ := strings.Cut(uri[len(prefix)+1:], "?")
	return files[name]
}

// serve answers one request for f (see Wrap).
func serve(w http.ResponseWriter, r *http.Request, f *file) {
	// Node joins repeated If-None-Match and Accept-Encoding headers with
	// ", " before the reference reads them.
	if m := strings.Join(r.Header.Values("If-None-Match"), ", "); m == etag || m == "W/"+etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	encoding := acceptenc.Negotiate(r.Header.Values("Accept-Encoding"), offered)
	body := f.body(encoding)
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=0")
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", etag)
	h.Add("Vary", "Accept-Encoding") // after the cors middleware's Vary: Origin
	if encoding != "" {
		h.Set("Content-Encoding", encoding)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // a client gone is nothing to report
}
