package tls

import (
	cryptotls "crypto/tls"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := selfSigned(t, dir, "", "a.test")
	otherCert, _, _ := selfSigned(t, dir, "other-", "b.test")
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		cfg  Config
		want []error
	}{
		{"off", Config{Mode: ModeOff}, []error{ErrMode}},
		{"unknown mode", Config{Mode: "auto"}, []error{ErrMode}},
		{"acme without domains", Config{Mode: ModeACME}, []error{ErrNoDomains}},
		{"on_demand without ask", Config{Mode: ModeOnDemand}, []error{ErrNoAsk}},
		{"ca_root without PEM", Config{Mode: ModeACME, Domains: []string{"a.test"}, CARoot: []byte("not PEM")}, []error{ErrCARoot}},
		{"missing cert file", Config{Mode: ModeManual, CertFile: missing, KeyFile: key}, []error{ErrCertificate, fs.ErrNotExist}},
		{"missing key file", Config{Mode: ModeManual, CertFile: cert, KeyFile: missing}, []error{ErrCertificate, fs.ErrNotExist}},
		{"key of another certificate", Config{Mode: ModeManual, CertFile: otherCert, KeyFile: key}, []error{ErrCertificate}},
		{"TLS 1.1", Config{Mode: ModeManual, CertFile: cert, KeyFile: key, MinVersion: cryptotls.VersionTLS11}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			m, err := New(tc.cfg)
			if err == nil {
				m.Shutdown(t.Context())
				t.Fatalf("New(%+v) = nil error", tc.cfg)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("New() = %v, want errors.Is %v", err, w)
				}
			}
		})
	}
}

// TestMinVersion: TLS 1.0 and 1.1 clients are refused by default, TLS 1.2
// is refused when the minimum is 1.3.
func TestMinVersion(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := selfSigned(t, dir, "", "a.test")
	tests := []struct {
		name      string
		min       uint16
		client    uint16
		wantError bool
	}{
		{"default refuses 1.0", 0, cryptotls.VersionTLS10, true},
		{"default refuses 1.1", 0, cryptotls.VersionTLS11, true},
		{"default accepts 1.2", 0, cryptotls.VersionTLS12, false},
		{"default accepts 1.3", 0, cryptotls.VersionTLS13, false},
		{"1.3 refuses 1.2", cryptotls.VersionTLS13, cryptotls.VersionTLS12, true},
		{"1.3 accepts 1.3", cryptotls.VersionTLS13, cryptotls.VersionTLS13, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(Config{Mode: ModeManual, CertFile: certFile, KeyFile: keyFile, MinVersion: tc.min, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ln, _ := listen(t)
			serveTLS(t, m, ln)
			_, err = handshake(ln.Addr().String(), "a.test", poolOf(cert), tc.client)
			if gotError := err != nil; gotError != tc.wantError {
				t.Fatalf("handshake with max version %#x: err = %v, want error %v", tc.client, err, tc.wantError)
			}
			if err != nil && !strings.Contains(err.Error(), "version") {
				t.Errorf("handshake error %q does not name the version", err)
			}
		})
	}
}

// TestManualRotation: new files are picked up by the next handshake
// after CheckInterval, or by Reload; bad files leave the old certificate
// in place.
func TestManualRotation(t *testing.T) {
	tests := []struct {
		name   string
		every  int64 // CheckInterval in ns; negative: only Reload
		reload bool
	}{
		{"file change seen at a handshake", 1, false},
		{"reload (SIGHUP)", -1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile, first := selfSigned(t, dir, "", "a.test")
			rec := newRecorder()
			m, err := New(Config{Mode: ModeManual, CertFile: certFile, KeyFile: keyFile, CheckInterval: time.Duration(tc.every), Logger: slog.New(rec)})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Names(); len(got) != 2 || got[0] != "a.test" || got[1] != "127.0.0.1" {
				t.Errorf("Names() = %q, want [a.test 127.0.0.1]", got)
			}
			ln, _ := listen(t)
			serveTLS(t, m, ln)
			addr := ln.Addr().String()

			// Any name, or none, gets the one certificate.
			for _, sni := range []string{"other.test", ""} {
				leaf, err := handshake(addr, sni, nil, 0)
				if err != nil || !leaf.Equal(first) {
					t.Fatalf("handshake for %q: err %v, want the certificate", sni, err)
				}
			}
			leaf, err := handshake(addr, "a.test", poolOf(first), 0)
			if err != nil {
				t.Fatalf("first handshake: %v", err)
			}
			if !leaf.Equal(first) {
				t.Fatal("first handshake: not the first certificate")
			}

			// A half-written pair (new certificate, old key) is refused; the
			// first certificate stays.
			newDir := t.TempDir()
			newCert, newKey, second := selfSigned(t, newDir, "", "a.test", "b.test")
			certPEM, _ := os.ReadFile(newCert)
			keyPEM, _ := os.ReadFile(newKey)
			writeFile(t, certFile, certPEM)
			if tc.reload {
				if err := m.Reload(); !errors.Is(err, ErrCertificate) {
					t.Fatalf("Reload() with a mismatched pair = %v, want ErrCertificate", err)
				}
			}
			leaf, err = handshake(addr, "a.test", poolOf(first), 0)
			if err != nil || !leaf.Equal(first) {
				t.Fatalf("handshake during rotation: err %v, want the first certificate", err)
			}
			if !tc.reload {
				rec.wait(t, "not reloaded", "err=")
			}

			writeFile(t, keyFile, keyPEM)
			if tc.reload {
				// Without Reload nothing changes.
				leaf, err = handshake(addr, "b.test", poolOf(first), 0)
				if err == nil || leaf != nil {
					t.Fatalf("handshake before Reload: err %v, want the first certificate (which has no b.test)", err)
				}
				if err := m.Reload(); err != nil {
					t.Fatalf("Reload() = %v", err)
				}
			}
			leaf, err = handshake(addr, "b.test", poolOf(second), 0)
			if err != nil {
				t.Fatalf("handshake after rotation: %v", err)
			}
			if !leaf.Equal(second) {
				t.Fatal("handshake after rotation: not the second certificate")
			}
			rec.wait(t, "certificate reloaded", "b.test")
		})
	}
}

// TestHTTP2: polling may use HTTP/2; an HTTP/1.1 client gets HTTP/1.1.
func TestHTTP2(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := selfSigned(t, dir, "", "a.test")
	m, err := New(Config{Mode: ModeManual, CertFile: certFile, KeyFile: keyFile, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := listen(t)
	serveTLS(t, m, ln)
	for _, tc := range []struct {
		name  string
		http2 bool
		want  string
	}{
		{"h2", true, "hello over HTTP/2.0"},
		{"http/1.1", false, "hello over HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &cryptotls.Config{RootCAs: poolOf(cert), ServerName: "a.test"}, ForceAttemptHTTP2: tc.http2}
			if !tc.http2 {
				tr.TLSNextProto = map[string]func(string, *cryptotls.Conn) http.RoundTripper{}
			}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr}).Get("https://" + ln.Addr().String() + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != tc.want {
				t.Fatalf("GET = %q, want %q", body, tc.want)
			}
		})
	}
}
