// Package acceptenc chooses a response's content coding from a request's
// Accept-Encoding the way the Node reference does: engine.io (for its
// polling answers) and socket.io's serveClient (for the client files)
// both call accepts(req).encodings(offered), of accepts 1.3 on top of
// negotiator 0.6. Choosing by the same rule, and not by a reading of
// RFC 9110 alone, means a client gets the same Content-Encoding from
// either server, down to how ties and malformed entries come out.
package acceptenc

import (
	"math"
	"strconv"
	"strings"
)

// Negotiate returns the coding among offered that
// accepts(req).encodings(offered) returns for a request whose
// Accept-Encoding lines are values, or "" where that returns false:
// nothing offered is acceptable (without a header, nothing but identity
// is). offered is the server's list, in its order of preference; its
// names are content codings, ASCII tokens.
// It allocates nothing (but for a q too large for a float64, for which
// strconv makes its error).
//
// The rule is negotiator's, step by step:
//
//   - Node hands the header over as one string: repeated lines joined with
//     ", ", each byte one character (Latin-1), so a byte 0xA0 is white
//     space and non-ASCII bytes never match a name.
//   - The header splits at commas into entries, each counted by its
//     position even when it does not parse. An entry is a name (no white
//     space or ';' in it), optionally followed by ';' and parameters; an
//     entry with anything else after its name is skipped. The first
//     parameter named exactly "q" gives the quality, read by JavaScript's
//     parseFloat (so "0.5x" is 0.5, and "abc" or a bare "q" NaN); without
//     one it is 1.
//   - Each offered coding takes its priority from one entry: one naming it
//     (case-insensitively) before "*"; among entries equally specific the
//     highest q, then the later in the header. A NaN q compares as equal
//     to any, so a later "gzip;q=abc" overrides an earlier "gzip".
//   - A coding whose q is not above 0 is refused: q=0 (or NaN, or
//     negative) refuses it even where "*" would accept it.
//   - Among the codings left, the highest q wins; at equal q, one named
//     exactly beats one taken from "*"; then the client's order decides,
//     the coding whose entry comes earlier in the header winning, even
//     against the server's preference ("deflate, gzip" gets deflate from
//     a server preferring gzip); only codings sharing one entry, a "*",
//     fall to the server's order.
//   - Where the header names neither "identity" nor "*", identity is
//     acceptable at the lowest q the header gives (at most 1), after
//     every entry: it matters only to a server offering "identity".
//     Codings not offered play no part.
func Negotiate(values, offered []string) string {
	best := -1
	var bestP priority
	for i, coding := range offered {
		p := priorityOf(values, coding)
		if !(p.q > 0) {
			continue
		}
		// negotiator's compareSpecs, (b.q - a.q) || (b.s - a.s) ||
		// (a.o - b.o) || (a.i - b.i), with a = p and b = the best so
		// far, listed earlier: p wins only where it sorts first.
		if best < 0 || jsOr(bestP.q-p.q, float64(bestP.s-p.s), float64(p.o-bestP.o), 1) < 0 {
			best, bestP = i, p
		}
	}
	if best < 0 {
		return ""
	}
	return offered[best]
}

// priority is negotiator's priority of one offered coding: the q of the
// header entry that matched it best, how specific that entry was (1 the
// coding's name, 0 "*"), and that entry's position in the header (-1 for
// none).
type priority struct {
	q float64
	s int
	o int
}

// priorityOf is negotiator's getEncodingPriority for coding over the
// header lines values: an entry replaces the one held if it is more
// specific, else has a higher q, else comes later. It reads the header
// again for each coding rather than keep every entry, which would take
// an allocation; a header is a few dozen bytes.
//
// As negotiator's parseAcceptEncoding, a header with neither "identity"
// nor "*" in it gets one more entry, "identity" at the lowest q of the
// others (counting a q of 0 or NaN as 1, and at most 1): identity is
// acceptable unless refused, for a server that offers it.
func priorityOf(values []string, coding string) priority {
	p := priority{o: -1}
	o := 0
	minQ := 1.0
	hasIdentity := false
	for _, v := range values {
		for {
			entry, rest, more := strings.Cut(v, ",")
			if name, q, ok := parseEntry(entry); ok {
				if q != 0 && q < minQ {
					minQ = q
				}
				hasIdentity = hasIdentity || name == "*" || asciiEqualFold(name, "identity")
				s := -1
				switch {
				case asciiEqualFold(name, coding):
					s = 1
				case name == "*":
					s = 0
				}
				if s >= 0 && jsOr(float64(p.s-s), p.q-q, float64(p.o-o)) < 0 {
					p = priority{q: q, s: s, o: o}
				}
			}
			o++
			if !more {
				break
			}
			v = rest
		}
	}
	if !hasIdentity && asciiEqualFold(coding, "identity") {
		// No entry matched identity, so p is still empty.
		p = priority{q: minQ, s: 1, o: o}
	}
	return p
}

