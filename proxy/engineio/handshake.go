package engineio

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"
)

// Request returns the handshake request: method, headers, URL, Host,
// RemoteAddr, RequestURI and TLS state, with an empty body and a context
// detached from the connection. Each call builds a new Request and Header
// map from what the session kept (see handshake), so callers that need it
// often should keep the result.
func (s *Session) Request() *http.Request { return s.hs.request() }

// handshake is what a session keeps of its handshake request. The request
// itself, its context and its header map would cost every idle session
// well over a kilobyte; the headers are packed into one string instead
// ("Key:value\n" per value, the values of a key in order), from which
// request rebuilds the map.
type handshake struct {
	packed     string      // the headers, packed
	header     http.Header // the headers, when they cannot be packed
	proto      string
	host       string
	remoteAddr string
	requestURI string
	tls        *tls.ConnectionState
}

func newHandshake(r *http.Request) handshake {
	h := handshake{
		proto:      r.Proto,
		host:       r.Host,
		remoteAddr: r.RemoteAddr,
		requestURI: r.RequestURI,
		tls:        r.TLS,
	}
	var ok bool
	if h.packed, ok = packHeader(r.Header); !ok {
		h.header = r.Header.Clone()
	}
	if h.requestURI == "" && r.URL != nil {
		h.requestURI = r.URL.RequestURI()
	}
	if h.proto == "" {
		h.proto = "HTTP/1.1"
	}
	return h
}

func (h *handshake) request() *http.Request {
	u, err := url.ParseRequestURI(h.requestURI)
	if err != nil {
		u = &url.URL{}
	}
	header := h.header
	if header == nil {
		header = unpackHeader(h.packed)
	} else {
		header = header.Clone()
	}
	return &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      h.proto,
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		Body:       http.NoBody,
		Host:       h.host,
		RemoteAddr: h.remoteAddr,
		RequestURI: h.requestURI,
		TLS:        h.tls,
	}
}

// packHeader packs h in one string; false if a key holds ':' or '\n' or a
// value '\n' (never the case for a header read by net/http).
func packHeader(h http.Header) (string, bool) {
	n := 0
	for k, vs := range h {
		if strings.ContainsAny(k, ":\n") {
			return "", false
		}
		for _, v := range vs {
			if strings.IndexByte(v, '\n') >= 0 {
				return "", false
			}
			n += len(k) + len(v) + 2
		}
	}
	var b strings.Builder
	b.Grow(n)
	for k, vs := range h {
		for _, v := range vs {
			b.WriteString(k)
			b.WriteByte(':')
			b.WriteString(v)
			b.WriteByte('\n')
		}
	}
	return b.String(), true
}

// unpackHeader rebuilds the header packHeader packed. The values share
// one backing array, each key's slice capped so that appending to it
// copies, as net/textproto does.
func unpackHeader(p string) http.Header {
	n := strings.Count(p, "\n")
	h := make(http.Header, n)
	vals := make([]string, n)
	start := 0 // index in vals of the current key's first value
	prev := ""
	for i := 0; i < n; i++ {
		line, rest, _ := strings.Cut(p, "\n")
		p = rest
		k, v, _ := strings.Cut(line, ":")
		vals[i] = v
		if i == 0 || k != prev {
			start, prev = i, k
		}
		h[k] = vals[start : i+1 : i+1]
	}
	return h
}
