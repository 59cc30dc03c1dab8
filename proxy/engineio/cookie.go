package engineio

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Cookie is Engine.IO's session cookie, the reference server's `cookie`
// option: the handshake answer sets <Name>=<sid>, so that a load balancer
// pinning clients by cookie sends the session's later requests to the node
// that holds it.
//
// The zero values of Name, Path and SameSite mean the reference's defaults
// ("io", "/", Lax). HTTPOnly is also on by default in the reference; here
// the caller sets it (the zero Cookie has it off), because a bool cannot
// tell "unset" from "off".
type Cookie struct {
	// Name is the cookie's name, an RFC 6265 token. Empty means "io".
	Name string
	// Path is the Path attribute. Empty means "/".
	Path string
	// Domain is the Domain attribute. Empty means none.
	Domain string
	// MaxAge is the Max-Age attribute in seconds. Zero means none (a
	// session cookie), as the reference without maxAge; it cannot express
	// the reference's maxAge: 0 (delete the cookie at once), which would
	// make the cookie useless.
	MaxAge int
	// HTTPOnly adds HttpOnly: the page's scripts cannot read the cookie.
	HTTPOnly bool
	// Secure adds Secure: the browser sends the cookie over HTTPS only.
	Secure bool
	// SameSite is the SameSite attribute. Zero means Lax, the reference's
	// default; http.SameSiteDefaultMode means no attribute.
	SameSite http.SameSite
}

// The character sets the reference's cookie serializer (the `cookie` npm
// package) accepts; it throws on anything else when the first handshake
// is answered, so they are checked once, by Check and NewServer, instead.
var (
	cookieNameRE   = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
	cookieDomainRE = regexp.MustCompile(`(?i)^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)
	cookiePathRE   = regexp.MustCompile("^[\x20-\x3a\x3d-\x7e]*$")
)

// Check reports what about c the reference's serializer would refuse: a
// name that is not a token, a Domain or Path with characters a cookie
// attribute cannot hold, a negative MaxAge or an unknown SameSite.
func (c *Cookie) Check() error {
	var errs []error
	if c.Name != "" && !cookieNameRE.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("cookie name %q is not an RFC 6265 token", c.Name))
	}
	if c.Domain != "" && !cookieDomainRE.MatchString(c.Domain) {
		errs = append(errs, fmt.Errorf("cookie domain %q is not a domain name", c.Domain))
	}
	if !cookiePathRE.MatchString(c.Path) {
		errs = append(errs, fmt.Errorf("cookie path %q holds a control character or ';'", c.Path))
	}
	if c.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("cookie max age %d is negative", c.MaxAge))
	}
	switch c.SameSite {
	case 0, http.SameSiteDefaultMode, http.SameSiteLaxMode, http.SameSiteStrictMode, http.SameSiteNoneMode:
	default:
		errs = append(errs, fmt.Errorf("cookie SameSite %d is not one of net/http's modes", c.SameSite))
	}
	return errors.Join(errs...)
}

// header returns the Set-Cookie value for sid, serialized as the
// reference's serializer does: its attribute order (Max-Age, Domain, Path,
// HttpOnly, Secure, SameSite) and spelling, so that the header is byte for
// byte the reference's. (net/http's Cookie.String orders them otherwise.)
// sid is base64url, which the reference's encodeURIComponent leaves as is.
func (c *Cookie) header(sid string) string {
	name, path := c.Name, c.Path
	if name == "" {
		name = "io"
	}
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.Grow(len(name) + len(sid) + len(path) + len(c.Domain) + 64)
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(sid)
	if c.MaxAge > 0 {
		b.WriteString("; Max-Age=")
		b.WriteString(strconv.Itoa(c.MaxAge))
	}
	if c.Domain != "" {
		b.WriteString("; Domain=")
		b.WriteString(c.Domain)
	}
	b.WriteString("; Path=")
	b.WriteString(path)
	if c.HTTPOnly {
		b.WriteString("; HttpOnly")
	}
	if c.Secure {
		b.WriteString("; Secure")
	}
	switch c.SameSite {
	case 0, http.SameSiteLaxMode:
		b.WriteString("; SameSite=Lax")
	case http.SameSiteStrictMode:
		b.WriteString("; SameSite=Strict")
	case http.SameSiteNoneMode:
		b.WriteString("; SameSite=None")
	}
	return b.String()
}
