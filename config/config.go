// Package config is iobridge's TOML configuration: the schema, its defaults,
// ${ENV} expansion, the Duration type and validation.
//
// Load reads a file in four steps: decode the TOML, expand ${NAME} in every
// string value from the environment, fill in defaults for absent keys, and
// validate. Decoding and validation collect every problem they find, each
// with its key path (namespace[2].timeout, counting blocks from 0), and
// return them together as one *Error whose lines are the problems. Problems
// that do not stop the sidecar (a webhook without a signing secret) are
// returned separately as warnings.
//
// Only main maps a Config onto the Config structs of the other packages;
// this package imports none of them.
package config

// Config is one iobridge configuration file.
type Config struct {
	// Server is the Socket.IO side: listener, Engine.IO timings, limits.
	Server Server `toml:"server"`
	// API is the control API for backends. Nil (no [api] table) means
	// there is no control API.
	API *API `toml:"api"`
	// Namespaces are the [[namespace]] blocks, matched in order.
	Namespaces []Namespace `toml:"namespace"`
	// Streams are the top-level [[stream]] blocks: backend SSE or
	// WebSocket endpoints the sidecar subscribes to for instructions.
	Streams []Stream `toml:"stream"`
	// TLS is the certificate setup. Mode "off" (default) serves plain HTTP.
	TLS TLS `toml:"tls"`
	// Telemetry is the OpenTelemetry export. An empty OTLPEndpoint (the
	// default) exports nothing.
	Telemetry Telemetry `toml:"telemetry"`
	// Adapter shares rooms and broadcasts between nodes. Type "memory"
	// (default) keeps them in this process.
	Adapter Adapter `toml:"adapter"`
	// AdminUI serves the @socket.io/admin-ui protocol on its namespace.
	// Nil (no [admin_ui] table) means no admin UI.
	AdminUI *AdminUI `toml:"admin_ui"`
}

