package tls

import (
	"context"
	cryptotls "crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// Mode says where certificates come from.
type Mode string

// Modes.
const (
	// ModeOff serves no TLS; New refuses it (the caller serves plain HTTP).
	ModeOff Mode = "off"
	// ModeACME obtains and renews certificates for Config.Domains.
	ModeACME Mode = "acme"
	// ModeOnDemand obtains a certificate at the first handshake for a name,
	// once Config.Ask approves it (names in Config.Domains need no
	// approval).
	ModeOnDemand Mode = "on_demand"
	// ModeManual serves Config.CertFile and Config.KeyFile.
	ModeManual Mode = "manual"
)

// Named ACME directories Config.CA accepts besides a URL.
const (
	// CAProduction is Let's Encrypt, the default.
	CAProduction = "production"
	// CAStaging is Let's Encrypt's staging environment: untrusted
	// certificates, generous rate limits, for trying a setup out.
	CAStaging = "staging"
)

// Errors. Callers test them with errors.Is.
var (
	// ErrMode is returned by New for a mode it does not know, or "off".
	ErrMode = errors.New("tls: unknown mode")
	// ErrNoDomains is returned by New in acme mode without domains.
	ErrNoDomains = errors.New("tls: no domains to obtain certificates for")
	// ErrNoAsk is returned by New in on_demand mode without an ask URL:
	// anyone could make the sidecar request certificates for any name.
	ErrNoAsk = errors.New("tls: on-demand issuance needs an ask URL")
	// ErrCertificate wraps a manual certificate or key that cannot be read
	// or does not make a pair.
	ErrCertificate = errors.New("tls: bad certificate")
	// ErrCARoot is returned by New when CARoot holds no PEM certificate.
	ErrCARoot = errors.New("tls: ca_root holds no PEM certificate")
	// ErrDenied is returned to certmagic when the ask URL refuses a name.
	ErrDenied = errors.New("tls: the ask URL denied the name")
	// ErrRateLimited is returned to certmagic when on-demand issuance is
	// over its rate.
	ErrRateLimited = errors.New("tls: on-demand issuance is over its rate")
)

// Config configures a Manager. Only Mode and what that mode needs are
// required.
type Config struct {
	// Mode is acme, on_demand or manual.
	Mode Mode
	// Domains are the names certificates are obtained for (acme: at least
	// one; on_demand: names allowed without asking). The first one is also
	// served to clients that send no server name (SNI).
	Domains []string
	// Email is the ACME account's contact. Optional.
	Email string
	// CA is the ACME directory URL, or CAProduction or CAStaging. Empty
	// means CAProduction (Let's Encrypt).
	CA string
	// CARoot is PEM with the root certificate(s) of a private ACME CA,
	// trusted for the connection to the CA's directory. Nil means the
	// system roots.
	CARoot []byte
	// Storage is the folder for certificates, keys and the ACME account.
	// Empty means certmagic's default folder under the user's data dir.
	Storage string
	// CertFile and KeyFile are the PEM certificate chain and private key
	// served in manual mode, to every client whatever name it asks for.
	CertFile, KeyFile string
	// CheckInterval is how often, at most, a handshake in manual mode looks
	// at the files' size and modification time and re-reads them when they
	// changed. Zero means 5s; negative means only Reload re-reads them.
	CheckInterval time.Duration
	// MinVersion is the lowest TLS version accepted (crypto/tls
	// VersionTLS12 or VersionTLS13). Zero means TLS 1.2: TLS 1.0 and 1.1
	// clients are refused.
	MinVersion uint16
	// Ask is the URL the sidecar GETs with ?domain=NAME before obtaining an
	// on-demand certificate for NAME: a 2xx answer allows it, anything else
	// refuses it. Answers are cached (AskTTL, DenyTTL).
	Ask string
	// AskTTL is how long an approval is remembered. Zero means 1h.
	AskTTL time.Duration
	// DenyTTL is how long a refusal is remembered. Zero means 1m.
	DenyTTL time.Duration
	// IssueEvery and IssueBurst bound on-demand issuance: a token bucket
	// of IssueBurst tokens refilled one per IssueEvery; an approved name
	// that finds no token is refused for now (and not remembered). Zero
	// means one per 10s and a burst of 10.
	IssueEvery time.Duration
	IssueBurst int
	// AskClient makes the ask requests. Nil means a client with a 10s
	// timeout.
	AskClient *http.Client
	// ListenHost, HTTPSPort and HTTPPort are where the caller serves TLS
	// (TLS-ALPN-01 challenges are answered there) and the redirect handler
	// (HTTP-01 challenges). HTTPPort zero means no redirect listener: the
	// HTTP-01 challenge is not used. HTTPSPort zero means 443.
	ListenHost string
	HTTPSPort  int
	HTTPPort   int
	// Logger receives certificate events and certmagic's logs. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Defaults for the zero values of Config.
const (
	DefaultCheckInterval = 5 * time.Second
	DefaultAskTTL        = time.Hour
	DefaultDenyTTL       = time.Minute
	DefaultIssueEvery    = 10 * time.Second
	DefaultIssueBurst    = 10
	askTimeout           = 10 * time.Second
)

// Manager holds the certificates of one listener. Its methods are safe
// for concurrent use.
type Manager struct {
	cfg    Config
	logger *slog.Logger

	// manual mode
	manual *manualCert

	// acme and on_demand modes
	magic  *certmagic.Config
	cache  *certmagic.Cache
	issuer *certmagic.ACMEIssuer
	ask    *asker

	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

// New checks cfg and makes a Manager. In manual mode it reads the
// certificate files (an error wraps ErrCertificate and the file's error).
// It contacts no CA: Start does.
func New(cfg Config) (*Manager, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = cryptotls.VersionTLS12
	}
	if cfg.MinVersion < cryptotls.VersionTLS12 {
		return nil, fmt.Errorf("tls: minimum version %#x is below TLS 1.2", cfg.MinVersion)
	}
	m := &Manager{cfg: cfg, logger: cfg.Logger}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	switch cfg.Mode {
	case ModeManual:
		every := cfg.CheckInterval
		if every == 0 {
			every = DefaultCheckInterval
		}
		mc, err := newManualCert(cfg.CertFile, cfg.KeyFile, every, m.logger)
		if err != nil {
			return nil, err
		}
		m.manual = mc
		return m, nil
	case ModeACME:
		if len(cfg.Domains) == 0 {
			return nil, ErrNoDomains
		}
	case ModeOnDemand:
		if cfg.Ask == "" {
			return nil, ErrNoAsk
		}
	default:
		return nil, fmt.Errorf("%w %q", ErrMode, cfg.Mode)
	}
	if err := m.newACME(); err != nil {
		return nil, err
	}
	return m, nil
}

// caURL maps Config.CA onto a directory URL.
func caURL(ca string) string {
	switch ca {
	case "", CAProduction:
		return certmagic.LetsEncryptProductionCA
	case CAStaging:
		return certmagic.LetsEncryptStagingCA
	}
	return ca
}

func (m *Manager) newACME() error {
	cfg := m.cfg
	var roots *x509.CertPool
	if len(cfg.CARoot) > 0 {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(cfg.CARoot) {
			return ErrCARoot
		}
	}
	zl := zap.New(newSlogCore(m.logger.With("component", "certmagic")))
	var magic *certmagic.Config
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		Logger:           zl,
	})
	mc := certmagic.Config{
		Logger:  zl,
		OnEvent: m.onEvent,
	}
	if cfg.Storage != "" {
		mc.Storage = &certmagic.FileStorage{Path: cfg.Storage}
	}
	if len(cfg.Domains) > 0 {
		mc.DefaultServerName = cfg.Domains[0]
	}
	if cfg.Mode == ModeOnDemand {
		m.ask = newAsker(cfg)
		mc.OnDemand = &certmagic.OnDemandConfig{DecisionFunc: m.ask.decide}
	}
	magic = certmagic.New(m.cache, mc)
	httpsPort := cfg.HTTPSPort
	if httpsPort == 0 {
		httpsPort = 443
	}
	m.issuer = certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA:                   caURL(cfg.CA),
		Email:                cfg.Email,
		Agreed:               true,
		TrustedRoots:         roots,
		DisableHTTPChallenge: cfg.HTTPPort == 0,
		ListenHost:           cfg.ListenHost,
		AltHTTPPort:          cfg.HTTPPort,
		AltTLSALPNPort:       httpsPort,
		Logger:               zl,
	})
	magic.Issuers = []certmagic.Issuer{m.issuer}
	m.magic = magic
	return nil
}

