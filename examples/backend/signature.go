package backend

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Errors of signature verification. The handler answers 401 to all of them.
var (
	ErrBadSecret        = errors.New("backend: secret is not whsec_ followed by base64")
	ErrMissingHeaders   = errors.New("backend: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrStaleTimestamp   = errors.New("backend: webhook-timestamp too far from now")
	ErrInvalidSignature = errors.New("backend: no matching signature")
)

// signatureTolerance is how far webhook-timestamp may be from the clock, in
// either direction: the Standard Webhooks libraries use five minutes. It
// keeps a captured request from being replayed later.
const signatureTolerance = 5 * time.Minute

// Verifier checks Standard Webhooks signatures (standardwebhooks.com), the
// way every off-the-shelf library does:
//
//	signed content = webhook-id + "." + webhook-timestamp + "." + body
//	signature      = base64(HMAC-SHA256(key, signed content))
//	header         = "v1,<signature>" (several, space-separated, when keys rotate)
//
// where key is the base64 text after "whsec_" in the secret, decoded.
// A Verifier is safe for concurrent use.
type Verifier struct {
	key []byte
	now func() time.Time
}

// NewVerifier returns a Verifier for a "whsec_…" secret.
func NewVerifier(secret string) (*Verifier, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, ErrBadSecret
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, ErrBadSecret
	}
	return &Verifier{key: key, now: time.Now}, nil
}

// Sign returns the webhook-signature header value for a delivery: what the
// sidecar sends. The backend only verifies; tests sign with it.
func (v *Verifier) Sign(id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(v.mac(id, strconv.FormatInt(ts.Unix(), 10), body))
}

func (v *Verifier) mac(id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, v.key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks the headers of a delivery against its body.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not unix seconds", ErrStaleTimestamp, ts)
	}
	if d := v.now().Sub(time.Unix(sec, 0)); d > signatureTolerance || d < -signatureTolerance {
		return ErrStaleTimestamp
	}
	want := v.mac(id, ts, body)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue // other schemes (v1a: asymmetric) are not ours
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) { // constant time
			return nil
		}
	}
	return ErrInvalidSignature
}
