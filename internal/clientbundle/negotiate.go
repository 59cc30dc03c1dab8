package clientbundle

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// offered are the encodings the reference offers for the client files, in
// its order of preference among equals.
var offered = [...]string{"br", "gzip", "deflate"}

// acceptSpec is one entry of an Accept-Encoding header.
type acceptSpec struct {
	encoding string
	q        float64
	i        int // position in the header
}

// encodingRE is the negotiator package's pattern for one entry.
var encodingRE = regexp.MustCompile(`^\s*([^\s;]+)\s*(?:;(.*))?$`)

// negotiate picks the content coding for a request's Accept-Encoding
// values, as the reference does (the `accepts` package, backed by
// `negotiator` 0.6): among br, gzip and deflate, the one with the highest
// q; on a tie the more specific match (the name over "*"), then the one
// listed first in the header, then br before gzip before deflate. "" means
// no compression: nothing accepted, or only with q=0.
func negotiate(header []string) string {
	accepts := parseAcceptEncoding(strings.Join(header, ", "))
	// priority is the negotiator's: the matching entry's position in the
	// header (o), its q, and its specificity (s: 1 for the name, 0 for
	// "*"); i is the position in offered.
	type priority struct {
		o, s, i int
		q       float64
	}
	var ok []priority
	for i, enc := range offered {
		p := priority{o: -1, i: i}
		for _, a := range accepts {
			s := 0
			switch {
			case strings.EqualFold(a.encoding, enc):
				s = 1
			case a.encoding != "*":
				continue
			}
			// JavaScript's (p.s - s || p.q - q || p.o - o) < 0, where
			// a difference of 0 or NaN falls through to the next.
			d := float64(p.s - s)
			if d == 0 {
				d = p.q - a.q
			}
			if d == 0 || math.IsNaN(d) {
				d = float64(p.o - a.i)
			}
			if d < 0 {
				p = priority{o: a.i, s: s, i: i, q: a.q}
			}
		}
		if p.q > 0 {
			ok = append(ok, p)
		}
	}
	if len(ok) == 0 {
		return ""
	}
	sort.SliceStable(ok, func(a, b int) bool {
		x, y := ok[a], ok[b]
		if x.q != y.q {
			return x.q > y.q
		}
		if x.s != y.s {
			return x.s > y.s
		}
		if x.o != y.o {
			return x.o < y.o
		}
		return x.i < y.i
	})
	return offered[ok[0].i]
}

// parseAcceptEncoding splits an Accept-Encoding header as the negotiator
// does: entries that do not parse are skipped, and q is read as
// JavaScript's parseFloat reads it (a leading number, NaN otherwise).
func parseAcceptEncoding(h string) []acceptSpec {
	var out []acceptSpec
	for i, part := range strings.Split(h, ",") {
		m := encodingRE.FindStringSubmatch(strings.TrimSpace(part))
		if m == nil {
			continue
		}
		q := 1.0
		if m[2] != "" {
			for _, param := range strings.Split(m[2], ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
				if k == "q" {
					q = parseFloat(v)
					break
				}
			}
		}
		out = append(out, acceptSpec{encoding: m[1], q: q, i: i})
	}
	return out
}

// floatPrefixRE is the longest prefix JavaScript's parseFloat reads.
var floatPrefixRE = regexp.MustCompile(`^[+-]?(Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)`)

// parseFloat reads s as JavaScript's parseFloat: leading white space
// skipped, then the longest number; NaN when there is none.
func parseFloat(s string) float64 {
	m := floatPrefixRE.FindString(strings.TrimLeft(s, " \t\n\r\v\f"))
	if m == "" {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(strings.Replace(m, "Infinity", "Inf", 1), 64)
	if err != nil {
		return math.NaN()
	}
	return f
}
