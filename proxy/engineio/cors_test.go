package engineio

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestCORS: each combination of CORSOrigins and CORSCredentials, asked by
// a listed origin, an unlisted one and a request without Origin, on a
// preflight, a handshake GET and a POST to a live session, is answered
// as Node's `cors` package configured as socket.io's cors option answers
// it, except that credentials go to reflected exact origins only (never
// with "*").
func TestCORS(t *testing.T) {
	const (
		app  = "https://app.example"
		evil = "https://evil.example"
	)
	type want struct {
		acao  string // Access-Control-Allow-Origin; "" means absent
		creds bool   // Access-Control-Allow-Credentials: true
		vary  bool   // Vary names Origin
	}
	tests := []struct {
		name    string
		origins []string
		creds   bool
		origin  string // the request's Origin; "" sends none
		want    want
	}{
		{"star/listed", []string{"*"}, false, app, want{acao: "*"}},
		{"star/other", []string{"*"}, false, evil, want{acao: "*"}},
		{"star/no origin", []string{"*"}, false, "", want{acao: "*"}},
		// "*" never gets credentials, even when asked for (-check refuses
		// the combination; the library stays safe without it).
		{"star+credentials/listed", []string{"*"}, true, app, want{acao: "*"}},
		{"star+credentials/other", []string{"*"}, true, evil, want{acao: "*"}},
		{"star+credentials/no origin", []string{"*"}, true, "", want{acao: "*"}},

		{"exact/listed", []string{app}, false, app, want{acao: app, vary: true}},
		{"exact/unlisted", []string{app}, false, evil, want{vary: true}},
		{"exact/no origin", []string{app}, false, "", want{vary: true}},
		{"exact+credentials/listed", []string{app}, true, app, want{acao: app, creds: true, vary: true}},
		{"exact+credentials/unlisted", []string{app}, true, evil, want{vary: true}},
		{"exact+credentials/no origin", []string{app}, true, "", want{vary: true}},
		{"exact+credentials/case differs", []string{app}, true, "https://APP.example", want{vary: true}},

		{"star and exact/listed", []string{"*", app}, false, app, want{acao: "*"}},
		{"star and exact/other", []string{"*", app}, false, evil, want{acao: "*"}},
		{"star and exact+credentials/listed", []string{"*", app}, true, app, want{acao: app, creds: true, vary: true}},
		{"star and exact+credentials/other", []string{"*", app}, true, evil, want{acao: "*", vary: true}},
		{"star and exact+credentials/no origin", []string{"*", app}, true, "", want{acao: "*", vary: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := quietConfig()
			cfg.CORSOrigins = tc.origins
			cfg.CORSCredentials = tc.creds
			e := newEnv(t, cfg)
			header := http.Header{}
			if tc.origin != "" {
				header.Set("Origin", tc.origin)
			}
			check := func(what string, r response) {
				t.Helper()
				if got := r.header.Values("Access-Control-Allow-Origin"); tc.want.acao == "" && len(got) != 0 || tc.want.acao != "" && !slices.Equal(got, []string{tc.want.acao}) {
					t.Errorf("%s: Access-Control-Allow-Origin = %q, want %q", what, got, tc.want.acao)
				}
				wantCreds := ""
				if tc.want.creds {
					wantCreds = "true"
				}
				if got := r.header.Get("Access-Control-Allow-Credentials"); got != wantCreds {
					t.Errorf("%s: Access-Control-Allow-Credentials = %q, want %q", what, got, wantCreds)
				}
				if got := varies(r.header, "Origin"); got != tc.want.vary {
					t.Errorf("%s: Vary = %q, names Origin: %v, want %v", what, r.header.Values("Vary"), got, tc.want.vary)
				}
			}

			pre := header.Clone()
			pre.Set("Access-Control-Request-Method", "POST")
			pre.Set("Access-Control-Request-Headers", "content-type,x-custom")
			r := e.do(http.MethodOptions, e.url+"?EIO=4&transport=polling", "", pre)
			if r.status != http.StatusNoContent || r.body != "" {
				t.Errorf("preflight = %d %q, want 204, empty", r.status, r.body)
			}
			check("preflight", r)
			methods, headers := "", ""
			if tc.want.acao != "" {
				methods, headers = "GET,HEAD,PUT,PATCH,POST,DELETE", "content-type,x-custom"
			}
			if got := r.header.Get("Access-Control-Allow-Methods"); got != methods {
				t.Errorf("preflight: Access-Control-Allow-Methods = %q, want %q", got, methods)
			}
			if got := r.header.Get("Access-Control-Allow-Headers"); got != headers {
				t.Errorf("preflight: Access-Control-Allow-Headers = %q, want %q", got, headers)
			}
			if headers != "" && !varies(r.header, "Access-Control-Request-Headers") {
				t.Errorf("preflight: Vary = %q, want Access-Control-Request-Headers", r.header.Values("Vary"))
			}

			r = e.do(http.MethodGet, e.url+"?EIO=4&transport=polling", "", header)
			if r.status != http.StatusOK {
				t.Fatalf("handshake GET = %d %q, want 200", r.status, r.body)
			}
			check("handshake GET", r)
			op, _ := parseOpen(t, r.body)

			r = e.do(http.MethodPost, e.url+"?EIO=4&transport=polling&sid="+op.SID, "4hello", header)
			if r.status != http.StatusOK || r.body != "ok" {
				t.Errorf("POST = %d %q, want 200 ok", r.status, r.body)
			}
			check("POST", r)

			r = e.do(http.MethodGet, e.url+"?EIO=4&transport=polling&sid="+op.SID, "", header)
			if r.status != http.StatusOK {
				t.Errorf("GET = %d %q, want 200", r.status, r.body)
			}
			check("GET", r)

			// Errors carry the same headers, so a page can read them.
			r = e.do(http.MethodGet, e.url+"?EIO=4&transport=nope", "", header)
			if r.status != http.StatusBadRequest {
				t.Errorf("bad transport = %d %q, want 400", r.status, r.body)
			}
			check("error", r)
		})
	}
}

// TestCORS_Off: without CORSOrigins no CORS header is sent, as the
// reference server without a cors option, and OPTIONS is not a preflight.
func TestCORS_Off(t *testing.T) {
	e := newEnv(t, Config{CORSCredentials: true, PingInterval: quietConfig().PingInterval, PingTimeout: quietConfig().PingTimeout})
	header := http.Header{"Origin": {"https://app.example"}}
	r := e.do(http.MethodGet, e.url+"?EIO=4&transport=polling", "", header)
	for k := range r.header {
		if strings.HasPrefix(k, "Access-Control-") || k == "Vary" {
			t.Errorf("GET without CORSOrigins has %s: %q", k, r.header.Values(k))
		}
	}
	r = e.do(http.MethodOptions, e.url+"?EIO=4&transport=polling", "", header)
	if r.status == http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("OPTIONS without CORSOrigins = %d %v, want no preflight answer", r.status, r.header)
	}
}

// varies reports whether the Vary header names field.
func varies(h http.Header, field string) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), field) {
				return true
			}
		}
	}
	return false
}
