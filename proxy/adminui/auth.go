package adminui

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// errInvalidCredentials is the connect_error every refused admin socket
// gets, as the package's.
var errInvalidCredentials = errors.New("invalid credentials")

// credentials is the admin socket's CONNECT payload: a session id from an
// earlier login, or a username and password. Values that are not strings
// count as absent.
type credentials struct {
	SessionID any `json:"sessionId"`
	Username  any `json:"username"`
	Password  any `json:"password"`
}

// authenticate is the admin namespace's middleware (the package's basic
// authentication): a known session id, or the username with a password
// matching the bcrypt hash, which opens a new session.
func (u *ui) authenticate(_ context.Context, s *socketio.Socket) error {
	if u.stopped.Load() {
		return errors.New("admin UI stopped")
	}
	var c credentials
	_ = json.Unmarshal(s.Handshake().Auth, &c)
	if id, ok := c.SessionID.(string); ok && id != "" && u.sessions.exists(id) {
		return nil
	}
	user, _ := c.Username.(string)
	pass, ok := c.Password.(string)
	if ok && user == u.cfg.Username && bcrypt.CompareHashAndPassword([]byte(u.cfg.PasswordHash), []byte(pass)) == nil {
		u.sessions.issue(s, newSessionID())
		return nil
	}
	s.Logger().Debug("adminui: invalid credentials")
	return errInvalidCredentials
}

// newSessionID is 8 random bytes in hex, as the package's randomId.
func newSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sessions are the session ids given at login (the package's
// InMemoryStore), and the ids issued to sockets not yet told theirs.
type sessions struct {
	mu     sync.Mutex
	known  map[string]struct{}
	issued map[*socketio.Socket]string
}

func (ss *sessions) exists(id string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	_, ok := ss.known[id]
	return ok
}

// issue records a new session id for s, which gets it once connected.
func (ss *sessions) issue(s *socketio.Socket, id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.known == nil {
		ss.known = make(map[string]struct{})
		ss.issued = make(map[*socketio.Socket]string)
	}
	ss.known[id] = struct{}{}
	ss.issued[s] = id
}

// takeIssued returns and forgets the session id issued to s, if any.
func (ss *sessions) takeIssued(s *socketio.Socket) (string, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	id, ok := ss.issued[s]
	delete(ss.issued, s)
	return id, ok
}
