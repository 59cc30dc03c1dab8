package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds every wait for an event. It is generous: the suite runs
// under -race on two cores with several node processes at once.
const waitTimeout = 20 * time.Second

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("node"); err != nil {
		fmt.Fprintln(os.Stderr, "interop: node is not on PATH; the interop tests drive real Socket.IO clients with node")
		os.Exit(1)
	}
	for _, pkg := range []string{"socket.io-client", "socket.io-client-v2", "socket.io"} {
		if _, err := os.Stat(filepath.Join("node_modules", pkg, "package.json")); err != nil {
			fmt.Fprintf(os.Stderr, "interop: node_modules/%s is missing: run npm ci in interop/\n", pkg)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// event is one JSON line written by client.js or reference.js, or one
// observation of the Go scenario application.
type event struct {
	Type        string          `json:"type"`
	Socket      string          `json:"socket,omitempty"`
	Manager     string          `json:"manager,omitempty"`
	ID          string          `json:"id,omitempty"`
	NSP         string          `json:"nsp,omitempty"`
	Event       string          `json:"event,omitempty"`
	Args        json.RawMessage `json:"args,omitempty"`
	Ack         int             `json:"ack,omitempty"`
	Req         string          `json:"req,omitempty"`
	Reason      string          `json:"reason,omitempty"`
	Message     *string         `json:"message,omitempty"`
	Description string          `json:"description,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	Auth        json.RawMessage `json:"auth,omitempty"`
	Recovered   bool            `json:"recovered,omitempty"`
	Transport   string          `json:"transport,omitempty"`
	Connected   bool            `json:"connected,omitempty"`
	Port        int             `json:"port,omitempty"`
	Error       *string         `json:"error,omitempty"`

	// Engine.IO handshake values reported by "state".
	SID          string `json:"sid,omitempty"`
	PingInterval int    `json:"pingInterval,omitempty"`
	PingTimeout  int    `json:"pingTimeout,omitempty"`
	MaxPayload   int    `json:"maxPayload,omitempty"`
	// Extensions the client's WebSocket negotiated ("state").
	Extensions string `json:"extensions,omitempty"`
}

func (e event) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// eventLog collects events in arrival order. Waiters consume events: each
// event satisfies at most one wait, so two identical events need two waits.
type eventLog struct {
	name string

	mu      sync.Mutex
	events  []event
	used    []bool
	changed chan struct{} // closed and replaced on every append and on close
	done    bool
	stderr  *bytes.Buffer // the process's stderr, for failure messages
}

func newEventLog(name string) *eventLog {
	return &eventLog{name: name, changed: make(chan struct{})}
}

func (l *eventLog) add(e event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	l.used = append(l.used, false)
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *eventLog) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *eventLog) dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for i, e := range l.events {
		mark := " "
		if l.used[i] {
			mark = "*"
		}
		fmt.Fprintf(&b, "  %s %s\n", mark, e)
	}
	if l.stderr != nil && l.stderr.Len() > 0 {
		s := l.stderr.String()
		if len(s) > 4000 {
			s = "…" + s[len(s)-4000:]
		}
		fmt.Fprintf(&b, "  stderr:\n%s", s)
	}
	return b.String()
}

// take returns the first unconsumed event that matches, and marks it used.
func (l *eventLog) take(match func(event) bool) (event, bool, bool, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.events {
		if !l.used[i] && match(e) {
			l.used[i] = true
			return e, true, l.done, l.changed
		}
	}
	return event{}, false, l.done, l.changed
}

// wait blocks until an unconsumed event matches, or fails the test after
// waitTimeout (or when the process behind the log has exited).
func (l *eventLog) wait(t testing.TB, what string, match func(event) bool) event {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		e, ok, done, changed := l.take(match)
		if ok {
			return e
		}
		if done {
			t.Fatalf("%s: waiting for %s: the process exited; events (* = consumed):\n%s", l.name, what, l.dump())
		}
		if l.seen(is("fatal")) {
			t.Fatalf("%s: waiting for %s: the script failed; events (* = consumed):\n%s", l.name, what, l.dump())
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("%s: no %s within %v; events (* = consumed):\n%s", l.name, what, waitTimeout, l.dump())
		case <-t.Context().Done():
			t.Fatalf("%s: test ended while waiting for %s", l.name, what)
		}
	}
}

// seen reports whether any event, consumed or not, matches.
func (l *eventLog) seen(match func(event) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if match(e) {
			return true
		}
	}
	return false
}

// node runs one node script from this directory with JSON lines on stdin
// and stdout. It stops when the test ends.
type node struct {
	t     testing.TB
	log   *eventLog
	mu    sync.Mutex
	stdin io.WriteCloser
}

func startNode(t testing.TB, name string, args ...string) *node {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "node", args...)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := newEventLog(name)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	log.stderr = &stderr.buf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %v: %v", args, err)
	}
	n := &node{t: t, log: log, stdin: stdin}
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = event{Type: "unparsed", Reason: sc.Text()}
			}
			log.add(e)
		}
		_ = cmd.Wait()
		log.finish()
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		<-exited
	})
	return n
}

// lockedBuffer is the process's stderr: written by exec's copier, read by
// failure messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (n *node) send(cmd map[string]any) {
	n.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		n.t.Fatalf("encode command: %v", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, err := n.stdin.Write(append(b, '\n')); err != nil {
		n.t.Fatalf("%s: write command %s: %v\n%s", n.log.name, b, err, n.log.dump())
	}
}

// client drives client.js: any number of sockets, named by the test.
type client struct {
	*node
	req int
}

func startClient(t testing.TB) *client {
	t.Helper()
	n := startNode(t, "client", "client.js")
	n.log.wait(t, "ready", is("ready"))
	return &client{node: n}
}

// connectOpts is what a test may set on a client socket.
type connectOpts struct {
	NSP        string
	Manager    string         // sockets naming one manager share a connection
	V2         bool           // use socket.io-client 2.x (Engine.IO 3)
	Transports []string       // nil means the client's default (polling, then upgrade); "fetch" is polling over fetch
	Auth       any            // the CONNECT payload
	Query      map[string]any // added to the handshake URL
	Reconnect  bool           // enables automatic reconnection (off by default)
	Parser     string         // "msgpack": socket.io-msgpack-parser; "": the default parser
}

func (c *client) connect(name, url string, o connectOpts) {
	c.t.Helper()
	opts := map[string]any{
		"reconnection":         o.Reconnect,
		"reconnectionDelay":    50,
		"reconnectionDelayMax": 200,
		"timeout":              int(waitTimeout / time.Millisecond),
	}
	if o.Transports != nil {
		opts["transports"] = o.Transports
	}
	if o.Parser != "" {
		opts["parser"] = o.Parser
	}
	if o.Query != nil {
		opts["query"] = o.Query
	}
	cmd := map[string]any{"cmd": "connect", "socket": name, "url": url, "nsp": o.NSP, "opts": opts, "v2": o.V2}
	if o.Manager != "" {
		cmd["manager"] = o.Manager
	}
	if o.Auth != nil {
		cmd["auth"] = o.Auth
	}
	c.send(cmd)
}

// emit sends an event without an ack.
func (c *client) emit(socket, ev string, args ...any) {
	c.t.Helper()
	c.send(map[string]any{"cmd": "emit", "socket": socket, "event": ev, "args": nonNil(args)})
}

// emitAck sends an event with an ack and returns the request id that the
// "ack" (or "ack_error") event will carry. timeout > 0 uses
// socket.timeout(ms).emitWithAck, whose ack is one value.
func (c *client) emitAck(socket string, timeout time.Duration, ev string, args ...any) string {
	c.t.Helper()
	c.req++
	req := fmt.Sprintf("r%d", c.req)
	cmd := map[string]any{"cmd": "emit", "socket": socket, "event": ev, "args": nonNil(args), "ack": true, "req": req}
	if timeout > 0 {
		cmd["timeout"] = timeout.Milliseconds()
	}
	c.send(cmd)
	return req
}

func (c *client) emitVolatile(socket, ev string, args ...any) {
	c.t.Helper()
	c.send(map[string]any{"cmd": "emit", "socket": socket, "event": ev, "args": nonNil(args), "volatile": true})
}

// call emits with an ack and waits for the ack's args.
func (c *client) call(socket, ev string, args ...any) json.RawMessage {
	c.t.Helper()
	req := c.emitAck(socket, 0, ev, args...)
	return c.log.wait(c.t, "ack of "+ev, func(e event) bool { return e.Type == "ack" && e.Req == req }).Args
}

func (c *client) do(cmd, socket string) {
	c.t.Helper()
	c.send(map[string]any{"cmd": cmd, "socket": socket})
}

// wait waits for an event of typ on socket.
func (c *client) wait(typ, socket string) event {
	c.t.Helper()
	return c.log.wait(c.t, typ+" on "+socket, func(e event) bool { return e.Type == typ && e.Socket == socket })
}

// waitEvent waits for the server's event ev on socket.
func (c *client) waitEvent(socket, ev string) event {
	c.t.Helper()
	return c.log.wait(c.t, fmt.Sprintf("event %q on %s", ev, socket), func(e event) bool {
		return e.Type == "event" && e.Socket == socket && e.Event == ev
	})
}

// state asks for the socket's current state.
func (c *client) state(socket string) event {
	c.t.Helper()
	c.req++
	req := fmt.Sprintf("r%d", c.req)
	c.send(map[string]any{"cmd": "state", "socket": socket, "req": req})
	return c.log.wait(c.t, "state of "+socket, func(e event) bool { return e.Type == "state" && e.Req == req })
}

func nonNil(args []any) []any {
	if args == nil {
		return []any{}
	}
	return args
}

func is(typ string) func(event) bool {
	return func(e event) bool { return e.Type == typ }
}

// binary is how client.js and reference.js write binary values.
type binary struct {
	B []byte `json:"_binary"`
}

// sameJSON fails unless got and want encode the same JSON value.
func sameJSON(t testing.TB, what string, got json.RawMessage, want any) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, got, err)
	}
	wb, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(wb, &w)
	gb, _ := json.Marshal(g)
	wb, _ = json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("%s = %s, want %s", what, gb, wb)
	}
}

// firstArgs decodes the leading n args (recovery may append an offset).
func firstArgs(t testing.TB, raw json.RawMessage, n int) json.RawMessage {
	t.Helper()
	var args []json.RawMessage
	if err := json.Unmarshal(raw, &args); err != nil {
		t.Fatalf("args %s: %v", raw, err)
	}
	if len(args) < n {
		t.Fatalf("args %s: want at least %d", raw, n)
	}
	b, _ := json.Marshal(args[:n])
	return b
}
