package config

import (
	"os"
	"regexp"
	"strings"
	"time"
)

// Defaults, as the reference Socket.IO server has them where it has them.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultPath              = "/socket.io/"
	DefaultPingInterval      = Duration(25 * time.Second)
	DefaultPingTimeout       = Duration(20 * time.Second)
	DefaultMaxHTTPBufferSize = 1_000_000
	DefaultMaxQueueBytes     = 1 << 20
	DefaultBroadcastDelay    = Duration(time.Millisecond)
	DefaultConnectTimeout    = Duration(45 * time.Second)
	DefaultShutdownTimeout   = Duration(10 * time.Second)
	DefaultAPIListen         = "127.0.0.1:8081"
	DefaultErrorEvent        = "error"
	DefaultTimeout           = Duration(5 * time.Second)
	DefaultTLSMinVersion     = "1.2"
	DefaultOTLPProtocol      = "grpc"
	DefaultServiceName       = "iobridge"
	DefaultAdapterType       = "memory"
	DefaultKeyPrefix         = "socket.io"
	DefaultAdapterMode       = "classic"
	DefaultRequestTimeout    = Duration(5 * time.Second)
)

func (l *loader) validate(c *Config) {
	l.validateServer(&c.Server)
	if c.API != nil {
		a := c.API
		l.listen("api.listen", a.Listen)
		l.check(a.Token != "", "api.token", `required: the bearer token backends send (token = "${IOBRIDGE_API_TOKEN}")`)
		if a.Listen == c.Server.Listen && !strings.HasSuffix(a.Listen, ":0") { // port 0: each picks a free port
			l.check(false, "api.listen", "%s is also server.listen; give the API its own address", l.show("api.listen", a.Listen))
		}
	}
	names := map[string]string{}
	patterns := map[string]string{}
	for i := range c.Namespaces {
		l.validateNamespace(indexPath("namespace", i), &c.Namespaces[i], names, patterns)
	}
	streamNames := map[string]string{}
	for i := range c.Streams {
		st := &c.Streams[i]
		p := indexPath("stream", i)
		if prev, ok := streamNames[st.Name]; ok {
			l.check(false, p+".name", "%s is already the name of %s", l.show(p+".name", st.Name), prev)
		}
		streamNames[st.Name] = p
		if l.check(st.URL != "", p+".url", "required: the backend's SSE (http, https) or WebSocket (ws, wss) URL") {
			l.url(p+".url", st.URL, "http", "https", "ws", "wss")
		}
		if l.namespaceName(p+".namespace", st.Namespace) && !namespaceConfigured(c, st.Namespace) {
			l.warn(p+".namespace", "%s matches no [[namespace]] block, so no client can be there to receive its emits", l.show(p+".namespace", st.Namespace))
		}
	}
	l.validateTLS(&c.TLS)
	l.validateTelemetry(&c.Telemetry)
	l.validateAdapter(&c.Adapter)
	l.validateAdvertise(c)
	if c.AdminUI != nil {
		l.validateAdminUI(c.AdminUI, c)
	}
}

func (l *loader) validateServer(s *Server) {
	l.listen("server.listen", s.Listen)
	if l.check(strings.HasPrefix(s.Path, "/"), "server.path", `%s must start with "/", as "/socket.io/"`, l.show("server.path", s.Path)) {
		l.check(!strings.ContainsAny(s.Path, "?#"), "server.path", `%s must be a path, without "?" or "#"`, l.show("server.path", s.Path))
		if !strings.HasSuffix(s.Path, "/") {
			s.Path += "/" // as the reference's addTrailingSlash
		}
	}
	l.check(s.PingInterval > 0, "server.ping_interval", `must be positive, as "25s"`)
	l.check(s.PingTimeout > 0, "server.ping_timeout", `must be positive, as "20s"`)
	l.check(s.ConnectTimeout > 0, "server.connect_timeout", `must be positive, as "45s"`)
	l.check(s.ShutdownTimeout > 0, "server.shutdown_timeout", `must be positive, as "10s"`)
	l.check(s.MaxHTTPBufferSize >= 1, "server.max_http_buffer_size", "must be at least 1 (bytes), not %d", s.MaxHTTPBufferSize)
	l.check(s.MaxQueueBytes >= 1, "server.max_queue_bytes", "must be at least 1 (bytes), not %d", s.MaxQueueBytes)
	l.check(s.BroadcastDelay >= 0 && s.BroadcastDelay <= Duration(time.Second), "server.broadcast_delay", `must be between "0" and "1s", as "1ms"`)
	for i, o := range s.CORSOrigins {
		l.origin(indexPath("server.cors_origins", i), o, true)
		l.check(o != "*" || !s.CORSCredentials, "server.cors_credentials",
			`true with "*" in server.cors_origins would let any web page read answers sent with a visitor's cookies; list the exact origins instead of "*", or set cors_credentials = false`)
	}
	l.validateServerOptions(s)
}

