package interop

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
)

// serverConfig is what a scenario may set on the server under test.
type serverConfig struct {
	PingInterval      time.Duration
	PingTimeout       time.Duration
	MaxHTTPBufferSize int64
	AllowEIO3         bool
	Recovery          time.Duration // zero disables connection state recovery
	CORSOrigins       []string      // socket.io's cors.origin; ["*"] is origin "*"; nil: no cors option
	CORSCredentials   bool          // socket.io's cors.credentials
	NoHTTPCompression bool          // httpCompression: false (socket.io compresses by default)
	PerMessageDeflate bool          // socket.io's perMessageDeflate: true (off by default)
	Parser            string        // socket.io's parser: "" the default, "msgpack" socket.io-msgpack-parser

	// engine.io's and socket.io's options of these names.
	Transports     []string      // transports; nil: both
	NoUpgrades     bool          // allowUpgrades: false
	UpgradeTimeout time.Duration // upgradeTimeout; zero: 10s
	Cookie         *engineio.Cookie
	ServeClient    bool // serveClient (Node's default is on, the scenarios' off)

	// cleanupEmptyChildNamespaces: children of /^\/dyn-\d+$/ are removed
	// once their last socket has left.
	CleanupEmptyChildNamespaces bool
}

// target is a running server with the scenario application (see
// reference.js for what it does), reachable at URL, whose server-side
// observations land in log.
type target struct {
	name string
	url  string
	log  *eventLog
}

// waitDisconnect waits for the server-side disconnect of socket id.
func (s *target) waitDisconnect(t testing.TB, id string) event {
	t.Helper()
	return s.log.wait(t, "server disconnect of "+id, func(e event) bool { return e.Type == "disconnect" && e.ID == id })
}

// waitConnection waits for the server-side connection of socket id.
func (s *target) waitConnection(t testing.TB, id string) event {
	t.Helper()
	return s.log.wait(t, "server connection of "+id, func(e event) bool { return e.Type == "connection" && e.ID == id })
}

type serverImpl struct {
	name  string
	start func(t *testing.T, cfg serverConfig) *target
}

// servers lists the implementations every scenario runs against: the
// reference socket.io server first (it proves the scenario's expectations),
// then iobridge.
var servers = []serverImpl{
	{"reference", startReference},
	{"iobridge", startIOBridge},
}

// eachServer runs the scenario once per server implementation, each with
// its own server.
func eachServer(t *testing.T, cfg serverConfig, scenario func(t *testing.T, srv *target)) {
	t.Parallel()
	for _, impl := range servers {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			scenario(t, impl.start(t, cfg))
		})
	}
}

func startReference(t *testing.T, cfg serverConfig) *target {
	t.Helper()
	c, err := json.Marshal(map[string]any{
		"pingInterval":                cfg.PingInterval.Milliseconds(),
		"pingTimeout":                 cfg.PingTimeout.Milliseconds(),
		"maxHttpBufferSize":           cfg.MaxHTTPBufferSize,
		"allowEIO3":                   cfg.AllowEIO3,
		"recovery":                    cfg.Recovery.Milliseconds(),
		"corsOrigins":                 cfg.CORSOrigins,
		"corsCredentials":             cfg.CORSCredentials,
		"httpCompression":             !cfg.NoHTTPCompression,
		"perMessageDeflate":           cfg.PerMessageDeflate,
		"parser":                      cfg.Parser,
		"transports":                  cfg.Transports,
		"allowUpgrades":               !cfg.NoUpgrades,
		"upgradeTimeout":              cfg.UpgradeTimeout.Milliseconds(),
		"cookie":                      referenceCookie(cfg.Cookie),
		"cleanupEmptyChildNamespaces": cfg.CleanupEmptyChildNamespaces,
		"serveClient":                 cfg.ServeClient,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, "reference server", "reference.js", string(c))
	l := n.log.wait(t, "listening", is("listening"))
	return &target{name: "reference", url: fmt.Sprintf("http://127.0.0.1:%d", l.Port), log: n.log}
}

// referenceCookie is engine.io's cookie option for c (nil: none), which
// takes engine.io's defaults for what is left out.
func referenceCookie(c *engineio.Cookie) map[string]any {
	if c == nil {
		return nil
	}
	o := map[string]any{"httpOnly": c.HTTPOnly}
	if c.Name != "" {
		o["name"] = c.Name
	}
	if c.Path != "" {
		o["path"] = c.Path
	}
	if c.Domain != "" {
		o["domain"] = c.Domain
	}
	if c.MaxAge != 0 {
		o["maxAge"] = c.MaxAge
	}
	if c.Secure {
		o["secure"] = true
	}
	switch c.SameSite {
	case http.SameSiteStrictMode:
		o["sameSite"] = "strict"
	case http.SameSiteNoneMode:
		o["sameSite"] = "none"
	case http.SameSiteDefaultMode:
		o["sameSite"] = false
	}
	return o
}
