package webhook

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/textproto"

	"golang.org/x/net/http/httpguts"
)

// The answer parser: readHead reads an answer's status line and header
// section (RFC 9112) for both entries into a connection (the Client's
// direct route and Transport.RoundTrip). FuzzReadHeadDifferential holds it
// to http.ReadResponse: it accepts and rejects what ReadResponse does, and
// reads the same status, framing and header values, except in these
// deliberate differences, each stricter than ReadResponse:
//
//   - the version is HTTP/1.x (ReadResponse takes any HTTP/d.d);
//   - the status code is three digits from 100 up (ReadResponse takes
//     "000" and "+12");
//   - a field name holding a space is an error (ReadResponse keeps it, not
//     canonicalized, go.dev/issue/34540; RFC 9112 section 5.1 rejects it);
//   - the head (status line, fields, folds) is at most maxHeadBytes
//     (ReadResponse has no bound; net/http's Transport bounds it with
//     MaxResponseHeaderBytes around it).

// maxHeadBytes bounds an answer's head (status line and headers), and
// separately a chunked body's trailer.
const maxHeadBytes = 1 << 20

var (
	errHeadTooLarge = fmt.Errorf("answer head over %d bytes", maxHeadBytes)
	errStatusLine   = errors.New("malformed HTTP status line")
)

// head holds the fields of an answer's head the Client uses.
type head struct {
	status      int
	length      int64 // the body's length; -1: chunked or until the end
	chunked     bool
	keepAlive   bool // the connection may carry another request
	contentType string
	retryAfter  string

	// Set only when readHead collects the header (Transport.RoundTrip).
	proto      string // "HTTP/1.1"
	statusText string // "200 OK", as http.Response.Status
}

