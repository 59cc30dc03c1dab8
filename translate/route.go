package translate

import (
	"errors"
	"fmt"
	"strings"
)

// route is a Route ready to serve.
type route struct {
	Route
	all      bool
	gate     *gate[gateJob] // nil: no bound on the deliveries in flight
	exact    map[string]struct{}
	prefixes []string
}

// newRoute checks rc, fills in its defaults and compiles its events
// filter.
func newRoute(rc Route) (*route, error) {
	if (rc.Name == "") == (rc.Pattern == nil) {
		return nil, errors.New("set exactly one of Name and Pattern")
	}
	if rc.Name != "" && !strings.HasPrefix(rc.Name, "/") {
		return nil, fmt.Errorf("name %q does not start with /", rc.Name)
	}
	switch rc.OnConnect {
	case "":
		rc.OnConnect = OnConnectAccept
		if rc.Backend != nil {
			rc.OnConnect = OnConnectWebhook
		}
	case OnConnectAccept:
	case OnConnectWebhook:
		if rc.Backend == nil {
			return nil, errors.New(`on_connect "webhook" needs a backend`)
		}
	default:
		return nil, fmt.Errorf("on_connect %q: want %q or %q", rc.OnConnect, OnConnectWebhook, OnConnectAccept)
	}
	if rc.ErrorEvent == "" {
		rc.ErrorEvent = DefaultErrorEvent
	}
	if rc.Timeout <= 0 {
		rc.Timeout = DefaultTimeout
	}
	r := &route{Route: rc, all: rc.Events == nil}
	if rc.Backend != nil {
		r.gate = newGate(rc.Concurrency, rc.Timeout, failExpired)
	}
	for _, e := range rc.Events {
		switch {
		case e == "*":
			r.all = true
		case strings.HasSuffix(e, "*"):
			r.prefixes = append(r.prefixes, strings.TrimSuffix(e, "*"))
		default:
			if r.exact == nil {
				r.exact = make(map[string]struct{})
			}
			r.exact[e] = struct{}{}
		}
	}
	return r, nil
}

// forwards reports whether the route's events filter forwards event.
func (r *route) forwards(event string) bool {
	if r.all {
		return true
	}
	if _, ok := r.exact[event]; ok {
		return true
	}
	for _, p := range r.prefixes {
		if strings.HasPrefix(event, p) {
			return true
		}
	}
	return false
}

// matches reports whether the route serves the namespace name.
func (r *route) matches(name string) bool {
	if r.Pattern != nil {
		return r.Pattern.MatchString(name)
	}
	return r.Name == name
}

// routeFor returns the first route that serves the namespace name, or nil.
func (t *Translator) routeFor(name string) *route {
	for _, r := range t.routes {
		if r.matches(name) {
			return r
		}
	}
	return nil
}