// onEvent logs what an operator must know about certificates: each one
// obtained, each one put in use (certmagic caches a new certificate only
// after it reports it obtained, so "in use" is when handshakes get it), and
// each failure with the CA's error.
func (m *Manager) onEvent(_ context.Context, event string, data map[string]any) error {
	switch event {
	case "cert_obtained":
		m.logger.Info("tls: certificate obtained", "domain", data["identifier"], "renewal", data["renewal"])
	case "cached_managed_cert":
		m.logger.Info("tls: certificate in use", "names", data["sans"])
	case "cert_failed":
		err, _ := data["error"].(error)
		m.logger.Error("tls: certificate not obtained", "domain", data["identifier"], "renewal", data["renewal"], "err", err)
	}
	return nil
}

// TLSConfig is the server configuration to serve with (tls.NewListener or
// http.Server.TLSConfig). It offers HTTP/2 and HTTP/1.1 (WebSocket upgrades
// take HTTP/1.1) and, with ACME, the TLS-ALPN-01 challenge protocol. Each
// call returns a new Config.
func (m *Manager) TLSConfig() *cryptotls.Config {
	c := &cryptotls.Config{
		MinVersion: m.cfg.MinVersion,
		NextProtos: []string{"h2", "http/1.1"},
	}
	if m.manual != nil {
		c.GetCertificate = m.manual.get
		return c
	}
	c.GetCertificate = m.magic.GetCertificate
	c.NextProtos = append(c.NextProtos, "acme-tls/1")
	return c
}

// Start begins certificate management: in acme mode it loads the
// certificates of Config.Domains from Storage and obtains the missing ones
// in the background, retrying on failure (each failure is logged with the
// CA's error; names that have certificates keep being served). The
// listeners must be serving by then: the CA connects to them. In manual
// and on_demand modes it does nothing.
func (m *Manager) Start() error {
	if m.cfg.Mode != ModeACME {
		return nil
	}
	if err := m.magic.ManageAsync(m.ctx, m.cfg.Domains); err != nil {
		return fmt.Errorf("tls: manage %s: %w", strings.Join(m.cfg.Domains, ", "), err)
	}
	return nil
}

// Reload re-reads the manual certificate files now (on SIGHUP). On an
// error the previous certificate stays in use. In other modes it does
// nothing.
func (m *Manager) Reload() error {
	if m.manual == nil {
		return nil
	}
	return m.manual.reload(true)
}

// Shutdown stops renewals and issuance in progress. It does not wait for
// an ACME transaction under way to notice.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.once.Do(func() {
		m.cancel()
		if m.cache != nil {
			m.cache.Stop()
		}
	})
	return nil
}

// Names are the names the Manager serves certificates for when it starts:
// Config.Domains, or in manual mode the certificate's names.
func (m *Manager) Names() []string {
	if m.manual != nil {
		return m.manual.names()
	}
	return slices.Clone(m.cfg.Domains)
}
