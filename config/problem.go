package config

import (
	"errors"
	"strings"
)

// ErrInvalid is wrapped by the *Error that Load and Parse return for a
// configuration with problems: errors.Is(err, config.ErrInvalid).
var ErrInvalid = errors.New("config: invalid configuration")

// Problem is one thing wrong (or, as a warning, doubtful) in a
// configuration.
type Problem struct {
	// Path is the key path, as "server.ping_interval" or
	// "namespace[2].plugin[0].burst" (blocks count from 0). It is empty
	// for a problem with the file as a whole (a TOML syntax error).
	Path string
	// Message says what is wrong and, where it can, what to write instead.
	// It never holds the value of a secret or of an environment variable.
	Message string
}

// String formats the problem as one line, "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Error is every problem found in one configuration. Its message has one
// line per problem.
type Error struct {
	// File is the file the configuration came from; empty for Parse.
	File     string
	Problems []Problem
}

// Error returns the problems, one per line.
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }
