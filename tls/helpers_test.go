package tls

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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds every wait; generous for -race on two cores.
const waitTimeout = 60 * time.Second

// recorder is a slog.Handler that keeps records so tests can wait for one.
type recorder struct {
	mu      sync.Mutex
	records []string
	changed chan struct{}
	attrs   []slog.Attr
	parent  *recorder
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) root() *recorder {
	if r.parent != nil {
		return r.parent
	}
	return r
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	for _, a := range r.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	root := r.root()
	root.mu.Lock()
	root.records = append(root.records, b.String())
	close(root.changed)
	root.changed = make(chan struct{})
	root.mu.Unlock()
	return nil
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{parent: r.root(), attrs: append(append([]slog.Attr(nil), r.attrs...), as...)}
}

func (r *recorder) WithGroup(string) slog.Handler { return r }

// wait blocks until a record contains every one of parts.
func (r *recorder) wait(t *testing.T, parts ...string) string {
	t.Helper()
	root := r.root()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		root.mu.Lock()
		for _, rec := range root.records {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(rec, p)
			}
			if ok {
				root.mu.Unlock()
				return rec
			}
		}
		changed := root.changed
		root.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			root.mu.Lock()
			defer root.mu.Unlock()
			t.Fatalf("no log record with %q within %v; records:\n%s", parts, waitTimeout, strings.Join(root.records, "\n"))
		}
	}
}

// selfSigned writes a self-signed certificate for names and its key to
// dir, returning the files and the certificate.
func selfSigned(t *testing.T, dir, prefix string, names ...string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, prefix+"cert.pem")
	keyFile = filepath.Join(dir, prefix+"key.pem")
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	return certFile, keyFile, cert
}

// writeFile replaces path atomically, as a deployment tool would.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// serveTLS serves a "hello" handler with m on ln until the test ends.
func serveTLS(t *testing.T, m *Manager, ln net.Listener) {
	t.Helper()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello over %s", r.Proto)
		}),
		TLSConfig: m.TLSConfig(),
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		_ = m.Shutdown(context.Background())
	})
}

// listen opens a loopback listener and returns it with its port.
func listen(t *testing.T) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// handshake connects to addr as serverName and returns the server's leaf,
// verified against roots (nil: not verified).
func handshake(addr, serverName string, roots *x509.CertPool, maxVersion uint16) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: waitTimeout}
	conn, err := cryptotls.DialWithDialer(d, "tcp", addr, &cryptotls.Config{
		ServerName: serverName,
		RootCAs:    roots,
		MaxVersion: maxVersion,
		// Nil roots: the test checks the leaf itself.
		InsecureSkipVerify: roots == nil,
	})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
