package engineio

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"

	"github.com/gorilla/websocket"
)

// NodeIDLen is the length of a node id: the first NodeIDLen characters of
// every session id a Server with Config.NodeID issues. Four base64url
// characters are three bytes, so a sid is still the base64url encoding of
// 15 bytes (20 characters, as the reference's), of which 12 are random.
const NodeIDLen = 4

// NewNodeID returns a random node id for Config.NodeID. A node picks a new
// one each time it starts, so sids issued before a restart name no live
// node and are answered as unknown, as the reference answers them.
func NewNodeID() string {
	var b [NodeIDLen / 4 * 3]byte
	_, _ = rand.Read(b[:])
	return base64.URLEncoding.EncodeToString(b[:])
}

// SIDNode returns the node id a sid carries: its first NodeIDLen
// characters, or "" when sid does not have the length of the ids a Server
// issues. Any 20-character sid yields a node id; whether a node holds that
// id is for the caller to find out (sids of servers without a NodeID carry
// random ones).
func SIDNode(sid string) string {
	if len(sid) != 20 {
		return ""
	}
	return sid[:NodeIDLen]
}

// validNodeID reports whether id is NodeIDLen base64url characters.
func validNodeID(id string) bool {
	if len(id) != NodeIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newID returns a session id as base64id does: 15 random bytes in URL-safe
// base64, 20 characters; with Config.NodeID, the first NodeIDLen of them
// are the node id and the remaining 12 bytes are random.
func (s *Server) newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	id := base64.URLEncoding.EncodeToString(b[:])
	if s.cfg.NodeID == "" {
		return id
	}
	return s.cfg.NodeID + id[NodeIDLen:]
}

// UnknownSession answers r exactly as the Server answers a request whose
// sid it does not know: 400 {"code":1,"message":"Session ID unknown"} for
// a polling request, 400 "Session ID unknown" with the connection closed
// for a WebSocket upgrade. A Config.Forward handler that cannot reach the
// session's owner answers with it, so that the client sees what the
// reference server would show it and starts over (never a 5xx).
func UnknownSession(w http.ResponseWriter, r *http.Request) {
	if websocket.IsWebSocketUpgrade(r) {
		abortUpgrade(w, codeUnknownSID)
		return
	}
	abortRequest(w, codeUnknownSID)
}
