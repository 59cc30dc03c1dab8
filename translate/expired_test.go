package translate_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/proxy/socketio/siotest"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// expiryWindow is the recovery window of these tests: short, real time
// (the backend is a real HTTP server).
const expiryWindow = 300 * time.Millisecond

// recoveryOffset makes the server emit to c and returns the offset the
// event carries, which a reconnecting client sends back.
func recoveryOffset(t *testing.T, sc *sidecar, c *siotest.Client) string {
	t.Helper()
	nsp, _ := sc.srv.Namespace("/")
	if err := nsp.To(c.SID).Emit("tick", nil, nil); err != nil {
		t.Fatal(err)
	}
	args, _ := c.WaitEvent("tick")
	var a []string
	if err := json.Unmarshal([]byte(args), &a); err != nil || len(a) != 1 {
		t.Fatalf("tick args %s: %v", args, err)
	}
	return a[0]
}

// TestExpiredDelivery: a socket that leaves with recovery on and does not
// come back gets one expired delivery when the window lapses, with its
// last rooms and data and the reason it left with; it is retried under
// the same webhook-id as a disconnect is, and its answer's emits apply.
func TestExpiredDelivery(t *testing.T) {
	var mu sync.Mutex
	var attempts []string
	h := startHook(t, func(w http.ResponseWriter, d delivery) {
		switch d.Env.Type {
		case "connect":
			jsonAnswer(w, 200, `{"rooms":["room-a"],"data":{"user":"u1"}}`)
		case "expired":
			mu.Lock()
			attempts = append(attempts, d.Header.Get("Webhook-Id"))
			n := len(attempts)
			mu.Unlock()
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				jsonAnswer(w, 503, `{"message":"busy"}`)
				return
			}
			jsonAnswer(w, 200, `{"emit":[{"to":["room-a"],"event":"gone","args":["`+d.Env.Socket.ID+`"]}]}`)
		default:
			jsonAnswer(w, 200, `{}`)
		}
	})
	sc := startSidecarWith(t, translate.Config{Routes: []translate.Route{{
		Name:    "/",
		Backend: newClient(t, h.URL, webhook.Config{Backoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}),
	}}}, socketio.Config{Recovery: expiryWindow})

	leaving := siotest.Dial(t, sc.url, "/", nil)
	h.next(t, "connect")
	staying := siotest.Dial(t, sc.url, "/", nil)
	h.next(t, "connect")
	leaving.Close()
	disc := h.next(t, "disconnect")
	left := time.Now()

	first := h.next(t, "expired")
	e := h.next(t, "expired").Env
	if time.Since(left) < expiryWindow-50*time.Millisecond {
		t.Fatalf("expired after %v, before the window of %v", time.Since(left), expiryWindow)
	}
	want := []string{leaving.SID, "room-a"}
	slices.Sort(want)
	if e.Socket.ID != leaving.SID || !slices.Equal(e.Socket.Rooms, want) || e.Reason != "transport close" ||
		e.Namespace != "/" || e.Ack == nil || *e.Ack || e.Socket.Handshake.Headers == nil {
		t.Fatalf("expired envelope %+v", e)
	}
	sameJSON(t, "data", string(e.Socket.Data), `{"user":"u1"}`)
	if first.Env.ID != e.ID || disc.Env.ID == e.ID {
		t.Fatalf("retry ids: first %s, retry %s, disconnect %s", first.Env.ID, e.ID, disc.Env.ID)
	}
	mu.Lock()
	if len(attempts) != 2 || attempts[0] != attempts[1] || attempts[0] != e.ID {
		t.Fatalf("webhook-ids %v, want twice %s", attempts, e.ID)
	}
	mu.Unlock()
	// With recovery on, the emit carries its offset as last argument.
	gone, _ := staying.WaitEvent("gone")
	var args []string
	if err := json.Unmarshal([]byte(gone), &args); err != nil || len(args) != 2 || args[0] != leaving.SID {
		t.Fatalf("gone %s: %v", gone, err)
	}

	// One per session: nothing more comes.
	select {
	case d := <-h.got:
		if d.Env.Type == "expired" {
			t.Fatalf("second expired delivery %+v", d.Env)
		}
	case <-time.After(2 * expiryWindow):
	}
}

// TestExpiredNotForRecoveredSocket: a socket that comes back within the
// window recovers, and no expired delivery is sent for it.
func TestExpiredNotForRecoveredSocket(t *testing.T) {
	h := startHook(t, func(w http.ResponseWriter, d delivery) { jsonAnswer(w, 200, `{}`) })
	sc := startSidecarWith(t, translate.Config{Routes: []translate.Route{{
		Name: "/", Backend: newClient(t, h.URL, webhook.Config{}),
	}}}, socketio.Config{Recovery: 3 * expiryWindow})

	c := siotest.Dial(t, sc.url, "/", nil)
	h.next(t, "connect")
	offset := recoveryOffset(t, sc, c)
	c.Close()
	h.next(t, "disconnect")
	// The disconnect delivery may reach the backend before the session is
	// kept (it is sent while the socket is leaving).
	time.Sleep(100 * time.Millisecond)
	back := siotest.Dial(t, sc.url, "/", &siotest.Options{Auth: `{"pid":"` + c.PID + `","offset":"` + offset + `"}`})
	if back.SID != c.SID {
		t.Fatalf("not recovered: %s, want %s", back.SID, c.SID)
	}
	if d := h.next(t, "connect"); d.Env.Recovered == nil || !*d.Env.Recovered {
		t.Fatalf("connect after recovery %+v", d.Env)
	}
	deadline := time.After(6 * expiryWindow)
	for {
		select {
		case d := <-h.got:
			if d.Env.Type == "expired" {
				t.Fatalf("expired delivery for a recovered socket: %+v", d.Env)
			}
		case <-deadline:
			return
		}
	}
}
