package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"

	"github.com/iobridge/iobridge/config"
	"github.com/iobridge/iobridge/examples/backend"
)

// Token is the control API token `iobridge demo` uses when
// IOBRIDGE_API_TOKEN is unset. It is public (the README names it), so it
// only suits a demo on loopback.
const Token = "iobridge-demo-token"

// tokenVar is the variable the example configuration reads the token from.
const tokenVar = "IOBRIDGE_API_TOKEN"

// ChatNamespace is the namespace the demo page connects to; its
// [[namespace]] block names the example backend (webhook) and the secret
// they share.
const ChatNamespace = "/chat"

// LookupEnv wraps lookup so that IOBRIDGE_API_TOKEN, when lookup has it
// unset, is Token. defaulted reports whether it is, for the caller to say
// so. The process environment is not changed.
func LookupEnv(lookup func(string) (string, bool)) (env func(string) (string, bool), defaulted bool) {
	if _, ok := lookup(tokenVar); ok {
		return lookup, false
	}
	return func(k string) (string, bool) {
		if k == tokenVar {
			return Token, true
		}
		return lookup(k)
	}, true
}

// Backend is the example backend of `iobridge demo`, listening but not
// yet serving. One goroutine uses it.
type Backend struct {
	ln     net.Listener
	secret string
}

// ListenBackend opens the example backend's listener on the address of
// ChatNamespace's webhook in cfg. With port 0 it picks a free port and
// points the webhook there (and every stream and bridge URL on the same
// address), so it must run before the sidecar's webhook clients are made.
func ListenBackend(cfg *config.Config) (*Backend, error) {
	var ns *config.Namespace
	for i := range cfg.Namespaces {
		if cfg.Namespaces[i].Name == ChatNamespace {
			ns = &cfg.Namespaces[i]
		}
	}
	if ns == nil || ns.Webhook == "" {
		return nil, fmt.Errorf("demo: the configuration has no [[namespace]] %q with a webhook for the example backend", ChatNamespace)
	}
	u, err := url.Parse(ns.Webhook)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("demo: example backend: listen on %s: %w", u.Host, err)
	}
	from := u.Host
	u.Host = ln.Addr().String()
	ns.Webhook = u.String()
	moved := func(raw string) string {
		if v, err := url.Parse(raw); err == nil && v.Host == from {
			v.Host = u.Host
			return v.String()
		}
		return raw
	}
	for i := range cfg.Namespaces {
		n := &cfg.Namespaces[i]
		n.Stream, n.Bridge = moved(n.Stream), moved(n.Bridge)
	}
	for i := range cfg.Streams {
		cfg.Streams[i].URL = moved(cfg.Streams[i].URL)
	}
	return &Backend{ln: ln, secret: ns.Secret}, nil
}

// Close closes the listener of a Backend that was not started.
func (b *Backend) Close() error { return b.ln.Close() }

// Start mounts the demo page on mux for the Socket.IO path and serves the
// example backend, which calls the control API at apiURL with token (an
// empty apiURL: no API). stop ends the backend and waits for it; on an
// error the listener is closed.
func (b *Backend) Start(mux *http.ServeMux, path, apiURL, token string, logger *slog.Logger) (stop func(), err error) {
	if err := Mount(mux, Config{Path: path, Namespace: ChatNamespace}); err != nil {
		b.ln.Close()
		return nil, fmt.Errorf("demo page: %w", err)
	}
	bcfg := backend.Config{Secret: b.secret, Logger: logger.With("component", "backend")}
	if apiURL != "" {
		bcfg.API, bcfg.Token = apiURL, token
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- backend.Serve(ctx, b.ln, bcfg) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			logger.Error("demo: example backend", "err", err)
		}
	}, nil
}
