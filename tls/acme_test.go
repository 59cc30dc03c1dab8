package tls

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/iobridge/iobridge/tls/acmetest"
)

// pebbleWriter sends Pebble's log to the test log with -v.
func pebbleLog(t *testing.T) *testLogWriter {
	if !testing.Verbose() {
		return nil
	}
	return &testLogWriter{t: t}
}

type testLogWriter struct{ t *testing.T }

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func pebbleOptions(t *testing.T, httpPort, tlsPort int) acmetest.Options {
	o := acmetest.Options{HTTPPort: httpPort, TLSPort: tlsPort}
	if w := pebbleLog(t); w != nil {
		o.Log = w
	}
	return o
}

// TestACME: a certificate from a real ACME server (Pebble), validated with
// TLS-ALPN-01 against the listener; then, with the CA gone, the stored
// certificate is still served and a name without one is logged with the
// CA's error.
func TestACME(t *testing.T) {
	t.Parallel()
	ln, port := listen(t)
	ca := acmetest.Start(t, pebbleOptions(t, 0, port))
	storage := t.TempDir()
	rec := newRecorder()
	m, err := New(Config{
		Mode:       ModeACME,
		Domains:    []string{"sidecar.test"},
		Email:      "ops@sidecar.test",
		CA:         ca.URL,
		CARoot:     ca.DirectoryRoot,
		Storage:    storage,
		ListenHost: "127.0.0.1",
		HTTPSPort:  port,
		Logger:     slog.New(rec),
	})
	if err != nil {
		t.Fatal(err)
	}
	serveTLS(t, m, ln)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "tls: certificate in use", "sidecar.test")
	leaf, err := handshake(ln.Addr().String(), "sidecar.test", ca.Roots, 0)
	if err != nil {
		t.Fatalf("handshake with Pebble's root: %v", err)
	}
	if leaf.DNSNames[0] != "sidecar.test" {
		t.Fatalf("certificate for %q, want sidecar.test", leaf.DNSNames)
	}
	// No SNI: the first domain's certificate.
	if _, err := handshake(ln.Addr().String(), "", nil, 0); err != nil {
		t.Fatalf("handshake without SNI: %v", err)
	}
	// A name that is not managed gets no certificate.
	if _, err := handshake(ln.Addr().String(), "other.test", nil, 0); err == nil {
		t.Fatal("handshake for an unmanaged name succeeded")
	}
	m.Shutdown(t.Context())

	// The CA goes away; a new Manager on the same storage serves what it
	// has, and logs the CA's error for what it lacks.
	ca.Close()
	ln2, port2 := listen(t)
	rec2 := newRecorder()
	m2, err := New(Config{
		Mode:       ModeACME,
		Domains:    []string{"sidecar.test", "new.test"},
		CA:         ca.URL,
		CARoot:     ca.DirectoryRoot,
		Storage:    storage,
		ListenHost: "127.0.0.1",
		HTTPSPort:  port2,
		Logger:     slog.New(rec2),
	})
	if err != nil {
		t.Fatal(err)
	}
	serveTLS(t, m2, ln2)
	if err := m2.Start(); err != nil {
		t.Fatal(err)
	}
	rec2.wait(t, "tls: certificate not obtained", "new.test", "err=", "connection refused")
	if _, err := handshake(ln2.Addr().String(), "sidecar.test", ca.Roots, 0); err != nil {
		t.Fatalf("handshake for the stored certificate with the CA gone: %v", err)
	}
}

