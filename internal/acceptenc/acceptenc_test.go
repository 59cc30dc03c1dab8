package acceptenc

import (
	"math"
	"testing"
)

// The servers' lists: engine.io's polling compression and socket.io's
// serveClient.
var (
	engineIO    = []string{"gzip", "deflate"}
	serveClient = []string{"br", "gzip", "deflate"}
)

// TestNegotiate checks the choice against the reference's: every want
// below is what accepts(req).encodings(offered) returns, with accepts
// 1.3.8 and negotiator 0.6.3, for a request whose Accept-Encoding lines
// are lines as Node reads them (joined with ", ", each byte a Latin-1
// character); "" stands for false.
func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		lines   []string
		offered []string
		want    string
	}{
		{nil, engineIO, ""},
		{[]string{""}, engineIO, ""},
		{[]string{"gzip"}, engineIO, "gzip"},
		{[]string{"deflate"}, engineIO, "deflate"},
		{[]string{"gzip, deflate"}, engineIO, "gzip"},
		{[]string{"deflate, gzip"}, engineIO, "deflate"},
		{[]string{"gzip;q=0.5, deflate"}, engineIO, "deflate"},
		{[]string{"gzip;q=0"}, engineIO, ""},
		{[]string{"*"}, engineIO, "gzip"},
		{[]string{"*;q=0"}, engineIO, ""},
		{[]string{"*, gzip;q=0"}, engineIO, "deflate"},
		{[]string{"br"}, engineIO, ""},
		{[]string{"identity"}, engineIO, ""},
		{[]string{"br, gzip;q=0.8, deflate;q=0.9"}, engineIO, "deflate"},
		{[]string{"GZIP"}, engineIO, "gzip"},
		{[]string{"gzip;q=abc"}, engineIO, ""},
		{[]string{"gzip;q=abc, deflate"}, engineIO, "deflate"},
		{[]string{"gzip;q=1, gzip;q=0"}, engineIO, "gzip"},
		{[]string{"gzip;q=0, gzip;q=1"}, engineIO, "gzip"},
		{[]string{"gzip, *;q=0"}, engineIO, "gzip"},
		{[]string{"gzip;q=0, *"}, engineIO, "deflate"},
		{[]string{"gzip ;q=0.5, deflate"}, engineIO, "deflate"},
		{[]string{"gzip deflate"}, engineIO, ""},
		{[]string{"x-gzip"}, engineIO, ""},
		{[]string{"gzip;level=1;q=0.2, deflate;q=0.1"}, engineIO, "gzip"},
		{[]string{"gzip; q=0.5, deflate; q=0.6"}, engineIO, "deflate"},
		{[]string{"gzip;q = 0.5, deflate;q=0.9"}, engineIO, "gzip"},
		{[]string{"gzip;q=0.5=1, deflate;q=0.4"}, engineIO, "gzip"},
		{[]string{",,gzip"}, engineIO, "gzip"},
		{[]string{"deflate, gzip"}, engineIO, "deflate"},
		{[]string{"gzip;q=0.001"}, engineIO, "gzip"},
		{[]string{"*;q=0.5, deflate;q=0.5"}, engineIO, "deflate"},
		{[]string{"gzip;q=Infinity, deflate;q=Infinity"}, engineIO, "gzip"},
		{[]string{"gzip;q=-1"}, engineIO, ""},
		{[]string{"gzip;q=1e-1, deflate;q=.05"}, engineIO, "gzip"},
		{[]string{"gzip;q"}, engineIO, ""},
		{[]string{"deflate;q=0.5, *;q=0.9"}, engineIO, "gzip"},
		{[]string{"gzip, deflate, br, zstd"}, engineIO, "gzip"},
		{[]string{"gzip, deflate, br"}, engineIO, "gzip"},
		{[]string{"deflate;q=1.0, gzip;q=0.9"}, engineIO, "deflate"},
		{[]string{"  gzip  "}, engineIO, "gzip"},
		{[]string{"gzip;q=0.5, deflate;q=0.5"}, engineIO, "gzip"},
		{[]string{"deflate;q=0.5, gzip;q=0.5"}, engineIO, "deflate"},
		{[]string{"*;q=0.9, gzip;q=0.2"}, engineIO, "deflate"},
		{[]string{"gzip;q=0.2, *;q=0.9"}, engineIO, "deflate"},
		{[]string{"deflate;q=NaN, gzip;q=0.1"}, engineIO, "gzip"},
		{[]string{"gzip;;q=0.3, deflate;q=0.2"}, engineIO, "gzip"},
		{[]string{"gzip;foo;q=0.3, deflate;q=0.4"}, engineIO, "deflate"},
		{[]string{"Deflate"}, engineIO, "deflate"},
		{[]string{"gzip;Q=0.1, deflate;q=0.2"}, engineIO, "gzip"},
		{[]string{"gzip;q=0.9x, deflate;q=0.95"}, engineIO, "deflate"},
		{[]string{"gzip;q=+0.5, deflate;q=-0.5"}, engineIO, "gzip"},
		{[]string{"gzip;q=  0.3, deflate;q=0.2"}, engineIO, "gzip"},
		{[]string{"deflate", "gzip"}, engineIO, "deflate"},
		{[]string{"gzip;q=0", "deflate;q=0.1"}, engineIO, "deflate"},
		{[]string{"br", "*"}, engineIO, "gzip"},
		{[]string{"", "gzip"}, engineIO, "gzip"},
		{[]string{"gzip;q=0.5", "gzip;q=0.1, deflate;q=0.2"}, engineIO, "gzip"},

		{nil, serveClient, ""},
		{[]string{"gzip"}, serveClient, "gzip"},
		{[]string{"gzip, deflate, br"}, serveClient, "gzip"},
		{[]string{"gzip, deflate, br, zstd"}, serveClient, "gzip"}, // what browsers send
		{[]string{"deflate, gzip"}, serveClient, "deflate"},
		{[]string{"br;q=0.5, gzip"}, serveClient, "gzip"},
		{[]string{"*"}, serveClient, "br"},
		{[]string{"*;q=0.5, gzip;q=0.4"}, serveClient, "br"},
		{[]string{"identity"}, serveClient, ""},
		{[]string{"gzip;q=0"}, serveClient, ""},
		{[]string{"*, gzip;q=0"}, serveClient, "br"},
		{[]string{"GZIP"}, serveClient, "gzip"},
		{[]string{"gzip;q=abc"}, serveClient, ""},
		{[]string{"gzip, gzip;q=abc"}, serveClient, ""},
		{[]string{"deflate;q=0.8, gzip;q=0.8"}, serveClient, "deflate"},
		{[]string{"x-gzip"}, serveClient, ""},
		{[]string{"gzip deflate"}, serveClient, ""},
		{[]string{"br;q=1e-1, deflate;q=.2"}, serveClient, "deflate"},
		{[]string{"zstd, *;q=0.1"}, serveClient, "br"},
		{[]string{"deflate, br;q=1.0, gzip;q=1"}, serveClient, "deflate"},
		{[]string{"compress, gzip;q=0.5;level=1"}, serveClient, "gzip"},
		{[]string{" gzip ; q=0.3 , deflate;q=0.3"}, serveClient, "gzip"},
		{[]string{"deflate;q=0.5", "br"}, serveClient, "br"},

		// Bytes as Node reads them: 0xA0 is white space, a line break
		// among the parameters voids the entry, and only ASCII letters
		// fold.
		{[]string{"gzip;q=0.1", "\xa0deflate;q=\xa00.5"}, engineIO, "deflate"},
		{[]string{"gzip\xa0;q=0.5, deflate;q=0.4"}, engineIO, "gzip"},
		{[]string{"gzip;q=0.5\n;x, deflate;q=0.1"}, engineIO, "deflate"},
		{[]string{"gzip\n;q=0.5, deflate;q=0.1"}, engineIO, "gzip"},
		{[]string{"\u2028gzip, deflate"}, engineIO, "deflate"},
		{[]string{"compre\u017fs, *;q=0.1"}, []string{"compress"}, "compress"},
		{[]string{"GZİP"}, engineIO, ""},
		{[]string{"gzip;q=1e999, deflate;q=1e308"}, engineIO, "gzip"},

		// A server offering identity: accepted at the header's lowest q
		// unless the header names it or "*".
		{nil, []string{"identity"}, "identity"},
		{[]string{"br;q=0.8"}, []string{"gzip", "identity"}, "identity"},
		{[]string{"gzip;q=0.5"}, []string{"identity", "gzip"}, "gzip"},
		{[]string{"gzip;q=0.5, br;q=0.2"}, []string{"identity", "gzip"}, "gzip"},
		{[]string{"gzip;q=0, br;q=abc"}, []string{"gzip", "identity"}, "identity"},
		{[]string{"gzip;q=-1"}, []string{"identity"}, ""},
		{[]string{"*;q=0"}, []string{"identity"}, ""},
		{[]string{"IDENTITY;q=0, gzip"}, []string{"identity"}, ""},
	} {
		if got := Negotiate(tc.lines, tc.offered); got != tc.want {
			t.Errorf("Negotiate(%q, %q) = %q, want %q", tc.lines, tc.offered, got, tc.want)
		}
	}
}

func TestNegotiate_AllocatesNothing(t *testing.T) {
	lines := []string{"br;q=1.0, gzip;q=0.8, deflate;q=0.9, *;q=0.1", "zstd;q=0.5"}
	if n := testing.AllocsPerRun(100, func() { Negotiate(lines, serveClient) }); n != 0 {
		t.Errorf("%v allocations per call, want 0", n)
	}
}

func TestJSParseFloat(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		in   string
		want float64
	}{
		{"0.5", 0.5}, {"1", 1}, {" 0.3", 0.3}, {"\xa00.3", 0.3}, {"0.9x", 0.9}, {".5", 0.5}, {"5.", 5},
		{"1e-1", 0.1}, {"1e", 1}, {"1e+", 1}, {"2E2", 200}, {"+0.5", 0.5}, {"-1", -1}, {"+.5", 0.5},
		{"Infinity", math.Inf(1)}, {"-Infinityx", math.Inf(-1)}, {"1e999", math.Inf(1)}, {"1e-999", 0},
		{"", nan}, {"abc", nan}, {".", nan}, {".e5", nan}, {"-", nan}, {"0x10", 0}, {"1_0", 1},
	} {
		got := jsParseFloat(tc.in)
		if got != tc.want && !(math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("jsParseFloat(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
