package config

import (
	"math"
	"reflect"
	"slices"
	"strings"
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
