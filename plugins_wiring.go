package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/iobridge/iobridge/config"
	"github.com/iobridge/iobridge/plugins"
)

// newChains builds each [[namespace]] block's plugin chain, in block
// order. On an error the chains built so far are shut down.
func newChains(cfg *config.Config, logger *slog.Logger) ([]*plugins.Chain, error) {
	chains := make([]*plugins.Chain, 0, len(cfg.Namespaces))
	for i, n := range cfg.Namespaces {
		ps := make([]plugins.Plugin, 0, len(n.Plugins))
		for j, pc := range n.Plugins {
			p, err := newPlugin(pc, logger)
			if err != nil { // config has validated the options; this is a guard
				chain := plugins.NewChain(logger, ps)
				chains = append(chains, chain)
				shutdownChains(context.Background(), chains)
				return nil, fmt.Errorf("namespace[%d].plugin[%d]: %w", i, j, err)
			}
			ps = append(ps, p)
		}
		chains = append(chains, plugins.NewChain(logger, ps))
	}
	return chains, nil
}

// newPlugin maps one [[namespace.plugin]] block onto its built-in.
func newPlugin(pc config.Plugin, logger *slog.Logger) (plugins.Plugin, error) {
	switch {
	case pc.JWT != nil:
		j := pc.JWT
		return plugins.NewJWT(plugins.JWTConfig{
			Secret:      []byte(j.Secret),
			JWKSURL:     j.JWKSURL,
			JWKSRefresh: j.JWKSRefresh.Std(),
			Audience:    j.Audience,
			Issuer:      j.Issuer,
			Leeway:      j.Leeway.Std(),
			From:        j.From,
			Rooms:       j.Rooms,
			Claims:      j.Claims,
			Logger:      logger,
		})
	case pc.RateLimit != nil:
		r := pc.RateLimit
		return plugins.NewRateLimit(plugins.RateLimitConfig{
			EventsPerSecond:   r.EventsPerSecond,
			Burst:             r.Burst,
			Per:               r.Per,
			Action:            r.Action,
			ConnectsPerSecond: r.ConnectsPerSecond,
			ConnectBurst:      r.ConnectBurst,
		})
	case pc.Filter != nil:
		f := pc.Filter
		return plugins.NewFilter(plugins.FilterConfig{
			Allow:        f.Allow,
			Deny:         f.Deny,
			MaxArgsBytes: f.MaxArgsBytes,
			MaxDepth:     f.MaxDepth,
		})
	case pc.Origin != nil:
		return plugins.NewOrigin(plugins.OriginConfig{Allow: pc.Origin.Allow})
	default:
		return nil, fmt.Errorf("unknown plugin %q", pc.Name)
	}
}

// shutdownChains stops the plugins that have goroutines (JWKS refreshers).
func shutdownChains(ctx context.Context, chains []*plugins.Chain) error {
	var errs []error
	for _, c := range chains {
		errs = append(errs, c.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
