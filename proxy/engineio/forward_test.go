package engineio

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestNodeIDInSID(t *testing.T) {
	id := NewNodeID()
	if !validNodeID(id) {
		t.Fatalf("NewNodeID() = %q, not %d base64url characters", id, NodeIDLen)
	}
	cfg := suiteConfig()
	cfg.NodeID = id
	e := newEnv(t, cfg)
	seen := map[string]bool{}
	for range 20 {
		sid := e.openPolling()
		if len(sid) != 20 {
			t.Fatalf("sid %q: %d characters, want 20", sid, len(sid))
		}
		if got := SIDNode(sid); got != id {
			t.Fatalf("SIDNode(%q) = %q, want %q", sid, got, id)
		}
		if b, err := base64.URLEncoding.DecodeString(sid); err != nil || len(b) != 15 {
			t.Fatalf("sid %q is not base64url of 15 bytes: %v", sid, err)
		}
		if seen[sid] {
			t.Fatalf("sid %q issued twice", sid)
		}
		seen[sid] = true
	}
	for _, tc := range []struct{ sid, want string }{
		{"", ""}, {"abc", ""}, {strings.Repeat("x", 21), ""}, {"ABCD" + strings.Repeat("x", 16), "ABCD"},
	} {
		if got := SIDNode(tc.sid); got != tc.want {
			t.Errorf("SIDNode(%q) = %q, want %q", tc.sid, got, tc.want)
		}
	}
}

func TestNodeIDInvalidPanics(t *testing.T) {
	for _, id := range []string{"abc", "abcde", "ab+d", "ab/d", "ab=d"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewServer with NodeID %q did not panic", id)
				}
			}()
			NewServer(Config{NodeID: id}, nil)
		}()
	}
}

// TestForward: a request for a sid this server does not hold goes to the
// handler Forward returns (before CORS, so the owner's headers are the
// only ones); nil is answered as the reference answers an unknown sid; a
// sid the server holds and a preflight never reach Forward.
func TestForward(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	remote := "REMOTEsidREMOTEsid00"
	cfg := suiteConfig()
	cfg.CORSOrigins = []string{"*"}
	cfg.Forward = func(r *http.Request, sid string) http.Handler {
		mu.Lock()
		asked = append(asked, r.Method+" "+sid)
		mu.Unlock()
		if sid != remote {
			return nil
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Owner", "remote")
			_, _ = w.Write([]byte("6"))
		})
	}
	e := newEnv(t, cfg)
	local := e.openPolling()
	origin := http.Header{"Origin": {"http://example.com"}}

	r := e.do(http.MethodGet, e.url+"?EIO=4&transport=polling&sid="+remote, "", origin)
	if r.status != 200 || r.body != "6" || r.header.Get("X-Owner") != "remote" {
		t.Errorf("GET for a remote sid = %d %q %v, want the forward handler's 200 \"6\"", r.status, r.body, r.header)
	}
	if got := r.header.Values("Access-Control-Allow-Origin"); len(got) != 0 {
		t.Errorf("forwarded answer has this server's CORS headers %q; the owner sets them", got)
	}
	r = e.do(http.MethodPost, e.url+"?EIO=4&transport=polling&sid="+remote, "4x", nil)
	if r.status != 200 || r.body != "6" {
		t.Errorf("POST for a remote sid = %d %q, want the forward handler's", r.status, r.body)
	}
	r = e.get("EIO=4&transport=polling&sid=UNKNOWNsidUNKNOWNsid")
	if r.status != 400 || r.body != `{"code":1,"message":"Session ID unknown"}` {
		t.Errorf("GET for a sid nobody owns = %d %q, want 400 Session ID unknown", r.status, r.body)
	}
	r = e.do(http.MethodOptions, e.url+"?EIO=4&transport=polling&sid="+remote, "", origin)
	if r.status != 204 {
		t.Errorf("preflight for a remote sid = %d, want 204 from this server", r.status)
	}
	if r := e.post("EIO=4&transport=polling&sid="+local, "4hello"); r.status != 200 || r.body != "ok" {
		t.Errorf("POST for a local sid = %d %q, want 200 ok", r.status, r.body)
	}
	// A WebSocket upgrade for a sid nobody owns: 400 with the bare message.
	_, res, err := e.dial("EIO=4&transport=websocket&sid=UNKNOWNsidUNKNOWNsid")
	if err == nil || res == nil || res.StatusCode != 400 {
		t.Errorf("upgrade for a sid nobody owns: res %v, err %v; want 400", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET " + remote, "POST " + remote, "GET UNKNOWNsidUNKNOWNsid", "GET UNKNOWNsidUNKNOWNsid"}
	if strings.Join(asked, ",") != strings.Join(want, ",") {
		t.Errorf("Forward asked about %q, want %q", asked, want)
	}
}

func TestUnknownSession(t *testing.T) {
	cases := []struct {
		name   string
		header http.Header
		ctype  string
		body   string
	}{
		{"polling", nil, "application/json", `{"code":1,"message":"Session ID unknown"}`},
		{"upgrade", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, "text/html", "Session ID unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "/socket.io/?EIO=4&transport=polling&sid=x", nil)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			UnknownSession(w, r)
			if w.Code != 400 || w.Body.String() != tc.body || w.Header().Get("Content-Type") != tc.ctype {
				t.Errorf("UnknownSession = %d %q %q, want 400 %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String(), tc.ctype, tc.body)
			}
		})
	}
}
