// Package jsonobj edits the top level of a JSON object without decoding
// its values: the other members keep their order and bytes.
package jsonobj

import (
	"bytes"
	"encoding/json"

	"github.com/iobridge/iobridge/internal/jsonstr"
)

// Without returns b without its top-level member key (every one, when
// repeated), the other members in their order, and whether there was
// one. b is returned as it is when it is not a JSON object or has no
// such member.
func Without(b []byte, key string) ([]byte, bool) {
	t := bytes.TrimSpace(b)
	if len(t) < 2 || t[0] != '{' {
		return b, false
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return b, false
	}
	out := make([]byte, 1, len(t))
	out[0] = '{'
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return b, false
		}
		k, ok := tok.(string)
		if !ok {
			return b, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return b, false
		}
		if k == key {
			found = true
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = jsonstr.Append(out, k)
		out = append(out, ':')
		out = append(out, v...)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') || !found {
		return b, false
	}
	if _, err := dec.Token(); err == nil {
		return b, false // trailing data: not one object
	}
	return append(out, '}'), true
}

// IsEmpty reports whether b is the empty object ({}, spaces allowed).
func IsEmpty(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) >= 2 && t[0] == '{' && t[len(t)-1] == '}' && len(bytes.TrimSpace(t[1:len(t)-1])) == 0
}