// Server configures the Socket.IO listener and the Engine.IO sessions on it.
type Server struct {
	// Listen is the TCP address the Socket.IO side listens on, host:port.
	// Default "127.0.0.1:8080"; ":8080" listens on every interface.
	Listen string `toml:"listen"`
	// Path is the URL path of the Engine.IO endpoint, as the client's
	// `path` option. It starts and ends with "/". Default "/socket.io/".
	Path string `toml:"path"`
	// PingInterval is how often the server pings each client (the
	// reference's pingInterval). Must be positive. Default 25s.
	PingInterval Duration `toml:"ping_interval"`
	// PingTimeout is how long a client may take to answer a ping before
	// its connection closes with "ping timeout". Must be positive.
	// Default 20s.
	PingTimeout Duration `toml:"ping_timeout"`
	// MaxHTTPBufferSize is the largest message accepted from a client, in
	// bytes (the reference's maxHttpBufferSize): a larger polling POST is
	// answered 413, a larger WebSocket message closes the connection.
	// At least 1. Default 1000000.
	MaxHTTPBufferSize int64 `toml:"max_http_buffer_size"`
	// MaxQueueBytes bounds each connection's outbound queue, in bytes.
	// A volatile emit that does not fit is dropped; any other packet that
	// does not fit closes the connection with reason "slow consumer".
	// At least 1. Default 1048576 (1 MiB).
	MaxQueueBytes int `toml:"max_queue_bytes"`
	// BroadcastDelay is how long a broadcast's packets may wait for the
	// broadcasts that follow, so a WebSocket connection gets them in one
	// write. Under a burst the wait grows with the time the last round of
	// writes took, to at most 20ms. "0" writes each broadcast at once.
	// At most 1s. Default 1ms.
	BroadcastDelay Duration `toml:"broadcast_delay"`
	// CORSOrigins are the origins allowed by CORS on polling requests, as
	// socket.io's cors.origin: exact origins ("https://app.example.com"),
	// each reflected with Vary: Origin, or "*", answered
	// Access-Control-Allow-Origin: * and never with credentials. An
	// origin not listed gets no Access-Control-Allow-Origin. Default
	// none: no CORS headers, as the reference server.
	CORSOrigins []string `toml:"cors_origins"`
	// CORSCredentials sends Access-Control-Allow-Credentials: true, as
	// socket.io's cors.credentials, to the exact origins in CORSOrigins:
	// their pages may make polling requests with the visitor's cookies
	// and read the answers. Never for "*" (any web page could): true with
	// "*" listed is a problem. Default false.
	CORSCredentials bool `toml:"cors_credentials"`
	// AllowEIO3 accepts Engine.IO v3 clients (socket.io-client 2.x).
	// Default false.
	AllowEIO3 bool `toml:"allow_eio3"`
	// ConnectTimeout closes a connection that has not joined any namespace
	// (sent no CONNECT) within this time. Must be positive. Default 45s.
	ConnectTimeout Duration `toml:"connect_timeout"`
	// ShutdownTimeout bounds the graceful shutdown on SIGTERM or SIGINT:
	// new connections refused and /readyz 503 at once, the deliveries in
	// flight finished (their acks and emits reach the clients), every
	// socket disconnected with its disconnect delivery sent, then exit.
	// What is still under way at the bound is cut and logged with its
	// count. Must be positive. Default 10s.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// Recovery is the connection state recovery window: a client that
	// reconnects within it gets its id, rooms and missed packets back.
	// Zero (the default) disables recovery.
	Recovery Duration `toml:"recovery"`

	// The options below are socket.io's and engine.io's server options of
	// the same names (see server_options.go), with their defaults.

	// ServeClient answers GET <path>socket.io.js and the other client
	// builds (serveClient). Default true.
	ServeClient bool `toml:"serve_client"`
	// HTTPCompression compresses polling answers of 1 KiB or more with
	// gzip or deflate when the request accepts it (httpCompression).
	// Default true.
	HTTPCompression bool `toml:"http_compression"`
	// PerMessageDeflate negotiates permessage-deflate on WebSocket and
	// compresses messages of 1 KiB or more (perMessageDeflate). Default
	// false.
	PerMessageDeflate bool `toml:"per_message_deflate"`
	// Transports are the transports clients may use, "polling" and/or
	// "websocket" (transports). Default both.
	Transports []string `toml:"transports"`
	// AllowUpgrades lets a polling client upgrade to WebSocket
	// (allowUpgrades). Default true.
	AllowUpgrades bool `toml:"allow_upgrades"`
	// UpgradeTimeout bounds a polling→WebSocket upgrade; one that takes
	// longer is abandoned and the client stays on polling
	// (upgradeTimeout). Must be positive. Default 10s.
	UpgradeTimeout Duration `toml:"upgrade_timeout"`
	// Parser is the Socket.IO wire format: "json" (the default parser)
	// or "msgpack" (socket.io-msgpack-parser). Clients must use the same.
	// Default "json".
	Parser string `toml:"parser"`
	// CleanupEmptyChildNamespaces removes a namespace created by a
	// [[namespace]] pattern once its last socket leaves
	// (cleanupEmptyChildNamespaces). Default false.
	CleanupEmptyChildNamespaces bool `toml:"cleanup_empty_child_namespaces"`
	// Cookie sets Engine.IO's session cookie on the handshake, for load
	// balancers that pin clients by cookie (cookie). Nil (no
	// [server.cookie] table) sets none, as the reference's default.
	Cookie *Cookie `toml:"cookie"`
}

// API configures the control HTTP API that backends call.
type API struct {
	// Listen is the TCP address of the API, host:port. Default
	// "127.0.0.1:8081" (loopback: the API is for the sidecar's neighbours).
	Listen string `toml:"listen"`
	// Token is the bearer token every /v1/ request must carry. Required;
	// usually "${IOBRIDGE_API_TOKEN}". Never logged.
	Token string `toml:"token"`
}

