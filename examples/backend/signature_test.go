package backend

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// The example of the Standard Webhooks specification and its libraries'
// test suites.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = "1614265330"
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func specVerifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	v.now = func() time.Time { return time.Unix(1614265330, 0) }
	return v
}

func TestSignMatchesSpec(t *testing.T) {
	v := specVerifier(t)
	if got := v.Sign(specID, time.Unix(1614265330, 0), []byte(specBody)); got != specSignature {
		t.Fatalf("Sign = %q, want %q", got, specSignature)
	}
}

func TestVerify(t *testing.T) {
	headers := func(id, ts, sig string) http.Header {
		h := http.Header{}
		for k, v := range map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig} {
			if v != "" {
				h.Set(k, v)
			}
		}
		return h
	}
	tests := []struct {
		name string
		h    http.Header
		body string
		now  int64
		want error
	}{
		{"valid", headers(specID, specTimestamp, specSignature), specBody, 1614265330, nil},
		{"rotated keys", headers(specID, specTimestamp, "v1,Zm9v v1a,abc "+specSignature), specBody, 1614265330, nil},
		{"within tolerance", headers(specID, specTimestamp, specSignature), specBody, 1614265330 + 299, nil},
		{"tampered body", headers(specID, specTimestamp, specSignature), `{"test": 2432232315}`, 1614265330, ErrInvalidSignature},
		{"other id", headers("msg_other", specTimestamp, specSignature), specBody, 1614265330, ErrInvalidSignature},
		{"wrong version", headers(specID, specTimestamp, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), specBody, 1614265330, ErrInvalidSignature},
		{"stale", headers(specID, specTimestamp, specSignature), specBody, 1614265330 + 301, ErrStaleTimestamp},
		{"future", headers(specID, specTimestamp, specSignature), specBody, 1614265330 - 301, ErrStaleTimestamp},
		{"timestamp not a number", headers(specID, "yesterday", specSignature), specBody, 1614265330, ErrStaleTimestamp},
		{"missing id", headers("", specTimestamp, specSignature), specBody, 1614265330, ErrMissingHeaders},
		{"missing timestamp", headers(specID, "", specSignature), specBody, 1614265330, ErrMissingHeaders},
		{"missing signature", headers(specID, specTimestamp, ""), specBody, 1614265330, ErrMissingHeaders},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := specVerifier(t)
			v.now = func() time.Time { return time.Unix(tc.now, 0) }
			if err := v.Verify(tc.h, []byte(tc.body)); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewVerifierRejectsBadSecrets(t *testing.T) {
	for _, s := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_not base64!"} {
		if _, err := NewVerifier(s); !errors.Is(err, ErrBadSecret) {
			t.Errorf("NewVerifier(%q) = %v, want ErrBadSecret", s, err)
		}
	}
}
