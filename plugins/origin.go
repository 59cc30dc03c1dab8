package plugins

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// OriginConfig configures the origin plugin.
type OriginConfig struct {
	// Allow lists the exact origins accepted, scheme://host[:port]
	// ("https://app.example.com"). Required.
	Allow []string
}

// Origin refuses handshakes whose Origin header is not listed: the
// protection against cross-site WebSocket hijacking, where a page on
// another site opens a WebSocket to the sidecar with the user's cookies.
// Browsers always send Origin on a WebSocket handshake and on cross-origin
// requests, so a request without one (a same-origin polling request, or a
// non-browser client, which could forge the header anyway) is let
// through. It is separate from CORS, which only governs what a page may
// read of polling responses.
//
// Origin is a RequestChecker: when every routed namespace has an origin
// plugin, the Engine.IO handshake itself is refused with 403 (see
// AllowRequest), before any session or WebSocket exists. Otherwise a
// foreign origin is refused at CONNECT, with connect_error "origin not
// allowed" and data {"plugin":"origin","status":403}.
type Origin struct {
	allow map[string]struct{}
	err   *Error
}

var (
	_ ConnectHook    = (*Origin)(nil)
	_ RequestChecker = (*Origin)(nil)
)

// NewOrigin returns the origin plugin.
func NewOrigin(cfg OriginConfig) (*Origin, error) {
	if len(cfg.Allow) == 0 {
		return nil, errors.New("plugins: origin: no origin allowed")
	}
	o := &Origin{allow: make(map[string]struct{}, len(cfg.Allow))}
	for _, s := range cfg.Allow {
		u, err := url.Parse(s)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("plugins: origin: %q is not an origin (scheme://host[:port])", s)
		}
		o.allow[strings.ToLower(u.Scheme+"://"+u.Host)] = struct{}{}
	}
	o.err = &Error{Plugin: "origin", Status: http.StatusForbidden, Message: "origin not allowed", Err: ErrForbidden}
	return o, nil
}

// Name is "origin".
func (o *Origin) Name() string { return "origin" }

func (o *Origin) check(origin string) error {
	if origin == "" {
		return nil
	}
	if _, ok := o.allow[strings.ToLower(origin)]; ok {
		return nil
	}
	return o.err
}

// AllowRequest checks the Engine.IO handshake request's Origin.
func (o *Origin) AllowRequest(r *http.Request) error { return o.check(r.Header.Get("Origin")) }

// OnConnect checks the Origin of the handshake the socket came with.
func (o *Origin) OnConnect(_ context.Context, e ConnectEvent) (ConnectReply, error) {
	return ConnectReply{}, o.check(e.Handshake.Headers.Get("Origin"))
}
