package adminui

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// serializedSocket is a socket as the UI lists it (the package's
// serialize).
type serializedSocket struct {
	ID        string              `json:"id"`
	ClientID  string              `json:"clientId,omitempty"`
	Transport string              `json:"transport,omitempty"`
	Nsp       string              `json:"nsp"`
	Data      json.RawMessage     `json:"data"`
	Handshake serializedHandshake `json:"handshake"`
	Rooms     []string            `json:"rooms"`
}

// serializedHandshake is the part of socket.handshake the package sends
// (not auth).
type serializedHandshake struct {
	Address string         `json:"address"`
	Headers map[string]any `json:"headers"`
	Query   map[string]any `json:"query"`
	Issued  int64          `json:"issued"`
	Secure  bool           `json:"secure"`
	Time    string         `json:"time"`
	URL     string         `json:"url"`
	XDomain bool           `json:"xdomain"`
}

// adminMeta is what the package keeps in socket.data._admin.
type adminMeta struct {
	ClientID  string `json:"clientId"`
	Transport string `json:"transport"`
}

// serializeLocal describes a socket of this node: client id and transport
// from its connection.
func serializeLocal(s *socketio.Socket) serializedSocket {
	out := serializeInfo(s.Info(), s.Namespace().Name())
	out.ClientID = clientID(s)
	out.Transport = s.Transport()
	return out
}

// clientID is the package's clientId: the Engine.IO id's first 12
// characters.
func clientID(s *socketio.Socket) string {
	id := s.ConnID()
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// serializeInfo describes a socket returned by FetchSockets. A socket of
// a Node server running the package, or of an iobridge node with the
// admin UI on (RemoteData), has its client id and transport in
// data._admin; any other gets its own id as client id, so that the UI
// does not make one client of every such socket.
func serializeInfo(info socketio.SocketInfo, nsp string) serializedSocket {
	data, meta := splitData(info.Data)
	if meta.ClientID == "" {
		meta.ClientID = info.ID
	}
	rooms := info.Rooms
	if rooms == nil {
		rooms = []string{}
	}
	h := info.Handshake
	return serializedSocket{
		ID:        info.ID,
		ClientID:  meta.ClientID,
		Transport: meta.Transport,
		Nsp:       nsp,
		Data:      data,
		Handshake: serializedHandshake{
			Address: address(h),
			Headers: nodeHeaders(h.Headers),
			Query:   nodeQuery(h.Query),
			Issued:  h.Issued,
			Secure:  h.Secure,
			Time:    h.Time,
			URL:     h.URL,
			XDomain: h.XDomain,
		},
		Rooms: rooms,
	}
}

// address is the package's: cf-connecting-ip, else x-forwarded-for, else
// the peer address.
func address(h socketio.Handshake) string {
	for _, name := range []string{"cf-connecting-ip", "x-forwarded-for"} {
		if v := headerValue(h.Headers, name); v != "" {
			return v
		}
	}
	return h.Address
}

// headerValue finds a header whatever the case of its name in h (headers
// of another node's sockets come with Node's lower-case names).
func headerValue(h http.Header, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return strings.Join(v, ", ")
		}
	}
	return ""
}

// nodeHeaders is h as Node's req.headers: lower-case names, repeated
// values joined with ", ", set-cookie an array.
func nodeHeaders(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, v := range h {
		k = strings.ToLower(k)
		if k == "set-cookie" {
			out[k] = v
		} else {
			out[k] = strings.Join(v, ", ")
		}
	}
	return out
}

// nodeQuery is q as Node's parsed query: one value a string, repeated
// ones an array.
func nodeQuery(q url.Values) map[string]any {
	out := make(map[string]any, len(q))
	for k, v := range q {
		if len(v) == 1 {
			out[k] = v[0]
		} else {
			out[k] = v
		}
	}
	return out
}

// splitData encodes socket.data without its _admin entry (the package's
// serializeData), and returns that entry. Unset data is {}, as the
// package's, which always has an object.
func splitData(v any) (json.RawMessage, adminMeta) {
	var b []byte
	switch d := v.(type) {
	case nil:
		return json.RawMessage("{}"), adminMeta{}
	case json.RawMessage:
		b = d
	default:
		var err error
		if b, err = json.Marshal(d); err != nil {
			return json.RawMessage("{}"), adminMeta{}
		}
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return json.RawMessage("{}"), adminMeta{}
	}
	if b[0] != '{' || !bytes.Contains(b, []byte(`"_admin"`)) {
		return b, adminMeta{}
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) != nil {
		return b, adminMeta{}
	}
	var meta adminMeta
	_ = json.Unmarshal(obj["_admin"], &meta)
	delete(obj, "_admin")
	out, err := json.Marshal(obj)
	if err != nil {
		return b, meta
	}
	return out, meta
}

// jsDate is a time as JSON.stringify writes a Date: its ISO string in
// UTC with milliseconds.
func jsDate(t time.Time) json.RawMessage {
	return json.RawMessage(t.UTC().AppendFormat([]byte{'"'}, "2006-01-02T15:04:05.000Z\""))
}

// mustJSON encodes v, which is made of types that always encode.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("adminui: " + err.Error())
	}
	return b
}
