package main

import (
	"context"
	cryptotls "crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/iobridge/iobridge/config"
	iotls "github.com/iobridge/iobridge/tls"
)

// edgeTLS is the TLS of the Socket.IO listener: the certificate manager,
// the redirect listener (HTTP→HTTPS and ACME HTTP-01) if any, and in
// manual mode the SIGHUP watcher that re-reads the certificate files.
type edgeTLS struct {
	m      *iotls.Manager
	logger *slog.Logger

	redirect   *http.Server  // nil without tls.redirect_listen
	redirectLn net.Listener  // opened by newEdgeTLS, served by start
	redirected chan struct{} // closed when the redirect server returns

	hup     chan os.Signal // nil unless manual
	stopHUP chan struct{}
	wg      sync.WaitGroup

	once sync.Once
}

// newEdgeTLS maps [tls] onto the tls package for the Socket.IO listener
// ln and opens the redirect listener. It returns nil for mode "off".
func newEdgeTLS(c config.TLS, ln net.Listener, logger *slog.Logger) (*edgeTLS, error) {
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
	e := &edgeTLS{logger: logger}
	if c.RedirectListen != "" {
		rln, err := net.Listen("tcp", c.RedirectListen)
		if err != nil {
			return nil, fmt.Errorf("tls.redirect_listen: listen on %s: %w", c.RedirectListen, err)
		}
		_, tc.HTTPPort = hostPort(rln.Addr())
		e.redirectLn = rln
	}
	m, err := iotls.New(tc)
	if err != nil {
		if e.redirectLn != nil {
			e.redirectLn.Close()
		}
		return nil, tlsKeyError(err)
	}
	e.m = m
	if e.redirectLn != nil {
		e.redirect = &http.Server{
			Handler:           m.RedirectHandler(),
			ReadHeaderTimeout: readHeaderTimeout,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
	}
	return e, nil
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

// listener wraps the Socket.IO listener in TLS. http.Server.Serve offers
// HTTP/2 on it (its TLSConfig stays nil, so Serve sets h2 up).
func (e *edgeTLS) listener(ln net.Listener) net.Listener {
	return cryptotls.NewListener(ln, e.m.TLSConfig())
}

// start serves the redirect listener, starts certificate management (the
// listeners are up, so the CA can validate) and, in manual mode, watches
// for SIGHUP.
func (e *edgeTLS) start() error {
	if e.redirect != nil {
		e.redirected = make(chan struct{})
		go func() {
			defer close(e.redirected)
			if err := e.redirect.Serve(e.redirectLn); !errors.Is(err, http.ErrServerClosed) {
				e.logger.Error("tls: redirect listener stopped", "err", err)
			}
		}()
		e.logger.Info("tls: redirecting to HTTPS", "listen", e.redirectLn.Addr().String())
	}
	if err := e.m.Start(); err != nil {
		return err
	}
	if names := e.m.Names(); len(names) > 0 {
		e.logger.Info("tls: serving", "names", names)
	}
	e.hup = make(chan os.Signal, 1)
	e.stopHUP = make(chan struct{})
	signal.Notify(e.hup, syscall.SIGHUP)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			select {
			case <-e.hup:
				// Success is logged by the manager ("tls: certificate reloaded").
				if err := e.m.Reload(); err != nil {
					e.logger.Error("tls: certificate files not reloaded; serving the previous certificate", "err", err)
				}
			case <-e.stopHUP:
				return
			}
		}
	}()
	return nil
}

// shutdown stops the redirect listener, the SIGHUP watcher and
// certificate management.
func (e *edgeTLS) shutdown(ctx context.Context) error {
	var errs []error
	e.once.Do(func() {
		if e.redirect != nil {
			errs = append(errs, e.redirect.Shutdown(ctx))
			if e.redirected != nil {
				<-e.redirected
			}
		} else if e.redirectLn != nil {
			e.redirectLn.Close()
		}
		if e.hup != nil {
			signal.Stop(e.hup)
			close(e.stopHUP)
			e.wg.Wait()
		}
		errs = append(errs, e.m.Shutdown(ctx))
	})
	return errors.Join(errs...)
}
