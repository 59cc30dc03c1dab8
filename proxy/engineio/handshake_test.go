package engineio

import (
	"crypto/tls"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestHandshakeRequest(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		packed bool
	}{
		{"none", http.Header{}, true},
		{"one", http.Header{"User-Agent": {"x"}}, true},
		{"repeated key", http.Header{"Cookie": {"a=1", "b=2"}, "Accept": {"*/*"}}, true},
		{"empty and colon values", http.Header{"X-Empty": {""}, "X-Time": {"12:30:00"}}, true},
		{"colon in key", http.Header{"X:Y": {"v"}}, false},
		{"newline in value", http.Header{"X-A": {"a\nb"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/engine.io/?EIO=4&transport=websocket", nil)
			r.Header = tc.header
			r.RemoteAddr = "10.0.0.1:1234"
			r.TLS = &tls.ConnectionState{}
			h := newHandshake(r)
			if got := h.header == nil; got != tc.packed {
				t.Fatalf("packed = %v, want %v", got, tc.packed)
			}
			got := h.request()
			if !maps.EqualFunc(got.Header, tc.header, slices.Equal) {
				t.Fatalf("Header = %q, want %q", got.Header, tc.header)
			}
			if got.URL.Query().Get("EIO") != "4" || got.RequestURI != r.RequestURI || got.RemoteAddr != r.RemoteAddr || got.Host != r.Host || got.TLS != r.TLS {
				t.Fatalf("request() = %+v, from %+v", got, r)
			}
			// Each call gets its own map; appending to a value copies.
			for k := range got.Header {
				got.Header[k] = append(got.Header[k], "added")
			}
			got.Header.Set("X-New", "1")
			if again := h.request(); !maps.EqualFunc(again.Header, tc.header, slices.Equal) {
				t.Fatalf("after changing a returned Header: %q, want %q", again.Header, tc.header)
			}
		})
	}
}

func FuzzPackHeader(f *testing.F) {
	f.Add("User-Agent", "x", "Cookie", "a=1")
	f.Add("K", "", "K", "v:w")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		in := http.Header{}
		in[k1] = append(in[k1], v1)
		in[k2] = append(in[k2], v2)
		p, ok := packHeader(in)
		if !ok {
			return
		}
		if out := unpackHeader(p); !maps.EqualFunc(out, in, slices.Equal) {
			t.Fatalf("unpackHeader(packHeader(%q)) = %q", in, out)
		}
	})
}
