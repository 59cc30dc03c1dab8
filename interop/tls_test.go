package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	cryptotls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
	iotls "github.com/iobridge/iobridge/tls"
	"github.com/iobridge/iobridge/tls/acmetest"
)

// tlsLog is the sidecar's log in the TLS tests: tests wait for a message.
type tlsLog struct {
	mu      sync.Mutex
	msgs    []string
	changed chan struct{}
	t       *testing.T
}

func newTLSLog(t *testing.T) *tlsLog { return &tlsLog{changed: make(chan struct{}), t: t} }

func (l *tlsLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *tlsLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *tlsLog) WithGroup(string) slog.Handler            { return l }

func (l *tlsLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	if testing.Verbose() {
		l.t.Log(b.String())
	}
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// wait waits for a record containing every one of parts.
func (l *tlsLog) wait(t *testing.T, parts ...string) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for _, m := range l.msgs {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(m, p)
			}
			if ok {
				l.mu.Unlock()
				return
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("no log record with %q within %v:\n%s", parts, waitTimeout, strings.Join(l.msgs, "\n"))
		}
	}
}

// listenLoopback opens a 127.0.0.1 listener, closed when the test ends.
func listenLoopback(t *testing.T) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// startTLSSidecar serves Socket.IO over TLS on ln with m, as main does
// (tls.NewListener, so http.Server offers h2): "echo" acks its args.
func startTLSSidecar(t *testing.T, ln net.Listener, m *iotls.Manager, logger *slog.Logger) {
	t.Helper()
	srv := socketio.NewServer(socketio.Config{
		Engine:  engineio.Config{Path: "/socket.io/", Logger: logger},
		Adapter: adapter.New,
		Logger:  logger,
	})
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(e socketio.Event) {
			if e.Ack != nil {
				_ = e.Ack(e.Args, e.Attachments)
			}
		})
	})
	hs := &http.Server{Handler: srv, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(cryptotls.NewListener(ln, m.TLSConfig())) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		_ = m.Shutdown(ctx)
	})
}

// startTLSClient is startClient with names under .test resolved to
// 127.0.0.1 (tls_hosts.js).
func startTLSClient(t *testing.T) *client {
	t.Helper()
	n := startNode(t, "client", "--require", "./tls_hosts.js", "client.js")
	n.log.wait(t, "ready", is("ready"))
	return &client{node: n}
}

// connectTLS opens a socket to url trusting the PEM ca ("" : the system
// roots only).
func (c *client) connectTLS(name, url, ca string, transports ...string) {
	c.t.Helper()
	opts := map[string]any{
		"reconnection": false,
		"timeout":      int(waitTimeout / time.Millisecond),
	}
	if ca != "" {
		opts["ca"] = ca
	}
	if transports != nil {
		opts["transports"] = transports
	}
	c.send(map[string]any{"cmd": "connect", "socket": name, "url": url, "nsp": "/", "opts": opts})
}

// echoRoundTrip waits for socket's connect and does an ack round trip.
func echoRoundTrip(t *testing.T, c *client, socket string) {
	t.Helper()
	c.wait("connect", socket)
	args := c.call(socket, "echo", "over tls", map[string]any{"n": 1})
	sameJSON(t, socket+" echo ack", args, []any{"over tls", map[string]any{"n": 1}})
}

func pebbleOpts(t *testing.T, httpPort, tlsPort int) acmetest.Options {
	o := acmetest.Options{HTTPPort: httpPort, TLSPort: tlsPort}
	if testing.Verbose() {
		o.Log = &testWriter{t: t}
	}
	return o
}