// Namespace is one [[namespace]] block: which Socket.IO namespaces it
// covers and where their connects and events go.
type Namespace struct {
	// Name is the exact namespace ("/chat"); it starts with "/". Exactly
	// one of Name and Pattern is set.
	Name string `toml:"name"`
	// Pattern is a regular expression (Go RE2 syntax) matched against the
	// namespace a client asks for, as the reference's io.of(/regexp/).
	Pattern string `toml:"pattern"`
	// Webhook is the http(s) URL that receives connect, event and
	// disconnect deliveries. Default none.
	Webhook string `toml:"webhook"`
	// Secret is the Standard Webhooks signing secret ("whsec_" + base64).
	// Without it deliveries go unsigned, and Load warns. Never logged.
	Secret string `toml:"secret"`
	// Events lists the events forwarded to the backend; "*" matches any
	// event and a trailing "*" matches a prefix ("file.*"). Others are
	// answered with an error. Default ["*"].
	Events []string `toml:"events"`
	// ErrorEvent is the event that tells a socket an event it sent without
	// an ack failed. Default "error".
	ErrorEvent string `toml:"error_event"`
	// Timeout bounds each webhook delivery up to the answer's headers, and
	// the silence allowed inside a streamed answer. Must be positive.
	// Default 5s.
	Timeout Duration `toml:"timeout"`
	// WebhookConcurrency bounds the deliveries awaiting the webhook's
	// answer at once; the others wait their turn in arrival order, an
	// event within Timeout. 0 adapts the bound to the backend: it shrinks
	// while the backend's answers slow down in proportion to the
	// deliveries added (it only queues them) and grows while more
	// deliveries still buy throughput. A bound also makes answers fairer:
	// a backend handed every delivery at once answers them in no
	// particular order, so some wait far longer than others. Must not be
	// negative. Default 0.
	WebhookConcurrency int `toml:"webhook_concurrency"`
	// OnConnect decides who accepts a connection: "webhook" (the backend
	// answers a connect delivery; needs Webhook) or "accept" (the sidecar
	// accepts at once). Default "webhook".
	OnConnect string `toml:"on_connect"`
	// Stream is an optional backend SSE (http/https) or WebSocket (ws/wss)
	// URL the sidecar subscribes to; its instructions default to this
	// namespace. Default none.
	Stream string `toml:"stream"`
	// Bridge is an optional ws:// or wss:// URL: each socket of the
	// namespace gets its own WebSocket to it. Default none.
	Bridge string `toml:"bridge"`
	// BridgeHeaders names headers of each client's handshake request that
	// its bridge's dial carries ("authorization", "cookie"),
	// case-insensitive. Hop-by-hop headers and those the WebSocket
	// handshake sets (Host, Connection, Upgrade, Sec-WebSocket-*) are
	// refused. The connect frame carries the whole handshake (headers,
	// query, auth) either way. Needs Bridge. Default none.
	BridgeHeaders []string `toml:"bridge_headers"`
	// Plugins are the [[namespace.plugin]] blocks, run in order.
	Plugins []Plugin `toml:"plugin"`
}

// On-connect modes.
const (
	OnConnectWebhook = "webhook"
	OnConnectAccept  = "accept"
)

// Stream is one top-level [[stream]] block.
type Stream struct {
	// Name identifies the stream in logs. Default "stream[i]".
	Name string `toml:"name"`
	// URL is the backend SSE (http/https) or WebSocket (ws/wss) endpoint.
	// Required.
	URL string `toml:"url"`
	// Namespace is the namespace its instructions default to. Default "/".
	Namespace string `toml:"namespace"`
}

// TLS configures certificates for the Socket.IO listener.
type TLS struct {
	// Mode is "off" (default, plain HTTP), "acme" (certificates for
	// Domains from an ACME CA), "on_demand" (a certificate per new SNI name
	// that Ask approves) or "manual" (CertFile and KeyFile).
	Mode string `toml:"mode"`
	// Domains are the names to obtain certificates for (acme: required;
	// on_demand: optional names allowed without asking Ask). The first is
	// served to clients that send no server name.
	Domains []string `toml:"domains"`
	// Email is the ACME account contact. Optional; recommended.
	Email string `toml:"email"`
	// CA is the ACME directory URL, or "production" (Let's Encrypt, the
	// default) or "staging" (Let's Encrypt's staging environment: untrusted
	// certificates, for trying a setup out).
	CA string `toml:"ca"`
	// CARoot is a PEM file with the root of a private ACME CA (Pebble, an
	// internal CA), trusted for the connection to CA. Optional.
	CARoot string `toml:"ca_root"`
	// Storage is the folder for certificates and ACME accounts. Empty
	// means certmagic's default folder.
	Storage string `toml:"storage"`
	// CertFile and KeyFile are the PEM certificate chain and key (manual:
	// required). Names come from the certificate.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// MinVersion is the lowest TLS version accepted: "1.2" (default) or
	// "1.3".
	MinVersion string `toml:"min_version"`
	// RedirectListen is an optional plain-HTTP address (":80") that
	// redirects to HTTPS and answers ACME HTTP-01 challenges.
	RedirectListen string `toml:"redirect_listen"`
	// Ask is the URL asked ?domain=NAME before issuing an on-demand
	// certificate; a 2xx answer allows it (on_demand: required).
	Ask string `toml:"ask"`
}

