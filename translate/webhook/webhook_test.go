package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/iobridge/iobridge/internal/golden"
	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// secret is the example secret of the Standard Webhooks spec.
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newClient(t *testing.T, cfg webhook.Config) *webhook.Client {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	c, err := webhook.New(cfg)
	if err != nil {
		t.Fatalf("webhook.New: %v", err)
	}
	return c
}

func env(typ string) *translate.Envelope {
	return &translate.Envelope{
		Type: typ, ID: translate.NewDeliveryID(), Time: time.Now(), Namespace: "/",
		Socket: translate.SocketInfo{ID: "AAAAAAAAAAAAAAAAAAAA", Rooms: []string{"AAAAAAAAAAAAAAAAAAAA"}},
		Event:  "echo", Args: []json.RawMessage{json.RawMessage(`"hi"`)}, Ack: true,
	}
}

// TestSignatureGolden pins the signature of a known body, and checks it
// with the Standard Webhooks Go library.
func TestSignatureGolden(t *testing.T) {
	s, err := webhook.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	const id, ts = "msg_p5jXN8AQM9LWM0D4loKWxJek", int64(1614265330)
	body := []byte(`{"test": 2432232314}`)
	got := s.Sign(id, ts, body)
	line := fmt.Sprintf("id=%s timestamp=%d body=%s signature=%s\n", id, ts, body, got)
	golden.Assert(t, filepath.Join("testdata", "signature.golden"), []byte(line))
	// The spec's own example: this secret, id, timestamp and body sign to
	// this value.
	if got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("signature = %s, want the spec's example", got)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", got)
	if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
		t.Fatalf("standardwebhooks rejects our signature: %v", err)
	}
	for _, bad := range []string{"", "whsec_", "whsec_!!", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} {
		if _, err := webhook.NewSigner(bad); !errors.Is(err, webhook.ErrBadSecret) {
			t.Errorf("NewSigner(%q) = %v, want ErrBadSecret", bad, err)
		}
	}
}

// TestDeliverSigned: a real request carries the headers, verifies with the
// library (timestamp checked), and a tampered body does not.
func TestDeliverSigned(t *testing.T) {
	wh, _ := standardwebhooks.NewWebhook(secret)
	got := make(chan error, 2)
	var bodies [][]byte
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Traceparent") != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" {
			got <- fmt.Errorf("headers %v", r.Header)
		} else if err := wh.Verify(body, r.Header); err != nil {
			got <- err
		} else if err := wh.Verify(append(body, ' '), r.Header); err == nil {
			got <- errors.New("a tampered body verified")
		} else {
			got <- nil
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ack":["ok"]}`)
	}))
	defer srv.Close()
	c := newClient(t, webhook.Config{URL: srv.URL, Secret: secret, Propagate: func(ctx context.Context, h http.Header) {
		h.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	}})
	e := env("event")
	r, err := c.Deliver(context.Background(), e)
	if err != nil || !r.HasAck || string(r.Ack[0]) != `"ok"` {
		t.Fatalf("Deliver = %+v, %v", r, err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if want := e.AppendJSON(nil); !bytes.Equal(bodies[0], want) {
		t.Fatalf("body = %s, want %s", bodies[0], want)
	}
}

// TestDeliverUnsigned: without a secret there is no signature header.
func TestDeliverUnsigned(t *testing.T) {
	h := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h <- r.Header
	}))
	defer srv.Close()
	e := env("event")
	if _, err := newClient(t, webhook.Config{URL: srv.URL}).Deliver(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	hd := <-h
	if hd.Get("Webhook-Signature") != "" || hd.Get("Webhook-Id") != e.ID || hd.Get("Webhook-Timestamp") == "" {
		t.Fatalf("headers = %v", hd)
	}
}

// TestDeliverFailures maps each failure to its sentinel or status.
func TestDeliverFailures(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + ln.Addr().String()
	ln.Close()
	cases := []struct {
		name    string
		handler http.HandlerFunc
		url     string
		is      error
		status  int
		message string
		data    string
	}{
		{name: "timeout", handler: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, is: translate.ErrTimeout, status: 504},
		{name: "refused", url: refused, is: translate.ErrUnreachable, status: 502},
		{name: "invalid JSON", handler: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "not json") }, is: translate.ErrInvalidAnswer, status: 502},
		{name: "too large", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"ack":["`+strings.Repeat("x", 200)+`"]}`)
		}, is: translate.ErrInvalidAnswer, status: 502},
		{name: "redirect", handler: func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/x", http.StatusTemporaryRedirect) }, status: 307},
		{name: "403 json", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(403)
			_, _ = io.WriteString(w, `{"message":"no","data":{"why":"token"}}`)
		}, status: 403, message: "no", data: `{"why":"token"}`},
		{name: "400 error object", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":{"message":"bad input"}}`)
		}, status: 400, message: "bad input"},
		{name: "500 text", handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, status: 500, message: "boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := tc.url
			if tc.handler != nil {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					tc.handler(w, r)
				}))
				defer srv.Close()
				url = srv.URL
			}
			c := newClient(t, webhook.Config{URL: url, Timeout: 200 * time.Millisecond, MaxAnswerBytes: 100})
			_, err := c.Deliver(context.Background(), env("event"))
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
			if s := translate.Status(err); s != tc.status {
				t.Fatalf("Status(%v) = %d, want %d", err, s, tc.status)
			}
			var se *translate.StatusError
			if tc.message != "" && (!errors.As(err, &se) || se.Message != tc.message || string(se.Data) != tc.data) {
				t.Fatalf("err = %#v, want message %q data %s", se, tc.message, tc.data)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error mentions the secret: %v", err)
			}
		})
	}
}

