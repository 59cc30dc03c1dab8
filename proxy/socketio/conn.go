package socketio

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
)

// Conn is what the Socket.IO layer needs from an Engine.IO session;
// *engineio.Session satisfies it. Tests and custom transports may provide
// their own (see Server.Attach).
type Conn interface {
	// ID is the Engine.IO session id.
	ID() string
	// Protocol is the Engine.IO protocol version, 3 or 4.
	Protocol() int
	// Request is the handshake request. It is asked for only when a
	// socket's Handshake is, and its Header map becomes the Handshake's
	// Headers, not copied.
	Request() *http.Request
	// Send queues packets, all or none, without blocking; the slice may be
	// reused by the caller once Send returns, Data may not be modified.
	Send(packets []engineio.Packet) error
	// SendVolatile queues packets only if the transport can write now.
	SendVolatile(packets []engineio.Packet) bool
	// Close closes the session; the Handler's OnClose follows.
	Close(reason engineio.CloseReason)
}

// DeferredConn is a Conn that may hold a broadcast's packets briefly, to
// write them together with those of the broadcasts that follow
// (*engineio.Session does; see engineio.Config.BatchDelay). Broadcasts
// reach a Conn that has it through SendDeferred.
type DeferredConn interface {
	Conn
	// SendDeferred is Send for a broadcast's packets.
	SendDeferred(packets []engineio.Packet) error
}

// deflateConn is a Conn that may compress what it writes, message by
// message (*engineio.Session on a server with
// engineio.Config.PerMessageDeflate). Once one is attached, broadcasts
// mark their messages (engineio.Share), so that each is compressed once
// for all its recipients rather than by each.
type deflateConn interface {
	PerMessageDeflate() bool
}

// Handshake is what the client sent when it connected to the namespace, as
// the reference's socket.handshake.
type Handshake struct {
	// Headers of the Engine.IO handshake request: the map of the
	// Conn's Request, not a copy.
	Headers http.Header
	// Query of the handshake request URL.
	Query url.Values
	// Auth is the CONNECT payload: always a JSON object, {} when the
	// client sent none (for EIO=3 clients, the namespace's query string).
	Auth json.RawMessage
	// Address is the client's IP address.
	Address string
	// Secure is true when the handshake came over TLS.
	Secure bool
	// XDomain is true when the handshake carried an Origin header.
	XDomain bool
	// URL is the handshake request URI.
	URL string
	// Time is the connection time as the reference writes it
	// (JavaScript's Date.toString()).
	Time string
	// Issued is the connection time in Unix milliseconds.
	Issued int64
}

const jsDateLayout = "Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"

func newHandshake(r *http.Request, auth json.RawMessage, now time.Time) Handshake {
	h := Handshake{Auth: auth, Time: now.Format(jsDateLayout), Issued: now.UnixMilli()}
	if r == nil {
		h.Headers = http.Header{}
		h.Query = url.Values{}
		h.Secure = true
		return h
	}
	h.Headers = r.Header
	if h.Headers == nil {
		h.Headers = http.Header{}
	}
	// Node's req.headers holds the Host header; net/http moves it to
	// r.Host. Request returns a fresh header map, so setting it is safe.
	if r.Host != "" && h.Headers.Get("Host") == "" {
		h.Headers.Set("Host", r.Host)
	}
	h.URL = r.RequestURI
	if r.URL != nil {
		h.Query = r.URL.Query()
		if h.URL == "" {
			h.URL = r.URL.RequestURI()
		}
	} else {
		h.Query = url.Values{}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		h.Address = host
	} else {
		h.Address = r.RemoteAddr
	}
	h.Secure = r.TLS != nil
	h.XDomain = r.Header.Get("Origin") != ""
	return h
}

// newID returns a 20-character random id, as base64id.generateId does
// (15 random bytes, base64 with '-' and '_').
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.URLEncoding.EncodeToString(b[:])
}
