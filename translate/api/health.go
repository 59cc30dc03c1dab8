package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// readyTimeout bounds one readiness probe (all checks together).
const readyTimeout = 2 * time.Second

// healthz is GET /healthz: the process serves HTTP.
func (a *API) healthz(c *gin.Context) {
	writeJSON(c, http.StatusOK, gin.H{"status": "ok"})
}

// readyz is GET /readyz: 200 {"status":"ready"} when every registered
// check passes, else 503 {"status":"not ready","reasons":[…]}, one reason
// per failed check ("name: error"). From Drain or Shutdown on it is 503. With
// checks registered, "checks" gives each one's state by name: "ok" or its
// error (each backend stream's, for example).
func (a *API) readyz(c *gin.Context) {
	var reasons []string
	if a.stopping.Load() || a.draining.Load() {
		reasons = append(reasons, "shutting down")
	}
	a.mu.Lock()
	checks := slices.Clone(a.checks)
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, ch := range checks {
		wg.Go(func() { errs[i] = ch.check(ctx) })
	}
	wg.Wait()
	var states map[string]string
	if len(checks) > 0 {
		states = make(map[string]string, len(checks))
	}
	for i, err := range errs {
		states[checks[i].name] = "ok"
		if err != nil {
			reasons = append(reasons, checks[i].name+": "+err.Error())
			states[checks[i].name] = err.Error()
		}
	}
	ans := gin.H{"status": "ready"}
	if states != nil {
		ans["checks"] = states
	}
	if len(reasons) > 0 {
		ans["status"], ans["reasons"] = "not ready", reasons
		writeJSON(c, http.StatusServiceUnavailable, ans)
		return
	}
	writeJSON(c, http.StatusOK, ans)
}

// metricsHandler is the built-in GET /metrics: the Socket.IO server's
// gauges and the API's request counter, in the Prometheus text format
// (version 0.0.4).
func (a *API) metricsHandler(c *gin.Context) {
	c.Header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	c.Status(http.StatusOK)
	w := bufio.NewWriter(c.Writer)
	a.writeMetrics(w)
	w.Flush()
}

func (a *API) writeMetrics(w io.Writer) {
	srv := a.cfg.Server
	fmt.Fprintf(w, "# HELP iobridge_connections Engine.IO connections attached to the Socket.IO server.\n")
	fmt.Fprintf(w, "# TYPE iobridge_connections gauge\n")
	fmt.Fprintf(w, "iobridge_connections %d\n", srv.Clients())

	fmt.Fprintf(w, "# HELP iobridge_sockets Connected sockets per namespace.\n")
	fmt.Fprintf(w, "# TYPE iobridge_sockets gauge\n")
	nsps := srv.Namespaces()
	slices.SortFunc(nsps, func(x, y *socketio.Namespace) int { return strings.Compare(x.Name(), y.Name()) })
	for _, n := range nsps {
		if n.Adapter() == nil { // a pattern's parent: its children are listed
			continue
		}
		fmt.Fprintf(w, "iobridge_sockets{namespace=%s} %d\n", label(n.Name()), n.Len())
	}

	fmt.Fprintf(w, "# HELP iobridge_api_requests_total Control API requests by route and status code.\n")
	fmt.Fprintf(w, "# TYPE iobridge_api_requests_total counter\n")
	for _, r := range a.metrics.snapshot() {
		fmt.Fprintf(w, "iobridge_api_requests_total{route=%s,code=\"%d\"} %d\n", label(r.route), r.code, r.n)
	}
}

// label quotes a Prometheus label value.
func label(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// requestCounter counts requests by route and status.
type requestCounter struct {
	mu sync.Mutex
	m  map[routeCode]uint64
}

type routeCode struct {
	route string
	code  int
}

type routeCount struct {
	routeCode
	n uint64
}

func (rc *requestCounter) add(route string, code int) {
	rc.mu.Lock()
	if rc.m == nil {
		rc.m = make(map[routeCode]uint64)
	}
	rc.m[routeCode{route, code}]++
	rc.mu.Unlock()
}

func (rc *requestCounter) snapshot() []routeCount {
	rc.mu.Lock()
	out := make([]routeCount, 0, len(rc.m))
	for k, n := range rc.m {
		out = append(out, routeCount{k, n})
	}
	rc.mu.Unlock()
	slices.SortFunc(out, func(x, y routeCount) int {
		if c := strings.Compare(x.route, y.route); c != 0 {
			return c
		}
		return x.code - y.code
	})
	return out
}
