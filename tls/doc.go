// Package tls serves the Socket.IO listener over TLS: certificates from an
// ACME CA (Let's Encrypt by default) for configured names or, on demand,
// for names an ask URL approves, or a certificate pair from files that is
// re-read when the files change. It also provides the plain-HTTP handler
// that answers ACME HTTP-01 challenges and redirects everything else to
// HTTPS.
//
// ACME is certmagic's: it keeps certificates and the account in Storage,
// renews them in the background, and answers TLS-ALPN-01 challenges on the
// TLS listener itself and HTTP-01 challenges on the redirect listener.
//
// Lifecycle: New checks the Config (and in manual mode reads the
// certificate). The caller opens its listeners, serves TLS with
// Manager.TLSConfig (and Manager.RedirectHandler on the plain listener, if
// any), then calls Start, which begins obtaining certificates: the
// challenge listeners must be up by then. Reload re-reads manual
// certificate files (on SIGHUP). Shutdown stops the background work.
//
// Edge does that lifecycle for one HTTPS listener: NewEdge takes the
// Manager and the plain-HTTP listener, Edge.Listener wraps the HTTPS
// listener, Edge.Start serves the redirect handler, calls Start and
// reloads the certificate files on the signals the caller names, and
// Edge.Shutdown stops all of it.
//
// This package imports nothing else from iobridge.
package tls
