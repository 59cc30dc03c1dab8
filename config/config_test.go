package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iobridge/iobridge/internal/golden"
)

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// invalidCases are configurations with problems; testdata/invalid.golden
// holds the problems each must produce, in order.
var invalidCases = []struct {
	name string
	toml string
	env  map[string]string
}{
	{"syntax", "[server\nlisten = 1", nil},
	{"unknown keys", `
verbose = true
[server]
listen = "127.0.0.1:8080"
ping_intervall = "25s"
[[namespace]]
name = "/"
on_connect = "accept"
webhok = "http://x/"
[telemetry.extra]
a = 1
`, nil},
	{"durations", `
[server]
ping_interval = "5"
ping_timeout = 20
connect_timeout = "soon"
recovery = "-2m"
[[namespace]]
name = "/"
on_connect = "accept"
timeout = "5"
[adapter]
request_timeout = "0"
`, nil},
	{"zero durations where positive is needed", `
[server]
ping_interval = "0"
ping_timeout = 0
connect_timeout = "0s"
`, nil},
	{"long duration", `
[server]
ping_interval = "11111111111111111111111111111111111111111111111111111111111111111111111s"
`, nil},
	{"namespace names and patterns", `
[[namespace]]
name = "/a"
pattern = "^/a$"
on_connect = "accept"
[[namespace]]
on_connect = "accept"
[[namespace]]
name = "chat"
on_connect = "accept"
[[namespace]]
name = "/b"
on_connect = "accept"
[[namespace]]
name = "/b"
on_connect = "accept"
[[namespace]]
pattern = "^/t-(["
on_connect = "accept"
[[namespace]]
pattern = "^/x$"
on_connect = "accept"
[[namespace]]
pattern = "^/x$"
on_connect = "accept"
`, nil},
	{"urls", `
[[namespace]]
name = "/"
webhook = "ftp://127.0.0.1/hooks"
secret = "whsec_ZGVtby1vbmx5LWlvYnJpZGdlLXNpZ25pbmcta2V5LTAwMQ=="
stream = "127.0.0.1:4000/stream"
bridge = "http://127.0.0.1:4000/bridge"
[[stream]]
url = "mailto:ops@example.com"
[[stream]]
name = "s"
url = "http://127.0.0.1:4000/"
namespace = "chat"
[[stream]]
name = "s"
url = ""
`, nil},
	{"bridge headers", `
[[namespace]]
name = "/a"
on_connect = "accept"
bridge = "ws://127.0.0.1:4000/bridge"
bridge_headers = ["authorization", "Host", "sec-websocket-protocol", "bad name"]
[[namespace]]
name = "/b"
on_connect = "accept"
bridge_headers = ["cookie"]
`, nil},
	{"on_connect", `
[[namespace]]
name = "/a"
[[namespace]]
name = "/b"
on_connect = "allow"
`, nil},
	{"listen addresses", `
[server]
listen = "8080"
[api]
listen = "127.0.0.1:99999"
token = "t"
[tls]
mode = "acme"
domains = ["rt.example.com"]
redirect_listen = "bad host!:80"
`, nil},
	{"api same address and no token", `
[server]
listen = "127.0.0.1:9000"
[api]
listen = "127.0.0.1:9000"
`, nil},
	{"sizes", `
[server]
max_http_buffer_size = -1
max_queue_bytes = 0
broadcast_delay = "2s"
[[namespace]]
name = "/"
on_connect = "accept"
webhook_concurrency = -1
[[namespace.plugin]]
name = "filter"
max_args_bytes = -5
[[namespace.plugin]]
name = "ratelimit"
events_per_second = -1
burst = -2
`, nil},
	{"plugins", `
[[namespace]]
name = "/"
on_connect = "accept"
[[namespace.plugin]]
name = "captcha"
level = 3
[[namespace.plugin]]
secret = "x"
[[namespace.plugin]]
name = "jwt"
secret = "0123456789abcdef0123456789abcdef"
jwks_url = "https://example.com/jwks.json"
from = "cookie"
burst = 5
[[namespace.plugin]]
name = "jwt"
[[namespace.plugin]]
name = "ratelimit"
events_per_second = 5
per = "user"
action = "kick"
[[namespace.plugin]]
name = "origin"
[[namespace.plugin]]
name = "origin"
allow = ["*", "app.example.com", "https://app.example.com/path"]
[[namespace.plugin]]
name = "filter"
allow = ["chat", "a*b", ""]
max_depth = -1
[[namespace.plugin]]
name = "ratelimit"
[[namespace.plugin]]
name = "ratelimit"
connects_per_second = 2
connect_burst = -1
[[namespace.plugin]]
name = "jwt"
jwks_url = "https://example.com/jwks.json"
jwks_refresh = "0"
leeway = "-5s"
rooms = ["user:{sub"]
`, nil},
	{"tls modes", `
[tls]
mode = "letsencrypt"
`, nil},
	{"tls acme", `
[tls]
mode = "acme"
domains = ["*.example.com", "bad_name"]
email = "ops"
ca = "ftp://ca.example.com/"
min_version = "1.1"
`, nil},
	{"tls manual", `
[tls]
mode = "manual"
`, nil},
	{"tls on_demand", `
[tls]
mode = "on_demand"
`, nil},
	{"tls ca name", `
[tls]
mode = "acme"
domains = ["rt.example.com"]
ca = "letsencrypt-staging"
`, nil},
	{"telemetry", `
[telemetry]
otlp_endpoint = "collector"
protocol = "thrift"
service_name = ""
sample_ratio = 1.5
`, nil},
	{"telemetry http", `
[telemetry]
otlp_endpoint = "127.0.0.1:4318"
protocol = "http"
`, nil},
	{"adapter", `
[adapter]
type = "etcd"
mode = "cluster"
key_prefix = ""
`, nil},
	{"adapter redis", `
[adapter]
type = "redis"
`, nil},
	{"adapter streams", `
[adapter]
type = "redis"
url = "redis://127.0.0.1:6379/0"
mode = "streams"
stream_max_len = 0
stream_count = 0
`, nil},
	{"adapter redis url", `
[adapter]
type = "redis"
url = "http://127.0.0.1:6379"
`, nil},
	{"types", `
[server]
allow_eio3 = "yes"
cors_origins = "*"
max_http_buffer_size = 1.5
listen = 8080
[namespace]
name = "/"
`, nil},
	{"table types", `
server = 5
api = "x"
[[telemetry]]
protocol = "grpc"
`, nil},
	{"events", `
[[namespace]]
name = "/"
on_connect = "accept"
events = ["chat", "", "a*b"]
error_event = "disconnect"
[[namespace]]
name = "/b"
on_connect = "accept"
error_event = ""
`, nil},
	{"secret format", `
[[namespace]]
name = "/"
webhook = "http://127.0.0.1:4000/hooks"
secret = "hunter2"
`, nil},
	{"env", `
[api]
token = "${IOBRIDGE_API_TOKEN}"
[[namespace]]
name = "${NS}"
webhook = "${HOOK_URL}"
secret = "${WEBHOOK_SECRET}"
timeout = "${TIMEOUT}"
on_connect = "${BAD NAME}"
error_event = "${UNCLOSED"
`, map[string]string{"NS": "no-slash-secretvalue", "HOOK_URL": "secretvalue", "TIMEOUT": "secretvalue"}},
	{"cors origins", `
[server]
cors_origins = ["https://app.example.com", "app.example.com", "https://x.example.com/path"]
`, nil},
	{"cors credentials with star", `
[server]
cors_origins = ["https://app.example.com", "*"]
cors_credentials = true
`, nil},
	{"cors credentials type", `
[server]
cors_origins = ["https://app.example.com"]
cors_credentials = "true"
`, nil},
	{"socket.io server options", `
[server]
serve_client = "yes"
transports = ["websocket", "flashsocket", "websocket"]
upgrade_timeout = "0"
parser = "notepack"
[server.cookie]
name = "io sid"
path = "/api\t"
same_site = "loose"
`, nil},
	{"empty transports", `
[server]
transports = []
`, nil},
	{"admin ui", `
[[namespace]]
name = "/admin"
on_connect = "accept"
[admin_ui]
password = "secret"
mode = "debug"
`, nil},
	{"admin ui on the main namespace", `
[admin_ui]
namespace = "/"
username = "admin"
password = "$2b$10$KLAZ2dGjG1hvOUMt2yiqcu5jrtVj1TTe0ah8gKKpOEVtjTbuZNRGC"
`, nil},
	{"admin ui without password", `
[admin_ui]
namespace = "admin"
username = "admin"
`, nil},
}