// reservedEvents are the event names Socket.IO keeps for itself; a socket
// cannot be sent one of them.
var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true,
	"disconnecting": true, "newListener": true, "removeListener": true,
}

func (l *loader) validateNamespace(p string, n *Namespace, names, patterns map[string]string) {
	switch {
	case l.failed[p+".name"] || l.failed[p+".pattern"]:
	case n.Name != "" && n.Pattern != "":
		l.check(false, p, "set name or pattern, not both")
	case n.Name == "" && n.Pattern == "":
		l.check(false, p, `set name (as "/chat") or pattern (as "^/tenant-[a-z0-9]+$")`)
	case n.Name != "":
		if l.namespaceName(p+".name", n.Name) {
			if prev, ok := names[n.Name]; ok {
				l.check(false, p+".name", "%s is already %s", l.show(p+".name", n.Name), prev)
			}
			names[n.Name] = p
		}
	default:
		if _, err := regexp.Compile(n.Pattern); err != nil {
			msg := err.Error()
			if _, ok := l.expanded[p+".pattern"]; ok {
				msg = "invalid regular expression"
			}
			l.check(false, p+".pattern", "%s is not a valid regular expression (Go RE2 syntax): %s", l.show(p+".pattern", n.Pattern), msg)
		} else if prev, ok := patterns[n.Pattern]; ok {
			l.check(false, p+".pattern", "%s is already %s", l.show(p+".pattern", n.Pattern), prev)
		} else {
			patterns[n.Pattern] = p
		}
	}
	if n.Webhook != "" {
		l.url(p+".webhook", n.Webhook, "http", "https")
		if n.Secret == "" && !l.failed[p+".secret"] {
			l.warn(p+".secret", `not set, so deliveries to the webhook go unsigned; set a Standard Webhooks secret ("whsec_" + base64)`)
		}
	}
	if n.Secret != "" && !validSecret(n.Secret) {
		l.check(false, p+".secret", `not a Standard Webhooks secret: write "whsec_" followed by standard base64 of 24 to 64 random bytes`)
	}
	switch n.OnConnect {
	case OnConnectWebhook:
		l.check(n.Webhook != "", p+".on_connect", `"webhook" needs a webhook URL to ask; set webhook, or on_connect = "accept"`)
	case OnConnectAccept:
	default:
		l.check(false, p+".on_connect", `%s is not "webhook" or "accept"`, l.show(p+".on_connect", n.OnConnect))
	}
	for i, e := range n.Events {
		ep := indexPath(p+".events", i)
		if !l.check(e != "", ep, `empty; write an event name, or "*" for every event`) {
			continue
		}
		if k := strings.IndexByte(e, '*'); k >= 0 {
			l.check(k == len(e)-1, ep, `%s: "*" may only end a pattern, as "file.*"`, l.show(ep, e))
		}
	}
	if l.check(n.ErrorEvent != "", p+".error_event", `must not be empty (default "error")`) {
		l.check(!reservedEvents[n.ErrorEvent], p+".error_event", "%s is reserved by Socket.IO; choose another name", l.show(p+".error_event", n.ErrorEvent))
	}
	l.check(n.Timeout > 0, p+".timeout", `must be positive, as "5s"`)
	l.check(n.WebhookConcurrency >= 0, p+".webhook_concurrency", "must be 0 (adapt to the backend) or a number of deliveries, as 64")
	if n.Stream != "" {
		l.url(p+".stream", n.Stream, "http", "https", "ws", "wss")
	}
	if n.Bridge != "" {
		l.url(p+".bridge", n.Bridge, "ws", "wss")
	}
	l.check(len(n.BridgeHeaders) == 0 || n.Bridge != "", p+".bridge_headers", "needs bridge: the headers are those a bridge's dial carries")
	for i, h := range n.BridgeHeaders {
		hp := indexPath(p+".bridge_headers", i)
		l.check(forwardableHeader(h), hp, "%s is not a header a bridge may forward (a header name, not Host, Connection, Upgrade, Sec-WebSocket-* or another hop-by-hop header)", l.show(hp, h))
	}
	for i := range n.Plugins {
		l.validatePlugin(indexPath(p+".plugin", i), &n.Plugins[i])
	}
}

