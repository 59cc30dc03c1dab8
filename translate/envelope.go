package translate

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iobridge/iobridge/internal/jsonstr"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// Delivery types: the envelope's "type".
const (
	TypeConnect    = "connect"
	TypeEvent      = "event"
	TypeDisconnect = "disconnect"
	// TypeExpired tells that a socket which left with recovery on did not
	// come back within the recovery window: its session (id, rooms, data)
	// is gone for good, so the backend may drop what it keeps for it.
	// "reason" is the disconnect reason it left with. A socket that
	// recovers gets none.
	TypeExpired = "expired"
)

// Envelope is one delivery to a backend, the same JSON object for every
// kind (see the backend contract in the README):
//
//	{"type","id","time","namespace","socket":{"id","rooms","data","handshake"},
//	 "event","args","ack","reason","recovered"}
//
// "ack" is always present; "event" and "args" only for events, "reason"
// only for disconnects and expired sessions, "recovered" only for
// connects.
//
// Args are raw JSON, kept byte for byte from what the client sent, binary
// attachments already turned into {"_binary":…} objects. An Envelope is
// built by the translator and read by a Backend; it is not modified once
// Deliver is called, and it must not be retained after Deliver returns
// (Args may alias the client's message).
type Envelope struct {
	Type      string            `json:"type"`
	ID        string            `json:"id"`
	Time      time.Time         `json:"time"`
	Namespace string            `json:"namespace"`
	Socket    SocketInfo        `json:"socket"`
	Event     string            `json:"event,omitempty"`
	Args      []json.RawMessage `json:"args,omitempty"`
	Ack       bool              `json:"ack"`
	Reason    string            `json:"reason,omitempty"`
	Recovered bool              `json:"recovered,omitempty"`
}

// SocketInfo describes the socket a delivery is about.
type SocketInfo struct {
	ID    string   `json:"id"`
	Rooms []string `json:"rooms"`
	// Data is socket.data as JSON: {} when unset.
	Data json.RawMessage `json:"data"`
	// Handshake is the encoded Handshake (see EncodeHandshake).
	Handshake json.RawMessage `json:"handshake"`
}

// Handshake is the envelope's socket.handshake, for backends written in
// Go that decode envelopes: headers (lower-case names, repeated values
// joined with ", ") and query are objects of strings; auth is always an
// object.
type Handshake struct {
	Headers map[string]string `json:"headers"`
	Query   map[string]string `json:"query"`
	Auth    json.RawMessage   `json:"auth"`
	Address string            `json:"address"`
	Secure  bool              `json:"secure"`
	URL     string            `json:"url"`
}

// MarshalJSON encodes e as AppendJSON does.
func (e *Envelope) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// AppendJSON appends the JSON encoding of e to dst. It is the hot path
// of every delivery: args and the pre-encoded handshake are copied as raw
// bytes, nothing is reflected.
func (e *Envelope) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, e.Type)
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"time":"`...)
	dst = e.Time.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = append(dst, `","namespace":`...)
	dst = appendString(dst, e.Namespace)
	dst = append(dst, `,"socket":{"id":`...)
	dst = appendString(dst, e.Socket.ID)
	dst = append(dst, `,"rooms":[`...)
	for i, r := range e.Socket.Rooms {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, r)
	}
	dst = append(dst, `],"data":`...)
	dst = appendRaw(dst, e.Socket.Data, "{}")
	dst = append(dst, `,"handshake":`...)
	dst = appendRaw(dst, e.Socket.Handshake, "{}")
	dst = append(dst, '}')
	if e.Type == TypeEvent || e.Event != "" {
		dst = append(dst, `,"event":`...)
		dst = appendString(dst, e.Event)
		dst = append(dst, `,"args":`...)
		dst = socketio.AppendArray(dst, e.Args)
	}
	if e.Ack {
		dst = append(dst, `,"ack":true`...)
	} else {
		dst = append(dst, `,"ack":false`...)
	}
	if e.Type == TypeDisconnect || e.Type == TypeExpired || e.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = appendString(dst, e.Reason)
	}
	if e.Type == TypeConnect {
		if e.Recovered {
			dst = append(dst, `,"recovered":true`...)
		} else {
			dst = append(dst, `,"recovered":false`...)
		}
	}
	return append(dst, '}')
}

func appendRaw(dst []byte, raw json.RawMessage, empty string) []byte {
	if len(raw) == 0 {
		return append(dst, empty...)
	}
	return append(dst, raw...)
}

// EncodeHandshake encodes a socket's handshake once, for every envelope
// of that socket: headers with lower-case names (as Node reports them),
// repeated values joined with ", ", query values as strings (the first
// of repeated ones), keys sorted.
func EncodeHandshake(h socketio.Handshake) json.RawMessage {
	b := make([]byte, 0, 512)
	b = append(b, `{"headers":`...)
	b = appendHeaders(b, h.Headers)
	b = append(b, `,"query":`...)
	b = appendQuery(b, h.Query)
	b = append(b, `,"auth":`...)
	if len(h.Auth) == 0 || h.Auth[0] != '{' {
		b = append(b, "{}"...)
	} else {
		b = append(b, h.Auth...)
	}
	b = append(b, `,"address":`...)
	b = appendString(b, h.Address)
	b = append(b, `,"secure":`...)
	b = strconv.AppendBool(b, h.Secure)
	b = append(b, `,"url":`...)
	b = appendString(b, h.URL)
	return append(b, '}')
}

func appendHeaders(b []byte, h http.Header) []byte {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, strings.ToLower(k))
		b = append(b, ':')
		b = appendString(b, strings.Join(h[k], ", "))
	}
	return append(b, '}')
}

func appendQuery(b []byte, q url.Values) []byte {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		v := ""
		if len(q[k]) > 0 {
			v = q[k][0]
		}
		b = appendString(b, v)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string, as encoding/json writes it
// without HTML escaping (backends need none); see jsonstr.
func appendString(dst []byte, s string) []byte { return jsonstr.Append(dst, s) }

// deliveryPrefix makes delivery ids unique across processes; the counter
// makes them unique within one.
var (
	deliveryPrefix = func() string {
		var b [6]byte
		_, _ = rand.Read(b[:])
		return "msg_" + hex.EncodeToString(b[:])
	}()
	deliveryCounter atomic.Uint64
)

// NewDeliveryID returns a fresh delivery id: the envelope's "id", the
// webhook-id header, and the requestId a client sees in an error event.
func NewDeliveryID() string {
	n := deliveryCounter.Add(1)
	var b [32]byte
	out := append(b[:0], deliveryPrefix...)
	out = append(out, '_')
	out = strconv.AppendUint(out, n, 36)
	return string(out)
}
