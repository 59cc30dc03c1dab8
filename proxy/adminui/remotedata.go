package adminui

import (
	"bytes"
	"encoding/json"

	"github.com/iobridge/iobridge/internal/jsonobj"
	"github.com/iobridge/iobridge/proxy/socketio"
)

var _ socketio.RemoteDataDecorator = (*observer)(nil)

// RemoteData is what other nodes get as the data of this node's socket s
// in their fetches (a UI on a Node server or on another iobridge node
// lists the socket from it): data with _admin {clientId, transport}, as
// the package keeps in socket.data. The transport is the current one, as
// the package updates it on upgrade. s's own data is left as it is.
func (o *observer) RemoteData(s *socketio.Socket, data any) any {
	return withAdmin(data, adminMeta{ClientID: clientID(s), Transport: s.Transport()})
}

// withAdmin is data as JSON with "_admin": meta as its first member, as
// JSON.stringify writes the package's socket.data (_admin set first, the
// application's keys copied after it). Unset data, null or invalid JSON
// give {"_admin": meta}; an _admin member of data itself is replaced.
// Data that is not an object (an array, a string, a number) is returned
// as it is: it has no member to carry _admin.
func withAdmin(data any, meta adminMeta) any {
	var b []byte
	switch d := data.(type) {
	case nil:
	case json.RawMessage:
		b = d
	default:
		var err error
		if b, err = json.Marshal(d); err != nil {
			return data
		}
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" || !json.Valid(b) {
		b = []byte("{}")
	}
	if b[0] != '{' {
		return data
	}
	if bytes.Contains(b, []byte(`_admin`)) {
		b, _ = jsonobj.Without(b, "_admin")
	}
	m := mustJSON(meta)
	out := make([]byte, 0, len(`{"_admin":,`)+len(m)+len(b))
	out = append(out, `{"_admin":`...)
	out = append(out, m...)
	if !jsonobj.IsEmpty(b) {
		out = append(out, ',')
		out = append(out, bytes.TrimSpace(b[1:])...)
	} else {
		out = append(out, '}')
	}
	return json.RawMessage(out)
}
