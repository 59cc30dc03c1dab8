package backend_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/iobridge/iobridge/examples/backend"
)

// Verifying a delivery's Standard Webhooks signature, here the example of
// the specification.
func ExampleVerifier() {
	v, err := backend.NewVerifier("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	body := []byte(`{"test": 2432232314}`)
	sent := time.Unix(1614265330, 0)
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", v.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", sent, body))
	fmt.Println(h.Get("webhook-signature"))
	// A delivery this old is refused as a replay.
	fmt.Println(v.Verify(h, body))
	// Output:
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
	// backend: webhook-timestamp too far from now
}
