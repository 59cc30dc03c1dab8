package config

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseDuration checks that no input panics and that a parsed duration
// formats to text that parses back to the same value.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"25s", "0", "5", "-1s", "1h30m", "250ms", "", "1.5h", "9223372036854775807ns", "+5", ".5s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if !errors.Is(err, ErrDuration) {
				t.Fatalf("ParseDuration(%q) error %v does not wrap ErrDuration", s, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v, but its String %q parses to %v, %v", s, d, d.String(), back, err)
		}
	})
}

// FuzzParse checks that no TOML text panics Parse, and that its answer is
// either a Config or an *Error with at least one non-empty problem line.
func FuzzParse(f *testing.F) {
	for _, c := range invalidCases {
		f.Add(c.toml)
	}
	f.Add("[server]\nlisten = \"${X}\"\n")
	f.Add("[[namespace]]\nname = \"/\"\non_connect = \"accept\"\n[[namespace.plugin]]\nname = \"jwt\"\nsecret = \"k\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		env := func(k string) (string, bool) {
			if k == "X" {
				return "127.0.0.1:1", true
			}
			return "", false
		}
		cfg, _, err := Parse([]byte(text), env)
		if err == nil {
			if cfg == nil {
				t.Fatalf("Parse(%q) = nil, nil", text)
			}
			return
		}
		var cerr *Error
		if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
			t.Fatalf("Parse(%q) error %v is not an *Error with problems", text, err)
		}
		for _, p := range cerr.Problems {
			if strings.TrimSpace(p.String()) == "" {
				t.Fatalf("Parse(%q) has an empty problem", text)
			}
		}
	})
}
