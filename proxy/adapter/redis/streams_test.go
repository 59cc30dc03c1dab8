package redis

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iobridge/iobridge/internal/msgpackjson"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// rawEntries returns the stream's entries as Redis holds them: id, then
// the fields in order.
func rawEntries(t *testing.T, rc *goredis.Client, stream string) [][]string {
	t.Helper()
	res, err := rc.Do(context.Background(), "XRANGE", stream, "-", "+").Slice()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, e := range res {
		pair := e.([]any)
		row := []string{pair[0].(string)}
		for _, f := range pair[1].([]any) {
			row = append(row, f.(string))
		}
		out = append(out, row)
	}
	return out
}

// TestStreamsEntryFormat: what the streams mode XADDs, as
// @socket.io/redis-streams-adapter 0.3.1's encode writes it: fields uid,
// nsp, type (a decimal string) and data (JSON, or base64 of msgpack when
// it carries binary), in that order.
func TestStreamsEntryFormat(t *testing.T) {
	r := startRedis(t)
	prefix := uniquePrefix()
	c := openCluster(t, r.url(), prefix, ModeStreams, "")
	srv := socketio.NewServer(socketio.Config{Adapter: c.Factory(), Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	nsp := srv.Of("/")
	uid := nsp.Adapter().(*sharded).uid
	_ = nsp.To("r").Except("x").Emit("ev", []json.RawMessage{json.RawMessage(`{"k":[1,"&"]}`)}, nil)
	_ = nsp.Volatile().Emit("bin", []json.RawMessage{socketio.Placeholder(0)}, [][]byte{{1, 2, 3}})
	_ = nsp.In("r").SocketsJoin(context.Background(), "s")
	_ = nsp.DisconnectSockets(context.Background(), true)
	rc := goredis.NewClient(&goredis.Options{Addr: strings.TrimPrefix(strings.TrimSuffix(r.url(), "/0"), "redis://")})
	defer rc.Close()
	var got [][]string
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		got = rawEntries(t, rc, prefix)
	}
	if len(got) != 4 {
		t.Fatalf("stream holds %d entries, want 4: %v", len(got), got)
	}
	want := [][]string{
		{"uid", uid, "nsp", "/", "type", "3", "data", `{"packet":{"type":2,"data":["ev",{"k":[1,"&"]}],"nsp":"/"},"opts":{"rooms":["r"],"except":["x"],"flags":{}}}`},
		{"uid", uid, "nsp", "/", "type", "3", "data", ""}, // base64(msgpack), checked below
		{"uid", uid, "nsp", "/", "type", "4", "data", `{"opts":{"rooms":["r"],"except":[],"flags":{}},"rooms":["s"]}`},
		{"uid", uid, "nsp", "/", "type", "6", "data", `{"opts":{"rooms":[],"except":[],"flags":{}},"close":true}`},
	}
	for i, w := range want {
		g := got[i][1:]
		if i == 1 {
			b, err := base64.StdEncoding.DecodeString(g[7])
			if err != nil {
				t.Fatalf("binary entry data %q is not base64: %v", g[7], err)
			}
			js, atts, err := msgpackjson.ToJSON(b)
			if err != nil {
				t.Fatal(err)
			}
			if s := string(js); s != `{"packet":{"type":2,"data":["bin",{"_placeholder":true,"num":0}],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{"volatile":true}}}` || len(atts) != 1 || string(atts[0]) != "\x01\x02\x03" {
				t.Errorf("binary entry data = %s %q", s, atts)
			}
			g[7] = ""
		}
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("entry %d = %q, want %q", i, g, w)
		}
	}
}

