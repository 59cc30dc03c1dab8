package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeReference holds every row of the README's configuration
// reference tables to the loader: the key exists, its documented default is
// what Load fills in, a "required" key is a problem when absent, and the
// bounds and choices in the row are the ones -check enforces. The README is
// what users configure from, so a row that drifts from the code is a bug.
func TestReadmeReference(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := readmeRows(t, string(raw))
	tables := map[string]int{}
	for _, r := range rows {
		tables[r.table]++
	}
	for _, want := range []string{"server", "server.cookie", "api", "namespace", "tls", "adapter", "admin_ui"} {
		if tables[want] == 0 {
			t.Errorf("README's configuration reference has no rows for [%s]", want)
		}
	}
	// "exactly one of `name` and `pattern`": keys without a default
	// because another key stands in for them.
	alternatives := map[string]bool{}
	for _, r := range rows {
		if _, after, ok := strings.Cut(r.meaning, "exactly one of "); ok {
			for _, m := range tickRe.FindAllStringSubmatch(after, 2) {
				alternatives[r.table+"."+m[1]] = true
			}
		}
	}
	for _, r := range rows {
		for _, key := range r.keys {
			t.Run(r.table+"."+key, func(t *testing.T) { checkRow(t, r, key, alternatives[r.table+"."+key]) })
		}
	}
}

// readmeRow is one row of a reference table: its keys (a row may document
// several), the default and the bound columns as written.
type readmeRow struct {
	table   string // "server", "namespace", "server.cookie", …
	keys    []string
	def     string
	bound   string // the "unit, bound" column, or the meaning column of a 3-column table
	meaning string
}

var (
	headingRe = regexp.MustCompile("^### `\\[\\[?([a-z_.]+)\\]\\]?`")
	tickRe    = regexp.MustCompile("`([^`]*)`")
)

// readmeRows reads the tables of the "Configuration reference" section.
// The plugin table, whose rows are plugins rather than keys, is left to
// the plugin tests.
func readmeRows(t *testing.T, readme string) []readmeRow {
	_, sec, ok := strings.Cut(readme, "\n## Configuration reference\n")
	if !ok {
		t.Fatal(`README.md has no "## Configuration reference" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var rows []readmeRow
	table := ""
	for line := range strings.SplitSeq(sec, "\n") {
		if m := headingRe.FindStringSubmatch(line); m != nil {
			table = m[1]
			continue
		}
		if table == "" || table == "namespace.plugin" || !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := splitRow(line)
		if len(cols) < 3 {
			t.Errorf("[%s] row with %d columns: %s", table, len(cols), line)
			continue
		}
		r := readmeRow{table: table, def: cols[1], bound: cols[2], meaning: cols[len(cols)-1]}
		for k := range strings.SplitSeq(cols[0], ",") {
			k = strings.Trim(strings.TrimSpace(k), "`")
			r.keys = append(r.keys, k)
		}
		rows = append(rows, r)
	}
	return rows
}

// splitRow splits a Markdown table row on its unescaped pipes.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(strings.TrimSuffix(line, "|"), "|")
	var cols []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cols = append(cols, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cols, strings.TrimSpace(cur.String()))
}

// testHash is a bcrypt hash (of "admin"), for the [admin_ui] base.
const testHash = "$2b$10$KLAZ2dGjG1hvOUMt2yiqcu5jrtVj1TTe0ah8gKKpOEVtjTbuZNRGC"

// base is the smallest valid configuration around table's keys, as lines
// of TOML keyed by key so that one can be left out.
func base(table string) (head string, keys map[string]string, path string) {
	switch table {
	case "api":
		return "[api]", map[string]string{"token": `"t"`}, "api"
	case "namespace":
		// on_connect's default asks the webhook, so the base has one;
		// webhook's own row is checked with on_connect = "accept".
		return "[[namespace]]", map[string]string{"name": `"/"`, "webhook": `"http://127.0.0.1:4000/"`}, "namespace[0]"
	case "admin_ui":
		return "[admin_ui]", map[string]string{"username": `"admin"`, "password": `"` + testHash + `"`}, "admin_ui"
	default:
		return "[" + table + "]", map[string]string{}, table
	}
}

// build writes the TOML for table's base with overrides applied; a value
// of "" leaves the key out.
func build(table string, overrides map[string]string) string {
	head, keys, _ := base(table)
	if v, ok := overrides["webhook"]; ok && v == "" && table == "namespace" {
		keys["on_connect"] = `"accept"`
	}
	for k, v := range overrides {
		keys[k] = v
	}
	var b strings.Builder
	b.WriteString(head + "\n")
	for k, v := range keys {
		if v != "" {
			fmt.Fprintf(&b, "%s = %s\n", k, v)
		}
	}
	return b.String()
}

// problemsAt returns the problems Parse reports at path (or inside it).
func problemsAt(toml, path string) ([]string, *Config) {
	cfg, _, err := Parse([]byte(toml), nil)
	var out []string
	if e, ok := err.(*Error); ok {
		for _, p := range e.Problems {
			if p.Path == path || strings.HasPrefix(p.Path, path+"[") || strings.HasPrefix(p.Path, path+".") {
				out = append(out, p.Path+": "+p.Message)
			}
		}
	} else if err != nil {
		out = append(out, err.Error())
	}
	return out, cfg
}

