package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// FilterConfig configures the filter plugin.
type FilterConfig struct {
	// Allow lists the events let through: "*" any, a trailing "*" a
	// prefix ("file.*"), anything else exactly. Empty means every event.
	Allow []string
	// Deny lists events refused, in the same syntax; Deny wins over
	// Allow.
	Deny []string
	// MaxArgsBytes bounds an event's args: the bytes of their JSON plus
	// those of their binary attachments. Zero means no bound.
	MaxArgsBytes int
	// MaxDepth bounds the nesting of objects and arrays inside one
	// argument (a string or number argument has depth 0, {"a":[1]} depth
	// 2). Zero means no bound.
	MaxDepth int
}

// Filter refuses events by name, size and nesting depth, before they
// reach the backend: a denied name with status 403 ("event not allowed"),
// args over a bound with status 413. It does not allocate.
type Filter struct {
	allow, deny patterns
	maxBytes    int
	maxDepth    int
	denied      *Error
	tooLarge    *Error
	tooDeep     *Error
}

var _ InboundHook = (*Filter)(nil)

// NewFilter returns the filter plugin.
func NewFilter(cfg FilterConfig) (*Filter, error) {
	if cfg.MaxArgsBytes < 0 || cfg.MaxDepth < 0 {
		return nil, errors.New("plugins: filter: bounds must not be negative")
	}
	f := &Filter{maxBytes: cfg.MaxArgsBytes, maxDepth: cfg.MaxDepth}
	var err error
	if f.allow, err = newPatterns(cfg.Allow); err != nil {
		return nil, fmt.Errorf("plugins: filter: allow: %w", err)
	}
	if f.deny, err = newPatterns(cfg.Deny); err != nil {
		return nil, fmt.Errorf("plugins: filter: deny: %w", err)
	}
	f.denied = &Error{Plugin: "filter", Status: http.StatusForbidden, Message: "event not allowed", Err: ErrForbidden}
	f.tooLarge = &Error{Plugin: "filter", Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("event args over %d bytes", cfg.MaxArgsBytes), Err: ErrTooLarge}
	f.tooDeep = &Error{Plugin: "filter", Status: http.StatusRequestEntityTooLarge,
		Message: fmt.Sprintf("event args nested deeper than %d", cfg.MaxDepth), Err: ErrTooLarge}
	return f, nil
}

// Name is "filter".
func (f *Filter) Name() string { return "filter" }

// OnInbound checks the event's name, size and depth.
func (f *Filter) OnInbound(_ context.Context, e InboundEvent) (InboundReply, error) {
	if (len(f.allow.exact) > 0 || len(f.allow.prefixes) > 0 || f.allow.all) && !f.allow.match(e.Name) {
		return InboundReply{}, f.denied
	}
	if f.deny.match(e.Name) {
		return InboundReply{}, f.denied
	}
	if f.maxBytes > 0 {
		n := 0
		for _, a := range e.Args {
			n += len(a)
		}
		for _, b := range e.Attachments {
			n += len(b)
		}
		if n > f.maxBytes {
			return InboundReply{}, f.tooLarge
		}
	}
	if f.maxDepth > 0 {
		for _, a := range e.Args {
			if depth(a, f.maxDepth) > f.maxDepth {
				return InboundReply{}, f.tooDeep
			}
		}
	}
	return InboundReply{}, nil
}

// depth returns the nesting depth of the JSON value b, or a value over
// limit as soon as it passes it.
func depth(b json.RawMessage, limit int) int {
	d, deepest := 0, 0
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			d++
			if d > deepest {
				deepest = d
				if deepest > limit {
					return deepest
				}
			}
		case '}', ']':
			d--
		}
	}
	return deepest
}

// patterns match event names: "*" any, "prefix*", or exact names.
type patterns struct {
	all      bool
	exact    []string
	prefixes []string
}

func newPatterns(list []string) (patterns, error) {
	var p patterns
	for _, s := range list {
		switch k := strings.IndexByte(s, '*'); {
		case s == "":
			return p, errors.New("empty event name")
		case s == "*":
			p.all = true
		case k == len(s)-1:
			p.prefixes = append(p.prefixes, s[:k])
		case k >= 0:
			return p, fmt.Errorf("%q: \"*\" may only end a pattern", s)
		default:
			p.exact = append(p.exact, s)
		}
	}
	return p, nil
}

func (p *patterns) match(name string) bool {
	if p.all {
		return true
	}
	for _, e := range p.exact {
		if e == name {
			return true
		}
	}
	for _, pre := range p.prefixes {
		if strings.HasPrefix(name, pre) {
			return true
		}
	}
	return false
}
