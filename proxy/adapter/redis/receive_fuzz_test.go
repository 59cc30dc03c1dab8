package redis

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// The receive path against what Node's packages really publish:
// testdata/node-messages/messages.json is recorded by
// interop/capture-redis.js (its header says how to regenerate it; then
// `go test -run NodeMessages -update` rewrites the FuzzReceive seeds).

var update = flag.Bool("update", false, "rewrite testdata/golden and the FuzzReceive seed corpus")

// nodeCapture is messages.json.
type nodeCapture struct {
	UIDs     map[string]map[string]map[string]string `json:"uids"` // mode → server → namespace → uid
	Date     string                                  `json:"date"`
	Messages []nodeMessage                           `json:"messages"`
}

type nodeMessage struct {
	Mode    string `json:"mode"`
	Op      string `json:"op"`
	Channel string `json:"channel"`
	Hex     string `json:"hex"`
}

func (m *nodeMessage) payload(t testing.TB) []byte {
	b, err := hex.DecodeString(m.Hex)
	if err != nil {
		t.Fatalf("%s %s: %v", m.Mode, m.Op, err)
	}
	return b
}

func loadNodeMessages(t testing.TB) *nodeCapture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "node-messages", "messages.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c nodeCapture
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Messages) == 0 {
		t.Fatal("messages.json holds no message")
	}
	return &c
}

// route returns the namespace and kind of a message, from its channel's
// shape as the recording's mode reads it (key "socket.io").
func (m *nodeMessage) route(uids map[string]map[string]string) (nsp string, kind int) {
	ch := m.Channel
	if m.Mode == ModeClassic {
		for _, p := range []struct {
			prefix string
			kind   int
		}{{"socket.io-request#", kindRequest}, {"socket.io-response#", kindResponse}, {"socket.io#", kindBroadcast}} {
			if rest, ok := strings.CutPrefix(ch, p.prefix); ok {
				i := strings.IndexByte(rest, '#')
				return rest[:i], p.kind
			}
		}
		return "", -1
	}
	rest, ok := strings.CutPrefix(ch, "socket.io#")
	if !ok {
		return "", -1
	}
	i := strings.IndexByte(rest, '#')
	nsp, tail := rest[:i], strings.TrimSuffix(rest[i+1:], "#")
	for _, server := range uids {
		if tail != "" && server[nsp] == tail {
			return nsp, kindResponse
		}
	}
	return nsp, kindMessage
}

// logRecorder is a slog handler keeping the records at Warn and above.
type logRecorder struct {
	mu    sync.Mutex
	warns []string
}

func (l *logRecorder) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= slog.LevelWarn }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.warns = append(l.warns, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// take returns the warnings logged since the last call.
func (l *logRecorder) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.warns
	l.warns = nil
	return w
}

// frame is what a recording connection was sent: a text Socket.IO packet
// or a binary attachment.
type frame struct {
	data   string
	binary bool
}

// recConn is an Engine.IO connection recording what it is sent. With
// ackWith set, its test acknowledges each event asking for an ack (see
// ackPending).
type recConn struct {
	id string
	h  engineio.Handler

	mu     sync.Mutex
	frames []frame
	acks   []uint64
	got    chan struct{}
}

func newRecConn(id string) *recConn { return &recConn{id: id, got: make(chan struct{}, 1)} }

func (c *recConn) ID() string    { return c.id }
func (c *recConn) Protocol() int { return 4 }
func (c *recConn) Request() *http.Request {
	r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
	r.Header.Set("User-Agent", "golden")
	return r
}

var ackIDRe = regexp.MustCompile(`^[25](?:\d+-)?(?:/[^,]*,)?(\d+)\[`)

func (c *recConn) Send(p []engineio.Packet) error {
	c.mu.Lock()
	for _, x := range p {
		c.frames = append(c.frames, frame{data: string(x.Data), binary: x.Binary})
		if !x.Binary {
			if m := ackIDRe.FindStringSubmatch(string(x.Data)); m != nil {
				id, _ := strconv.ParseUint(m[1], 10, 64)
				c.acks = append(c.acks, id)
			}
		}
	}
	c.mu.Unlock()
	select {
	case c.got <- struct{}{}:
	default:
	}
	return nil
}
func (c *recConn) SendVolatile(p []engineio.Packet) bool { return c.Send(p) == nil }
func (c *recConn) Close(engineio.CloseReason)            {}

