package engineio

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestCompressible(t *testing.T) {
	for _, tc := range []struct {
		packets []Packet
		want    bool
	}{
		{[]Packet{{Type: PacketNoop}}, false},
		{[]Packet{{Type: PacketClose}}, false},
		{[]Packet{{Type: PacketOpen}}, true},
		{[]Packet{{Type: PacketPing}}, true},
		{[]Packet{{Type: PacketMessage}, {Type: PacketClose}}, true},
	} {
		if got := compressible(tc.packets); got != tc.want {
			t.Errorf("compressible(%v) = %v, want %v", tc.packets, got, tc.want)
		}
	}
}

// rawGet makes a GET with the given Accept-Encoding (none when empty) and
// returns the answer as sent: the client decompresses nothing.
func rawGet(t *testing.T, e *testEnv, query, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// decoded undoes res's Content-Encoding.
func decoded(t *testing.T, res *http.Response, body []byte) string {
	t.Helper()
	var rd io.Reader
	var err error
	switch enc := res.Header.Get("Content-Encoding"); enc {
	case "":
		return string(body)
	case "gzip":
		rd, err = gzip.NewReader(bytes.NewReader(body))
	case "deflate":
		rd, err = zlib.NewReader(bytes.NewReader(body))
	default:
		t.Fatalf("Content-Encoding %q", enc)
	}
	if err != nil {
		t.Fatalf("%s body: %v", res.Header.Get("Content-Encoding"), err)
	}
	out, err := io.ReadAll(rd)
	if err != nil {
		t.Fatalf("%s body: %v", res.Header.Get("Content-Encoding"), err)
	}
	return string(out)
}

func TestPollingCompression(t *testing.T) {
	for _, tc := range []struct {
		name      string
		on        bool
		threshold int
		size      int // bytes of the answer's payload: "4" and a message
		accept    string
		want      string // Content-Encoding
	}{
		{"off", false, 0, 5000, "gzip, deflate", ""},
		{"gzip", true, 0, 5000, "gzip", "gzip"},
		{"deflate", true, 0, 5000, "deflate", "deflate"},
		{"gzip first", true, 0, 5000, "gzip, deflate, br", "gzip"},
		{"deflate by q", true, 0, 5000, "gzip;q=0.5, deflate", "deflate"},
		{"no header", true, 0, 5000, "", ""},
		{"refused", true, 0, 5000, "br, zstd", ""},
		{"refused by q=0", true, 0, 5000, "gzip;q=0, deflate;q=0", ""},
		{"identity only", true, 0, 5000, "identity", ""},
		{"any", true, 0, 5000, "*", "gzip"},
		{"below default threshold", true, 0, 1023, "gzip", ""},
		{"at default threshold", true, 0, 1024, "gzip", "gzip"},
		{"below threshold", true, 100, 99, "gzip", ""},
		{"at threshold", true, 100, 100, "gzip", "gzip"},
		{"above threshold", true, 100, 101, "deflate", "deflate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := suiteConfig()
			cfg.HTTPCompression = tc.on
			cfg.HTTPCompressionThreshold = tc.threshold
			e := newEnv(t, cfg)
			sid := e.openPolling()
			data := strings.Repeat("x", tc.size-1)
			if err := e.session(sid).Send([]Packet{{Type: PacketMessage, Data: []byte(data)}}); err != nil {
				t.Fatal(err)
			}
			res, body := rawGet(t, e, "EIO=4&transport=polling&sid="+sid, tc.accept)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			if got := res.Header.Get("Content-Encoding"); got != tc.want {
				t.Errorf("Content-Encoding %q, want %q", got, tc.want)
			}
			if got, want := res.Header.Get("Content-Length"), strconv.Itoa(len(body)); got != want {
				t.Errorf("Content-Length %q, want %s, the length of the body sent", got, want)
			}
			if v := res.Header.Values("Vary"); len(v) > 0 {
				t.Errorf("Vary %q; the reference sends none", v)
			}
			if got := res.Header.Get("Content-Type"); got != "text/plain; charset=UTF-8" {
				t.Errorf("Content-Type %q", got)
			}
			if tc.want != "" && len(body) >= tc.size {
				t.Errorf("compressed body of %d bytes for a %d-byte payload", len(body), tc.size)
			}
			if got := decoded(t, res, body); got != "4"+data {
				t.Errorf("payload %d bytes %.20q…, want %d bytes", len(got), got, tc.size)
			}
		})
	}
}

