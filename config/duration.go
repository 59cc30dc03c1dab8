package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrDuration is wrapped by every error ParseDuration returns.
var ErrDuration = errors.New("config: invalid duration")

// maxDurationLen caps the text ParseDuration looks at, so a hostile file
// cannot make it scan megabytes. "1h59m59.999999999s" is 18 characters.
const maxDurationLen = 64

// Duration is a configuration duration, written as a string: "25s", "2m",
// "1h30m", "250ms", or "0". A bare number ("5", or 5 unquoted) is refused
// with a message that shows the unit to add: a unitless timeout is the
// usual mistake, and guessing seconds or milliseconds would hide it.
// Negative durations are refused too: no setting has a use for them.
type Duration time.Duration

// ParseDuration parses s as Duration.UnmarshalText does. Its errors wrap
// ErrDuration.
func ParseDuration(s string) (Duration, error) {
	d, msg := parseDuration(s)
	if msg != "" {
		return 0, fmt.Errorf("%w: %s", ErrDuration, msg)
	}
	return d, nil
}

// parseDuration returns the duration, or a message for the user that
// quotes s (cut to maxDurationLen).
func parseDuration(s string) (Duration, string) {
	if len(s) > maxDurationLen {
		return 0, fmt.Sprintf("%d characters is too long for a duration", len(s))
	}
	switch {
	case s == "":
		return 0, `empty, write a duration such as "5s", or "0"`
	case s == "0":
		return 0, ""
	case strings.HasPrefix(s, "-"):
		return 0, fmt.Sprintf("%q is negative, write a duration such as \"5s\", or \"0\"", s)
	case isNumber(s):
		return 0, fmt.Sprintf("%q is not a duration, write \"%ss\"", s, strings.TrimPrefix(s, "+"))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Sprintf("%q is not a duration (examples: \"25s\", \"2m\", \"1h30m\", \"250ms\")", s)
	}
	if d < 0 {
		return 0, fmt.Sprintf("%q is negative, write a duration such as \"5s\", or \"0\"", s)
	}
	return Duration(d), ""
}

// isNumber reports whether s is a plain decimal number, such as "5",
// "-3" or "2.5": a duration that lacks its unit.
func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && c != '.' && c != '-' && c != '+' {
			return false // "Inf", "NaN", "1e3": not what a user means as seconds
		}
	}
	return true
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText implements encoding.TextMarshaler; the text parses back to
// the same Duration.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// String formats d as time.Duration does, except that zero is "0".
func (d Duration) String() string {
	if d == 0 {
		return "0"
	}
	return time.Duration(d).String()
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
