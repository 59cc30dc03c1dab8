// Package clientbundle serves the socket.io-client browser builds, the way
// the reference socket.io server's serveClient option serves them: a page
// may load <path>socket.io.js (or .min.js, .esm.min.js, .msgpack.min.js,
// and each one's source map) from the server it connects to, as most
// Socket.IO tutorials have it do.
//
// The builds are socket.io-client's dist/ files of the version pinned by
// the interop tests, embedded so that the binary needs nothing beside it
// (MIT licensed: see dist/LICENSE). There is one copy, for serve_client and
// for the demo page alike.
package clientbundle

import (
	"embed"
	"strings"
)

// Version is the version of the embedded socket.io-client builds. It is
// also the ETag they are served with, as the reference, whose ETag is
// its own version (socket.io and socket.io-client are released together).
const Version = "4.8.4"

// etag is Version quoted, as RFC 9110 wants an entity tag.
const etag = `"` + Version + `"`

//go:embed dist/*.js dist/*.map
var dist embed.FS

// names are the files served, the reference's CLIENT_FILES.
var names = []string{
	"socket.io.esm.min.js",
	"socket.io.esm.min.js.map",
	"socket.io.js",
	"socket.io.js.map",
	"socket.io.min.js",
	"socket.io.min.js.map",
	"socket.io.msgpack.min.js",
	"socket.io.msgpack.min.js.map",
}

// Names returns the names of the files served, in lexical order: each is
// answered at <path><name>.
func Names() []string { return append([]string(nil), names...) }

// files holds each served file, read once at start-up.
var files = func() map[string]*file {
	m := make(map[string]*file, len(names))
	for _, name := range names {
		b, err := dist.ReadFile("dist/" + name)
		if err != nil {
			panic("clientbundle: " + err.Error()) // the embed directive lists them
		}
		ctype := "application/javascript; charset=utf-8"
		if strings.HasSuffix(name, ".map") {
			ctype = "application/json; charset=utf-8"
		}
		m[name] = &file{contentType: ctype, raw: b}
	}
	return m
}()

// File returns the embedded file name (one of Names), uncompressed, and
// whether there is one. The bytes are shared: callers must not modify
// them.
func File(name string) ([]byte, bool) {
	f, ok := files[name]
	if !ok {
		return nil, false
	}
	return f.raw, true
}