// take returns the frames sent since the last call.
func (c *recConn) take() []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.frames
	c.frames = nil
	return f
}

// waitFrames waits until at least n frames are there (or d passed) and
// takes them.
func (c *recConn) waitFrames(n int, d time.Duration) []frame {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		have := len(c.frames)
		c.mu.Unlock()
		if have >= n {
			return c.take()
		}
		select {
		case <-c.got:
		case <-deadline.C:
			return c.take()
		}
	}
}

// ackPending answers every event that asked for an ack since the last
// call, in namespace nsp ("/" or "/chat"), with the packets in answer
// (a text packet with %d for the id, then attachments).
func (c *recConn) ackPending(nsp, text string, atts ...[]byte) {
	c.mu.Lock()
	ids := c.acks
	c.acks = nil
	c.mu.Unlock()
	prefix := ""
	if nsp != "/" {
		prefix = nsp + ","
	}
	for _, id := range ids {
		c.h.OnMessage(fmt.Appendf(nil, text, prefix, id), false)
		for _, a := range atts {
			c.h.OnMessage(a, true)
		}
	}
}

// connectSocket connects a recording connection to nsp and returns it with
// its socket.
func connectSocket(t testing.TB, srv *socketio.Server, nsp, connID string) (*recConn, *socketio.Socket) {
	t.Helper()
	c := newRecConn(connID)
	c.h = srv.Attach(c)
	open := "0"
	if nsp != "/" {
		open = "0" + nsp + ","
	}
	c.h.OnMessage([]byte(open), false)
	fs := c.waitFrames(1, 5*time.Second)
	want := open
	if len(fs) == 0 || !strings.HasPrefix(fs[0].data, want) {
		t.Fatalf("connect to %s: got %v", nsp, fs)
	}
	var ack struct{ Sid string }
	if err := json.Unmarshal([]byte(fs[0].data[len(want):]), &ack); err != nil || ack.Sid == "" {
		t.Fatalf("connect to %s: %q: %v", nsp, fs[0].data, err)
	}
	s := srv.Of(nsp).Socket(ack.Sid)
	if s == nil {
		t.Fatalf("socket %s not found", ack.Sid)
	}
	return c, s
}

// testNode is an iobridge node of a Redis cluster, logging to rec.
type testNode struct {
	c   *Cluster
	srv *socketio.Server
	log *logRecorder
}

func newTestNode(t testing.TB, url, prefix, mode string, timeout time.Duration) *testNode {
	t.Helper()
	rec := &logRecorder{}
	logger := slog.New(rec)
	c, err := Open(context.Background(), Config{URL: url, KeyPrefix: prefix, Mode: mode, SubscriptionMode: SubscribeDynamic,
		RequestTimeout: timeout, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv := socketio.NewServer(socketio.Config{Adapter: c.Factory(), Logger: logger})
	srv.Of("/chat")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		c.Close()
	})
	return &testNode{c: c, srv: srv, log: rec}
}