// TestStreamsReadResumes: the reading connection cut while Redis stays
// up: entries added meanwhile are read once it is back (from the last
// entry id it saw, not "$").
func TestStreamsReadResumes(t *testing.T) {
	r := startRedis(t)
	prefix := uniquePrefix()
	a := newNode(t, r.url(), prefix, ModeStreams)
	b := newNode(t, r.url(), prefix, ModeStreams)
	waitReady(t, a, true)
	rc := goredis.NewClient(&goredis.Options{Addr: strings.TrimPrefix(strings.TrimSuffix(r.url(), "/0"), "redis://")})
	defer rc.Close()
	ctx := context.Background()
	// b hears a's stream entries (remote server-side emits are pub/sub:
	// the stream is observed through a node's received counter).
	base := b.counter(t, "iobridge.redis.received")
	_ = a.nsp.Emit("first", nil, nil)
	waitCounter(t, b, "iobridge.redis.received", base+1)

	list, err := rc.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, "name="+StreamReaderName+" ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				if err := rc.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
					t.Fatal(err)
				}
				killed++
			}
		}
	}
	if killed != 2 {
		t.Fatalf("killed %d stream readers, want 2 (one per node):\n%s", killed, list)
	}
	// Entries another node adds while the readers reconnect.
	base = b.counter(t, "iobridge.redis.received")
	for i := range 3 {
		data := fmt.Sprintf(`{"packet":{"type":2,"data":["while-away",%d],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{}}}`, i)
		if err := rc.XAdd(ctx, &goredis.XAddArgs{Stream: prefix, Values: []any{"uid", "other", "nsp", "/", "type", "3", "data", data}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	waitCounter(t, b, "iobridge.redis.received", base+3)
}

func waitCounter(t *testing.T, n *node, name string, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.counter(t, name) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d, want %d", name, n.counter(t, name), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// FuzzDecodeEntry: no stream entry makes the decoder panic.
func FuzzDecodeEntry(f *testing.F) {
	f.Add("3", `{"packet":{"type":2,"data":["e",1],"nsp":"/"},"opts":{"rooms":[],"except":[]}}`)
	f.Add("3", "gqZwYWNrZXSCpHR5cGUCpGRhdGGTqWZyb20tbm9kZQHEAgECpG9wdHODpXJvb21zkKZleGNlcHSQpWZsYWdzgA==")
	f.Add("4", `{"opts":{"rooms":["r"],"except":[]},"rooms":["s"]}`)
	f.Add("x", "")
	f.Fuzz(func(t *testing.T, typ, data string) {
		m, _, err := decodeEntry(map[string]any{"uid": "u", "nsp": "/", "type": typ, "data": data})
		if err == nil && m.Data == nil {
			t.Fatal("decoded without data")
		}
	})
}

// TestStreamName: with several streams, a namespace's stream is the one
// Node's computeStreamName picks (values printed by the package's own
// hashCode).
func TestStreamName(t *testing.T) {
	tests := []struct {
		nsp   string
		count int
		want  string
	}{
		{"/", 1, "socket.io"},
		{"/", 4, "socket.io-3"},
		{"/notifications", 4, "socket.io--3"},
		{"/chat", 3, "socket.io-1"},
		{"/é😀", 5, "socket.io-4"},
		{"/tenant-42", 7, "socket.io-1"},
	}
	for _, tc := range tests {
		c := &Cluster{cfg: Config{KeyPrefix: "socket.io", StreamCount: tc.count}}
		if got := c.streamName(tc.nsp); got != tc.want {
			t.Errorf("streamName(%q) with %d streams = %q, want %q", tc.nsp, tc.count, got, tc.want)
		}
	}
}

// TestStreamCount: two nodes with several streams share broadcasts, in a
// namespace whose stream Node's readers poll and in one whose hash is
// negative (read by iobridge nodes all the same); each entry is in the
// stream Node would write it to.
func TestStreamCount(t *testing.T) {
	r := startRedis(t)
	prefix := uniquePrefix()
	open := func() *socketio.Server {
		c, err := Open(context.Background(), Config{URL: r.url(), KeyPrefix: prefix, Mode: ModeStreams, StreamCount: 4,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		srv := socketio.NewServer(socketio.Config{Adapter: c.Factory(), Logger: slog.New(slog.DiscardHandler)})
		t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
		return srv
	}
	a, b := open(), open()
	rc := goredis.NewClient(&goredis.Options{Addr: strings.TrimPrefix(strings.TrimSuffix(r.url(), "/0"), "redis://")})
	defer rc.Close()
	for name, stream := range map[string]string{"/": prefix + "-3", "/notifications": prefix + "--3"} {
		got := make(chan struct{}, 16)
		b.Of(name).Adapter().(*sharded).c.route(streamRoute(name), entrySpy{got}, true)
		_ = a.Of(name).Emit("e", nil, nil)
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the broadcast never reached the other node", name)
		}
		if n, err := rc.XLen(context.Background(), stream).Result(); err != nil || n != 1 {
			t.Errorf("%s: XLEN %s = %d, %v; want 1", name, stream, n, err)
		}
	}
}

// entrySpy signals each stream entry routed to it.
type entrySpy struct{ got chan struct{} }

func (entrySpy) receive(int, string, []byte)           {}
func (s entrySpy) receiveEntry(string, map[string]any) { s.got <- struct{}{} }

// BenchmarkStreamsRecovery: one session persisted, one broadcast missed,
// the session restored (the Redis round trips a recovering client costs:
// SET; XADD; MULTI GET DEL, XRANGE offset, XRANGE after it).
func BenchmarkStreamsRecovery(b *testing.B) {
	r := startRedis(b)
	c := openCluster(b, r.url(), uniquePrefix(), ModeStreams, "")
	srv := socketio.NewServer(socketio.Config{Adapter: c.Factory(), Recovery: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	nsp := srv.Of("/")
	a := nsp.Adapter().(*sharded)
	ctx := context.Background()
	data := json.RawMessage(`{"user":"u1"}`)
	b.ReportAllocs()
	for b.Loop() {
		fields, _ := a.entryFields(msgBroadcast, []byte(`{"packet":{"type":2,"data":["before"],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}}`), nil)
		offset := c.xadd(a.stream, fields, true)
		a.PersistSession(&socketio.Session{SID: "s", PID: "p", Rooms: []string{"s", "r"}, Data: data})
		_ = nsp.To("r").Emit("missed", nil, nil)
		s, err := a.RestoreSession(ctx, "p", offset)
		if err != nil || s == nil || len(s.MissedPackets) != 1 {
			b.Fatalf("restore = %+v, %v", s, err)
		}
	}
}

// TestStreamsDownAtStart: with Redis down, Open with several streams
// returns at once (no dial timeout per stream), and the node reads the
// streams once Redis is there.
func TestStreamsDownAtStart(t *testing.T) {
	r := startRedis(t)
	url := r.url()
	r.kill()
	start := time.Now()
	prefix := uniquePrefix()
	c, err := Open(context.Background(), Config{URL: url, KeyPrefix: prefix, Mode: ModeStreams, StreamCount: 8,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("Open with Redis down took %v", d)
	}
	r.start()
	got := make(chan struct{}, 16)
	c.route(streamRoute("/"), entrySpy{got}, true)
	rc := goredis.NewClient(&goredis.Options{Addr: strings.TrimPrefix(strings.TrimSuffix(url, "/0"), "redis://")})
	defer rc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Another node's entry on "/"'s stream (<prefix>-7 with 8 streams).
		_ = rc.XAdd(context.Background(), &goredis.XAddArgs{Stream: c.streamName("/"), Values: []any{"uid", "other", "nsp", "/", "type", "4", "data", `{"opts":{"rooms":["x"],"except":[]},"rooms":["y"]}`}}).Err()
		select {
		case <-got:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no entry read after Redis came")
		}
	}
}
