package config

import (
	"encoding/base64"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// check records a problem at path unless the path already has one (a
// value that failed to decode or expand is not judged again).
func (l *loader) check(ok bool, path, format string, args ...any) bool {
	if ok || l.failed[path] {
		return ok
	}
	l.problem(path, format, args...)
	return false
}

// validSecret accepts a Standard Webhooks secret: optional "whsec_", then
// standard base64 of 24 to 64 bytes (the spec's range).
func validSecret(s string) bool {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	return err == nil && len(b) >= 24 && len(b) <= 64
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// namespaceName checks a namespace name such as "/chat".
func (l *loader) namespaceName(p, name string) bool {
	return l.check(strings.HasPrefix(name, "/"), p, `%s must start with "/", as "/chat"`, l.show(p, name))
}

// listen checks a listen address, host:port; an empty host means every
// interface and port 0 picks a free port.
func (l *loader) listen(p, addr string) bool {
	return l.hostPort(p, addr, `as "127.0.0.1:8080" or ":8080"`)
}

func (l *loader) hostPort(p, addr, example string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return l.check(false, p, "%s is not a host:port address, %s", l.show(p, addr), example)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return l.check(false, p, "%s: the port must be a number from 0 to 65535", l.show(p, addr))
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return l.check(false, p, "%s: %q is neither an IP address nor a host name", l.show(p, addr), cut(host, 80))
	}
	return true
}

// url checks an absolute URL with one of the given schemes and a host.
func (l *loader) url(p, raw string, schemes ...string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return l.check(false, p, "%s is not an absolute URL, as %q", l.show(p, raw), schemes[0]+"://127.0.0.1:4000/")
	}
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			return true
		}
	}
	return l.check(false, p, "%s: the scheme must be %s", l.show(p, raw), orList(schemes))
}

// origin checks a CORS or Origin-header origin: scheme://host[:port], or
// "*" where any is allowed.
func (l *loader) origin(p, o string, starOK bool) {
	if o == "*" {
		l.check(starOK, p, `"*" is not allowed here; list the origins`)
		return
	}
	u, err := url.Parse(o)
	ok := err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" && u.User == nil
	l.check(ok, p, `%s is not an origin; write scheme://host[:port], as "https://app.example.com"`, l.show(p, o))
}

func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// orList joins words as "a", "a or b", "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// forwardableHeader accepts a header name a bridge's dial may carry from
// the client's handshake: a valid name, not one the WebSocket handshake
// sets itself nor a hop-by-hop header (translate/bridge checks the same).
func forwardableHeader(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, c) {
			return false
		}
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "sec-websocket-") {
		return false
	}
	switch lower {
	case "host", "connection", "upgrade", "content-length", "transfer-encoding", "te", "trailer", "keep-alive", "proxy-connection":
		return false
	}
	return true
}
