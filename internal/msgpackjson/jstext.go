package msgpackjson

// JSON text as JavaScript writes and reads it: JSON.stringify's string
// escaping, number and Date printing (used by DecodeJSON), JSON.parse's
// unescaping (used by EncodeJSON) and the WHATWG rule for invalid UTF-8 both
// follow. Kept apart from either direction because these are the rules a
// Node peer is held to, checked against JS-made vectors, not msgpack code.

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonPlainPrefix returns the length of s's leading run that JSON.stringify
// copies as is: valid UTF-8 without '"', '\\' or control characters.
func jsonPlainPrefix(s []byte) int {
	i := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return i
}

const jsonHexDigits = "0123456789abcdef"

// appendJSONEscaped appends s's characters escaped as JSON.stringify escapes
// them, replacing each maximal invalid UTF-8 subsequence by U+FFFD.
func appendJSONEscaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c >= 0x20:
				dst = append(dst, c)
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', jsonHexDigits[c>>4], jsonHexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
			i += utf8InvalidRun(s[i:])
			continue
		}
		dst = append(dst, s[i:i+size]...)
		i += size
	}
	return dst
}

// utf8InvalidRun returns the length of the maximal subpart of an ill-formed
// UTF-8 sequence at the start of s (Unicode §3.9, the WHATWG decoder's
// rule): a lead byte and the continuation bytes that could still have
// completed it. It is at least 1.
func utf8InvalidRun(s []byte) int {
	lo, hi, need := byte(0x80), byte(0xbf), 0
	switch c := s[0]; {
	case c >= 0xc2 && c <= 0xdf:
		need = 1
	case c == 0xe0:
		lo, need = 0xa0, 2
	case c == 0xed:
		hi, need = 0x9f, 2
	case c >= 0xe1 && c <= 0xef:
		need = 2
	case c == 0xf0:
		lo, need = 0x90, 3
	case c >= 0xf1 && c <= 0xf3:
		need = 3
	case c == 0xf4:
		hi, need = 0x8f, 3
	default:
		return 1
	}
	k := 1
	for ; k <= need && k < len(s); k++ {
		if s[k] < lo || s[k] > hi {
			break
		}
		lo, hi = 0x80, 0xbf
	}
	return k
}

// appendJSNumber appends f as JS prints a number (ECMAScript
// Number::toString, which encoding/json's float format also follows), or
// nonFinite for NaN and ±Inf.
func appendJSNumber(dst []byte, f float64, nonFinite string) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, nonFinite...)
	}
	if f == 0 {
		return append(dst, '0') // -0 prints 0
	}
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 -> 1e-7, as JS prints it.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendJSDate appends new Date(ms).toJSON() as JSON: the ISO string, or
// null for an Invalid Date.
func appendJSDate(dst []byte, ms float64) []byte {
	// TimeClip (ECMAScript 21.4.1.31).
	if math.IsNaN(ms) || math.Abs(ms) > 8.64e15 {
		return append(dst, "null"...)
	}
	t := time.UnixMilli(int64(math.Trunc(ms))).UTC()
	dst = append(dst, '"')
	switch y := t.Year(); {
	case y >= 0 && y <= 9999:
		dst = appendZeroPadded(dst, y, 4)
	case y < 0:
		dst = append(dst, '-')
		dst = appendZeroPadded(dst, -y, 6)
	default:
		dst = append(dst, '+')
		dst = appendZeroPadded(dst, y, 6)
	}
	dst = append(dst, '-')
	dst = appendZeroPadded(dst, int(t.Month()), 2)
	dst = append(dst, '-')
	dst = appendZeroPadded(dst, t.Day(), 2)
	dst = append(dst, 'T')
	dst = appendZeroPadded(dst, t.Hour(), 2)
	dst = append(dst, ':')
	dst = appendZeroPadded(dst, t.Minute(), 2)
	dst = append(dst, ':')
	dst = appendZeroPadded(dst, t.Second(), 2)
	dst = append(dst, '.')
	dst = appendZeroPadded(dst, t.Nanosecond()/1e6, 3)
	return append(dst, 'Z', '"')
}

// appendZeroPadded appends the non-negative v in decimal, zero-padded to width.
func appendZeroPadded(dst []byte, v, width int) []byte {
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], int64(v), 10)
	for i := len(b); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, b...)
}

// jsonUnquote appends the characters of a JSON string's body (valid JSON) to
// dst. Unpaired surrogates and invalid UTF-8 become U+FFFD.
func jsonUnquote(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				dst = append(dst, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
				i += utf8InvalidRun(raw[i:])
				continue
			}
			dst = append(dst, raw[i:i+size]...)
			i += size
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := jsonHex4(raw[i+2:])
			i += 6
			if r >= 0xd800 && r < 0xdc00 && i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
				if lo := jsonHex4(raw[i+2:]); lo >= 0xdc00 && lo < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r) // a lone surrogate appends U+FFFD
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// jsonHex4 decodes four hex digits (valid JSON guarantees them).
func jsonHex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
