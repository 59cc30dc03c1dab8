package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iobridge/iobridge/translate"
	"github.com/iobridge/iobridge/translate/webhook"
)

// countingServer is an httptest server that counts the connections it
// accepts and reports each one it sees closed.
type countingServer struct {
	*httptest.Server
	conns  atomic.Int32
	closed chan struct{}
}

func newCountingServer(t testing.TB, h http.Handler) *countingServer {
	t.Helper()
	cs := &countingServer{closed: make(chan struct{}, 1024)}
	cs.Server = httptest.NewUnstartedServer(h)
	cs.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			cs.conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			cs.closed <- struct{}{}
		}
	}
	cs.Start()
	t.Cleanup(cs.Close)
	return cs
}

// waitClosed waits until the server has seen n more connections closed.
func (cs *countingServer) waitClosed(t *testing.T, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for range n {
		select {
		case <-cs.closed:
		case <-ctx.Done():
			t.Fatalf("server saw no connection closed (%d conns)", cs.conns.Load())
		}
	}
}

func newTransport(t testing.TB, tr *webhook.Transport) *webhook.Transport {
	if tr == nil {
		tr = &webhook.Transport{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// post is a webhook-like request: in-memory body with GetBody and a
// Webhook-Id, so it may be replayed on a fresh connection.
func post(ctx context.Context, t testing.TB, u, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Webhook-Id", "msg_1")
	return req
}

// TestTransportConnections: which answers let a connection be reused.
func TestTransportConnections(t *testing.T) {
	big := strings.Repeat("x", 64<<10)
	writeBig := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		_, _ = io.WriteString(w, big)
	}
	cases := []struct {
		name      string
		handler   http.HandlerFunc
		close     bool // the request asks to close
		read      int  // bytes read before Close; -1: all
		want      string
		wantChunk bool
		wantConns int32 // for 3 requests
	}{
		{name: "keep-alive", handler: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }, read: -1, want: "ok", wantConns: 1},
		{name: "no content", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, read: -1, want: "", wantConns: 1},
		{name: "Connection: close", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "ok")
		}, read: -1, want: "ok", wantConns: 3},
		{name: "request Close", handler: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }, close: true, read: -1, want: "ok", wantConns: 3},
		{name: "chunked", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "o")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "k")
		}, read: -1, want: "ok", wantChunk: true, wantConns: 1},
		{name: "large body", handler: writeBig, read: -1, want: big, wantConns: 1},
		{name: "not drained", handler: writeBig, read: 10, want: big[:10], wantConns: 3},
		{name: "not read", handler: func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }, read: 0, want: "", wantConns: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if b, _ := io.ReadAll(r.Body); string(b) != `{"n":1}` {
					http.Error(w, "body "+string(b), http.StatusBadRequest)
					return
				}
				tc.handler(w, r)
			}))
			tr := newTransport(t, nil)
			for i := range 3 {
				req := post(t.Context(), t, srv.URL, `{"n":1}`)
				req.Close = tc.close
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				var got []byte
				switch {
				case tc.read < 0:
					got, err = io.ReadAll(resp.Body)
				case tc.read > 0:
					got = make([]byte, tc.read)
					_, err = io.ReadFull(resp.Body, got)
				}
				resp.Body.Close()
				if err != nil || string(got) != tc.want {
					t.Fatalf("request %d: body %.20q… (%d bytes), %v; want %.20q… (%d bytes)", i, got, len(got), err, tc.want, len(tc.want))
				}
				if chunked := len(resp.TransferEncoding) > 0; chunked != tc.wantChunk {
					t.Fatalf("request %d: TransferEncoding = %v, want chunked %v", i, resp.TransferEncoding, tc.wantChunk)
				}
			}
			if n := srv.conns.Load(); n != tc.wantConns {
				t.Fatalf("server connections = %d, want %d", n, tc.wantConns)
			}
			if tc.wantConns > 1 {
				srv.waitClosed(t, int(tc.wantConns))
			}
		})
	}
}