func runInvalid(t *testing.T) string {
	var b strings.Builder
	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := Parse([]byte(tc.toml), envMap(tc.env))
			if err == nil {
				t.Fatalf("Parse(%s) = nil error, want problems", tc.name)
			}
			if cfg != nil {
				t.Errorf("Parse(%s) returned a Config along with an error", tc.name)
			}
			var cerr *Error
			if !errors.As(err, &cerr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%s) error %T does not wrap ErrInvalid as *Error", tc.name, err)
			}
			for _, v := range tc.env {
				if strings.Contains(err.Error(), v) {
					t.Errorf("Parse(%s) problems echo an environment value:\n%s", tc.name, err)
				}
			}
			b.WriteString("== " + tc.name + " ==\n" + err.Error() + "\n\n")
		})
	}
	return b.String()
}

func TestInvalidConfigs(t *testing.T) {
	got := runInvalid(t)
	golden.Assert(t, filepath.Join("testdata", "invalid.golden"), []byte(got))
}

func TestExampleLoadsClean(t *testing.T) {
	t.Setenv("IOBRIDGE_API_TOKEN", "example-token")
	cfg, warnings, err := Load(filepath.Join("..", "config.example.toml"))
	if err != nil {
		t.Fatalf("Load(config.example.toml): %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("Load(config.example.toml) warnings: %v", warnings)
	}
	if cfg.Server.Listen != "127.0.0.1:8080" || cfg.API == nil || cfg.API.Listen != "127.0.0.1:8081" {
		t.Errorf("example listens on %q, api %+v; want 127.0.0.1:8080 and 127.0.0.1:8081", cfg.Server.Listen, cfg.API)
	}
	if cfg.API.Token != "example-token" {
		t.Errorf("api.token = %q, want the environment's value", cfg.API.Token)
	}
	if len(cfg.Namespaces) < 2 || cfg.Namespaces[0].Name != "/" || cfg.Namespaces[1].Name != "/chat" {
		t.Errorf("example namespaces = %+v, want / and /chat first", cfg.Namespaces)
	}
}

func TestExampleNeedsToken(t *testing.T) {
	t.Setenv("IOBRIDGE_API_TOKEN", "")
	os.Unsetenv("IOBRIDGE_API_TOKEN")
	_, _, err := Load(filepath.Join("..", "config.example.toml"))
	if err == nil {
		t.Fatal("Load(config.example.toml) without IOBRIDGE_API_TOKEN succeeded")
	}
	for _, want := range []string{"api.token", "IOBRIDGE_API_TOKEN is not set", "iobridge demo"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg, warnings, err := Parse([]byte("[api]\ntoken = \"t\"\n[[namespace]]\nname = \"/\"\nwebhook = \"http://127.0.0.1:4000/\"\n[[namespace.plugin]]\nname = \"ratelimit\"\nevents_per_second = 2.5\n[[stream]]\nurl = \"http://127.0.0.1:4000/s\"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Server: Server{
			Listen:            "127.0.0.1:8080",
			Path:              "/socket.io/",
			PingInterval:      Duration(25 * time.Second),
			PingTimeout:       Duration(20 * time.Second),
			MaxHTTPBufferSize: 1_000_000,
			MaxQueueBytes:     1 << 20,
			BroadcastDelay:    Duration(time.Millisecond),
			ConnectTimeout:    Duration(45 * time.Second),
			ShutdownTimeout:   Duration(10 * time.Second),
			ServeClient:       true,
			HTTPCompression:   true,
			Transports:        []string{"polling", "websocket"},
			AllowUpgrades:     true,
			UpgradeTimeout:    Duration(10 * time.Second),
			Parser:            "json",
		},
		API: &API{Listen: "127.0.0.1:8081", Token: "t"},
		Namespaces: []Namespace{{
			Name: "/", Webhook: "http://127.0.0.1:4000/", Events: []string{"*"}, ErrorEvent: "error",
			Timeout: Duration(5 * time.Second), OnConnect: "webhook",
			Plugins: []Plugin{{Name: "ratelimit", RateLimit: &RateLimitPlugin{EventsPerSecond: 2.5, Burst: 3, Per: "socket", Action: "error"}}},
		}},
		Streams:   []Stream{{Name: "stream[0]", URL: "http://127.0.0.1:4000/s", Namespace: "/"}},
		TLS:       TLS{Mode: "off", MinVersion: "1.2"},
		Telemetry: Telemetry{Protocol: "grpc", ServiceName: "iobridge", SampleRatio: 1},
		Adapter:   Adapter{Type: "memory", KeyPrefix: "socket.io", Mode: "classic", RequestTimeout: Duration(5 * time.Second), SubscriptionMode: "dynamic", PublishQueue: 10000, StreamMaxLen: 10000, StreamCount: 1},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Parse(minimal) =\n%+v\nwant\n%+v", cfg, want)
	}
	if len(warnings) != 1 || warnings[0].Path != "namespace[0].secret" {
		t.Errorf("warnings = %v, want one for namespace[0].secret", warnings)
	}
}

// TestCORSCredentials: cors_credentials defaults to false, is kept with
// exact origins, and with "*" is a problem whose message names the fix.
func TestCORSCredentials(t *testing.T) {
	tests := []struct {
		name    string
		toml    string
		want    bool
		problem string // "" means it loads
	}{
		{"default", "[server]\ncors_origins = [\"*\"]\n", false, ""},
		{"exact", "[server]\ncors_origins = [\"https://app.example.com\", \"http://127.0.0.1:3000\"]\ncors_credentials = true\n", true, ""},
		{"star without", "[server]\ncors_origins = [\"*\"]\ncors_credentials = false\n", false, ""},
		{"no origins", "[server]\ncors_credentials = true\n", true, ""},
		{"star", "[server]\ncors_origins = [\"*\"]\ncors_credentials = true\n", false, `server.cors_credentials: true with "*" in server.cors_origins`},
		{"star twice", "[server]\ncors_origins = [\"*\", \"https://app.example.com\", \"*\"]\ncors_credentials = true\n", false, `list the exact origins instead of "*", or set cors_credentials = false`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := Parse([]byte(tc.toml), nil)
			if tc.problem == "" {
				if err != nil {
					t.Fatalf("Parse(%q) = %v, want no problems", tc.toml, err)
				}
				if cfg.Server.CORSCredentials != tc.want {
					t.Errorf("Parse(%q).Server.CORSCredentials = %v, want %v", tc.toml, cfg.Server.CORSCredentials, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want %q", tc.toml, tc.problem)
			}
			if !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("Parse(%q) = %v, want %q", tc.toml, err, tc.problem)
			}
			if n := strings.Count(err.Error(), "server.cors_credentials"); n != 1 {
				t.Errorf("Parse(%q) names server.cors_credentials %d times, want once:\n%v", tc.toml, n, err)
			}
		})
	}
}

func TestNoAPI(t *testing.T) {
	cfg, _, err := Parse(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API != nil {
		t.Errorf("empty config has API %+v, want nil (no [api], no control API)", cfg.API)
	}
}

func TestPathTrailingSlash(t *testing.T) {
	cfg, _, err := Parse([]byte("[server]\npath = \"/rt\"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Path != "/rt/" {
		t.Errorf("server.path = %q, want %q", cfg.Server.Path, "/rt/")
	}
}

func TestFloatSize(t *testing.T) {
	cfg, _, err := Parse([]byte("[server]\nmax_http_buffer_size = 1e6\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.MaxHTTPBufferSize != 1_000_000 {
		t.Errorf("max_http_buffer_size = %d, want 1000000", cfg.Server.MaxHTTPBufferSize)
	}
}

func TestEnvExpansion(t *testing.T) {
	env := map[string]string{"HOST": "127.0.0.1", "PORT": "9000", "TOKEN": "s3cr$t", "EMPTY": "", "T": "7s"}
	tests := []struct {
		name, value string
		want        string
	}{
		{"whole", "${TOKEN}", "s3cr$t"},
		{"parts", "${HOST}:${PORT}", "127.0.0.1:9000"},
		{"escape", "$${HOST}", "${HOST}"},
		{"lone dollar", "pa$$word", "pa$$word"},
		{"dollar before brace-less", "$HOST", "$HOST"},
		{"empty value", "a${EMPTY}b", "ab"},
		{"no variables", "plain", "plain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := Parse([]byte("[api]\ntoken = \"x\"\n[[namespace]]\nname = \"/\"\non_connect = \"accept\"\nerror_event = \""+tc.value+"\"\n"), envMap(env))
			if err != nil {
				t.Fatalf("Parse(error_event = %q): %v", tc.value, err)
			}
			if got := cfg.Namespaces[0].ErrorEvent; got != tc.want {
				t.Errorf("expand(%q) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
	t.Run("typed values", func(t *testing.T) {
		cfg, _, err := Parse([]byte("[server]\nlisten = \"${HOST}:${PORT}\"\nping_interval = \"${T}\"\ncors_origins = [\"http://${HOST}\"]\n"), envMap(env))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Server.Listen != "127.0.0.1:9000" || cfg.Server.PingInterval != Duration(7*time.Second) || cfg.Server.CORSOrigins[0] != "http://127.0.0.1" {
			t.Errorf("expanded server = %+v", cfg.Server)
		}
	})
	t.Run("process environment", func(t *testing.T) {
		t.Setenv("IOBRIDGE_TEST_TOKEN", "from-env")
		path := filepath.Join(t.TempDir(), "c.toml")
		if err := os.WriteFile(path, []byte("[api]\ntoken = \"${IOBRIDGE_TEST_TOKEN}\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.API.Token != "from-env" {
			t.Errorf("api.token = %q, want %q", cfg.API.Token, "from-env")
		}
	})
}

func TestSecretsNeverEchoed(t *testing.T) {
	const value = "VERY-SECRET-VALUE"
	text := `
[server]
listen = "${V}"
path = "${V}"
[api]
listen = "${V}"
token = "${V}"
[[namespace]]
name = "${V}"
webhook = "${V}"
secret = "${V}"
on_connect = "${V}"
[[namespace.plugin]]
name = "${V}"
[tls]
mode = "${V}"
`
	_, _, err := Parse([]byte(text), envMap(map[string]string{"V": value}))
	if err == nil {
		t.Fatal("Parse succeeded, want problems")
	}
	if strings.Contains(err.Error(), value) {
		t.Errorf("problems echo the variable's value:\n%s", err)
	}
	if !strings.Contains(err.Error(), "${V}") {
		t.Errorf("problems do not name ${V}:\n%s", err)
	}
}

func TestWarnings(t *testing.T) {
	text := `
[[namespace]]
name = "/a"
webhook = "http://127.0.0.1:4000/"
[[namespace]]
name = "/b"
webhook = "http://127.0.0.1:4000/"
secret = "whsec_ZGVtby1vbmx5LWlvYnJpZGdlLXNpZ25pbmcta2V5LTAwMQ=="
[[namespace]]
pattern = "^/t-"
on_connect = "accept"
[[stream]]
url = "http://127.0.0.1:4000/s"
namespace = "/nowhere"
[[stream]]
url = "http://127.0.0.1:4000/s"
namespace = "/t-1"
`
	cfg, warnings, err := Parse([]byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg == nil {
		t.Fatal("Parse returned no Config")
	}
	var got []string
	for _, w := range warnings {
		got = append(got, w.Path)
	}
	want := []string{"namespace[0].secret", "stream[0].namespace"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warning paths = %v, want %v (warnings: %v)", got, want, warnings)
	}
}

func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write := func(path, text string) string {
		t.Helper()
		p := filepath.Join(dir, path)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	conf := "[tls]\nmode = \"manual\"\ncert_file = \"" + cert + "\"\nkey_file = \"" + key + "\"\n"
	missing := write("missing.toml", conf)
	_, _, err := Load(missing)
	if err == nil || !strings.Contains(err.Error(), "tls.cert_file") || !strings.Contains(err.Error(), "tls.key_file") {
		t.Fatalf("Load with absent cert and key = %v, want problems for both", err)
	}
	write("cert.pem", "x")
	write("key.pem", "x")
	if _, _, err := Load(missing); err != nil {
		t.Errorf("Load with cert and key present: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "absent.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(absent) = %v, want os.ErrNotExist", err)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{"namespace[2].timeout", `"5" is not a duration, write "5s"`}, `namespace[2].timeout: "5" is not a duration, write "5s"`},
		{Problem{"", "line 1, column 2: bad"}, "line 1, column 2: bad"},
	}
	for _, tc := range tests {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("Problem%+v.String() = %q, want %q", tc.p, got, tc.want)
		}
	}
	e := &Error{Problems: []Problem{tests[0].p, tests[1].p}}
	if got, want := e.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestTLSCA(t *testing.T) {
	tests := []struct {
		name, ca string
	}{
		{"default", ""},
		{"production", "production"},
		{"staging", "staging"},
		{"URL", "https://127.0.0.1:14000/dir"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := "[tls]\nmode = \"acme\"\ndomains = [\"rt.example.com\"]\nca = \"" + tc.ca + "\"\n"
			cfg, _, err := Parse([]byte(text), nil)
			if err != nil {
				t.Fatalf("Parse(ca = %q) = %v", tc.ca, err)
			}
			if cfg.TLS.CA != tc.ca {
				t.Errorf("TLS.CA = %q, want %q", cfg.TLS.CA, tc.ca)
			}
		})
	}
}

func TestRuntimeMetrics(t *testing.T) {
	for _, tc := range []struct {
		toml string
		want bool
	}{
		{"", false},
		{"[telemetry]\nruntime_metrics = true\n", true},
	} {
		cfg, _, err := Parse([]byte(tc.toml), nil)
		if err != nil {
			t.Fatalf("Parse(%q) = %v", tc.toml, err)
		}
		if cfg.Telemetry.RuntimeMetrics != tc.want {
			t.Errorf("Parse(%q).Telemetry.RuntimeMetrics = %v, want %v", tc.toml, cfg.Telemetry.RuntimeMetrics, tc.want)
		}
	}
}
