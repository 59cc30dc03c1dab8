// Package jsonstr writes Go strings as JSON strings, byte for byte as
// encoding/json does with HTML escaping off (json.Encoder.SetEscapeHTML(false)):
// the one escaper behind every JSON iobridge writes by hand (webhook
// envelopes, bridge frames, Socket.IO packets, Redis adapter messages).
//
// The rules, held to encoding/json by a differential test and fuzz test:
// '"' and '\\' are escaped with a backslash; \b, \f, \n, \r and \t as
// such; other control characters as \u00XX; U+2028 and U+2029 as \u2028
// and \u2029 (JavaScript source may not hold them raw); each invalid UTF-8
// byte as \ufffd. Everything else, '<', '>', '&' and DEL included, is
// copied as is. HTML escaping is left out on purpose: no output goes into
// an HTML page, and a Node peer's JSON.stringify does not escape them
// either.
package jsonstr

import "unicode/utf8"

const hex = "0123456789abcdef"

// plain marks the ASCII bytes copied as they are.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Append appends s to dst as a quoted JSON string and returns the extended
// slice. It allocates only to grow dst.
func Append(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
