package engineio

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCORSMiddleware: the Server's CORS answers in front of another
// handler; a preflight never reaches it.
func TestCORSMiddleware(t *testing.T) {
	const app = "https://app.example"
	tests := []struct {
		name    string
		origins []string
		method  string
		status  int    // 200 is the wrapped handler's
		acao    string // Access-Control-Allow-Origin; "" none
	}{
		{"no cors", nil, http.MethodGet, 200, ""},
		{"no cors, OPTIONS", nil, http.MethodOptions, 200, ""},
		{"listed origin", []string{app}, http.MethodGet, 200, app},
		{"preflight", []string{app}, http.MethodOptions, http.StatusNoContent, app},
		{"unlisted origin", []string{"https://other.example"}, http.MethodGet, 200, ""},
		{"any origin", []string{"*"}, http.MethodGet, 200, "*"},
	}
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := CORS(Config{CORSOrigins: tc.origins})(wrapped)
			req := httptest.NewRequest(tc.method, "/socket.io/socket.io.esm.min.js", nil)
			req.Header.Set("Origin", app)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status || rec.Header().Get("Access-Control-Allow-Origin") != tc.acao {
				t.Errorf("%d, Access-Control-Allow-Origin %q; want %d, %q", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"), tc.status, tc.acao)
			}
		})
	}
}
