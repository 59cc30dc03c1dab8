package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// maxFileSize caps the configuration file Load reads.
const maxFileSize = 4 << 20

// Load reads, expands, defaults and validates the configuration file at
// path, taking ${NAME} values from the process environment. It also checks
// that the files the configuration names (TLS certificate, key, CA root)
// can be read.
//
// The error, if any, is an *Error listing every problem (it wraps
// ErrInvalid), or the error from reading the file. Warnings are problems
// that do not stop the sidecar; they come back even when err is nil.
func Load(path string) (*Config, []Problem, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	if st.Size() > maxFileSize {
		return nil, nil, fmt.Errorf("config: %s is %d bytes, more than the %d a configuration may have", path, st.Size(), maxFileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	l := newLoader(os.LookupEnv)
	cfg := l.load(data)
	if cfg != nil {
		l.checkFiles(cfg)
	}
	return l.result(cfg, path)
}

// Parse is Load for configuration text already in memory, with ${NAME}
// looked up by lookupEnv (nil means no variable is set). It reads no files:
// the TLS files are not checked.
func Parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, []Problem, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	l := newLoader(lookupEnv)
	cfg := l.load(data)
	return l.result(cfg, "")
}

// loader holds the state of one Load: the problems found so far and what
// the file defined.
type loader struct {
	lookupEnv func(string) (string, bool)
	problems  []Problem
	warnings  []Problem
	// defined holds the path of every key the file set, so defaults fill
	// only absent keys and an explicit zero can be refused.
	defined map[string]bool
	// expanded maps the path of each string that held ${NAME} to its text
	// before expansion, so messages show that instead of the value.
	expanded map[string]string
	// failed holds paths that already have a problem, so validation does
	// not pile a second one on them.
	failed map[string]bool
}

func newLoader(lookupEnv func(string) (string, bool)) *loader {
	return &loader{
		lookupEnv: lookupEnv,
		defined:   map[string]bool{},
		expanded:  map[string]string{},
		failed:    map[string]bool{},
	}
}

func (l *loader) problem(path, format string, args ...any) {
	l.failed[path] = true
	l.problems = append(l.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) warn(path, format string, args ...any) {
	l.warnings = append(l.warnings, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) result(cfg *Config, file string) (*Config, []Problem, error) {
	if len(l.problems) > 0 {
		return nil, l.warnings, &Error{File: file, Problems: l.problems}
	}
	return cfg, l.warnings, nil
}

// load runs decode → expand → defaults → validate. It returns nil only when
// the text is not TOML at all.
func (l *loader) load(data []byte) *Config {
	var tree map[string]any
	if _, err := toml.Decode(string(data), &tree); err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			l.problem("", "line %d, column %d: %s", perr.Position.Line, perr.Position.Col, perr.Message)
		} else {
			l.problem("", "%s", err)
		}
		return nil
	}
	l.expandTree("", tree)
	cfg := new(Config)
	l.decodeStruct("", tree, reflect.ValueOf(cfg).Elem(), "")
	l.defaults(cfg)
	l.validate(cfg)
	return cfg
}

// keyPath joins a table path and a key, quoting keys that are not bare.
func keyPath(parent, key string) string {
	if !isBareKey(key) {
		key = strconv.Quote(key)
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func isBareKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// ---- ${NAME} expansion ----

// expandTree replaces ${NAME} in every string value of the decoded TOML.
func (l *loader) expandTree(path string, v any) any {
	switch v := v.(type) {
	case string:
		return l.expandString(path, v)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys) // problems come out in the same order every time
		for _, k := range keys {
			v[k] = l.expandTree(keyPath(path, k), v[k])
		}
	case []map[string]any:
		for i, e := range v {
			l.expandTree(indexPath(path, i), e)
		}
	case []any:
		for i, e := range v {
			v[i] = l.expandTree(indexPath(path, i), e)
		}
	}
	return v
}

// expandString expands ${NAME} from the environment; "$${" stands for a
// literal "${". A "$" not followed by "{" is kept as is, so secrets with
// dollars in them need no escaping.
func (l *loader) expandString(path, s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	bad := false
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			l.problem(path, `"${" has no closing "}" (write "$${" for a literal "${")`)
			bad = true
			break
		}
		name := s[i+2 : i+end]
		i += end + 1
		if !isEnvName(name) {
			l.problem(path, "${%s} is not an environment variable name (letters, digits and _, not starting with a digit)", cut(name, 40))
			bad = true
			continue
		}
		val, ok := l.lookupEnv(name)
		if !ok {
			hint := ""
			if name == "IOBRIDGE_API_TOKEN" {
				hint = ` (or run "iobridge demo", which sets a demo token)`
			}
			l.problem(path, "environment variable %s is not set; set it before starting iobridge%s", name, hint)
			bad = true
			continue
		}
		b.WriteString(val)
	}
	if bad {
		return ""
	}
	l.expanded[path] = s
	return b.String()
}

func isEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// show quotes the value at path for a message: the value itself, or, when
// it came from the environment, the text before expansion, so no message
// echoes a variable's value.
func (l *loader) show(path, value string) string {
	if orig, ok := l.expanded[path]; ok {
		return fmt.Sprintf("%q (from the environment)", orig)
	}
	return strconv.Quote(cut(value, 200))
}

// ---- decoding the TOML tree onto the structs ----

var (
	durationType = reflect.TypeFor[Duration]()
	pluginType   = reflect.TypeFor[Plugin]()
)

var pluginNames = []string{PluginJWT, PluginRateLimit, PluginFilter, PluginOrigin}
