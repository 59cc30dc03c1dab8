package webhook

import (
	"bufio"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// headSeeds are answers for both fuzz targets; testdata/fuzz holds more.
var headSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n",
	"HTTP/1.1 503 Busy\r\nRetry-After: 3\r\n\r\n",
	"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
	"HTTP/1.1 200\r\nX: a\r\n b\r\n\r\n",
	"HTTP/1.1 200 OK\nContent-Length: 1\nContent-Length: 1\n\n",
}

// FuzzReadHead: any bytes give a head or an error, never a panic, and a
// head read keeps its promises.
func FuzzReadHead(f *testing.F) {
	for _, s := range headSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var h head
		err := readHead(bufio.NewReaderSize(strings.NewReader(s), 16), &h, nil)
		if err != nil {
			return
		}
		if h.status < 100 || h.status > 999 {
			t.Fatalf("status %d", h.status)
		}
		if h.chunked && h.length != -1 || h.length < -1 {
			t.Fatalf("chunked %v length %d", h.chunked, h.length)
		}
		if h.length == -1 && !h.chunked && h.keepAlive {
			t.Fatal("a body up to the connection's end, and the connection kept")
		}
	})
}

// FuzzReadHeadDifferential holds readHead to http.ReadResponse: on any
// bytes both accept or both reject, and an accepted head has the same
// status, framing (length, chunked, connection kept), header values and
// the fields the Client reads (Content-Type, Retry-After as Header.Get).
// The classes of input where readHead is stricter on purpose (see head.go)
// are left out by deliberate.
func FuzzReadHeadDifferential(f *testing.F) {
	for _, s := range headSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var h head
		hdr := http.Header{}
		// A 16-byte buffer: lines and folds cross its end.
		err := readHead(bufio.NewReaderSize(strings.NewReader(s), 16), &h, hdr)
		resp, werr := http.ReadResponse(bufio.NewReader(strings.NewReader(s)), &http.Request{Method: http.MethodPost})
		if deliberate(s, err) {
			return
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("readHead(%q) error %v, http.ReadResponse error %v", s, err, werr)
		}
		if err != nil {
			return
		}
		if h.status != resp.StatusCode || h.statusText != resp.Status || h.proto != resp.Proto {
			t.Errorf("status %d %q %q, want %d %q %q", h.status, h.statusText, h.proto, resp.StatusCode, resp.Status, resp.Proto)
		}
		goChunked := len(resp.TransferEncoding) > 0 && resp.Body != http.NoBody
		if h.length != resp.ContentLength || h.chunked != goChunked || h.keepAlive == resp.Close {
			t.Errorf("length %d chunked %v keepAlive %v, want %d %v %v", h.length, h.chunked, h.keepAlive, resp.ContentLength, goChunked, !resp.Close)
		}
		if h.contentType != resp.Header.Get("Content-Type") || h.retryAfter != resp.Header.Get("Retry-After") {
			t.Errorf("Content-Type %q Retry-After %q, want %q %q", h.contentType, h.retryAfter, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"))
		}
		if !maps.EqualFunc(hdr, resp.Header, slices.Equal) {
			t.Errorf("header %q, want %q", hdr, resp.Header)
		}
	})
}

// deliberate reports whether s is in a class of input readHead rejects on
// purpose and http.ReadResponse may accept (see head.go): a head over
// maxHeadBytes, a version other than HTTP/1.x, a status code that is not
// three digits from 100 up, a field name with a space.
func deliberate(s string, err error) bool {
	if errors.Is(err, errHeadTooLarge) {
		return true
	}
	lines := strings.Split(s, "\n")
	line := strings.TrimSuffix(lines[0], "\r")
	if len(lines) == 1 {
		return false // no line ending: both reject
	}
	proto, status, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(strings.TrimLeft(status, " "), " ")
	major, _, okProto := http.ParseHTTPVersion(proto)
	n, aerr := strconv.Atoi(code)
	if okProto && len(code) == 3 && aerr == nil && n >= 0 &&
		(major != 1 || !strings.HasPrefix(proto, "HTTP/1.") || code[0] < '1' || code[0] > '9' || strings.Trim(code, "0123456789") != "") {
		return true
	}
	for _, l := range lines[1:] {
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			continue
		}
		if name, _, ok := strings.Cut(l, ":"); ok && strings.Contains(name, " ") {
			return true
		}
	}
	return false
}
