package tls

import (
	"net"
	"net/http"
	"strconv"
)

// RedirectHandler is the handler for the plain-HTTP listener: it answers
// ACME HTTP-01 challenges (acme and on_demand modes) and redirects every
// other request to the same host and path over HTTPS, on Config.HTTPSPort
// (308, so a POST stays a POST).
func (m *Manager) RedirectHandler() http.Handler {
	port := m.cfg.HTTPSPort
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.issuer != nil && m.issuer.HandleHTTPChallenge(w, r) {
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" {
			http.Error(w, "a Host header is required", http.StatusBadRequest)
			return
		}
		if port != 0 && port != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(port))
		} else if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			host = "[" + host + "]"
		}
		target := "https://" + host + r.URL.RequestURI()
		w.Header().Set("Connection", "close")
		http.Redirect(w, r, target, http.StatusPermanentRedirect)
	})
}