// expectedEvents are the Socket.IO packets (then attachments, hex) a
// socket of this node in rooms room1 and room2 receives for each captured
// broadcast, by operation; absent operations deliver nothing to it. The
// ack id of ack broadcasts is written as <id>.
var expectedEvents = map[string][]string{
	"emit-all":                  {`2["ev",1,"x",{"a":{"b":[1,2]}}]`},
	"emit-one-room":             {`2["ev","one-room"]`},
	"emit-two-rooms-except":     {`2["ev","two-rooms"]`},
	"emit-except":               {`2["ev","except"]`},
	"emit-volatile":             {`2["ev","volatile"]`},
	"emit-compress":             {`2["ev","compress"]`},
	"emit-buffer":               {`52-["bin",{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1}}]`, "010203", "04"},
	"emit-buffer-one-room":      {`51-["bin",{"_placeholder":true,"num":0}]`, "0506"},
	"emit-date":                 {`2["date","2000-06-13T00:00:00.123Z",{"at":"2000-06-13T00:00:00.123Z"}]`},
	"emit-nan":                  {`2["nan",null,{"x":null,"inf":null},1.5]`},
	"emit-nested":               {`2["nested",{"a":{"b":{"c":[1,{"d":null,"e":true}],"s":"é` + "\u2028" + `"}},"arr":[[1],[2,[3]]],"empty":{},"list":[]}]`},
	"emit-chat":                 {`2/chat,["chat","hi"]`},
	"emit-chat-room":            {`2/chat,["chat","room"]`},
	"emit-with-ack":             {`2<id>["ask",1]`},
	"emit-with-ack-buffer":      {`2<id>["ask-bin",2]`},
	"emit-with-ack-date":        {`2<id>["ask-date",3]`},
	"emitter-emit":              {`51-["em",{"_placeholder":true,"num":0},"2000-06-13T00:00:00.123Z",null,{"n":{"x":1}}]`, "010203"},
	"emitter-emit-one-room":     {`2["em","room"]`},
	"emitter-emit-rooms-except": {`2["em","rooms"]`},
	"emitter-emit-chat":         {`2/chat,["em","chat"]`},
}

// expectedServerSide are the server-side events (event then JSON args)
// each operation dispatches on this node.
var expectedServerSide = map[string]string{
	"server-side-emit":          `hello [1,{"a":"b"},"2000-06-13T00:00:00.123Z"]`,
	"server-side-emit-with-ack": `ping-ss [42]`,
	"emitter-server-side-emit":  `hello ["from-emitter",2]`,
}

var ackIDInFrame = regexp.MustCompile(`^([0-9])(\d+-)?(/chat,)?(\d+)\[`)