// readHead reads a status line and its header section (RFC 9112), keeping
// the fields of h. When hdr is not nil, every field is also added to it
// and the header left as http.ReadResponse leaves Response.Header (see
// fixHeader). Fields not kept are checked for form and skipped.
//
// An obs-fold (a line starting with a space or tab continues the field
// before it) is replaced with one space, as RFC 9112 section 5.2 asks of
// a user agent, and the field read as one: "X: a\r\n  b" is "a b".
func readHead(br *bufio.Reader, h *head, hdr http.Header) error {
	*h = head{length: -1}
	budget := maxHeadBytes
	line, err := readLine(br, &budget)
	if err != nil {
		return err
	}
	// HTTP/1.x SP+ SSS[ reason]
	if len(line) < 9 || string(line[:7]) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' {
		return fmt.Errorf("%w %q", errStatusLine, clip(line))
	}
	http11 := line[7] >= '1'
	st := 9
	for st < len(line) && line[st] == ' ' {
		st++
	}
	code := line[st:]
	if len(code) < 3 || (len(code) > 3 && code[3] != ' ') || code[0] < '1' || code[0] > '9' {
		return fmt.Errorf("%w %q", errStatusLine, clip(line))
	}
	for _, c := range code[:3] {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w %q", errStatusLine, clip(line))
		}
		h.status = h.status*10 + int(c-'0')
	}
	if hdr != nil {
		ls := string(line) // one string for both
		h.proto, h.statusText = ls[:8], ls[st:]
	}
	if b, err := br.Peek(1); err == nil && (b[0] == ' ' || b[0] == '\t') {
		line, _ = readLine(br, &budget)
		return fmt.Errorf("malformed header line %q: a field section cannot start with white space", clip(line))
	}
	var (
		te, teSeen, connClose, connKeepAlive, badTrailer bool
		ctSeen, raSeen                                   bool
		clBuf                                            [20]byte
		clFirst                                          []byte // the first Content-Length
		fold                                             []byte
		vals                                             []string // backs hdr's one-value fields
	)
	for {
		line, err = readLine(br, &budget)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return fmt.Errorf("malformed header line %q", clip(line))
		}
		if line, err = unfold(br, line, &budget, &fold); err != nil {
			return err
		}
		name, value := line[:i], line[i+1:]
		for _, c := range name {
			if !httpguts.IsTokenRune(rune(c)) {
				return fmt.Errorf("malformed header line %q", clip(line))
			}
		}
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return fmt.Errorf("malformed header line %q", clip(line))
			}
		}
		value = trimLeftOWS(value)
		if hdr != nil {
			addField(hdr, &vals, name, value)
		}
		switch {
		case headerIs(name, "Content-Length"):
			// As net/http: every Content-Length field the same text.
			if clFirst != nil && string(clFirst) != string(value) {
				return fmt.Errorf("invalid Content-Length %q: conflicting lengths", clip(value))
			}
			n, ok := parseLength(value)
			if !ok {
				return fmt.Errorf("invalid Content-Length %q", clip(value))
			}
			h.length, clFirst = n, append(clBuf[:0], value...)
		case headerIs(name, "Content-Type"):
			if ctSeen {
				continue // the first one counts, as Header.Get
			}
			ctSeen = true
			if string(value) == "application/json" {
				h.contentType = "application/json"
			} else {
				h.contentType = string(value)
			}
		case headerIs(name, "Transfer-Encoding"):
			if !http11 {
				continue // as net/http: HTTP/1.0 has none
			}
			if teSeen || !equalFoldASCII(value, "chunked") {
				return fmt.Errorf("unsupported transfer encoding %q", clip(value))
			}
			te, teSeen = true, true
		case headerIs(name, "Connection"):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = trimOWS(tok)
				connClose = connClose || equalFoldASCII(tok, "close")
				connKeepAlive = connKeepAlive || equalFoldASCII(tok, "keep-alive")
			}
		case headerIs(name, "Retry-After"):
			if !raSeen {
				raSeen = true
				h.retryAfter = string(value)
			}
		case headerIs(name, "Trailer"):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = trimOWS(tok)
				badTrailer = badTrailer || equalFoldASCII(tok, "Content-Length") ||
					equalFoldASCII(tok, "Transfer-Encoding") || equalFoldASCII(tok, "Trailer")
			}
		}
	}
	if te && badTrailer {
		// As net/http: framing fields cannot be announced as trailers.
		return errors.New("invalid Trailer: names a framing field")
	}
	h.keepAlive = !connClose && (http11 || connKeepAlive)
	switch {
	case h.status < 200 || h.status == http.StatusNoContent || h.status == http.StatusNotModified:
		h.length = 0
	case te:
		h.chunked, h.length = true, -1
	case h.length < 0:
		h.keepAlive = false // the body ends with the connection
	}
	if hdr != nil {
		fixHeader(hdr, h, te, http11 && connClose)
	}
	return nil
}

// unfold returns the field line, trimmed, together with its obs-fold
// continuation lines, if any (RFC 9112 section 5.2): for each, one space
// and the line trimmed. That is what net/textproto makes of it (a
// continuation of white space only leaves the space). A field with a
// continuation is built in *scratch.
func unfold(br *bufio.Reader, line []byte, budget *int, scratch *[]byte) ([]byte, error) {
	if br.Buffered() == 0 {
		// Peek would refill the buffer line points into.
		*scratch = append((*scratch)[:0], line...)
		line = *scratch
	}
	if b, err := br.Peek(1); err != nil || (b[0] != ' ' && b[0] != '\t') {
		return trimOWS(line), nil
	}
	f := append((*scratch)[:0], trimOWS(line)...) // line may alias *scratch: append moves
	for {
		n := 0
		for {
			b, err := br.Peek(1)
			if err != nil || (b[0] != ' ' && b[0] != '\t') {
				break
			}
			br.Discard(1)
			n++
		}
		if n == 0 {
			break
		}
		if *budget -= n; *budget < 0 {
			return nil, errHeadTooLarge
		}
		f = append(f, ' ')
		l, err := readLine(br, budget)
		if err != nil {
			if errors.Is(err, errHeadTooLarge) {
				return nil, err
			}
			break // the next read meets the error again
		}
		f = append(f, trimOWS(l)...)
	}
	*scratch = f
	return f, nil
}

