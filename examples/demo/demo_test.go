package demo

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/iobridge/iobridge/internal/clientbundle"
)

func newServer(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	// The Engine.IO handler's pattern, as main registers it.
	mux.Handle("/rt/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "engine.io")
	}))
	if err := Mount(mux, cfg); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestRoutes(t *testing.T) {
	srv := newServer(t, Config{Path: "/rt/", Namespace: "/demo"})
	tests := []struct {
		name, path   string
		status       int
		contentType  string
		bodyContains string
	}{
		{"page", "/", 200, "text/html; charset=utf-8", `<body data-path="/rt/" data-namespace="/demo">`},
		{"page loads the client", "/", 200, "text/html; charset=utf-8", `<script src="/rt/socket.io.min.js">`},
		{"script", "/demo.js", 200, "text/javascript; charset=utf-8", `io(cfg.namespace, { path: cfg.path`},
		{"style", "/demo.css", 200, "text/css; charset=utf-8", `#jobs`},
		{"client", "/rt/socket.io.js", 200, "application/javascript; charset=utf-8", "Socket.IO v" + clientbundle.Version},
		{"minified client", "/rt/socket.io.min.js", 200, "application/javascript; charset=utf-8", "Released under the MIT License."},
		{"source map", "/rt/socket.io.min.js.map", 200, "application/json; charset=utf-8", `"version":3`},
		{"engine.io still reachable", "/rt/?EIO=4&transport=polling", 200, "text/plain; charset=utf-8", "engine.io"},
		{"unknown path", "/nope", 404, "text/plain; charset=utf-8", "404"},
		{"unknown demo file", "/demo.txt", 404, "text/plain; charset=utf-8", "404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := get(t, srv.URL+tc.path)
			if res.StatusCode != tc.status || res.Header.Get("Content-Type") != tc.contentType || !strings.Contains(body, tc.bodyContains) {
				t.Fatalf("GET %s = %d %q (%d bytes), want %d %q containing %q", tc.path, res.StatusCode, res.Header.Get("Content-Type"), len(body), tc.status, tc.contentType, tc.bodyContains)
			}
		})
	}
}

// TestClientCaching: every client build is served with the reference's
// ETag, and a second load is a 304.
func TestClientCaching(t *testing.T) {
	srv := newServer(t, Config{})
	for _, name := range clientbundle.Names() {
		res, _ := get(t, srv.URL+"/socket.io/"+name)
		if res.StatusCode != http.StatusOK || res.Header.Get("ETag") != `"`+clientbundle.Version+`"` || res.Header.Get("Cache-Control") != "public, max-age=0" {
			t.Fatalf("GET %s = %d, ETag %q, Cache-Control %q", name, res.StatusCode, res.Header.Get("ETag"), res.Header.Get("Cache-Control"))
		}
		if res, body := get(t, srv.URL+"/socket.io/"+name, "If-None-Match", res.Header.Get("ETag")); res.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("GET %s again: %d, %d bytes; want 304, empty", name, res.StatusCode, len(body))
		}
	}
}