// TestPollingCompression_Handshake: the reference compresses the
// handshake's answer as any other (its OPEN packet goes through the
// socket); at the default threshold it never reaches it.
func TestPollingCompression_Handshake(t *testing.T) {
	cfg := suiteConfig()
	cfg.HTTPCompression = true
	cfg.HTTPCompressionThreshold = 1
	e := newEnv(t, cfg)
	res, body := rawGet(t, e, "EIO=4&transport=polling", "gzip")
	if got := res.Header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", got)
	}
	parseOpen(t, decoded(t, res, body))
}

// TestPollingCompression_NoopNotCompressed: an answer of a lone noop or
// close packet is written by the reference's transport without the
// compress option, so it goes plain whatever the threshold.
func TestPollingCompression_NoopNotCompressed(t *testing.T) {
	cfg := suiteConfig()
	cfg.HTTPCompression = true
	cfg.HTTPCompressionThreshold = 1
	e := newEnv(t, cfg)
	sid := e.openPolling()
	e.session(sid).Close(ReasonForcedClose)
	res, body := rawGet(t, e, "EIO=4&transport=polling&sid="+sid, "gzip")
	if got := res.Header.Get("Content-Encoding"); got != "" || string(body) != "1" {
		t.Errorf("close answer: Content-Encoding %q, body %q; want plain \"1\"", got, body)
	}
}

// TestPollingCompression_V3Binary: a protocol 3 binary payload is
// compressed too, with its octet-stream type.
func TestPollingCompression_V3Binary(t *testing.T) {
	cfg := suiteConfig()
	cfg.AllowEIO3 = true
	cfg.HTTPCompression = true
	e := newEnv(t, cfg)
	res, body := rawGet(t, e, "EIO=3&transport=polling", "")
	open := decoded(t, res, body)
	i := strings.Index(open, `"sid":"`)
	if i < 0 {
		t.Fatalf("handshake %q", open)
	}
	sid := open[i+len(`"sid":"`) : i+len(`"sid":"`)+20]
	data := bytes.Repeat([]byte{1, 2, 3, 4}, 1000)
	if err := e.session(sid).Send([]Packet{{Type: PacketMessage, Data: data, Binary: true}}); err != nil {
		t.Fatal(err)
	}
	res, body = rawGet(t, e, "EIO=3&transport=polling&sid="+sid, "deflate")
	if got := res.Header.Get("Content-Encoding"); got != "deflate" {
		t.Fatalf("Content-Encoding %q, want deflate", got)
	}
	if got := res.Header.Get("Content-Type"); got != "application/octet-stream" {
		t.Errorf("Content-Type %q", got)
	}
	if got := decoded(t, res, body); !strings.HasSuffix(got, string(data)) {
		t.Errorf("payload of %d bytes does not end with the message", len(got))
	}
}

// TestCompressAnswer_AllocatesNothingWhenPlain: compression off, an answer
// under the threshold, or a client accepting neither encoding costs the
// polling answer no allocation.
func TestCompressAnswer_AllocatesNothingWhenPlain(t *testing.T) {
	big := make([]byte, 5000)
	packets := []Packet{{Type: PacketMessage, Data: big}}
	for _, tc := range []struct {
		name   string
		on     bool
		accept string
		size   int
	}{
		{"off", false, "gzip", len(big)},
		{"under threshold", true, "gzip", 100},
		{"not accepted", true, "br", len(big)},
		{"no Accept-Encoding", true, "", len(big)},
	} {
		srv := NewServer(Config{HTTPCompression: tc.on}, func(*Session) Handler { return nopHandler{} })
		r, _ := http.NewRequest(http.MethodGet, "/engine.io/", nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Encoding", tc.accept)
		}
		h := http.Header{}
		n := testing.AllocsPerRun(100, func() {
			body, c := srv.compressAnswer(h, r, big[:tc.size], packets)
			if c != nil || len(body) != tc.size {
				t.Fatalf("%s: compressed", tc.name)
			}
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per answer, want 0", tc.name, n)
		}
	}
}
