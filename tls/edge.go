package tls

import (
	"context"
	cryptotls "crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"
)

// EdgeConfig configures an Edge around a Manager.
type EdgeConfig struct {
	// Redirect is the plain-HTTP listener RedirectHandler is served on
	// (HTTP→HTTPS and ACME HTTP-01); the Edge owns it from NewEdge on and
	// closes it at Shutdown. Nil means none.
	Redirect net.Listener
	// ReadHeaderTimeout bounds how long a client of the redirect listener
	// may take to send its request headers. Zero means none.
	ReadHeaderTimeout time.Duration
	// ReloadOn are the signals on which the Manager re-reads its
	// certificate files (Reload): the caller chooses them (iobridge:
	// SIGHUP). Empty means none are watched.
	ReloadOn []os.Signal
	// Logger receives the lifecycle records and the redirect server's
	// errors. Nil means slog.Default().
	Logger *slog.Logger
}

// Edge is the TLS of one HTTPS listener over its lifecycle: the Manager,
// the redirect server on EdgeConfig.Redirect, and the watcher that
// reloads the certificate files on a signal. NewEdge starts nothing,
// Start starts all three, Shutdown stops them. Shutdown is safe to call
// more than once and from any goroutine; the other methods are called by
// the one goroutine that builds and starts the Edge.
type Edge struct {
	m        *Manager
	logger   *slog.Logger
	reloadOn []os.Signal

	redirect   *http.Server  // nil without EdgeConfig.Redirect
	redirectLn net.Listener  // served by Start
	redirected chan struct{} // closed when the redirect server returns

	sig     chan os.Signal // nil until Start watches signals
	stopSig chan struct{}
	wg      sync.WaitGroup

	once sync.Once
}

// NewEdge wraps m for its listener's lifecycle.
func NewEdge(m *Manager, cfg EdgeConfig) *Edge {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	e := &Edge{m: m, logger: logger, reloadOn: cfg.ReloadOn, redirectLn: cfg.Redirect}
	if cfg.Redirect != nil {
		e.redirect = &http.Server{
			Handler:           m.RedirectHandler(),
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
	}
	return e
}

// Listener wraps the HTTPS listener ln in TLS. http.Server.Serve offers
// HTTP/2 on it (its TLSConfig stays nil, so Serve sets h2 up).
func (e *Edge) Listener(ln net.Listener) net.Listener {
	return cryptotls.NewListener(ln, e.m.TLSConfig())
}

// Start serves the redirect listener, starts certificate management (the
// listeners are up, so the CA can validate) and watches the ReloadOn
// signals.
func (e *Edge) Start() error {
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
	if len(e.reloadOn) == 0 {
		return nil
	}
	e.sig = make(chan os.Signal, 1)
	e.stopSig = make(chan struct{})
	signal.Notify(e.sig, e.reloadOn...)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			select {
			case <-e.sig:
				// Success is logged by the manager ("tls: certificate reloaded").
				if err := e.m.Reload(); err != nil {
					e.logger.Error("tls: certificate files not reloaded; serving the previous certificate", "err", err)
				}
			case <-e.stopSig:
				return
			}
		}
	}()
	return nil
}

// Shutdown stops the redirect server (or closes its listener if it was
// never served), the signal watcher and certificate management. Calls
// after the first do nothing and return nil.
func (e *Edge) Shutdown(ctx context.Context) error {
	var errs []error
	e.once.Do(func() {
		if e.redirect != nil && e.redirected != nil {
			errs = append(errs, e.redirect.Shutdown(ctx))
			<-e.redirected
		} else if e.redirectLn != nil {
			e.redirectLn.Close()
		}
		if e.sig != nil {
			signal.Stop(e.sig)
			close(e.stopSig)
			e.wg.Wait()
		}
		errs = append(errs, e.m.Shutdown(ctx))
	})
	return errors.Join(errs...)
}
