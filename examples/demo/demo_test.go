package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
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
		{"client", "/rt/socket.io.js", 200, "application/javascript; charset=utf-8", "Socket.IO v" + ClientVersion},
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

func TestClientCaching(t *testing.T) {
	srv := newServer(t, Config{})
	res, _ := get(t, srv.URL+"/socket.io/socket.io.js")
	if got := res.Header.Get("ETag"); got != `"4.8.4"` {
		t.Fatalf("ETag = %q", got)
	}
	if got := res.Header.Get("Cache-Control"); got != "public, max-age=0" {
		t.Fatalf("Cache-Control = %q", got)
	}
	for _, etag := range []string{`"4.8.4"`, `W/"4.8.4"`} {
		if res, body := get(t, srv.URL+"/socket.io/socket.io.js", "If-None-Match", etag); res.StatusCode != http.StatusNotModified || body != "" {
			t.Errorf("If-None-Match %s: %d, %d bytes; want 304, empty", etag, res.StatusCode, len(body))
		}
	}
	if res, _ := get(t, srv.URL+"/socket.io/socket.io.js", "If-None-Match", `"4.0.0"`); res.StatusCode != http.StatusOK {
		t.Errorf("stale If-None-Match: %d, want 200", res.StatusCode)
	}
	res, err := http.Post(srv.URL+"/socket.io/socket.io.js", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST client: %d, want 405", res.StatusCode)
	}
}

// TestVendoredClientMatchesThePin keeps the bundle in step with the
// socket.io-client version the interop tests pin.
func TestVendoredClientMatchesThePin(t *testing.T) {
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
	if got := pkg.Dependencies["socket.io-client"]; got != ClientVersion {
		t.Fatalf("interop pins socket.io-client %q, the vendored bundle is %q: copy node_modules/socket.io-client/dist/socket.io.min.js{,.map} here", got, ClientVersion)
	}
	if !strings.HasPrefix(string(mustRead("socket.io.min.js")), "/*!\n * Socket.IO v"+ClientVersion+"\n") {
		t.Fatal("socket.io.min.js lost its license header or is another version")
	}
}