// jsOr is JavaScript's a || b || …: the first operand that is neither 0
// nor NaN, or the last one. negotiator chains its comparisons so, which
// makes a NaN q (and Infinity against Infinity) compare as equal.
func jsOr(vs ...float64) float64 {
	for _, v := range vs[:len(vs)-1] {
		if v != 0 && v == v {
			return v
		}
	}
	return vs[len(vs)-1]
}

// parseEntry parses one comma-separated entry as negotiator's
// parseEncoding, whose pattern is /^\s*([^\s;]+)\s*(?:;(.*))?$/: a name,
// then optionally ";" and parameters, of which the first named exactly
// "q" gives the quality (parseFloat of what follows its "=", up to any
// other "="; NaN without one). An entry that is empty, has anything but
// ";" after its name, or a line break among its parameters (which the
// pattern's "." does not cross) is skipped: ok false.
func parseEntry(entry string) (name string, q float64, ok bool) {
	entry = jsTrim(entry)
	n := 0
	for n < len(entry) && entry[n] != ';' && !isJSSpace(entry[n]) {
		n++
	}
	name, rest := entry[:n], jsTrimLeft(entry[n:])
	if name == "" || (rest != "" && rest[0] != ';') {
		return "", 0, false
	}
	if rest == "" {
		return name, 1, true
	}
	params := rest[1:]
	if strings.ContainsAny(params, "\r\n") {
		return "", 0, false
	}
	for {
		param, next, more := strings.Cut(params, ";")
		key, value, hasValue := strings.Cut(jsTrim(param), "=")
		if key == "q" {
			if !hasValue {
				return name, math.NaN(), true
			}
			value, _, _ = strings.Cut(value, "=")
			return name, jsParseFloat(value), true
		}
		if !more {
			return name, 1, true
		}
		params = next
	}
}

// asciiEqualFold reports whether name is coding under JavaScript's
// toLowerCase on both, name being Latin-1 and coding ASCII: no byte
// outside ASCII lowers to an ASCII letter, so only ASCII letters fold
// (strings.EqualFold would also match U+017F, the long s, to "s", and
// U+212A, the Kelvin sign, to "k").
func asciiEqualFold(name, coding string) bool {
	if len(name) != len(coding) {
		return false
	}
	for i := 0; i < len(name); i++ {
		a, b := name[i], coding[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// isJSSpace reports whether the Latin-1 character c is white space to
// JavaScript's trim, \s and parseFloat: of the Unicode white space and
// line terminators they skip, these are the ones below 0x100.
func isJSSpace(c byte) bool {
	switch c {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0:
		return true
	}
	return false
}

// jsTrimLeft drops the white space isJSSpace names from the start of s.
func jsTrimLeft(s string) string {
	for s != "" && isJSSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// jsTrim is JavaScript's String.prototype.trim on a Latin-1 string.
func jsTrim(s string) string {
	s = jsTrimLeft(s)
	for s != "" && isJSSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// jsParseFloat is JavaScript's parseFloat: the longest decimal literal
// (or Infinity) at the start of s after white space, NaN when there is
// none. A q of "0.5;" or "1abc" counts as negotiator counts it.
func jsParseFloat(s string) float64 {
	s = jsTrimLeft(s)
	sign := ""
	body := s
	if body != "" && (body[0] == '+' || body[0] == '-') {
		sign, body = body[:1], body[1:]
	}
	if strings.HasPrefix(body, "Infinity") {
		if sign == "-" {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	n := 0
	digits := 0
	for n < len(body) && body[n] >= '0' && body[n] <= '9' {
		n++
		digits++
	}
	if n < len(body) && body[n] == '.' {
		n++
		for n < len(body) && body[n] >= '0' && body[n] <= '9' {
			n++
			digits++
		}
	}
	if digits == 0 {
		return math.NaN()
	}
	if n < len(body) && (body[n] == 'e' || body[n] == 'E') {
		e := n + 1
		if e < len(body) && (body[e] == '+' || body[e] == '-') {
			e++
		}
		if e < len(body) && body[e] >= '0' && body[e] <= '9' {
			for e < len(body) && body[e] >= '0' && body[e] <= '9' {
				e++
			}
			n = e
		}
	}
	// The prefix is a valid literal; only its range can fail, and
	// ParseFloat then returns ±Inf as JavaScript does (after making its
	// error, the one allocation here).
	f, _ := strconv.ParseFloat(body[:n], 64)
	if sign == "-" {
		f = -f
	}
	return f
}
