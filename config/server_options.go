package config

import (
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The socket.io server options iobridge takes under their own names
// (snake_case), the [server.cookie] table and the [admin_ui] block: their
// types, defaults and checks, kept together because each default is the
// reference Node server's and each check names the option it mirrors.

// Defaults of the socket.io server options.
var (
	DefaultTransports     = []string{"polling", "websocket"}
	DefaultUpgradeTimeout = Duration(10 * time.Second)
)

// Defaults of the [server.cookie] and [admin_ui] tables.
const (
	DefaultParser         = "json"
	DefaultCookieName     = "io"
	DefaultCookiePath     = "/"
	DefaultCookieSameSite = "lax"
	DefaultAdminNamespace = "/admin"
	DefaultAdminMode      = "development"
)

// Cookie is Engine.IO's session cookie (the reference's `cookie` option),
// set on the handshake answer so a load balancer can pin a client to the
// node holding its session.
type Cookie struct {
	// Name is the cookie's name. Default "io".
	Name string `toml:"name"`
	// Path is the cookie's Path attribute. Default "/".
	Path string `toml:"path"`
	// HTTPOnly hides the cookie from the page's scripts. Default true.
	HTTPOnly bool `toml:"http_only"`
	// SameSite is "lax", "strict" or "none", in any case. Default "lax".
	SameSite string `toml:"same_site"`
}

// AdminUI is the [admin_ui] block: the @socket.io/admin-ui protocol on
// its own namespace, so admin.socket.io or its self-hosted build shows
// this server's sockets, rooms and events.
type AdminUI struct {
	// Namespace is where the UI connects. Default "/admin".
	Namespace string `toml:"namespace"`
	// Username is the basic auth user name. Required: the UI can
	// disconnect any socket, so it is never open.
	Username string `toml:"username"`
	// Password is the bcrypt hash of the password ("$2b$10$…"), as the
	// Node package takes it. Required. Never logged.
	Password string `toml:"password"`
	// ReadOnly refuses the UI's commands (join, leave, disconnect).
	// Default false.
	ReadOnly bool `toml:"read_only"`
	// Mode is "development" (every socket and event is reported, the
	// package's default) or "production" (server stats only; commands
	// still work). Default "development".
	Mode string `toml:"mode"`
	// ServerID names this server in the UI. Default the hostname, as the
	// Node package.
	ServerID string `toml:"server_id"`
}

// serverOptionDefaults fills the socket.io options, the cookie and the
// admin UI keys the file left out.
func (l *loader) serverOptionDefaults(c *Config) {
	def := func(path string) bool { return !l.defined[path] }
	s := &c.Server
	if def("server.serve_client") {
		s.ServeClient = true
	}
	if def("server.http_compression") {
		s.HTTPCompression = true
	}
	if def("server.transports") {
		s.Transports = slices.Clone(DefaultTransports)
	}
	if def("server.allow_upgrades") {
		s.AllowUpgrades = true
	}
	if def("server.upgrade_timeout") {
		s.UpgradeTimeout = DefaultUpgradeTimeout
	}
	if def("server.parser") {
		s.Parser = DefaultParser
	}
	if k := s.Cookie; k != nil {
		if def("server.cookie.name") {
			k.Name = DefaultCookieName
		}
		if def("server.cookie.path") {
			k.Path = DefaultCookiePath
		}
		if def("server.cookie.http_only") {
			k.HTTPOnly = true
		}
		if def("server.cookie.same_site") {
			k.SameSite = DefaultCookieSameSite
		}
	}
	if a := c.AdminUI; a != nil {
		if def("admin_ui.namespace") {
			a.Namespace = DefaultAdminNamespace
		}
		if def("admin_ui.mode") {
			a.Mode = DefaultAdminMode
		}
	}
}

func (l *loader) validateServerOptions(s *Server) {
	l.check(s.UpgradeTimeout > 0, "server.upgrade_timeout", `must be positive, as "10s"`)
	if l.check(len(s.Transports) > 0, "server.transports", `must not be empty: list "polling", "websocket" or both`) {
		seen := map[string]bool{}
		for i, t := range s.Transports {
			p := indexPath("server.transports", i)
			switch {
			case t != "polling" && t != "websocket":
				l.check(false, p, `%s is not "polling" or "websocket"`, l.show(p, t))
			case seen[t]:
				l.check(false, p, `%s is listed twice`, l.show(p, t))
			}
			seen[t] = true
		}
	}
	switch s.Parser {
	case "json", "msgpack":
	default:
		l.check(false, "server.parser", `%s is not "json" or "msgpack" (socket.io-msgpack-parser; clients must use the same parser)`, l.show("server.parser", s.Parser))
	}
	if k := s.Cookie; k != nil {
		l.check(validCookieName(k.Name), "server.cookie.name", `%s is not a cookie name (letters, digits and !#$%%&'*+-.^_`+"`"+`|~)`, l.show("server.cookie.name", k.Name))
		l.check(strings.HasPrefix(k.Path, "/") && validCookiePath(k.Path), "server.cookie.path", `%s must be a path starting with "/", of printable ASCII without ";" or "<", as "/"`, l.show("server.cookie.path", k.Path))
		switch strings.ToLower(k.SameSite) {
		case "lax", "strict", "none":
			k.SameSite = strings.ToLower(k.SameSite) // as the cookie package reads it
		default:
			l.check(false, "server.cookie.same_site", `%s is not "lax", "strict" or "none"`, l.show("server.cookie.same_site", k.SameSite))
		}
	}
}

func (l *loader) validateAdminUI(a *AdminUI, c *Config) {
	if l.namespaceName("admin_ui.namespace", a.Namespace) {
		switch {
		case a.Namespace == "/":
			l.check(false, "admin_ui.namespace", `"/" is the main namespace, where every client connects first; give the admin UI a namespace of its own, as "/admin"`)
		case namespaceConfigured(c, a.Namespace):
			l.check(false, "admin_ui.namespace", "%s is also matched by a [[namespace]] block; give the admin UI a namespace of its own", l.show("admin_ui.namespace", a.Namespace))
		}
	}
	l.check(a.Username != "", "admin_ui.username", `required: the admin UI can disconnect any socket, so it is never open`)
	if l.check(a.Password != "", "admin_ui.password", `required: the bcrypt hash of the password, as "$2b$10$…" (htpasswd -bnBC 10 "" PASSWORD | tr -d ':\n')`) {
		if _, err := bcrypt.Cost([]byte(a.Password)); err != nil {
			l.check(false, "admin_ui.password", `not a bcrypt hash ("$2b$10$…"); hash the password, as the Node package takes it (htpasswd -bnBC 10 "" PASSWORD | tr -d ':\n')`)
		}
	}
	switch a.Mode {
	case "development", "production":
	default:
		l.check(false, "admin_ui.mode", `%s is not "development" or "production"`, l.show("admin_ui.mode", a.Mode))
	}
}

// validCookieName reports whether name is an RFC 6265 cookie name (a
// token).
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}

// validCookiePath reports whether path is a Path attribute value the
// reference's cookie serializer takes (0x20–0x3A and 0x3D–0x7E); it throws
// on anything else when the first handshake is answered.
func validCookiePath(path string) bool {
	for i := 0; i < len(path); i++ {
		if c := path[i]; c < 0x20 || c > 0x7e || c == ';' || c == '<' {
			return false
		}
	}
	return true
}