// TLS modes.
const (
	TLSOff      = "off"
	TLSACME     = "acme"
	TLSOnDemand = "on_demand"
	TLSManual   = "manual"
)

// Named ACME directories for TLS.CA.
const (
	TLSCAProduction = "production"
	TLSCAStaging    = "staging"
)

// Telemetry configures OpenTelemetry traces and metrics export.
type Telemetry struct {
	// OTLPEndpoint is where spans and metrics go: "host:port" for grpc, a
	// base URL for http ("/v1/traces" etc. are appended, as
	// OTEL_EXPORTER_OTLP_ENDPOINT does). Empty (default) exports nothing.
	OTLPEndpoint string `toml:"otlp_endpoint"`
	// Protocol is the OTLP transport: "grpc" (default) or "http".
	Protocol string `toml:"protocol"`
	// ServiceName is the service.name resource attribute. Default
	// "iobridge".
	ServiceName string `toml:"service_name"`
	// SampleRatio is the fraction of new traces sampled, 0 to 1. Default 1.
	SampleRatio float64 `toml:"sample_ratio"`
	// RuntimeMetrics adds the Go runtime and process collectors
	// (go_goroutines, process_open_fds, process_resident_memory_bytes, ...)
	// to GET /metrics. Default false.
	RuntimeMetrics bool `toml:"runtime_metrics"`
}

// Adapter configures how rooms and broadcasts are shared between nodes.
type Adapter struct {
	// Type is "memory" (default: this process only) or "redis".
	Type string `toml:"type"`
	// URL is the Redis URL, redis:// or rediss:// (redis: required).
	URL string `toml:"url"`
	// Advertise is the base URL other iobridge nodes reach this one at
	// ("http://10.0.0.5:8080"): a polling request for this node's session
	// that lands on another node is forwarded there (sticky-free
	// polling). Default: http:// and server.listen's address, which must
	// then name one interface (and [tls] must be off).
	Advertise string `toml:"advertise"`
	// KeyPrefix is the channel and stream prefix, as the Node adapters'
	// `key` option. Default "socket.io".
	KeyPrefix string `toml:"key_prefix"`
	// Mode is "classic" (default, @socket.io/redis-adapter), "sharded"
	// (Redis 7 SPUBLISH) or "streams" (@socket.io/redis-streams-adapter).
	Mode string `toml:"mode"`
	// RequestTimeout bounds requests to other nodes (fetch sockets, server
	// side emit). Must be positive. Default 5s.
	RequestTimeout Duration `toml:"request_timeout"`
	// SubscriptionMode is the sharded mode's, as createShardedAdapter's
	// subscriptionMode: "dynamic" (default), "static" or
	// "dynamic-private". Every node of a cluster must use the same.
	SubscriptionMode string `toml:"subscription_mode"`
	// PublishQueue bounds the messages waiting to be published to Redis
	// (default 10000); past it a broadcast reaches this node's sockets
	// only, and is counted and logged.
	PublishQueue int `toml:"publish_queue"`
	// StreamMaxLen is the streams mode's bound on the stream's length,
	// as the streams adapter's maxLen (XADD MAXLEN ~, so Redis may keep a
	// few more). A client that missed more than the stream holds gets a
	// new session. Must be positive. Default 10000.
	StreamMaxLen int64 `toml:"stream_max_len"`
	// StreamCount is the streams mode's number of streams, as the streams
	// adapter's streamCount: with more than one, a namespace's stream is
	// <key_prefix>-<hash of its name % count>, as Node computes it. Every
	// node of a cluster uses the same. Must be positive. Default 1.
	StreamCount int `toml:"stream_count"`
}