// TestOnDemand: a name the ask URL allows gets a certificate at its first
// handshake, validated with HTTP-01 on the redirect listener or TLS-ALPN-01;
// a name it denies gets none, and the denial is remembered.
func TestOnDemand(t *testing.T) {
	t.Parallel()
	ln, port := listen(t)
	httpLn, httpPort := listen(t)
	ca := acmetest.Start(t, pebbleOptions(t, httpPort, port))
	var mu sync.Mutex
	asked := map[string]int{}
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := r.URL.Query().Get("domain")
		mu.Lock()
		asked[d]++
		mu.Unlock()
		if strings.HasPrefix(d, "allowed") {
			return
		}
		http.Error(w, "no", http.StatusForbidden)
	}))
	t.Cleanup(ask.Close)
	rec := newRecorder()
	m, err := New(Config{
		Mode:       ModeOnDemand,
		CA:         ca.URL,
		CARoot:     ca.DirectoryRoot,
		Storage:    t.TempDir(),
		Ask:        ask.URL + "/check",
		ListenHost: "127.0.0.1",
		HTTPSPort:  port,
		HTTPPort:   httpPort,
		Logger:     slog.New(rec),
	})
	if err != nil {
		t.Fatal(err)
	}
	serveTLS(t, m, ln)
	redirect := &http.Server{Handler: m.RedirectHandler()}
	done := make(chan error, 1)
	go func() { done <- redirect.Serve(httpLn) }()
	t.Cleanup(func() {
		redirect.Close()
		<-done
	})
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	leaf, err := handshake(addr, "allowed.test", ca.Roots, 0)
	if err != nil {
		t.Fatalf("handshake for an allowed name: %v", err)
	}
	if leaf.DNSNames[0] != "allowed.test" {
		t.Fatalf("certificate for %q, want allowed.test", leaf.DNSNames)
	}
	for range 2 {
		if _, err := handshake(addr, "denied.test", ca.Roots, 0); err == nil {
			t.Fatal("handshake for a denied name succeeded")
		}
	}
	rec.wait(t, "the ask URL denied the name", "domain=denied.test")
	mu.Lock()
	defer mu.Unlock()
	if asked["allowed.test"] != 1 || asked["denied.test"] != 1 {
		t.Fatalf("ask requests = %v, want one per name", asked)
	}
}

// TestAsker: the decision function's cache and rate limit.
func TestAsker(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		if r.URL.Query().Get("domain") == "no.test" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer ask.Close()
	a := newAsker(Config{Ask: ask.URL, Domains: []string{"listed.test"}, IssueBurst: 3, IssueEvery: 1 << 62})
	steps := []struct {
		name  string
		calls int // ask requests so far
		want  error
	}{
		{"listed.test", 0, nil},
		{"yes.test", 1, nil},
		{"YES.test", 1, nil}, // remembered, case-insensitively
		{"no.test", 2, ErrDenied},
		{"no.test", 2, ErrDenied}, // remembered
		{"yes2.test", 3, ErrRateLimited},
	}
	for _, s := range steps {
		err := a.decide(t.Context(), s.name)
		if !errors.Is(err, s.want) || (s.want == nil && err != nil) {
			t.Fatalf("decide(%q) = %v, want %v", s.name, err, s.want)
		}
		mu.Lock()
		got := calls
		mu.Unlock()
		if got != s.calls {
			t.Fatalf("after decide(%q): %d ask requests, want %d", s.name, got, s.calls)
		}
	}

	// An ask URL that cannot be reached refuses, and is asked again.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	a = newAsker(Config{Ask: deadURL})
	for range 2 {
		if err := a.decide(t.Context(), "x.test"); err == nil || errors.Is(err, ErrDenied) {
			t.Fatalf("decide with the ask URL down = %v, want the request's error", err)
		}
	}
}

func TestRedirect(t *testing.T) {
	tests := []struct {
		name string
		port int
		host string
		path string
		want string
	}{
		{"default port", 0, "rt.example.com", "/socket.io/?EIO=4&transport=polling", "https://rt.example.com/socket.io/?EIO=4&transport=polling"},
		{"443", 443, "rt.example.com:80", "/", "https://rt.example.com/"},
		{"other port", 8443, "rt.example.com:8080", "/a?b=c", "https://rt.example.com:8443/a?b=c"},
		{"IPv6", 0, "[::1]:80", "/", "https://[::1]/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &Manager{cfg: Config{HTTPSPort: tc.port}}
			req := httptest.NewRequest(http.MethodPost, "http://x"+tc.path, nil)
			req.Host = tc.host
			w := httptest.NewRecorder()
			m.RedirectHandler().ServeHTTP(w, req)
			if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != tc.want {
				t.Fatalf("redirect of %s%s = %d %q, want 308 %q", tc.host, tc.path, w.Code, w.Header().Get("Location"), tc.want)
			}
		})
	}
}