// TestNodeMessages feeds every message Node's packages published (in the
// recording) to an iobridge adapter of the same mode: each is decoded
// without a warning, broadcasts reach a local socket with the JSON a Node
// server would send, server-side emits reach the handler, remote joins
// apply.
func TestNodeMessages(t *testing.T) {
	capture := loadNodeMessages(t)
	if *update {
		writeFuzzSeeds(t, capture)
	}
	r := startRedis(t)
	for _, mode := range []string{ModeClassic, ModeSharded} {
		t.Run(mode, func(t *testing.T) {
			n := newTestNode(t, r.url(), "socket.io", mode, 2*time.Second)
			conns := map[string]*recConn{}
			socks := map[string]*socketio.Socket{}
			for i, nsp := range []string{"/", "/chat"} {
				c, s := connectSocket(t, n.srv, nsp, fmt.Sprintf("conn%d", i))
				s.Join("room1", "room2")
				conns[nsp], socks[nsp] = c, s
			}
			var (
				ssMu sync.Mutex
				ss   []string
			)
			for _, nsp := range []string{"/", "/chat"} {
				n.srv.Of(nsp).OnServerSideEmit(func(event string, args []json.RawMessage) {
					b, _ := json.Marshal(args)
					ssMu.Lock()
					ss = append(ss, event+" "+string(b))
					ssMu.Unlock()
				})
			}
			counted, delivered, dispatched := 0, map[string]bool{}, 0
			for i, m := range capture.Messages {
				if m.Mode != mode {
					continue
				}
				counted++
				nsp, kind := m.route(capture.UIDs[mode])
				if kind < 0 {
					t.Fatalf("message %d: channel %q has no known shape", i, m.Channel)
				}
				h, ok := n.srv.Of(nsp).Adapter().(handler)
				if !ok {
					t.Fatalf("namespace %s has no Redis adapter", nsp)
				}
				h.receive(kind, m.Channel, m.payload(t))
				if w := n.log.take(); len(w) > 0 {
					t.Errorf("%s (%s, %s): warnings %q", m.Op, m.Channel, kindName(kind), w)
				}
				// The ops with a broadcast: only the message carrying it
				// delivers (the answers around it are responses).
				want, isEvent := expectedEvents[m.Op]
				var got []frame
				if isEvent && kind != kindResponse && !isAnswer(t, &m) {
					c := conns["/"]
					if strings.Contains(want[0], "/chat,") {
						c = conns["/chat"]
					}
					got = c.waitFrames(len(want), 2*time.Second)
					if len(got) != len(want) {
						t.Errorf("%s: the local socket got %v, want %q", m.Op, got, want)
						continue
					}
					for j, f := range got {
						g := f.data
						if f.binary {
							g = hex.EncodeToString([]byte(f.data))
						} else if strings.Contains(want[j], "<id>") {
							g = ackIDInFrame.ReplaceAllString(g, "$1$2$3<id>[")
						}
						if g != want[j] || f.binary != (j > 0) {
							t.Errorf("%s: frame %d = %q (binary %v), want %q", m.Op, j, g, f.binary, want[j])
						}
					}
					delivered[m.Op] = true
					for _, c := range conns {
						c.ackPending("/", `3%s%d[]`)
					}
				}
				for nsp, c := range conns {
					if extra := c.take(); len(extra) > 0 {
						t.Errorf("%s: socket in %s got %v, want nothing more", m.Op, nsp, extra)
					}
				}
				if want, ok := expectedServerSide[m.Op]; ok && kind == kindRequest || ok && kind == kindMessage && !isAnswer(t, &m) {
					ssMu.Lock()
					got := ss
					ss = nil
					ssMu.Unlock()
					dispatched++
					if len(got) != 1 || got[0] != want {
						t.Errorf("%s: server-side events %q, want [%q]", m.Op, got, want)
					}
				}
				if m.Op == "emitter-sockets-join" && !slices.Contains(socks["/"].Rooms(), "room7") {
					t.Errorf("%s: rooms %q, want room7 joined", m.Op, socks["/"].Rooms())
				}
				if m.Op == "emitter-sockets-leave" && slices.Contains(socks["/"].Rooms(), "room7") {
					t.Errorf("%s: rooms %q, want room7 left", m.Op, socks["/"].Rooms())
				}
			}
			if counted == 0 {
				t.Fatalf("no %s message in the recording", mode)
			}
			for op := range expectedEvents {
				if !delivered[op] && (mode == ModeClassic || !strings.HasPrefix(op, "emitter-")) {
					t.Errorf("no captured message of %s was checked for delivery", op)
				}
			}
			wantDispatched := 2 // the emitter's is classic only
			if mode == ModeClassic {
				wantDispatched = 3
			}
			if dispatched != wantDispatched {
				t.Errorf("%d server-side emits checked, want %d", dispatched, wantDispatched)
			}
			t.Logf("%d messages: %d broadcasts delivered as expected, %d server-side emits dispatched", counted, len(delivered), dispatched)
			for nsp, s := range socks {
				if !s.Connected() {
					t.Errorf("socket of %s was disconnected: no captured disconnect targets it", nsp)
				}
			}
		})
	}
}

// isAnswer reports whether a captured message is an answer (a response
// type) rather than the request or broadcast of its operation.
func isAnswer(t testing.TB, m *nodeMessage) bool {
	js, _, err := decodeMessage(m.payload(t))
	if err != nil {
		return false
	}
	if m.Mode == ModeClassic {
		if strings.HasPrefix(m.Channel, "socket.io-response#") {
			return true
		}
		return false
	}
	var x struct{ Type int }
	_ = json.Unmarshal(js, &x)
	switch x.Type {
	case msgFetchSocketsResponse, msgServerSideEmitResponse, msgBroadcastClientCount, msgBroadcastAck:
		return true
	}
	return false
}

func kindName(k int) string {
	return [...]string{"broadcast", "request", "response", "message"}[k]
}