func (l *loader) validatePlugin(p string, pl *Plugin) {
	switch {
	case pl.JWT != nil:
		j := pl.JWT
		switch {
		case j.Secret != "" && j.JWKSURL != "":
			l.check(false, p, "set secret (HS256) or jwks_url (RS256/ES256), not both")
		case j.Secret == "" && j.JWKSURL == "":
			if !l.failed[p+".secret"] && !l.failed[p+".jwks_url"] {
				l.check(false, p, "set secret (HS256) or jwks_url (RS256/ES256)")
			}
		case j.JWKSURL != "":
			l.url(p+".jwks_url", j.JWKSURL, "https", "http")
			l.check(j.JWKSRefresh > 0, p+".jwks_refresh", `must be positive, as "1h"`)
		case len(j.Secret) < 32:
			l.warn(p+".secret", "shorter than 32 bytes: an HS256 key should have at least 256 bits")
		}
		switch j.From {
		case "auth", "query", "header":
		default:
			l.check(false, p+".from", `%s is not "auth", "query" or "header"`, l.show(p+".from", j.From))
		}
		for i, r := range j.Rooms {
			l.check(r != "", indexPath(p+".rooms", i), "empty room name")
		}
		for i, c := range j.Claims {
			l.check(c != "", indexPath(p+".claims", i), "empty claim name")
		}
		l.check(j.Leeway >= 0, p+".leeway", `must not be negative, as "30s"`)
		for i, r := range j.Rooms {
			if strings.Count(r, "{") != strings.Count(r, "}") {
				l.check(false, indexPath(p+".rooms", i), `%s: unbalanced braces; write claims as "user:{sub}"`, l.show(indexPath(p+".rooms", i), r))
			}
		}
	case pl.RateLimit != nil:
		r := pl.RateLimit
		switch {
		case r.EventsPerSecond < 0:
			l.check(false, p+".events_per_second", "must not be negative (events per second; 0 leaves events unlimited)")
		case r.ConnectsPerSecond < 0:
			l.check(false, p+".connects_per_second", "must not be negative (connects per second; 0 leaves connects unlimited)")
		case r.EventsPerSecond == 0 && r.ConnectsPerSecond == 0:
			l.check(false, p, "set events_per_second, connects_per_second or both")
		}
		if r.EventsPerSecond != 0 {
			l.check(r.Burst >= 1, p+".burst", "must be at least 1, not %d", r.Burst)
		}
		if r.ConnectsPerSecond != 0 {
			l.check(r.ConnectBurst >= 1, p+".connect_burst", "must be at least 1, not %d", r.ConnectBurst)
		}
		l.check(r.Per == "socket" || r.Per == "ip", p+".per", `%s is not "socket" or "ip"`, l.show(p+".per", r.Per))
		l.check(r.Action == "error" || r.Action == "disconnect", p+".action", `%s is not "error" or "disconnect"`, l.show(p+".action", r.Action))
	case pl.Filter != nil:
		f := pl.Filter
		for i, e := range f.Allow {
			l.eventPattern(indexPath(p+".allow", i), e)
		}
		for i, e := range f.Deny {
			l.eventPattern(indexPath(p+".deny", i), e)
		}
		l.check(f.MaxArgsBytes >= 0, p+".max_args_bytes", "must not be negative (bytes; 0 means no bound)")
		l.check(f.MaxDepth >= 0, p+".max_depth", "must not be negative (0 means no bound)")
	case pl.Origin != nil:
		o := pl.Origin
		l.check(len(o.Allow) > 0, p+".allow", `required: the origins accepted, as ["https://app.example.com"]`)
		for i, s := range o.Allow {
			l.origin(indexPath(p+".allow", i), s, false)
		}
	}
}

