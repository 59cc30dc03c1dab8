package config

import (
	"errors"
	"fmt"
	"math"
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

// decodeStruct fills rv (a struct) from the table data. owner, if set,
// names the plugin whose options these are, for the unknown-key message.
func (l *loader) decodeStruct(path string, data map[string]any, rv reflect.Value, owner string) {
	rt := rv.Type()
	fields := map[string]int{}
	var names []string
	for i := range rt.NumField() {
		tag := rt.Field(i).Tag.Get("toml")
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = i
		names = append(names, tag)
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// Known keys in the order the struct declares them, then unknown ones.
	for _, name := range names {
		v, ok := data[name]
		if !ok {
			continue
		}
		p := keyPath(path, name)
		l.defined[p] = true
		l.decodeValue(p, v, rv.Field(fields[name]))
	}
	for _, k := range keys {
		if _, ok := fields[k]; ok {
			continue
		}
		p := keyPath(path, k)
		switch {
		case owner != "":
			l.problem(p, "not an option of plugin %q (its options: %s)", owner, strings.Join(names, ", "))
		default:
			if s := suggest(k, names); s != "" {
				l.problem(p, "unknown key (did you mean %q?)", s)
			} else {
				l.problem(p, "unknown key")
			}
		}
	}
}

// decodeValue stores data into rv, or records why it cannot.
func (l *loader) decodeValue(path string, data any, rv reflect.Value) {
	if l.failed[path] {
		return // ${NAME} expansion already failed here
	}
	rt := rv.Type()
	switch {
	case rt == durationType:
		l.decodeDuration(path, data, rv)
		return
	case rt == pluginType:
		m, ok := data.(map[string]any)
		if !ok {
			l.problem(path, "must be a [[%s]] block, not %s", tableName(path), describe(data))
			return
		}
		l.decodePlugin(path, m, rv.Addr().Interface().(*Plugin))
		return
	}
	switch rt.Kind() {
	case reflect.Pointer:
		if rt.Elem().Kind() == reflect.Struct {
			m, ok := data.(map[string]any)
			if !ok {
				l.problem(path, "must be a table ([%s]), not %s", tableName(path), describe(data))
				return
			}
			rv.Set(reflect.New(rt.Elem()))
			l.decodeStruct(path, m, rv.Elem(), "")
			return
		}
	case reflect.Struct:
		m, ok := data.(map[string]any)
		if !ok {
			l.problem(path, "must be a table ([%s]), not %s", tableName(path), describe(data))
			return
		}
		l.decodeStruct(path, m, rv, "")
		return
	case reflect.Slice:
		l.decodeSlice(path, data, rv)
		return
	case reflect.String:
		s, ok := data.(string)
		if !ok {
			l.problem(path, "must be a string, not %s", describe(data))
			return
		}
		rv.SetString(s)
		return
	case reflect.Bool:
		b, ok := data.(bool)
		if !ok {
			l.problem(path, "must be true or false, not %s", describe(data))
			return
		}
		rv.SetBool(b)
		return
	case reflect.Int, reflect.Int64:
		n, ok := asInt(data)
		if !ok {
			l.problem(path, "must be a whole number, not %s", describe(data))
			return
		}
		if rv.OverflowInt(n) {
			l.problem(path, "%d is too large", n)
			return
		}
		rv.SetInt(n)
		return
	case reflect.Float64:
		switch v := data.(type) {
		case float64:
			rv.SetFloat(v)
		case int64:
			rv.SetFloat(float64(v))
		default:
			l.problem(path, "must be a number, not %s", describe(data))
		}
		return
	}
	panic("config: no decoder for " + rt.String())
}

func (l *loader) decodeDuration(path string, data any, rv reflect.Value) {
	var text string
	switch v := data.(type) {
	case string:
		text = v
	case int64:
		if v == 0 {
			rv.SetInt(0)
			return
		}
		l.problem(path, "%d is not a duration, write \"%ds\"", v, v)
		return
	case float64:
		l.problem(path, "%v is not a duration, write \"%vs\"", v, v)
		return
	default:
		l.problem(path, "must be a duration string such as \"5s\", not %s", describe(data))
		return
	}
	d, msg := parseDuration(text)
	if msg != "" {
		if orig, ok := l.expanded[path]; ok {
			l.problem(path, "the value of %q (from the environment) is not a duration (examples: \"25s\", \"2m\", \"0\")", orig)
		} else {
			l.problem(path, "%s", msg)
		}
		return
	}
	rv.SetInt(int64(d))
}

func (l *loader) decodeSlice(path string, data any, rv reflect.Value) {
	elem := rv.Type().Elem()
	var items []any
	switch v := data.(type) {
	case []any:
		items = v
	case []map[string]any:
		items = make([]any, len(v))
		for i := range v {
			items[i] = v[i]
		}
	default:
		if elem.Kind() == reflect.Struct {
			if _, ok := data.(map[string]any); ok {
				l.problem(path, "must be [[%s]] blocks (double brackets), not a [%s] table", tableName(path), tableName(path))
				return
			}
			l.problem(path, "must be [[%s]] blocks, not %s", tableName(path), describe(data))
			return
		}
		l.problem(path, "must be an array such as [\"a\", \"b\"], not %s", describe(data))
		return
	}
	out := reflect.MakeSlice(rv.Type(), len(items), len(items))
	for i, item := range items {
		l.decodeValue(indexPath(path, i), item, out.Index(i))
	}
	rv.Set(out)
}

// decodePlugin reads a [[namespace.plugin]] block: its name picks the
// options struct, and every other key must be one of that plugin's options.
func (l *loader) decodePlugin(path string, data map[string]any, p *Plugin) {
	namePath := keyPath(path, "name")
	raw, ok := data["name"]
	if !ok {
		l.problem(namePath, "required: one of %s", strings.Join(pluginNames, ", "))
		return
	}
	l.defined[namePath] = true
	name, ok := raw.(string)
	if !ok {
		l.problem(namePath, "must be a string, not %s", describe(raw))
		return
	}
	p.Name = name
	var opts any
	switch name {
	case PluginJWT:
		p.JWT = new(JWTPlugin)
		opts = p.JWT
	case PluginRateLimit:
		p.RateLimit = new(RateLimitPlugin)
		opts = p.RateLimit
	case PluginFilter:
		p.Filter = new(FilterPlugin)
		opts = p.Filter
	case PluginOrigin:
		p.Origin = new(OriginPlugin)
		opts = p.Origin
	default:
		l.problem(namePath, "unknown plugin %s (known: %s)", l.show(namePath, name), strings.Join(pluginNames, ", "))
		return
	}
	rest := make(map[string]any, len(data))
	for k, v := range data {
		if k != "name" {
			rest[k] = v
		}
	}
	l.decodeStruct(path, rest, reflect.ValueOf(opts).Elem(), name)
}

var pluginNames = []string{PluginJWT, PluginRateLimit, PluginFilter, PluginOrigin}

// tableName is the TOML table name for a path: "namespace[0].plugin" →
// "namespace.plugin".
func tableName(path string) string {
	var b strings.Builder
	skip := false
	for _, r := range path {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func asInt(data any) (int64, bool) {
	switch v := data.(type) {
	case int64:
		return v, true
	case float64: // 1e6 is a TOML float
		if v == math.Trunc(v) && math.Abs(v) <= 1<<53 {
			return int64(v), true
		}
	}
	return 0, false
}

// describe names the TOML type of a decoded value, for messages. It never
// includes the value.
func describe(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	default:
		return "a date or time"
	}
}

// suggest returns the known key closest to k, if it is a likely typo.
func suggest(k string, known []string) string {
	best, bestDist := "", 3
	for _, c := range known {
		if d := editDistance(k, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
