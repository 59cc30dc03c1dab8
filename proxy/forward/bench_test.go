package forward

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkPollingEcho is one polling echo (POST "4x", then the GET that
// brings it back) from a client through a load balancer in front of two
// nodes, the session on node a:
//
//   - sticky: every request goes to a (the baseline: no forwarding);
//   - roundrobin: every GET and every POST to the next node, so half the
//     echoes are served by b forwarding to a;
//   - forwarded: every request goes to b (each one forwarded): the cost of
//     one forward is forwarded minus sticky.
//
// The serial runs give the latency of one echo; the parallel ones, with
// GOMAXPROCS*4 sessions each echoing in turn, the throughput.
func BenchmarkPollingEcho(b *testing.B) {
	for _, mode := range []string{"sticky", "roundrobin", "forwarded"} {
		for _, parallel := range []bool{false, true} {
			name := mode + "/serial"
			if parallel {
				name = mode + "/parallel"
			}
			b.Run(name, func(b *testing.B) { benchEcho(b, mode, parallel) })
		}
	}
}

func benchEcho(b *testing.B, mode string, parallel bool) {
	reg := newMemRegistry()
	na, nb := startBenchNode(b, reg), startBenchNode(b, reg)
	ua, _ := url.Parse(na.ts.URL)
	ub, _ := url.Parse(nb.ts.URL)
	var counts [2]atomic.Uint64 // per method: GET, POST
	lb := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			target := ua
			switch mode {
			case "forwarded":
				target = ub
			case "roundrobin":
				i := 0
				if pr.In.Method == http.MethodPost {
					i = 1
				}
				if counts[i].Add(1)%2 == 0 {
					target = ub
				}
			}
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: &http.Transport{MaxIdleConnsPerHost: 1024},
	}
	front := httptest.NewServer(lb)
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	base := front.URL + "/engine.io/?EIO=4&transport=polling"
	echo := func(sid string) {
		q := base + "&sid=" + sid
		res, err := client.Post(q, "text/plain;charset=UTF-8", strings.NewReader("4x"))
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "ok" {
			b.Fatalf("POST = %d %q", res.StatusCode, body)
		}
		res, err = client.Get(q)
		if err != nil {
			b.Fatal(err)
		}
		body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "4x" {
			b.Fatalf("GET = %d %q", res.StatusCode, body)
		}
	}
	open := func() string { return benchHandshake(b, client, na.url) }
	b.ReportAllocs()
	if !parallel {
		sid := open()
		echo(sid) // warm the lookup cache and the connections
		b.ResetTimer()
		for b.Loop() {
			echo(sid)
		}
		b.StopTimer()
		return
	}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		sid := open()
		for pb.Next() {
			echo(sid)
		}
	})
	b.StopTimer()
}