// TestTLSACME: the sidecar obtains its certificate from a real ACME
// server (Pebble, validating TLS-ALPN-01 against the sidecar's port); the
// real socket.io-client, trusting Pebble's root, connects over https
// (polling), wss, and polling upgraded to wss, and does ack round trips.
// A client that does not trust that root, and a TLS 1.1 client, are
// refused.
func TestTLSACME(t *testing.T) {
	t.Parallel()
	ln, port := listenLoopback(t)
	ca := acmetest.Start(t, pebbleOpts(t, 0, port))
	log := newTLSLog(t)
	logger := slog.New(log)
	m, err := iotls.New(iotls.Config{
		Mode:       iotls.ModeACME,
		Domains:    []string{"sidecar.test"},
		Email:      "ops@sidecar.test",
		CA:         ca.URL,
		CARoot:     ca.DirectoryRoot,
		Storage:    t.TempDir(),
		ListenHost: "127.0.0.1",
		HTTPSPort:  port,
		Logger:     logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	startTLSSidecar(t, ln, m, logger)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	log.wait(t, "tls: certificate in use", "sidecar.test")

	url := fmt.Sprintf("https://sidecar.test:%d", port)
	c := startTLSClient(t)
	c.connectTLS("polling", url, string(ca.Root), "polling")
	c.connectTLS("websocket", url, string(ca.Root), "websocket")
	c.connectTLS("upgrade", url, string(ca.Root))
	c.connectTLS("untrusted", url, "", "polling")
	echoRoundTrip(t, c, "polling")
	echoRoundTrip(t, c, "websocket")
	c.log.wait(t, "upgrade to websocket", func(e event) bool { return e.Type == "upgrade" && e.Manager == "upgrade" && e.Transport == "websocket" })
	args := c.call("upgrade", "echo", "upgraded")
	sameJSON(t, "upgrade echo ack", args, []any{"upgraded"})
	for socket, want := range map[string]string{"polling": "polling", "websocket": "websocket", "upgrade": "websocket"} {
		if got := c.state(socket).Transport; got != want {
			t.Errorf("%s: transport %q, want %q", socket, got, want)
		}
	}
	c.wait("connect_error", "untrusted")

	conn, err := cryptotls.Dial("tcp", ln.Addr().String(), &cryptotls.Config{
		ServerName: "sidecar.test",
		RootCAs:    ca.Roots,
		MaxVersion: cryptotls.VersionTLS11,
	})
	if err == nil {
		conn.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
}

// TestTLSOnDemand: a name the ask URL allows gets a certificate at the
// client's first connection (Pebble validating HTTP-01 on the redirect
// listener or TLS-ALPN-01); a name it denies gets none and the client's
// connect fails.
func TestTLSOnDemand(t *testing.T) {
	t.Parallel()
	ln, port := listenLoopback(t)
	httpLn, httpPort := listenLoopback(t)
	ca := acmetest.Start(t, pebbleOpts(t, httpPort, port))
	var mu sync.Mutex
	asked := map[string]int{}
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := r.URL.Query().Get("domain")
		mu.Lock()
		asked[d]++
		mu.Unlock()
		if d != "allowed.test" {
			http.Error(w, "not ours", http.StatusNotFound)
		}
	}))
	t.Cleanup(ask.Close)
	log := newTLSLog(t)
	logger := slog.New(log)
	m, err := iotls.New(iotls.Config{
		Mode:       iotls.ModeOnDemand,
		CA:         ca.URL,
		CARoot:     ca.DirectoryRoot,
		Storage:    t.TempDir(),
		Ask:        ask.URL,
		ListenHost: "127.0.0.1",
		HTTPSPort:  port,
		HTTPPort:   httpPort,
		Logger:     logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	startTLSSidecar(t, ln, m, logger)
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

	c := startTLSClient(t)
	c.connectTLS("allowed", fmt.Sprintf("https://allowed.test:%d", port), string(ca.Root))
	echoRoundTrip(t, c, "allowed")
	c.connectTLS("denied", fmt.Sprintf("https://denied.test:%d", port), string(ca.Root), "websocket")
	c.wait("connect_error", "denied")
	log.wait(t, "the ask URL denied the name", "domain=denied.test")
	mu.Lock()
	defer mu.Unlock()
	if asked["allowed.test"] != 1 || asked["denied.test"] != 1 {
		t.Errorf("ask requests = %v, want one for each name", asked)
	}
}

// TestTLSManualRotation: manual certificate files replaced and reloaded
// (as on SIGHUP) are served to new connections without a restart; a
// connection made before keeps working.
func TestTLSManualRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeSelfSigned(t, certFile, keyFile, "manual.test")
	log := newTLSLog(t)
	logger := slog.New(log)
	m, err := iotls.New(iotls.Config{
		Mode:          iotls.ModeManual,
		CertFile:      certFile,
		KeyFile:       keyFile,
		CheckInterval: -1, // only Reload: the test says when
		Logger:        logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, port := listenLoopback(t)
	startTLSSidecar(t, ln, m, logger)
	url := fmt.Sprintf("https://manual.test:%d", port)

	c := startTLSClient(t)
	c.connectTLS("before", url, first, "websocket")
	echoRoundTrip(t, c, "before")

	second := writeSelfSigned(t, certFile, keyFile, "manual.test")
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	c.connectTLS("stale", url, first, "polling")
	c.wait("connect_error", "stale")
	c.connectTLS("after", url, second, "polling")
	echoRoundTrip(t, c, "after")
	args := c.call("before", "echo", "still here")
	sameJSON(t, "before echo ack", args, []any{"still here"})
}

// writeSelfSigned writes a self-signed certificate for name and its key,
// replacing the files atomically, and returns the certificate as PEM.
func writeSelfSigned(t *testing.T, certFile, keyFile, name string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for _, f := range []struct {
		path string
		data []byte
	}{
		{keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})},
		{certFile, certPEM},
	} {
		if err := os.WriteFile(f.path+".tmp", f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.path+".tmp", f.path); err != nil {
			t.Fatal(err)
		}
	}
	return string(certPEM)
}
