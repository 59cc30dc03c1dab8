// Package acmetest runs a real ACME server for tests: Pebble, the test CA
// of Let's Encrypt, in process on 127.0.0.1, with a DNS server that
// resolves every name to 127.0.0.1 so that Pebble validates challenges
// against the server under test.
package acmetest

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// Options says where Pebble validates challenges.
type Options struct {
	// HTTPPort is the port of HTTP-01 validation requests (the server's
	// plain-HTTP listener). Zero means 80.
	HTTPPort int
	// TLSPort is the port of TLS-ALPN-01 validation handshakes (the
	// server's TLS listener). Zero means 443.
	TLSPort int
	// Log receives Pebble's log lines. Nil discards them.
	Log io.Writer
}

// CA is a running Pebble.
type CA struct {
	// URL is the ACME directory.
	URL string
	// DirectoryRoot is the PEM certificate to trust for the HTTPS
	// connection to URL (an ACME client's CA root setting).
	DirectoryRoot []byte
	// Root is the PEM root certificate of what Pebble issues, for clients
	// of the server under test.
	Root []byte
	// Roots holds Root.
	Roots *x509.CertPool
	// DNS is the address (TCP, 127.0.0.1) of the DNS server Pebble uses.
	DNS string

	srv *httptest.Server
}

// Close stops the ACME server early, to test a CA that cannot be reached;
// the test's end stops it anyway.
func (c *CA) Close() { c.srv.Close() }

var setEnv sync.Once

// Start runs Pebble until the test ends. Pebble's random delay before
// validating and its bad nonces are turned off (through its environment
// variables, set for the whole process).
func Start(t testing.TB, opts Options) *CA {
	t.Helper()
	setEnv.Do(func() {
		os.Setenv("PEBBLE_VA_NOSLEEP", "1")
		os.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	})
	if opts.HTTPPort == 0 {
		opts.HTTPPort = 80
	}
	if opts.TLSPort == 0 {
		opts.TLSPort = 443
	}
	w := opts.Log
	if w == nil {
		w = io.Discard
	}
	logger := log.New(w, "pebble ", log.LstdFlags)

	dnsAddr := startDNS(t)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "the default profile"},
	})
	validator := va.New(logger, opts.HTTPPort, opts.TLSPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	srv := httptest.NewUnstartedServer(front.Handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)

	root := authority.GetRootCert(0).PEM()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(root) {
		t.Fatal("acmetest: Pebble's root is not PEM")
	}
	return &CA{
		URL:           srv.URL + wfe.DirectoryPath,
		DirectoryRoot: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
		Root:          root,
		Roots:         pool,
		DNS:           dnsAddr,
		srv:           srv,
	}
}

// startDNS serves DNS over TCP on 127.0.0.1: A 127.0.0.1 for every name,
// nothing else.
func startDNS(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("acmetest: DNS listener: %v", err)
	}
	started := make(chan struct{})
	srv := &dns.Server{
		Listener:          ln,
		NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
			resp := new(dns.Msg)
			resp.SetReply(req)
			for _, q := range req.Question {
				if q.Qtype == dns.TypeA {
					resp.Answer = append(resp.Answer, &dns.A{
						Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
						A:   net.IPv4(127, 0, 0, 1),
					})
				}
			}
			_ = w.WriteMsg(resp)
		}),
	}
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("acmetest: DNS server: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return ln.Addr().String()
}