func (l *loader) eventPattern(p, e string) {
	if !l.check(e != "", p, "empty event name") {
		return
	}
	if k := strings.IndexByte(e, '*'); k >= 0 {
		l.check(k == len(e)-1, p, `%s: "*" may only end a pattern, as "file.*"`, l.show(p, e))
	}
}

func (l *loader) validateTLS(t *TLS) {
	switch t.MinVersion { // checked with TLS off too: a typo is found before TLS is turned on
	case "1.2", "1.3":
	default:
		l.check(false, "tls.min_version", `%s is not "1.2" or "1.3"`, l.show("tls.min_version", t.MinVersion))
	}
	switch t.Mode {
	case TLSOff:
		return
	case TLSACME, TLSOnDemand, TLSManual:
	default:
		l.check(false, "tls.mode", `%s is not "off", "acme", "on_demand" or "manual"`, l.show("tls.mode", t.Mode))
		return
	}
	if t.RedirectListen != "" {
		l.listen("tls.redirect_listen", t.RedirectListen)
	}
	for i, d := range t.Domains {
		p := indexPath("tls.domains", i)
		switch {
		case strings.HasPrefix(d, "*.") && t.Mode != TLSManual:
			l.check(false, p, "%s: wildcard certificates need the ACME DNS challenge, which iobridge does not do", l.show(p, d))
		case !validHostname(strings.TrimPrefix(d, "*.")):
			l.check(false, p, "%s is not a domain name", l.show(p, d))
		}
	}
	acme := t.Mode == TLSACME || t.Mode == TLSOnDemand
	if acme {
		if t.Email != "" {
			l.check(strings.Contains(t.Email, "@"), "tls.email", "%s is not an email address", l.show("tls.email", t.Email))
		}
		switch t.CA {
		case "", TLSCAProduction, TLSCAStaging:
		default:
			if strings.Contains(t.CA, "://") {
				l.url("tls.ca", t.CA, "https", "http")
			} else {
				l.check(false, "tls.ca", `%s is not an ACME directory URL, %q or %q`, l.show("tls.ca", t.CA), TLSCAProduction, TLSCAStaging)
			}
		}
	}
	switch t.Mode {
	case TLSACME:
		l.check(len(t.Domains) > 0, "tls.domains", `required with mode "acme": the names to get certificates for`)
	case TLSOnDemand:
		if l.check(t.Ask != "", "tls.ask", `required with mode "on_demand": the URL that approves each name, or anyone could make iobridge request certificates`) {
			l.url("tls.ask", t.Ask, "http", "https")
		}
	case TLSManual:
		l.check(t.CertFile != "", "tls.cert_file", `required with mode "manual": the PEM certificate chain`)
		l.check(t.KeyFile != "", "tls.key_file", `required with mode "manual": the PEM private key`)
	}
}