// commonKeys are field names an answer usually has, in canonical form:
// adding one to a header costs no string for its name.
var commonKeys = []string{
	"Content-Type", "Content-Length", "Date", "Connection", "Keep-Alive",
	"Transfer-Encoding", "Retry-After", "Server", "Cache-Control", "Vary",
	"Traceparent", "Tracestate",
}

// addField adds the field name: value to hdr, its name in canonical form
// (as net/textproto). A field seen once takes its value slice from *vals,
// grown for several at once, as net/textproto does.
func addField(hdr http.Header, vals *[]string, name, value []byte) {
	k := ""
	for _, c := range commonKeys {
		if headerIs(name, c) {
			k = c
			break
		}
	}
	if k == "" {
		k = textproto.CanonicalMIMEHeaderKey(string(name))
	}
	v := string(value)
	if vv, ok := hdr[k]; ok {
		hdr[k] = append(vv, v)
		return
	}
	if len(*vals) == cap(*vals) {
		*vals = make([]string, 0, 8)
	}
	*vals = append(*vals, v)
	n := len(*vals)
	hdr[k] = (*vals)[n-1 : n : n]
}

// fixHeader edits a collected header as http.ReadResponse does, so that
// Transport.RoundTrip answers what net/http would: Transfer-Encoding
// removed (Response.TransferEncoding says it), repeated Content-Length
// fields made one and removed from a chunked answer with a body,
// Connection removed when it closes an HTTP/1.1 connection (Response.Close
// says it), Trailer removed from a chunked answer, and Pragma: no-cache
// implying Cache-Control: no-cache.
func fixHeader(hdr http.Header, h *head, te, close11 bool) {
	delete(hdr, "Transfer-Encoding")
	if cl := hdr["Content-Length"]; len(cl) > 1 {
		hdr["Content-Length"] = cl[:1]
	}
	if h.chunked {
		delete(hdr, "Content-Length")
	}
	if close11 {
		delete(hdr, "Connection")
	}
	if te {
		delete(hdr, "Trailer")
	}
	if p := hdr["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := hdr["Cache-Control"]; !ok {
			hdr["Cache-Control"] = []string{"no-cache"}
		}
	}
}

// trimOWS trims spaces and tabs at both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// trimLeftOWS trims spaces and tabs at the start of b.
func trimLeftOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// equalFoldASCII reports whether b is want, ASCII letters in any case.
// Unlike bytes.EqualFold it folds no other runes: "cloſe" is not "close".
func equalFoldASCII(b []byte, want string) bool {
	if len(b) != len(want) {
		return false
	}
	for i, c := range b {
		w := want[i]
		if c|0x20 >= 'a' && c|0x20 <= 'z' {
			c |= 0x20
			w |= 0x20
		}
		if c != w {
			return false
		}
	}
	return true
}

// headerIs reports whether name is want, in any case.
func headerIs(name []byte, want string) bool {
	return equalFoldASCII(name, want)
}

// parseLength parses a Content-Length: digits only, at most
// math.MaxInt64 (as strconv.ParseUint(v, 10, 63)).
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// readLine reads one line without its line ending, charging budget.
// Lines longer than br's buffer are gathered in a slice of their own.
func readLine(br *bufio.Reader, budget *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			if len(long) > *budget {
				return nil, errHeadTooLarge
			}
			line, err = br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if *budget -= len(line); *budget < 0 {
		return nil, errHeadTooLarge
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// skipTrailer reads a chunked body's trailer section, up to its empty
// line.
func skipTrailer(br *bufio.Reader) error {
	budget := maxHeadBytes
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return fmt.Errorf("webhook: read trailer: %w", err)
		}
		if len(line) == 0 {
			return nil
		}
	}
}

// clip shortens b for an error message.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
