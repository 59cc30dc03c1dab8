package main

import (
	cryptotls "crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"

	"github.com/iobridge/iobridge/config"
	iotls "github.com/iobridge/iobridge/tls"
)

// newEdgeTLS maps [tls] onto the tls package for the Socket.IO listener
// ln and opens the redirect listener. It returns nil for mode "off".
// The Edge owns the redirect listener; it reloads the certificate files on
// SIGHUP.
func newEdgeTLS(c config.TLS, ln net.Listener, logger *slog.Logger) (*iotls.Edge, error) {
	if c.Mode == config.TLSOff {
		return nil, nil
	}
	host, port := hostPort(ln.Addr())
	tc := iotls.Config{
		Mode:       iotls.Mode(c.Mode),
		Domains:    c.Domains,
		Email:      c.Email,
		CA:         c.CA,
		Storage:    c.Storage,
		CertFile:   c.CertFile,
		KeyFile:    c.KeyFile,
		MinVersion: cryptotls.VersionTLS12,
		Ask:        c.Ask,
		ListenHost: host,
		HTTPSPort:  port,
		Logger:     logger.With("component", "tls"),
	}
	if c.MinVersion == "1.3" {
		tc.MinVersion = cryptotls.VersionTLS13
	}
	if c.CARoot != "" && c.Mode != config.TLSManual {
		pem, err := os.ReadFile(c.CARoot)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_root: %w", err)
		}
		tc.CARoot = pem
	}
	var rln net.Listener
	if c.RedirectListen != "" {
		var err error
		if rln, err = net.Listen("tcp", c.RedirectListen); err != nil {
			return nil, fmt.Errorf("tls.redirect_listen: listen on %s: %w", c.RedirectListen, err)
		}
		_, tc.HTTPPort = hostPort(rln.Addr())
	}
	m, err := iotls.New(tc)
	if err != nil {
		if rln != nil {
			rln.Close()
		}
		return nil, tlsKeyError(err)
	}
	return iotls.NewEdge(m, iotls.EdgeConfig{
		Redirect:          rln,
		ReadHeaderTimeout: readHeaderTimeout,
		ReloadOn:          []os.Signal{syscall.SIGHUP},
		Logger:            logger,
	}), nil
}

// tlsKeyError names the configuration key an error from tls.New is about.
func tlsKeyError(err error) error {
	switch {
	case errors.Is(err, iotls.ErrCertificate):
		return fmt.Errorf("tls.cert_file, tls.key_file: %w", err)
	case errors.Is(err, iotls.ErrCARoot):
		return fmt.Errorf("tls.ca_root: %w", err)
	case errors.Is(err, iotls.ErrNoDomains):
		return fmt.Errorf("tls.domains: %w", err)
	case errors.Is(err, iotls.ErrNoAsk):
		return fmt.Errorf("tls.ask: %w", err)
	}
	return fmt.Errorf("tls: %w", err)
}

func hostPort(a net.Addr) (string, int) {
	if t, ok := a.(*net.TCPAddr); ok {
		host := ""
		if !t.IP.IsUnspecified() {
			host = t.IP.String()
		}
		return host, t.Port
	}
	return "", 0
}
