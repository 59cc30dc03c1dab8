package interop

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCORS: polling requests and preflights are answered with the CORS
// headers the reference's cors option gives them, for origin "*", exact
// origins, and exact origins with credentials; asked by a listed origin,
// an unlisted one and a request without Origin. ("*" with credentials is
// left out: the reference would grant credentials to any page, iobridge
// never does and -check refuses the configuration.) Headers that grant
// nothing without Access-Control-Allow-Origin are compared only where it
// is sent (see check).
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
	configs := []struct {
		name    string
		origins []string
		creds   bool
		want    map[string]want // by the request's Origin; "" sends none
	}{
		{"star", []string{"*"}, false, map[string]want{
			app: {acao: "*"}, evil: {acao: "*"}, "": {acao: "*"},
		}},
		{"exact", []string{app, "http://127.0.0.1:3000"}, false, map[string]want{
			app: {acao: app, vary: true}, evil: {vary: true}, "": {vary: true},
		}},
		{"exact with credentials", []string{app}, true, map[string]want{
			app: {acao: app, creds: true, vary: true}, evil: {vary: true}, "": {vary: true},
		}},
	}
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			eachServer(t, serverConfig{CORSOrigins: c.origins, CORSCredentials: c.creds}, func(t *testing.T, srv *target) {
				for _, origin := range []string{app, evil, ""} {
					w := c.want[origin]
					name := origin
					if name == "" {
						name = "no origin"
					}
					t.Run(strings.TrimPrefix(name, "https://"), func(t *testing.T) {
						check := func(what string, r *corsAnswer) {
							t.Helper()
							if got := r.header.Values("Access-Control-Allow-Origin"); w.acao == "" && len(got) != 0 || w.acao != "" && (len(got) != 1 || got[0] != w.acao) {
								t.Errorf("%s: Access-Control-Allow-Origin = %q, want %q", what, got, w.acao)
							}
							wantCreds := ""
							if w.creds {
								wantCreds = "true"
							}
							// Without Access-Control-Allow-Origin the rest grants
							// nothing: the reference's cors package sends
							// Allow-Credentials (and on a preflight Allow-Methods
							// and Allow-Headers) to origins it refuses too;
							// iobridge sends them only with an allowed origin.
							if got := r.header.Get("Access-Control-Allow-Credentials"); w.acao != "" && got != wantCreds {
								t.Errorf("%s: Access-Control-Allow-Credentials = %q, want %q", what, got, wantCreds)
							}
							if got := headerNames(r.header, "Vary", "Origin"); got != w.vary {
								t.Errorf("%s: Vary = %q names Origin: %v, want %v", what, r.header.Values("Vary"), got, w.vary)
							}
						}
						base := srv.url + "/socket.io/?EIO=4&transport=polling"
						h := http.Header{}
						if origin != "" {
							h.Set("Origin", origin)
						}

						pre := h.Clone()
						pre.Set("Access-Control-Request-Method", "POST")
						pre.Set("Access-Control-Request-Headers", "content-type")
						r := corsDo(t, http.MethodOptions, base, "", pre)
						if r.status != http.StatusNoContent {
							t.Errorf("preflight = %d %q, want 204", r.status, r.body)
						}
						check("preflight", r)
						if w.acao != "" {
							if got := r.header.Get("Access-Control-Allow-Methods"); got != "GET,HEAD,PUT,PATCH,POST,DELETE" {
								t.Errorf("preflight: Access-Control-Allow-Methods = %q", got)
							}
							if got := r.header.Get("Access-Control-Allow-Headers"); got != "content-type" {
								t.Errorf("preflight: Access-Control-Allow-Headers = %q, want the requested content-type", got)
							}
						}

						r = corsDo(t, http.MethodGet, base, "", h)
						if r.status != http.StatusOK || !strings.HasPrefix(r.body, `0{"sid":"`) {
							t.Fatalf("handshake = %d %q", r.status, r.body)
						}
						check("handshake", r)
						sid := r.body[len(`0{"sid":"`):]
						sid = sid[:strings.IndexByte(sid, '"')]

						r = corsDo(t, http.MethodPost, base+"&sid="+sid, "40", h)
						if r.status != http.StatusOK || r.body != "ok" {
							t.Errorf("POST = %d %q, want 200 ok", r.status, r.body)
						}
						check("POST", r)

						r = corsDo(t, http.MethodGet, base+"&sid="+sid, "", h)
						if r.status != http.StatusOK || !strings.HasPrefix(r.body, "40") {
							t.Errorf("GET = %d %q, want 200 and the CONNECT answer", r.status, r.body)
						}
						check("GET", r)

						r = corsDo(t, http.MethodGet, srv.url+"/socket.io/?EIO=4&transport=nope", "", h)
						if r.status != http.StatusBadRequest {
							t.Errorf("unknown transport = %d %q, want 400", r.status, r.body)
						}
						check("error", r)
					})
				}
			})
		})
	}
}

type corsAnswer struct {
	status int
	body   string
	header http.Header
}

func corsDo(t *testing.T, method, url, body string, header http.Header) *corsAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return &corsAnswer{res.StatusCode, string(b), res.Header}
}

// headerNames reports whether the comma-separated header key names field.
func headerNames(h http.Header, key, field string) bool {
	for _, v := range h.Values(key) {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), field) {
				return true
			}
		}
	}
	return false
}
