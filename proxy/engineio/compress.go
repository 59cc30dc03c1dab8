package engineio

import (
	"compress/gzip"
	"compress/zlib"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// defaultCompressionThreshold is the reference's httpCompression.threshold
// and, as engine.io passes it to ws, its perMessageDeflate.threshold.
const defaultCompressionThreshold = 1024

// contentEncoding is a polling answer's Content-Encoding.
type contentEncoding uint8

const (
	encodingIdentity contentEncoding = iota
	encodingGzip
	encodingDeflate
)

// String returns the encoding's name in Content-Encoding.
func (e contentEncoding) String() string {
	switch e {
	case encodingGzip:
		return "gzip"
	case encodingDeflate:
		return "deflate"
	}
	return "identity"
}

// compressible reports whether the reference would compress an answer
// made of packets: it compresses those holding a packet sent through its
// socket (open, message, ping), whose compress option defaults to true,
// and not an answer of only the noop or close packets its transport
// writes directly, with no options.
func compressible(packets []Packet) bool {
	for i := range packets {
		if t := packets[i].Type; t != PacketNoop && t != PacketClose {
			return true
		}
	}
	return false
}

// acceptedEncoding chooses the Content-Encoding of a compressed answer to
// a request with headers h: gzip, deflate, or identity when the client
// accepts neither. It decides as the reference does,
// accepts(req).encodings(["gzip", "deflate"]) with negotiator 0.6, so
// that the same client gets the same encoding from either server: each
// name takes the q of the entry naming it exactly, else of "*" (the
// highest q among several); the highest q wins; at equal q an exact name
// beats "*", then the entry earlier in the header, then gzip; q=0 (or a q
// that is not a number) refuses. Several Accept-Encoding lines count as
// one joined with commas, as Node joins them. It allocates nothing.
func acceptedEncoding(h http.Header) contentEncoding {
	values := h["Accept-Encoding"]
	if len(values) == 0 {
		return encodingIdentity
	}
	gz := encodingPriority{o: -1}
	df := encodingPriority{o: -1}
	i := 0
	for _, v := range values {
		for {
			entry, rest, more := strings.Cut(v, ",")
			if name, q, ok := parseEncodingEntry(entry); ok {
				gz.consider(name, "gzip", q, i)
				df.consider(name, "deflate", q, i)
			}
			i++
			if !more {
				break
			}
			v = rest
		}
	}
	gzOK, dfOK := gz.q > 0, df.q > 0
	switch {
	case gzOK && dfOK:
		// Sorted by negotiator's compareSpecs; gzip, listed first, stays
		// first on a tie.
		if jsOr(gz.q-df.q, float64(gz.s-df.s), float64(df.o-gz.o), 1) < 0 {
			return encodingDeflate
		}
		return encodingGzip
	case gzOK:
		return encodingGzip
	case dfOK:
		return encodingDeflate
	}
	return encodingIdentity
}

// encodingPriority is negotiator's priority of one offered encoding: the
// q of the header entry that matched it best, how specific that entry was
// (1 exact, 0 "*"), and that entry's index in the header.
type encodingPriority struct {
	q float64
	s int
	o int
}

// consider takes the header entry name;q=q at index i into p, the
// priority of encoding, as negotiator's getEncodingPriority: an entry
// replaces the one held if it is more specific, else has a higher q, else
// comes later.
func (p *encodingPriority) consider(name, encoding string, q float64, i int) {
	s := 0
	switch {
	case strings.EqualFold(name, encoding):
		s = 1
	case name != "*":
		return
	}
	if jsOr(float64(p.s-s), p.q-q, float64(p.o-i)) < 0 {
		*p = encodingPriority{q: q, s: s, o: i}
	}
}

// jsOr is JavaScript's a || b || …: the first operand that is neither 0
// nor NaN, or the last one. negotiator chains its comparisons so, which
// makes a NaN q compare as equal.
func jsOr(vs ...float64) float64 {
	for _, v := range vs[:len(vs)-1] {
		if v != 0 && v == v {
			return v
		}
	}
	return vs[len(vs)-1]
}

// parseEncodingEntry parses one comma-separated entry of Accept-Encoding
// as negotiator's parseEncoding: a name, then optionally ";" and
// parameters, of which the first named exactly "q" gives the quality
// (parseFloat of what follows its "=", NaN without one). An entry that is
// empty or has anything but ";" after its name is skipped (ok false).
func parseEncodingEntry(entry string) (name string, q float64, ok bool) {
	entry = jsTrim(entry)
	end := strings.IndexFunc(entry, func(r rune) bool { return r == ';' || isJSSpace(r) })
	if end < 0 {
		end = len(entry)
	}
	name, rest := entry[:end], strings.TrimLeftFunc(entry[end:], isJSSpace)
	if name == "" || (rest != "" && rest[0] != ';') {
		return "", 0, false
	}
	if rest == "" {
		return name, 1, true
	}
	params := rest[1:]
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

// isJSSpace reports whether r is white space to JavaScript's trim, \s and
// parseFloat.
func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// jsTrim is JavaScript's String.prototype.trim.
func jsTrim(s string) string {
	return strings.TrimFunc(s, isJSSpace)
}

// jsParseFloat is JavaScript's parseFloat: the number at the start of s
// (after white space), NaN when there is none. A q of "0.5;" or "1abc"
// counts as negotiator counts it.
func jsParseFloat(s string) float64 {
	s = strings.TrimLeftFunc(s, isJSSpace)
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
	// ParseFloat then returns ±Inf or 0 as JavaScript does.
	f, _ := strconv.ParseFloat(s[len(sign):len(sign)+n], 64)
	if sign == "-" {
		f = -f
	}
	return f
}

// compressor compresses polling answers into out. Compressors are pooled
// per encoding: a flate compressor is most of a megabyte of tables, too
// much to make per answer.
type compressor struct {
	out []byte
	gz  *gzip.Writer
	zl  *zlib.Writer
}

// Write appends p to out: the compressed stream's destination.
func (c *compressor) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	return len(p), nil
}

// compressionLevel is BestSpeed, where the reference uses zlib's default
// (6): on a 5 KB Socket.IO answer Go's level 6 takes over twice the CPU
// of level 1 for an answer some 6% smaller, and the level is not
// something a client can tell. gorilla's permessage-deflate uses level 1
// too.
const compressionLevel = gzip.BestSpeed

var (
	gzipPool = sync.Pool{New: func() any {
		c := &compressor{}
		c.gz, _ = gzip.NewWriterLevel(c, compressionLevel)
		return c
	}}
	deflatePool = sync.Pool{New: func() any {
		c := &compressor{}
		c.zl, _ = zlib.NewWriterLevel(c, compressionLevel)
		return c
	}}
)

// compressPayload compresses payload with enc (gzip or deflate). The
// result stays valid until putCompressor(c).
func compressPayload(enc contentEncoding, payload []byte) (c *compressor, body []byte) {
	if enc == encodingGzip {
		c = gzipPool.Get().(*compressor)
		c.out = c.out[:0]
		c.gz.Reset(c)
		_, _ = c.gz.Write(payload)
		_ = c.gz.Close()
	} else {
		// "deflate" in HTTP is the zlib format (RFC 1950), which the
		// reference's zlib.createDeflate writes, not raw DEFLATE.
		c = deflatePool.Get().(*compressor)
		c.out = c.out[:0]
		c.zl.Reset(c)
		_, _ = c.zl.Write(payload)
		_ = c.zl.Close()
	}
	return c, c.out
}

// putCompressor returns c to its pool, keeping its output buffer unless it
// grew past maxPooledFrame.
func putCompressor(c *compressor) {
	if cap(c.out) > maxPooledFrame {
		c.out = nil
	}
	if c.gz != nil {
		gzipPool.Put(c)
	} else {
		deflatePool.Put(c)
	}
}

// compressionThreshold is a configured threshold, zero meaning the
// reference's default.
func compressionThreshold(n int) int {
	if n <= 0 {
		return defaultCompressionThreshold
	}
	return n
}

// compressAnswer compresses a polling answer's payload when the server
// compresses answers (Config.HTTPCompression), the payload is at least the
// threshold, the reference would compress its packets and the client
// accepts gzip or deflate; it then sets Content-Encoding in h. It returns
// the body to send and the compressor holding it, for putCompressor once
// the body is written, or payload itself and nil. With compression off it
// costs a branch.
func (s *Server) compressAnswer(h http.Header, r *http.Request, payload []byte, packets []Packet) ([]byte, *compressor) {
	if !s.cfg.HTTPCompression || len(payload) < compressionThreshold(s.cfg.HTTPCompressionThreshold) || !compressible(packets) {
		return payload, nil
	}
	enc := acceptedEncoding(r.Header)
	if enc == encodingIdentity {
		return payload, nil
	}
	c, body := compressPayload(enc, payload)
	// As the reference: no Vary (answers are Cache-Control: no-store).
	// Unlike it, Content-Length: the body is whole here, where the
	// reference streams it chunked.
	h.Set("Content-Encoding", enc.String())
	return body, c
}
