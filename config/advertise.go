package config

import (
	"net"
	"net/url"
)

// validateAdvertise checks adapter.advertise, the URL other iobridge
// nodes forward polling requests for this node's sessions to. Without it
// the URL comes from server.listen, which then must name one interface:
// every interface (":8080") says nothing about where others reach us, and
// the TLS listener's certificate names no IP address.
func (l *loader) validateAdvertise(c *Config) {
	const p = "adapter.advertise"
	a := &c.Adapter
	if a.Advertise != "" {
		if l.url(p, a.Advertise, "http", "https") {
			u, _ := url.Parse(a.Advertise)
			l.check((u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" && u.User == nil, p,
				`%s: write a base URL, scheme://host:port, as "http://10.0.0.5:8080" (forwarded requests keep their path)`, l.show(p, a.Advertise))
		}
		return
	}
	if a.Type != "redis" {
		return
	}
	if c.TLS.Mode != "" && c.TLS.Mode != "off" {
		l.check(false, p, `required with type "redis" and [tls]: the URL other nodes forward this node's polling requests to, https with a name its certificate covers, as advertise = "https://node1.example.com"`)
		return
	}
	host, port, err := net.SplitHostPort(c.Server.Listen)
	if err != nil {
		return // server.listen has its own problem
	}
	ip := net.ParseIP(host)
	switch {
	case host == "" || ip != nil && ip.IsUnspecified():
		l.check(false, p, `required with type "redis" when server.listen (%s) is every interface: the URL other nodes forward this node's polling requests to, as advertise = "http://10.0.0.5:%s"`, l.show("server.listen", c.Server.Listen), port)
	case host == "localhost" || ip != nil && ip.IsLoopback():
		l.warn(p, `not set, so other nodes forward this node's polling requests to http://%s (from server.listen): only nodes on this machine reach it; set advertise = "http://<this node's address>:%s" for a cluster of machines`, c.Server.Listen, port)
	}
}