// rawServer answers every request on a connection with answer, written
// as is, and closes the connection after it if closeAfter. It counts the
// connections it accepts.
func rawServer(t *testing.T, answer string, closeAfter bool) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, answer); err != nil || closeAfter {
						return
					}
				}
			})
		}
	})
	return "http://" + ln.Addr().String() + "/hook", &conns
}

// TestTransportRawAnswers: answers net/http's server does not write.
func TestTransportRawAnswers(t *testing.T) {
	cases := []struct {
		name       string
		answer     string
		closeAfter bool
		want       string
		wantConns  int32 // for 3 requests
	}{
		{name: "HTTP/1.0", answer: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", want: "ok", wantConns: 3},
		{name: "HTTP/1.0 keep-alive", answer: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", want: "ok", wantConns: 1},
		{name: "HTTP/1.0 until EOF", answer: "HTTP/1.0 200 OK\r\n\r\nok", closeAfter: true, want: "ok", wantConns: 3},
		{name: "HTTP/1.1 until EOF", answer: "HTTP/1.1 200 OK\r\n\r\nok", closeAfter: true, want: "ok", wantConns: 3},
		{name: "chunked with trailer", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n1\r\no\r\n1\r\nk\r\n0\r\nX-T: 1\r\n\r\n", want: "ok", wantConns: 1},
		{name: "early hints", answer: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", want: "ok", wantConns: 1},
		{name: "304", answer: "HTTP/1.1 304 Not Modified\r\n\r\n", want: "", wantConns: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, conns := rawServer(t, tc.answer, tc.closeAfter)
			tr := newTransport(t, nil)
			for i := range 3 {
				resp, err := tr.RoundTrip(post(t.Context(), t, u, `{}`))
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(got) != tc.want {
					t.Fatalf("request %d: body %q, %v; want %q", i, got, err, tc.want)
				}
			}
			if n := conns.Load(); n != tc.wantConns {
				t.Fatalf("connections = %d, want %d", n, tc.wantConns)
			}
		})
	}
}

// TestTransportSSE: a text/event-stream answer is read as it comes;
// closing it mid-stream closes the connection, which is not reused.
func TestTransportSSE(t *testing.T) {
	next := make(chan struct{})
	gone := make(chan struct{}, 1)
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/plain" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "data: 2\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		gone <- struct{}{}
	}))
	tr := newTransport(t, nil)
	resp, err := tr.RoundTrip(post(t.Context(), t, srv.URL+"/sse", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	sse := translate.NewSSEReader(resp.Body, 0)
	for i, want := range []string{"1", "2"} {
		m, err := sse.Next()
		if err != nil || string(m.Data) != want {
			t.Fatalf("message %d = %+v, %v; want data %s", i, m, err, want)
		}
		if i == 0 {
			close(next) // the second is sent only once the first was read
		}
	}
	resp.Body.Close()
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("closing the stream did not end the request")
	}
	srv.waitClosed(t, 1)
	resp, err = tr.RoundTrip(post(t.Context(), t, srv.URL+"/plain", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := srv.conns.Load(); n != 2 {
		t.Fatalf("server connections = %d, want 2 (the stream's is not reused)", n)
	}
}

// TestTransportStaleConn: the server closed an idle connection; a
// replayable request is sent again on a fresh one, another fails.
func TestTransportStaleConn(t *testing.T) {
	var requests atomic.Int32
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		requests.Add(1)
		_, _ = io.WriteString(w, "ok")
	}))
	tr := newTransport(t, nil)
	roundTrip := func(req *http.Request) error {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && string(b) != "ok" {
			err = fmt.Errorf("body %q", b)
		}
		return err
	}
	cases := []struct {
		name    string
		req     func() *http.Request
		wantErr bool
	}{
		{name: "POST with Webhook-Id", req: func() *http.Request { return post(t.Context(), t, srv.URL, `{}`) }},
		{name: "GET", req: func() *http.Request {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			return req
		}},
		{name: "POST without idempotency key", req: func() *http.Request {
			req := post(t.Context(), t, srv.URL, `{}`)
			req.Header.Del("Webhook-Id")
			return req
		}, wantErr: true},
		{name: "body without GetBody", req: func() *http.Request {
			req := post(t.Context(), t, srv.URL, `{}`)
			req.GetBody = nil
			return req
		}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := roundTrip(post(t.Context(), t, srv.URL, `{}`)); err != nil {
				t.Fatal(err)
			}
			conns, reqs := srv.conns.Load(), requests.Load()
			srv.CloseClientConnections()
			srv.waitClosed(t, 1)
			err := roundTrip(tc.req())
			if tc.wantErr {
				if err == nil {
					t.Fatal("request on the stale connection succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("request on the stale connection: %v, want a retry on a fresh one", err)
			}
			if c, r := srv.conns.Load()-conns, requests.Load()-reqs; c != 1 || r != 1 {
				t.Fatalf("new connections %d, requests %d; want 1 and 1", c, r)
			}
		})
	}
}

// TestTransportCancel: the context aborts a request waiting for its
// answer's headers, or its body.
func TestTransportCancel(t *testing.T) {
	arrived := make(chan struct{}, 1)
	left := make(chan struct{}, 1)
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/body" {
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
		}
		arrived <- struct{}{}
		<-r.Context().Done()
		left <- struct{}{}
	}))
	tr := newTransport(t, nil)
	t.Run("cancel before headers", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() {
			select {
			case <-arrived:
				cancel()
			case <-ctx.Done():
			}
		}()
		if _, err := tr.RoundTrip(post(ctx, t, srv.URL, `{}`)); !errors.Is(err, context.Canceled) {
			t.Fatalf("RoundTrip = %v, want context.Canceled", err)
		}
		waitLeft(t, left)
	})
	t.Run("deadline before headers", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := tr.RoundTrip(post(ctx, t, srv.URL, `{}`)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("RoundTrip = %v, want context.DeadlineExceeded", err)
		}
		<-arrived
		waitLeft(t, left)
	})
	t.Run("cancel during body", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		resp, err := tr.RoundTrip(post(ctx, t, srv.URL+"/body", `{}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		part := make([]byte, len("partial"))
		if _, err := io.ReadFull(resp.Body, part); err != nil || string(part) != "partial" {
			t.Fatalf("body %q, %v; want the part sent", part, err)
		}
		<-arrived
		cancel()
		if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
			t.Fatalf("reading the rest = %v, want context.Canceled", err)
		}
		waitLeft(t, left)
	})
	if n := srv.conns.Load(); n != 3 {
		t.Fatalf("server connections = %d, want 3 (none reused after a cancel)", n)
	}
}

func waitLeft(t *testing.T, left <-chan struct{}) {
	t.Helper()
	select {
	case <-left:
	case <-time.After(10 * time.Second):
		t.Fatal("the server's request did not end: connection not closed")
	}
}

// TestTransportIdle: idle connections are closed after IdleConnTimeout,
// and at most MaxIdleConnsPerHost are kept.
func TestTransportIdle(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
		tr := newTransport(t, &webhook.Transport{IdleConnTimeout: 20 * time.Millisecond})
		for range 2 {
			resp, err := tr.RoundTrip(post(t.Context(), t, srv.URL, `{}`))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			srv.waitClosed(t, 1) // closed by the transport's timer
		}
		if n := srv.conns.Load(); n != 2 {
			t.Fatalf("server connections = %d, want 2", n)
		}
	})
	t.Run("bound", func(t *testing.T) {
		const n = 3
		var wg sync.WaitGroup
		wg.Add(n)
		srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/all" {
				wg.Done()
				wg.Wait() // n requests in flight at once, on n connections
			}
			_, _ = io.WriteString(w, "ok")
		}))
		tr := newTransport(t, &webhook.Transport{MaxIdleConnsPerHost: 1})
		do := func(path string) error {
			resp, err := tr.RoundTrip(post(t.Context(), t, srv.URL+path, `{}`))
			if err != nil {
				return err
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			return err
		}
		errs := make(chan error, n)
		for range n {
			go func() { errs <- do("/all") }()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		srv.waitClosed(t, n-1)
		for range 3 {
			if err := do("/"); err != nil {
				t.Fatal(err)
			}
		}
		if c := srv.conns.Load(); c != n {
			t.Fatalf("server connections = %d, want %d (the one kept is reused)", c, n)
		}
	})
}

// TestTransportConcurrent: many goroutines share a few connections, each
// getting its own answer.
func TestTransportConcurrent(t *testing.T) {
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Query().Get("chunked") != "" {
			w.(http.Flusher).Flush()
		}
		_, _ = w.Write(b)
	}))
	tr := newTransport(t, &webhook.Transport{MaxIdleConnsPerHost: 4})
	const goroutines, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				u := srv.URL
				if i%2 == 1 {
					u += "?chunked=1"
				}
				want := fmt.Sprintf(`{"g":%d,"i":%d}`, g, i)
				resp, err := tr.RoundTrip(post(t.Context(), t, u, want))
				if err != nil {
					errs <- err
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(got) != want {
					errs <- fmt.Errorf("answer %q, %v; want %q", got, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c := srv.conns.Load(); c < 1 || c > goroutines*each {
		t.Fatalf("server connections = %d", c)
	}
}

type recordingRT struct{ n atomic.Int32 }

func (r *recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.n.Add(1)
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

// TestTransportFallback: https, proxied and upgrade requests go to the
// fallback.
func TestTransportFallback(t *testing.T) {
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	proxy, _ := url.Parse("http://127.0.0.1:1")
	cases := []struct {
		name     string
		url      string
		proxy    bool
		upgrade  bool
		fallback bool
	}{
		{name: "http", url: srv.URL},
		{name: "https", url: "https://127.0.0.1:1/x", fallback: true},
		{name: "proxied", url: srv.URL, proxy: true, fallback: true},
		{name: "upgrade", url: srv.URL, upgrade: true, fallback: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fb := &recordingRT{}
			tr := newTransport(t, &webhook.Transport{Fallback: fb})
			if tc.proxy {
				tr.Proxy = func(*http.Request) (*url.URL, error) { return proxy, nil }
			}
			req := post(t.Context(), t, tc.url, `{}`)
			if tc.upgrade {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "websocket")
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := fb.n.Load() == 1; got != tc.fallback {
				t.Fatalf("fallback used = %v, want %v", got, tc.fallback)
			}
		})
	}
}

// TestTransportRefused: a dial error is returned, the body closed.
func TestTransportRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	tr := newTransport(t, nil)
	body := &closeRecorder{Reader: bytes.NewReader([]byte(`{}`))}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, u, body)
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("no error")
	}
	if !body.closed {
		t.Fatal("request body not closed")
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// BenchmarkTransport compares Transport with net/http's on a local
// server: one request after another, and from 16 goroutines.
func BenchmarkTransport(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ack":["ok"]}`)
	}))
	defer srv.Close()
	body := []byte(`{"type":"event","event":"echo","args":["` + strings.Repeat("x", 64) + `"]}`)
	transports := []struct {
		name string
		rt   func() http.RoundTripper
	}{
		{"rt=webhook", func() http.RoundTripper { return &webhook.Transport{} }},
		{"rt=net-http", func() http.RoundTripper {
			return &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true}
		}},
	}
	roundTrip := func(rt http.RoundTripper) error {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header["Webhook-Id"] = []string{"msg_1"}
		resp, err := rt.RoundTrip(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	for _, clients := range []int{1, 16} {
		for _, tc := range transports {
			b.Run(fmt.Sprintf("clients=%d/%s", clients, tc.name), func(b *testing.B) {
				rt := tc.rt()
				defer rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
				b.ReportAllocs()
				if clients == 1 {
					for b.Loop() {
						if err := roundTrip(rt); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := roundTrip(rt); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