// Plugin is one [[namespace.plugin]] block. Name says which plugin it is,
// and exactly the matching options field is set (the others are nil).
type Plugin struct {
	// Name is "jwt", "ratelimit", "filter" or "origin".
	Name      string
	JWT       *JWTPlugin
	RateLimit *RateLimitPlugin
	Filter    *FilterPlugin
	Origin    *OriginPlugin
}

// Plugin names.
const (
	PluginJWT       = "jwt"
	PluginRateLimit = "ratelimit"
	PluginFilter    = "filter"
	PluginOrigin    = "origin"
)

// JWTPlugin verifies a JSON Web Token on connect.
type JWTPlugin struct {
	// Secret is the HS256 key. Exactly one of Secret and JWKSURL is set.
	// Never logged.
	Secret string `toml:"secret"`
	// JWKSURL is an https URL of a JWKS document (RS256/ES256 keys).
	JWKSURL string `toml:"jwks_url"`
	// Audience, if set, must appear in the token's aud claim.
	Audience string `toml:"audience"`
	// Issuer, if set, must equal the token's iss claim.
	Issuer string `toml:"issuer"`
	// From is where the token is read: "auth" (default, auth.token of the
	// CONNECT), "query" (?token=) or "header" (Authorization: Bearer).
	From string `toml:"from"`
	// Rooms are joined on connect; "{claim}" is replaced by that claim
	// ("user:{sub}"). Default none.
	Rooms []string `toml:"rooms"`
	// Claims are copied into socket.data. Default none.
	Claims []string `toml:"claims"`
	// Leeway is the clock skew allowed when checking exp and nbf.
	// Default "0".
	Leeway Duration `toml:"leeway"`
	// JWKSRefresh is how often the JWKS is fetched again (it is also
	// fetched when a token names an unknown key, at most every 5 minutes).
	// Must be positive. Default 1h.
	JWKSRefresh Duration `toml:"jwks_refresh"`
}

// RateLimitPlugin limits inbound events, and connects per client IP
// address, with token buckets.
type RateLimitPlugin struct {
	// EventsPerSecond is the refill rate of the event buckets. Zero (the
	// default) leaves events unlimited; at least one of EventsPerSecond
	// and ConnectsPerSecond is positive.
	EventsPerSecond float64 `toml:"events_per_second"`
	// Burst is the bucket size, at least 1. Default: EventsPerSecond
	// rounded up.
	Burst int `toml:"burst"`
	// Per is what one bucket covers: "socket" (default) or "ip".
	Per string `toml:"per"`
	// Action is what happens to an event over the limit, which never
	// reaches the backend: "error" (default; the socket stays connected
	// and gets the error) or "disconnect".
	Action string `toml:"action"`
	// ConnectsPerSecond is the refill rate of a bucket per client IP
	// address that each connect to the namespace takes from; a connect
	// over it is refused (connect_error "rate limit exceeded: too many
	// connections"). Zero (the default) leaves connects unlimited.
	ConnectsPerSecond float64 `toml:"connects_per_second"`
	// ConnectBurst is that bucket's size, at least 1. Default:
	// ConnectsPerSecond rounded up.
	ConnectBurst int `toml:"connect_burst"`
}

// FilterPlugin allows or denies inbound events by name and size.
type FilterPlugin struct {
	// Allow lists the events let through ("chat", "file.*"); empty means
	// all. Deny wins over Allow.
	Allow []string `toml:"allow"`
	// Deny lists events refused.
	Deny []string `toml:"deny"`
	// MaxArgsBytes bounds an event's encoded args, in bytes. Zero (the
	// default) means no bound beyond server.max_http_buffer_size.
	MaxArgsBytes int `toml:"max_args_bytes"`
	// MaxDepth bounds the nesting of objects and arrays in each argument
	// ({"a":[1]} has depth 2). Zero (the default) means no bound.
	MaxDepth int `toml:"max_depth"`
}

// OriginPlugin refuses connections whose Origin header is not listed.
type OriginPlugin struct {
	// Allow lists the exact origins accepted ("https://app.example.com").
	// Required, at least one.
	Allow []string `toml:"allow"`
}
