package clientbundle

import "testing"

// TestNegotiate: the coding chosen for each Accept-Encoding is the one the
// reference's accepts(req).encodings(["br", "gzip", "deflate"]) chooses
// (the want column was produced with the interop suite's accepts 1.3.8).
func TestNegotiate(t *testing.T) {
	tests := []struct {
		header []string
		want   string
	}{
		{nil, ""},
		{[]string{"gzip"}, "gzip"},
		{[]string{"gzip, deflate, br"}, "gzip"},
		{[]string{"gzip, deflate, br, zstd"}, "gzip"}, // what browsers send
		{[]string{"deflate, gzip"}, "deflate"},
		{[]string{"br;q=0.5, gzip"}, "gzip"},
		{[]string{"*"}, "br"},
		{[]string{"*;q=0.5, gzip;q=0.4"}, "br"},
		{[]string{"identity"}, ""},
		{[]string{"gzip;q=0"}, ""},
		{[]string{"*, gzip;q=0"}, "br"},
		{[]string{"GZIP"}, "gzip"},
		{[]string{"gzip;q=abc"}, ""},
		{[]string{"gzip, gzip;q=abc"}, ""},
		{[]string{"deflate;q=0.8, gzip;q=0.8"}, "deflate"},
		{[]string{"x-gzip"}, ""},
		{[]string{"gzip deflate"}, ""},
		{[]string{"br;q=1e-1, deflate;q=.2"}, "deflate"},
		{[]string{"zstd, *;q=0.1"}, "br"},
		{[]string{"deflate, br;q=1.0, gzip;q=1"}, "deflate"},
		{[]string{"compress, gzip;q=0.5;level=1"}, "gzip"},
		{[]string{" gzip ; q=0.3 , deflate;q=0.3"}, "gzip"},
		{[]string{"deflate;q=0.5", "br"}, "br"}, // two headers, joined
	}
	for _, tc := range tests {
		if got := negotiate(tc.header); got != tc.want {
			t.Errorf("negotiate(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}