// field finds the configuration field at a dotted key path.
func field(cfg *Config, path string) (reflect.Value, bool) {
	if cfg == nil {
		return reflect.Value{}, false
	}
	v := reflect.ValueOf(cfg).Elem()
	for part := range strings.SplitSeq(path, ".") {
		idx := -1
		if name, i, ok := strings.Cut(part, "["); ok {
			part = name
			fmt.Sscanf(i, "%d]", &idx)
		}
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		found := false
		for i := range v.NumField() {
			if v.Type().Field(i).Tag.Get("toml") == part {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return v, false
		}
		if idx >= 0 {
			if idx >= v.Len() {
				return v, false
			}
			v = v.Index(idx)
		}
	}
	return v, true
}

var (
	literalRe  = regexp.MustCompile("^`([^`]+)`")
	choicesRe  = regexp.MustCompile("^`[^`]+`( \\| `[^`]+`)+")
	durRangeRe = regexp.MustCompile(`duration, (\d+\w*)–(\d+\w+)`)
)

func checkRow(t *testing.T, r readmeRow, key string, alternative bool) {
	_, _, prefix := base(r.table)
	path := prefix + "." + key

	// The key exists: setting it to its default (or anything) raises no
	// "unknown key".
	probe := `"x"`
	if m := literalRe.FindStringSubmatch(r.def); m != nil {
		probe = m[1]
	}
	if probs, _ := problemsAt(build(r.table, map[string]string{key: probe}), path); len(probs) > 0 && strings.Contains(strings.Join(probs, "\n"), "unknown key") {
		t.Fatalf("README documents %s, which the loader does not know: %v", path, probs)
	}

	// The default.
	omitted := build(r.table, map[string]string{key: ""})
	probs, cfg := problemsAt(omitted, path)
	switch def := r.def; {
	case def == "":
		// No default: a row says which key stands in for it.
		if !alternative {
			t.Errorf("README gives %s no default and does not say why", path)
		}
	case def == "required":
		if len(probs) == 0 {
			t.Errorf("README says %s is required, but a configuration without it has no problem there", path)
		}
	case strings.HasPrefix(def, "none"):
		if len(probs) > 0 {
			t.Fatalf("README says %s defaults to none, but leaving it out is a problem: %v", path, probs)
		}
		if v, ok := field(cfg, path); !ok || !v.IsZero() && !(v.Kind() == reflect.Slice && v.Len() == 0) {
			t.Errorf("README says %s defaults to none; Load fills in %v", path, v)
		}
	case literalRe.MatchString(def) && !strings.Contains(def, "` and `"):
		lit := literalRe.FindStringSubmatch(def)[1]
		if len(probs) > 0 {
			t.Fatalf("leaving %s out is a problem: %v", path, probs)
		}
		got, ok := field(cfg, path)
		if !ok {
			_, _, err := Parse([]byte(omitted), nil)
			t.Fatalf("no field for %s in %q (%v)", path, omitted, err)
		}
		probs2, cfg2 := problemsAt(build(r.table, map[string]string{key: lit}), path)
		if len(probs2) > 0 {
			t.Fatalf("README's default for %s, %s, is refused: %v", path, lit, probs2)
		}
		want, _ := field(cfg2, path)
		bothEmpty := got.Kind() == reflect.Slice && got.Len() == 0 && want.Len() == 0
		if !bothEmpty && !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Errorf("README says %s defaults to %s; Load fills in %v", path, lit, got)
		}
	default:
		// A default described in words: it names where the value comes from.
		if !strings.Contains(def, "server.listen") {
			t.Errorf("README's default for %s, %q, is neither a value, none nor required", path, def)
		}
	}

	// Bounds and choices.
	refused := func(v string) {
		t.Helper()
		if probs, _ := problemsAt(build(r.table, map[string]string{key: v}), path); len(probs) == 0 {
			t.Errorf("README bounds %s (%q), but %s = %s is accepted", path, r.bound, key, v)
		}
	}
	accepted := func(v string) {
		t.Helper()
		if probs, _ := problemsAt(build(r.table, map[string]string{key: v}), path); len(probs) > 0 {
			t.Errorf("README allows %s = %s (%q), but it is refused: %v", key, v, r.bound, probs)
		}
	}
	b := r.bound
	switch {
	case strings.Contains(b, "duration > 0"):
		refused(`"0"`)
		accepted(`"1s"`)
	case strings.Contains(b, "duration ≥ 0"):
		accepted(`"0"`)
		refused(`"-1s"`)
	case durRangeRe.MatchString(b):
		m := durRangeRe.FindStringSubmatch(b)
		accepted(`"` + m[1] + `"`)
		accepted(`"` + m[2] + `"`)
		refused(`"1h"`)
	case strings.Contains(b, "≥ 1"):
		refused("0")
		accepted("1")
	case strings.Contains(b, "≥ 0"):
		refused("-1")
		accepted("0")
	}
	// "`a` | `b`" in the bound column (or the meaning column of a table
	// without one) lists every value a string key takes.
	for _, col := range []string{r.bound, r.meaning} {
		m := choicesRe.FindString(col)
		if m == "" || !strings.HasPrefix(r.def, "`\"") {
			continue
		}
		for _, c := range tickRe.FindAllStringSubmatch(m, -1) {
			accepted(`"` + c[1] + `"`)
		}
		refused(`"not-a-choice"`)
		break
	}
}
