package tls

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestEdge: the redirect server answers from Start to Shutdown, a reload
// signal re-reads the certificate files, and Shutdown stops everything
// once.
func TestEdge(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir, "", "a.test")
	httpsLn, httpsPort := listen(t)
	redirectLn, httpPort := listen(t)
	rec := newRecorder()
	logger := slog.New(rec)
	m, err := New(Config{Mode: ModeManual, CertFile: certFile, KeyFile: keyFile, CheckInterval: -1, HTTPSPort: httpsPort, HTTPPort: httpPort, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	e := NewEdge(m, EdgeConfig{Redirect: redirectLn, ReadHeaderTimeout: time.Second, ReloadOn: []os.Signal{syscall.SIGUSR1}, Logger: logger})
	ln := e.Listener(httpsLn)
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(ln)
	defer srv.Close()
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "tls: redirecting to HTTPS")

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get("http://" + redirectLn.Addr().String() + "/x?y=1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if want := "https://127.0.0.1:" + strconv.Itoa(httpsPort) + "/x?y=1"; res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != want {
		t.Errorf("redirect = %d %q, want 308 %q", res.StatusCode, res.Header.Get("Location"), want)
	}

	_, _, second := selfSigned(t, dir, "", "b.test") // rewrites certFile and keyFile
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, "tls: certificate reloaded")
	leaf, err := handshake(httpsLn.Addr().String(), "b.test", poolOf(second), 0)
	if err != nil || !leaf.Equal(second) {
		t.Fatalf("handshake after the reload signal: %v, want the second certificate", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown = %v, want nil", err)
	}
	if _, err := noFollow.Get("http://" + redirectLn.Addr().String() + "/"); err == nil {
		t.Error("the redirect listener still answers after Shutdown")
	}
}