// writeFuzzSeeds writes every captured message as a FuzzReceive seed.
func writeFuzzSeeds(t testing.TB, capture *nodeCapture) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReceive")
	old, _ := filepath.Glob(filepath.Join(dir, "node-*"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, m := range capture.Messages {
		_, kind := m.route(capture.UIDs[m.Mode])
		suffix := fuzzSuffix(m.Channel)
		body := fmt.Sprintf("go test fuzz v1\nbyte(%q)\nstring(%q)\n[]byte(%q)\n", byte(kind), suffix, m.payload(t))
		name := fmt.Sprintf("node-%s-%03d-%s", m.Mode, i, m.Op)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// fuzzSuffix is what follows the namespace's channel (P#N#,
// P-request#N#, P-response#N#) in a captured channel name.
func fuzzSuffix(channel string) string {
	i := strings.IndexByte(channel, '#')
	if i < 0 {
		return ""
	}
	rest := channel[i+1:]
	j := strings.IndexByte(rest, '#')
	if j < 0 {
		return ""
	}
	return rest[j+1:]
}

// fuzzNode is one adapter under fuzzing with its local sockets.
type fuzzNode struct {
	n     *testNode
	mode  string
	conns []*recConn
	socks []*socketio.Socket
	nsp   *socketio.Namespace
}

func (f *fuzzNode) connect(t testing.TB) {
	f.conns, f.socks = nil, nil
	for i := range 2 {
		c, s := connectSocket(t, f.n.srv, "/", fmt.Sprintf("fuzz%d-%d", i, time.Now().UnixNano()))
		s.Join("room1", "room2")
		f.conns = append(f.conns, c)
		f.socks = append(f.socks, s)
	}
}

// reset answers pending acks, drops what the sockets got and puts them
// back in their rooms (reconnecting them after a remote disconnect), so
// that no state carries from one input to the next.
func (f *fuzzNode) reset(t testing.TB) {
	for i, s := range f.socks {
		if !s.Connected() {
			f.connect(t)
			return
		}
		f.conns[i].ackPending("/", `3%s%d[]`)
		f.conns[i].take()
		for _, r := range s.Rooms() {
			if r != s.ID() && r != "room1" && r != "room2" {
				s.Leave(r)
			}
		}
		s.Join("room1", "room2")
	}
}

func (f *fuzzNode) channel(kind byte, suffix string) (int, string) {
	k := int(kind % 4)
	switch k {
	case kindRequest:
		if f.mode == ModeClassic {
			return k, "socket.io-request#/#" + suffix
		}
	case kindResponse:
		if f.mode == ModeClassic {
			return k, "socket.io-response#/#" + suffix
		}
	}
	return k, "socket.io#/#" + suffix
}

// FuzzReceive feeds arbitrary payloads, on every kind of channel, to the
// receive path of a classic and a sharded adapter with connected local
// sockets: no panic, no goroutine left behind, no state or memory growing
// with the inputs.
func FuzzReceive(f *testing.F) {
	capture := loadNodeMessages(f)
	for _, m := range capture.Messages {
		_, kind := m.route(capture.UIDs[m.Mode])
		f.Add(byte(kind), fuzzSuffix(m.Channel), m.payload(f))
	}
	r := startRedis(f)
	var nodes []*fuzzNode
	for _, mode := range []string{ModeClassic, ModeSharded} {
		fn := &fuzzNode{n: newTestNode(f, r.url(), "socket.io", mode, 200*time.Millisecond), mode: mode}
		fn.nsp = fn.n.srv.Of("/")
		fn.connect(f)
		nodes = append(nodes, fn)
	}
	runtime.GC()
	baseGoroutines := runtime.NumGoroutine()
	var inputs int
	f.Fuzz(func(t *testing.T, kind byte, suffix string, payload []byte) {
		for _, fn := range nodes {
			k, ch := fn.channel(kind, suffix)
			fn.nsp.Adapter().(handler).receive(k, ch, payload)
			fn.reset(t)
			fn.n.log.take()
			var pending int
			switch a := fn.nsp.Adapter().(type) {
			case *classic:
				pending = pendingSize(a.pend)
			case *sharded:
				pending = pendingSize(a.pend)
			}
			if pending > 0 {
				t.Fatalf("%s: %d requests pending after another node's message", fn.mode, pending)
			}
		}
		// Goroutines: what an input starts must end (publishes are
		// queued, not goroutines; answers are published by the one
		// publisher).
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > baseGoroutines+16 {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("goroutines %d, %d at start:\n%s", runtime.NumGoroutine(), baseGoroutines, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(10 * time.Millisecond)
		}
		inputs++
		if inputs%2000 == 0 {
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > 512<<20 {
				t.Fatalf("heap %d MB after %d inputs", ms.HeapAlloc>>20, inputs)
			}
		}
	})
}

// pendingSize is the number of queries and ack broadcasts r waits for.
func pendingSize(r *requests) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs) + len(r.acks)
}
