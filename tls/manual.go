package tls

import (
	cryptotls "crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// manualCert is the certificate of manual mode. Handshakes read it without
// locking; a handshake that finds the last look at the files older than
// every looks again (stat only) and re-reads them if their size or
// modification time changed. Watching the files with inotify was the
// alternative; it needs a goroutine and a dependency and misses files
// replaced through a symlink swap (as Kubernetes secrets are).
type manualCert struct {
	certFile, keyFile string
	every             time.Duration
	logger            *slog.Logger

	cert      atomic.Pointer[cryptotls.Certificate]
	lastCheck atomic.Int64 // unix nanoseconds of the last look at the files

	mu      sync.Mutex // held while reading the files
	stamp   fileStamp  // of the files the current certificate came from
	lastErr string     // the last reload error logged, so it is logged once
}

// fileStamp tells whether the files changed.
type fileStamp struct {
	certSize, keySize int64
	certMod, keyMod   time.Time
}

func newManualCert(certFile, keyFile string, every time.Duration, logger *slog.Logger) (*manualCert, error) {
	mc := &manualCert{certFile: certFile, keyFile: keyFile, every: every, logger: logger}
	if err := mc.reload(true); err != nil {
		return nil, err
	}
	return mc, nil
}

func (mc *manualCert) stampNow() (fileStamp, error) {
	c, err := os.Stat(mc.certFile)
	if err != nil {
		return fileStamp{}, fmt.Errorf("%w: cert_file: %w", ErrCertificate, err)
	}
	k, err := os.Stat(mc.keyFile)
	if err != nil {
		return fileStamp{}, fmt.Errorf("%w: key_file: %w", ErrCertificate, err)
	}
	return fileStamp{certSize: c.Size(), keySize: k.Size(), certMod: c.ModTime(), keyMod: k.ModTime()}, nil
}

// reload re-reads the files, if force or if they changed. On an error the
// current certificate stays.
func (mc *manualCert) reload(force bool) error {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	mc.lastCheck.Store(time.Now().UnixNano())
	st, err := mc.stampNow()
	if err == nil && !force && st == mc.stamp {
		return nil
	}
	var cert cryptotls.Certificate
	if err == nil {
		cert, err = cryptotls.LoadX509KeyPair(mc.certFile, mc.keyFile)
		if err != nil {
			err = fmt.Errorf("%w: %s and %s: %w", ErrCertificate, mc.certFile, mc.keyFile, err)
		}
	}
	if err != nil {
		if !force && err.Error() != mc.lastErr {
			// Found at a handshake: logged once. Reload's caller logs its own.
			mc.logger.Warn("tls: certificate files not reloaded; serving the previous certificate", "err", err)
		}
		mc.lastErr = err.Error()
		return err
	}
	mc.lastErr = ""
	mc.stamp = st
	old := mc.cert.Swap(&cert)
	if old != nil {
		mc.logger.Info("tls: certificate reloaded", "names", cert.Leaf.DNSNames, "not_after", cert.Leaf.NotAfter)
	}
	if time.Now().After(cert.Leaf.NotAfter) {
		mc.logger.Warn("tls: the certificate has expired", "names", cert.Leaf.DNSNames, "not_after", cert.Leaf.NotAfter)
	}
	return nil
}

// get is the GetCertificate of manual mode: the one certificate, whatever
// the client asked for.
func (mc *manualCert) get(*cryptotls.ClientHelloInfo) (*cryptotls.Certificate, error) {
	if mc.every >= 0 {
		last := mc.lastCheck.Load()
		now := time.Now().UnixNano()
		if now-last >= int64(mc.every) && mc.lastCheck.CompareAndSwap(last, now) {
			_ = mc.reload(false) // logged inside; the previous certificate stays
		}
	}
	return mc.cert.Load(), nil
}

func (mc *manualCert) names() []string {
	leaf := mc.cert.Load().Leaf
	if leaf == nil {
		return nil
	}
	names := slices.Clone(leaf.DNSNames)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}