// checkFiles checks that the files the configuration names can be read.
// Only Load does this; Parse reads nothing.
func (l *loader) checkFiles(c *Config) {
	t := &c.TLS
	if t.Mode == TLSOff {
		return
	}
	files := []struct{ path, name string }{}
	if t.Mode == TLSManual {
		files = append(files, struct{ path, name string }{"tls.cert_file", t.CertFile}, struct{ path, name string }{"tls.key_file", t.KeyFile})
	} else if t.CARoot != "" {
		files = append(files, struct{ path, name string }{"tls.ca_root", t.CARoot})
	}
	for _, f := range files {
		if f.name == "" || l.failed[f.path] {
			continue
		}
		fh, err := os.Open(f.name)
		if err != nil {
			l.check(false, f.path, "%s cannot be read: %v", l.show(f.path, f.name), unwrapPathError(err))
			continue
		}
		fh.Close()
	}
}

func (l *loader) validateTelemetry(t *Telemetry) {
	switch t.Protocol {
	case "grpc", "http":
	default:
		l.check(false, "telemetry.protocol", `%s is not "grpc" or "http"`, l.show("telemetry.protocol", t.Protocol))
	}
	if t.OTLPEndpoint != "" {
		switch {
		case strings.Contains(t.OTLPEndpoint, "://"):
			l.url("telemetry.otlp_endpoint", t.OTLPEndpoint, "http", "https")
		case t.Protocol == "http":
			l.check(false, "telemetry.otlp_endpoint", `%s: with protocol "http" write a base URL, as "http://127.0.0.1:4318"`, l.show("telemetry.otlp_endpoint", t.OTLPEndpoint))
		default:
			l.hostPort("telemetry.otlp_endpoint", t.OTLPEndpoint, `as "127.0.0.1:4317"`)
		}
	}
	l.check(t.ServiceName != "", "telemetry.service_name", `must not be empty (default "iobridge")`)
	l.check(t.SampleRatio >= 0 && t.SampleRatio <= 1, "telemetry.sample_ratio", "must be between 0 and 1, not %v", t.SampleRatio)
}

func (l *loader) validateAdapter(a *Adapter) {
	switch a.Type {
	case "memory":
	case "redis":
		if l.check(a.URL != "", "adapter.url", `required with type "redis", as "redis://127.0.0.1:6379/0"`) {
			l.url("adapter.url", a.URL, "redis", "rediss")
		}
	default:
		l.check(false, "adapter.type", `%s is not "memory" or "redis"`, l.show("adapter.type", a.Type))
	}
	switch a.Mode {
	case "classic", "sharded", "streams":
	default:
		l.check(false, "adapter.mode", `%s is not "classic", "sharded" or "streams"`, l.show("adapter.mode", a.Mode))
	}
	l.check(a.KeyPrefix != "", "adapter.key_prefix", `must not be empty (default "socket.io")`)
	l.check(a.RequestTimeout > 0, "adapter.request_timeout", `must be positive, as "5s"`)
	switch a.SubscriptionMode {
	case "static", "dynamic", "dynamic-private":
	default:
		l.check(false, "adapter.subscription_mode", `%s is not "dynamic", "static" or "dynamic-private" (as createShardedAdapter's subscriptionMode; every node must use the same)`, l.show("adapter.subscription_mode", a.SubscriptionMode))
	}
	l.check(a.PublishQueue > 0, "adapter.publish_queue", "must be positive (default 10000), not %d", a.PublishQueue)
	l.check(a.StreamCount > 0, "adapter.stream_count", "must be positive (default 1, as the streams adapter's streamCount; every node must use the same), not %d", a.StreamCount)
	l.check(a.StreamMaxLen > 0, "adapter.stream_max_len", "must be positive (default 10000, as the streams adapter's maxLen), not %d", a.StreamMaxLen)
	if a.Type == "redis" && strings.Contains(a.KeyPrefix, "*") {
		l.check(false, "adapter.key_prefix", `must not contain "*": the classic mode subscribes to the pattern <key_prefix>#<namespace>#*`)
	}
}

// ---- shared checks ----

// namespaceConfigured reports whether a [[namespace]] block covers name.
func namespaceConfigured(c *Config, name string) bool {
	for _, n := range c.Namespaces {
		if n.Name == name {
			return true
		}
		if n.Pattern != "" {
			if re, err := regexp.Compile(n.Pattern); err == nil && re.MatchString(name) {
				return true
			}
		}
	}
	return false
}