// TestRetryDisconnect: disconnects are retried with one webhook-id,
// honoring Retry-After; events are not retried; 4xx stops retries.
func TestRetryDisconnect(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	var when []time.Time
	fail := atomic.Int32{}
	fail.Store(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		ids = append(ids, r.Header.Get("Webhook-Id"))
		when = append(when, time.Now())
		mu.Unlock()
		if fail.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(503)
			return
		}
	}))
	defer srv.Close()
	c := newClient(t, webhook.Config{URL: srv.URL, Backoff: time.Millisecond, MaxBackoff: 2 * time.Second})
	e := env("disconnect")
	if _, err := c.Deliver(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(ids) != 3 || ids[0] != e.ID || ids[1] != e.ID || ids[2] != e.ID {
		t.Fatalf("webhook-ids = %v, want 3 × %s", ids, e.ID)
	}
	if gap := when[1].Sub(when[0]); gap < 900*time.Millisecond {
		t.Fatalf("retry after %v: Retry-After: 1 not honored", gap)
	}
	ids = nil
	mu.Unlock()

	fail.Store(1)
	if _, err := c.Deliver(context.Background(), env("event")); translate.Status(err) != 503 {
		t.Fatalf("event delivery = %v, want the 503 without retry", err)
	}
	mu.Lock()
	if len(ids) != 1 {
		t.Fatalf("event attempts = %d, want 1", len(ids))
	}
	mu.Unlock()
}

// TestRetryGivesUp: bounded attempts, then the last error.
func TestRetryGivesUp(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.WriteHeader(502)
	}))
	defer srv.Close()
	c := newClient(t, webhook.Config{URL: srv.URL, Attempts: 3, Backoff: time.Millisecond, MaxBackoff: time.Millisecond})
	_, err := c.Deliver(context.Background(), env("disconnect"))
	if translate.Status(err) != 502 || n.Load() != 3 {
		t.Fatalf("Deliver = %v after %d attempts, want 502 after 3", err, n.Load())
	}
}

// TestStream: a text/event-stream answer comes back open, unbounded by the
// timeout once its headers arrived; closing it ends the request.
func TestStream(t *testing.T) {
	gone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	}))
	defer srv.Close()
	c := newClient(t, webhook.Config{URL: srv.URL, Timeout: 100 * time.Millisecond, MaxInFlight: 1})
	r, err := c.Deliver(context.Background(), env("event"))
	if err != nil || r.Stream == nil {
		t.Fatalf("Deliver = %+v, %v; want a stream", r, err)
	}
	m, err := translate.NewSSEReader(r.Stream, 0).Next()
	if err != nil || string(m.Data) != "1" {
		t.Fatalf("first message %+v, %v", m, err)
	}
	// The stream holds the client's only slot.
	if _, err := c.Deliver(context.Background(), env("event")); !errors.Is(err, translate.ErrOverloaded) {
		t.Fatalf("second delivery = %v, want ErrOverloaded", err)
	}
	r.Stream.Close()
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("closing the stream did not end the request")
	}
}

// BenchmarkDispatch measures one delivery's sidecar side: envelope
// encoding into a pooled buffer, signing, and the request to a local
// backend that answers an ack; under tracing=on, with a span per delivery
// from a real SDK provider too, recorded in memory (the exporter emptied
// each time) and its traceparent sent.
func BenchmarkDispatch(b *testing.B) {
	for _, tracing := range []bool{false, true} {
		for _, size := range []int{64, 4096} {
			name := fmt.Sprintf("args=%dB", size)
			if tracing {
				name = "tracing=on/" + name
			}
			b.Run(name, func(b *testing.B) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, `{"ack":["ok"]}`)
				}))
				defer srv.Close()
				cfg := webhook.Config{URL: srv.URL, Secret: secret, Logger: quiet()}
				reset := func() {}
				if tracing {
					tp, exp := newTracerProvider(b)
					cfg.TracerProvider, reset = tp, exp.Reset
				}
				c, _ := webhook.New(cfg)
				e := env("event")
				e.Args = []json.RawMessage{json.RawMessage(`"` + strings.Repeat("x", size) + `"`)}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Deliver(context.Background(), e); err != nil {
						b.Fatal(err)
					}
					reset()
				}
			})
		}
	}
}

// BenchmarkSign measures encoding and signing alone.
func BenchmarkSign(b *testing.B) {
	for _, size := range []int{64, 4096} {
		b.Run(fmt.Sprintf("args=%dB", size), func(b *testing.B) {
			s, _ := webhook.NewSigner(secret)
			e := env("event")
			e.Args = []json.RawMessage{json.RawMessage(`"` + strings.Repeat("x", size) + `"`)}
			buf := make([]byte, 0, 8192)
			sig := make([]byte, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				buf = e.AppendJSON(buf[:0])
				sig = s.AppendSignature(sig[:0], e.ID, 1614265330, buf)
			}
		})
	}
}
