package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	cryptotls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for name (and 127.0.0.1) and
// its key to certFile and keyFile, replacing them atomically.
func writeCert(t *testing.T, certFile, keyFile, name string) *x509.Certificate {
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
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
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
	for _, f := range []struct {
		path string
		data []byte
	}{
		{keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})},
		{certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})},
	} {
		if err := os.WriteFile(f.path+".tmp", f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.path+".tmp", f.path); err != nil {
			t.Fatal(err)
		}
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// TestServeTLS: manual certificates, the Engine.IO handshake over HTTPS
// with HTTP/2, the redirect listener, and a rotation picked up on SIGHUP.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile, "first.test")
	cfgFile := writeFile(t, "tls.toml", goodConfig+`
[tls]
mode = "manual"
cert_file = "`+certFile+`"
key_file = "`+keyFile+`"
redirect_listen = "127.0.0.1:0"
`)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logs := newLogWatch()
	exited := make(chan int, 1)
	go func() { exited <- run(ctx, []string{"-config", cfgFile, "-log-format", "json"}, io.Discard, logs) }()

	url, _ := logs.waitRecord(t, "listening", exited)["url"].(string)
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("listening url = %q, want https://127.0.0.1:…", url)
	}
	logs.waitRecord(t, "tls: serving", exited)

	get := func(name string, roots *x509.CertPool) (*http.Response, []byte, error) {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: &cryptotls.Config{RootCAs: roots, ServerName: name}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(url + "rt/?EIO=4&transport=polling")
		if err != nil {
			return nil, nil, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, body, nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(first)
	resp, body, err := get("first.test", pool)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(body, []byte("0{")) || resp.Proto != "HTTP/2.0" {
		t.Fatalf("handshake over HTTPS = %d %s %q, want 200 HTTP/2.0 and an OPEN packet", resp.StatusCode, resp.Proto, body)
	}

	// The redirect listener sends plain HTTP to HTTPS.
	redirectAddr, _ := logs.waitRecord(t, "tls: redirecting to HTTPS", exited)["listen"].(string)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	rresp, err := noFollow.Get("http://" + redirectAddr + "/rt/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	rresp.Body.Close()
	if want := url + "rt/?EIO=4&transport=polling"; rresp.StatusCode != http.StatusPermanentRedirect || rresp.Header.Get("Location") != want {
		t.Errorf("redirect = %d %q, want 308 %q", rresp.StatusCode, rresp.Header.Get("Location"), want)
	}

	// Rotate the files and send SIGHUP: the new certificate is served
	// without a restart.
	second := writeCert(t, certFile, keyFile, "second.test")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	logs.waitRecord(t, "tls: certificate reloaded", exited)
	pool2 := x509.NewCertPool()
	pool2.AddCert(second)
	if _, _, err := get("second.test", pool2); err != nil {
		t.Fatalf("handshake after rotation: %v", err)
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("iobridge did not stop within 15s:\n%s", logs.String())
	}
}

// TestServeTLSBadCertificate: an unreadable certificate stops the start
// with an error naming the keys.
func TestServeTLSBadCertificate(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	for _, f := range []string{cert, key} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgFile := writeFile(t, "tls.toml", goodConfig+"[tls]\nmode = \"manual\"\ncert_file = \""+cert+"\"\nkey_file = \""+key+"\"\n")
	code, _, stderr := runCmd(t, "-config", cfgFile)
	if code != 1 || !strings.Contains(stderr, "tls.cert_file") {
		t.Errorf("serving with a bad certificate = exit %d, stderr %q; want exit 1 naming tls.cert_file", code, stderr)
	}
}
