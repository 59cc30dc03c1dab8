package tls

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxAskCache bounds the remembered ask answers; past it the expired ones
// are dropped, and if none has expired, all of them.
const maxAskCache = 10000

// asker is certmagic's decision function in on_demand mode: it allows the
// configured domains, asks the ask URL about any other name, remembers the
// answer, and takes a token from the issuance bucket for every name it
// allows.
type asker struct {
	url     string
	client  *http.Client
	domains []string
	askTTL  time.Duration
	denyTTL time.Duration
	limiter *rate.Limiter
	logger  *slog.Logger

	mu      sync.Mutex
	answers map[string]answer
}

type answer struct {
	allowed bool
	until   time.Time
}

func newAsker(cfg Config) *asker {
	a := &asker{
		url:     cfg.Ask,
		client:  cfg.AskClient,
		domains: cfg.Domains,
		askTTL:  cfg.AskTTL,
		denyTTL: cfg.DenyTTL,
		answers: map[string]answer{},
		logger:  cfg.Logger,
	}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if a.client == nil {
		a.client = &http.Client{Timeout: askTimeout}
	}
	if a.askTTL == 0 {
		a.askTTL = DefaultAskTTL
	}
	if a.denyTTL == 0 {
		a.denyTTL = DefaultDenyTTL
	}
	every, burst := cfg.IssueEvery, cfg.IssueBurst
	if every == 0 {
		every = DefaultIssueEvery
	}
	if burst == 0 {
		burst = DefaultIssueBurst
	}
	a.limiter = rate.NewLimiter(rate.Every(every), burst)
	return a
}

// decide returns nil if a certificate may be obtained for name, or an
// error wrapping ErrDenied or ErrRateLimited, or the ask request's error.
// Safe for concurrent use.
func (a *asker) decide(ctx context.Context, name string) error {
	name = strings.ToLower(name)
	if !slices.Contains(a.domains, name) {
		allowed, err := a.allowed(ctx, name)
		if err != nil {
			return err
		}
		if !allowed {
			return fmt.Errorf("%w: %s", ErrDenied, name)
		}
	}
	if !a.limiter.Allow() {
		a.logger.Warn("tls: on-demand issuance is over its rate; no certificate for now", "domain", name)
		return fmt.Errorf("%w: %s", ErrRateLimited, name)
	}
	return nil
}

// allowed answers from the cache, or asks.
func (a *asker) allowed(ctx context.Context, name string) (bool, error) {
	now := time.Now()
	a.mu.Lock()
	ans, ok := a.answers[name]
	a.mu.Unlock()
	if ok && now.Before(ans.until) {
		return ans.allowed, nil
	}
	allowed, err := a.ask(ctx, name)
	if err != nil {
		// Not remembered: the next handshake asks again.
		a.logger.Warn("tls: the ask URL did not answer; no certificate", "domain", name, "err", err)
		return false, err
	}
	if !allowed {
		// Logged once per name and DenyTTL, not per handshake.
		a.logger.Info("tls: the ask URL denied the name; no certificate", "domain", name)
	}
	ttl := a.denyTTL
	if allowed {
		ttl = a.askTTL
	}
	a.mu.Lock()
	if len(a.answers) >= maxAskCache {
		for n, v := range a.answers {
			if now.After(v.until) {
				delete(a.answers, n)
			}
		}
		if len(a.answers) >= maxAskCache {
			clear(a.answers)
		}
	}
	a.answers[name] = answer{allowed: allowed, until: now.Add(ttl)}
	a.mu.Unlock()
	return allowed, nil
}

func (a *asker) ask(ctx context.Context, name string) (bool, error) {
	u, err := url.Parse(a.url)
	if err != nil {
		return false, fmt.Errorf("tls: ask URL: %w", err)
	}
	q := u.Query()
	q.Set("domain", name)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, fmt.Errorf("tls: ask about %s: %w", name, err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("tls: ask about %s: %w", name, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300, nil
}
