package clientbundle

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// next stands for the Engine.IO server behind Wrap.
var next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusTeapot)
	io.WriteString(w, "engine.io")
})

// get sends a request to h and returns its answer, the body decoded from
// its Content-Encoding.
func get(t *testing.T, h http.Handler, method, target string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, err := decode(res.Header.Get("Content-Encoding"), rec.Body.Bytes())
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return res, b
}

func decode(encoding string, b []byte) ([]byte, error) {
	var r io.Reader
	var err error
	switch encoding {
	case "":
		return b, nil
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "gzip":
		r, err = gzip.NewReader(bytes.NewReader(b))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(b))
	}
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// TestWrap: which requests are the files', and how each is answered.
func TestWrap(t *testing.T) {
	h := Wrap("/socket.io/", next)
	minJS, _ := File("socket.io.min.js")
	sourceMap, _ := File("socket.io.js.map")
	tests := []struct {
		name     string
		method   string
		target   string
		header   []string
		status   int
		ctype    string
		encoding string
		body     []byte // nil: not compared
	}{
		{"min", "GET", "/socket.io/socket.io.min.js", nil, 200, "application/javascript; charset=utf-8", "", minJS},
		{"source map", "GET", "/socket.io/socket.io.js.map", nil, 200, "application/json; charset=utf-8", "", sourceMap},
		{"query ignored", "GET", "/socket.io/socket.io.min.js?EIO=4&transport=polling", nil, 200, "application/javascript; charset=utf-8", "", minJS},
		{"any method", "POST", "/socket.io/socket.io.min.js", nil, 200, "application/javascript; charset=utf-8", "", minJS},
		{"gzip", "GET", "/socket.io/socket.io.min.js", []string{"Accept-Encoding", "gzip, deflate, br"}, 200, "application/javascript; charset=utf-8", "gzip", minJS},
		{"deflate", "GET", "/socket.io/socket.io.min.js", []string{"Accept-Encoding", "deflate"}, 200, "application/javascript; charset=utf-8", "deflate", minJS},
		{"br", "GET", "/socket.io/socket.io.min.js", []string{"Accept-Encoding", "br, gzip"}, 200, "application/javascript; charset=utf-8", "br", minJS},
		{"etag", "GET", "/socket.io/socket.io.min.js", []string{"If-None-Match", `"4.8.4"`}, 304, "", "", []byte{}},
		{"weak etag", "GET", "/socket.io/socket.io.min.js", []string{"If-None-Match", `W/"4.8.4"`}, 304, "", "", []byte{}},
		{"stale etag", "GET", "/socket.io/socket.io.min.js", []string{"If-None-Match", `"4.0.0"`}, 200, "application/javascript; charset=utf-8", "", minJS},
		{"etag in a list", "GET", "/socket.io/socket.io.min.js", []string{"If-None-Match", `"1", "4.8.4"`}, 200, "application/javascript; charset=utf-8", "", minJS},
		{"unknown name", "GET", "/socket.io/socket.io.foo.js", nil, http.StatusTeapot, "", "", []byte("engine.io")},
		{"engine.io", "GET", "/socket.io/?EIO=4&transport=polling", nil, http.StatusTeapot, "", "", []byte("engine.io")},
		{"other path", "GET", "/other/socket.io.js", nil, http.StatusTeapot, "", "", []byte("engine.io")},
		{"encoded name", "GET", "/socket.io/socket%2Eio.js", nil, http.StatusTeapot, "", "", []byte("engine.io")},
		{"LICENSE not served", "GET", "/socket.io/LICENSE", nil, http.StatusTeapot, "", "", []byte("engine.io")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := get(t, h, tc.method, tc.target, tc.header...)
			if res.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if tc.body != nil && !bytes.Equal(body, tc.body) {
				t.Errorf("body: %d bytes, want %d", len(body), len(tc.body))
			}
			if got := res.Header.Get("Content-Encoding"); got != tc.encoding {
				t.Errorf("Content-Encoding = %q, want %q", got, tc.encoding)
			}
			switch res.StatusCode {
			case http.StatusOK:
				want := map[string]string{
					"Cache-Control": "public, max-age=0",
					"Content-Type":  tc.ctype,
					"Etag":          `"4.8.4"`,
					"Vary":          "Accept-Encoding",
				}
				for k, v := range want {
					if got := res.Header.Get(k); got != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
			case http.StatusNotModified:
				// The reference's writeHead(304), nothing else.
				if len(res.Header) != 0 {
					t.Errorf("304 headers = %v, want none", res.Header)
				}
			}
		})
	}
}

// TestWrapMiddleware: the middleware wrap the files' answers, outermost
// first, and not what goes to next.
func TestWrapMiddleware(t *testing.T) {
	mark := func(v string) func(http.Handler) http.Handler {
		return func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Add("X-Order", v)
				h.ServeHTTP(w, r)
			})
		}
	}
	h := Wrap("/socket.io", next, mark("outer"), mark("inner"))
	res, _ := get(t, h, "GET", "/socket.io/socket.io.js")
	if got := res.Header.Values("X-Order"); res.StatusCode != 200 || len(got) != 2 || got[0] != "outer" || got[1] != "inner" {
		t.Errorf("file: %d, X-Order %q; want 200, [outer inner]", res.StatusCode, got)
	}
	res, _ = get(t, h, "GET", "/socket.io/?EIO=4&transport=polling")
	if got := res.Header.Values("X-Order"); res.StatusCode != http.StatusTeapot || len(got) != 0 {
		t.Errorf("Engine.IO: %d, X-Order %q; want next's answer, none", res.StatusCode, got)
	}
}

// TestMount: the files at their paths on a mux, the rest of the path
// still the mux's.
func TestMount(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/rt/", next)
	Mount(mux, "/rt")
	for _, name := range Names() {
		want, _ := File(name)
		res, body := get(t, mux, "GET", "/rt/"+name, "Accept-Encoding", "gzip")
		if res.StatusCode != 200 || !bytes.Equal(body, want) || res.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: %d %q, %d bytes; want 200 gzip, %d bytes", name, res.StatusCode, res.Header.Get("Content-Encoding"), len(body), len(want))
		}
	}
	if res, _ := get(t, mux, "GET", "/rt/?EIO=4&transport=polling"); res.StatusCode != http.StatusTeapot {
		t.Errorf("Engine.IO path = %d, want the mux's handler", res.StatusCode)
	}
}

// TestEmbeddedMatchesThePin keeps the embedded builds the very files of
// the socket.io-client version the interop tests pin (when they are
// installed, as in CI).
func TestEmbeddedMatchesThePin(t *testing.T) {
	b, err := os.ReadFile("../../interop/package.json")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	if got := pkg.Dependencies["socket.io-client"]; got != Version {
		t.Fatalf("interop pins socket.io-client %q, the embedded builds are %q: copy node_modules/socket.io-client/dist/* to dist/ and set Version", got, Version)
	}
	src := "../../interop/node_modules/socket.io-client/dist"
	if _, err := os.Stat(src); err != nil {
		t.Skipf("interop/node_modules not installed: %v", err)
	}
	for _, name := range Names() {
		want, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := File(name); !bytes.Equal(got, want) {
			t.Errorf("dist/%s differs from the pinned package's", name)
		}
	}
	js, _ := File("socket.io.js")
	if !strings.Contains(string(js[:200]), "Socket.IO v"+Version) {
		t.Error("socket.io.js does not name Version in its license header")
	}
}
