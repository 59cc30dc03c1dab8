package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iobridge/iobridge/internal/clientbundle"
	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// startIOBridge starts iobridge's Socket.IO server on 127.0.0.1 with the
// scenario application of reference.js, written against the socketio API.
//
// The Engine.IO server is created here and its sessions attached with
// Server.Attach (as Server.ServeHTTP does) so that "close-conn" can close a
// socket's underlying connection, as the reference's socket.conn.close().
func startIOBridge(t *testing.T, cfg serverConfig) *target {
	t.Helper()
	log := newEventLog("iobridge server")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := socketio.NewServer(socketio.Config{
		Adapter:                     adapter.New,
		Recovery:                    cfg.Recovery,
		CleanupEmptyChildNamespaces: cfg.CleanupEmptyChildNamespaces,
		Parser:                      parserOf(t, cfg.Parser),
		Logger:                      logger,
	})
	var sessions sync.Map // sid -> *engineio.Session
	eng := engineio.NewServer(engineio.Config{
		Path:              "/socket.io/",
		PingInterval:      cfg.PingInterval,
		PingTimeout:       cfg.PingTimeout,
		MaxHTTPBufferSize: cfg.MaxHTTPBufferSize,
		AllowEIO3:         cfg.AllowEIO3,
		CORSOrigins:       cfg.CORSOrigins,
		CORSCredentials:   cfg.CORSCredentials,
		HTTPCompression:   !cfg.NoHTTPCompression,
		PerMessageDeflate: cfg.PerMessageDeflate,
		Transports:        cfg.Transports,
		DisableUpgrades:   cfg.NoUpgrades,
		UpgradeTimeout:    cfg.UpgradeTimeout,
		Cookie:            cfg.Cookie,
		Logger:            logger,
	}, func(s *engineio.Session) engineio.Handler {
		sessions.Store(s.ID(), s)
		return srv.Attach(s)
	})
	app := &app{t: t, log: log, sessions: &sessions}
	app.shutdown = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("socketio Shutdown: %v", err)
		}
		if err := eng.Shutdown(ctx); err != nil {
			t.Errorf("engineio Shutdown: %v", err)
		}
	}
	app.setup(srv.Of("/"))
	app.setup(srv.Of("/chat"))
	admin := srv.Of("/admin")
	admin.Use(func(ctx context.Context, s *socketio.Socket) error {
		var auth struct {
			Token string `json:"token"`
		}
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		if auth.Token == "secret" {
			return nil
		}
		return &socketio.ConnectError{Message: "unauthorized", Data: json.RawMessage(`{"code":4001,"reason":"bad token"}`)}
	})
	app.setup(admin)
	app.setup(srv.OfPattern(regexp.MustCompile(`^/dyn-\d+$`)))

	var h http.Handler = eng
	if cfg.ServeClient {
		// As socket.io's serveClient, in front of Engine.IO, behind
		// the cors middleware.
		h = clientbundle.Wrap("/socket.io/", eng, engineio.CORS(engineio.Config{
			CORSOrigins:     cfg.CORSOrigins,
			CORSCredentials: cfg.CORSCredentials,
		}))
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		app.wg.Wait()
		app.shutdown()
		ts.Close()
	})
	return &target{name: "iobridge", url: ts.URL, log: log}
}

// testWriter sends server logs to the test log (with -v only).
type testWriter struct {
	t  *testing.T
	mu sync.Mutex
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// app is the scenario application (see reference.js) on iobridge.
type app struct {
	t        *testing.T
	log      *eventLog
	sessions *sync.Map
	shutdown func()
	wg       sync.WaitGroup // goroutines started by handlers
}

func (a *app) setup(nsp *socketio.Namespace) {
	nsp.OnConnection(func(s *socketio.Socket) {
		name := s.Namespace().Name()
		id := s.ID()
		a.log.add(event{Type: "connection", NSP: name, ID: id, Auth: s.Handshake().Auth, Recovered: s.Recovered()})
		s.OnDisconnect(func(reason socketio.DisconnectReason) {
			a.log.add(event{Type: "disconnect", NSP: name, ID: id, Reason: string(reason)})
		})
		s.OnAny(func(e socketio.Event) {
			args, err := argsToJSON(e.Args, e.Attachments)
			if err != nil {
				a.t.Errorf("%s: event %q: %v", name, e.Name, err)
				return
			}
			a.log.add(event{Type: "event", NSP: name, ID: id, Event: e.Name, Args: args})
			a.handle(s, e, args)
		})
	})
}

// handle answers one event as reference.js does. args is the event's
// arguments as JSON with binary as {"_binary":...}.
func (a *app) handle(s *socketio.Socket, e socketio.Event, args json.RawMessage) {
	var list []json.RawMessage
	_ = json.Unmarshal(args, &list)
	arg := func(i int) json.RawMessage {
		if i < len(list) {
			return list[i]
		}
		return json.RawMessage("null")
	}
	reply := func(values ...any) {
		if e.Ack == nil {
			return
		}
		raw, att := mustArgs(a.t, values...)
		if err := e.Ack(raw, att); err != nil {
			a.t.Errorf("ack %q: %v", e.Name, err)
		}
	}
	str := func(raw json.RawMessage) string {
		var v string
		_ = json.Unmarshal(raw, &v)
		return v
	}
	switch e.Name {
	case "echo":
		raw, att := mustArgsJSON(a.t, args)
		if e.Ack != nil {
			if err := e.Ack(raw, att); err != nil {
				a.t.Errorf("ack echo: %v", err)
			}
		} else if err := s.Emit("echo", raw, att); err != nil {
			a.t.Errorf("emit echo: %v", err)
		}
	case "join":
		s.Join(str(arg(0)))
		reply()
	case "leave":
		s.Leave(str(arg(0)))
		reply()
	case "broadcast":
		var b struct {
			Room     string          `json:"room"`
			Except   string          `json:"except"`
			Event    string          `json:"event"`
			Args     json.RawMessage `json:"args"`
			Volatile bool            `json:"volatile"`
		}
		_ = json.Unmarshal(arg(0), &b)
		var op *socketio.BroadcastOperator
		if b.Room != "" {
			op = s.Namespace().To(b.Room)
		} else {
			op = s.Namespace().To()
		}
		if b.Except != "" {
			op = op.Except(b.Except)
		}
		if b.Volatile {
			op = op.Volatile()
		}
		raw, att := mustArgsJSON(a.t, orEmpty(b.Args))
		if err := op.Emit(b.Event, raw, att); err != nil {
			a.t.Errorf("broadcast %q: %v", b.Event, err)
		}
		reply()
	case "ask":
		var q struct {
			Event   string          `json:"event"`
			Args    json.RawMessage `json:"args"`
			Timeout int             `json:"timeout"`
		}
		_ = json.Unmarshal(arg(0), &q)
		raw, att := mustArgsJSON(a.t, orEmpty(q.Args))
		err := s.EmitWithAck(q.Event, raw, att, time.Duration(q.Timeout)*time.Millisecond,
			func(args []json.RawMessage, attachments [][]byte, err error) {
				if err != nil {
					msg := err.Error()
					reply(map[string]any{"error": msg, "args": []any{}})
					return
				}
				got, cerr := argsToJSON(args, attachments)
				if cerr != nil {
					a.t.Errorf("ack of %q: %v", q.Event, cerr)
					return
				}
				reply(map[string]any{"error": nil, "args": got})
			})
		if err != nil {
			a.t.Errorf("emit %q with ack: %v", q.Event, err)
		}
	case "ask-all":
		var q struct {
			Event   string          `json:"event"`
			Args    json.RawMessage `json:"args"`
			Timeout int             `json:"timeout"`
		}
		_ = json.Unmarshal(arg(0), &q)
		raw, att := mustArgsJSON(a.t, orEmpty(q.Args))
		op := s.Namespace().Timeout(time.Duration(q.Timeout) * time.Millisecond)
		// EmitWithAck blocks until every ack or the timeout: off the reader.
		a.wg.Go(func() {
			res, err := op.EmitWithAck(a.t.Context(), q.Event, raw, att)
			responses := []string{}
			for _, r := range res.Responses {
				// The reference passes one value per client: its first ack argument.
				var first []json.RawMessage
				if len(r.Args) > 0 {
					first = r.Args[:1]
				}
				got, cerr := argsToJSON(first, r.Attachments)
				if cerr != nil {
					a.t.Errorf("ack of %q: %v", q.Event, cerr)
					return
				}
				var one []json.RawMessage
				_ = json.Unmarshal(got, &one)
				if len(one) == 0 {
					one = []json.RawMessage{json.RawMessage("null")}
				}
				responses = append(responses, string(one[0]))
			}
			slices.Sort(responses)
			list := make([]json.RawMessage, len(responses))
			for i, r := range responses {
				list[i] = json.RawMessage(r)
			}
			var msg any
			if err != nil {
				msg = err.Error()
			}
			reply(map[string]any{"error": msg, "responses": list})
		})
	case "disconnect-me":
		var closeConn bool
		_ = json.Unmarshal(arg(0), &closeConn)
		s.Disconnect(closeConn)
	case "close-conn":
		if v, ok := a.sessions.Load(s.ConnID()); ok {
			v.(*engineio.Session).Close(engineio.ReasonForcedClose)
		} else {
			a.t.Errorf("close-conn: no Engine.IO session %s", s.ConnID())
		}
	case "shutdown":
		// Off the connection's reader: Shutdown waits for the readers.
		a.wg.Go(a.shutdown)
	case "bin":
		raw, att := mustArgs(a.t, binary{[]byte{1, 2, 3}}, map[string]any{"nested": binary{[]byte("hi")}})
		if err := s.Emit("bin", raw, att); err != nil {
			a.t.Errorf("emit bin: %v", err)
		}
		reply()
	case "namespaces":
		names := []string{}
		for _, n := range s.Namespace().Server().Namespaces() {
			names = append(names, n.Name())
		}
		slices.Sort(names)
		reply(names)
	}
}

func orEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("[]")
	}
	return raw
}

// argsToJSON turns Socket.IO arguments (binary as placeholders referring to
// attachments) into one JSON array with binary as {"_binary":"<base64>"}.
func argsToJSON(args []json.RawMessage, attachments [][]byte) (json.RawMessage, error) {
	out := make([]any, len(args))
	for i, a := range args {
		d := json.NewDecoder(bytes.NewReader(a))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		r, err := fillBinary(v, attachments)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return json.Marshal(out)
}

func fillBinary(v any, attachments [][]byte) (any, error) {
	switch v := v.(type) {
	case []any:
		for i := range v {
			r, err := fillBinary(v[i], attachments)
			if err != nil {
				return nil, err
			}
			v[i] = r
		}
	case map[string]any:
		if p, ok := v["_placeholder"].(bool); ok && p && len(v) == 2 {
			n, err := v["num"].(json.Number).Int64()
			if err != nil || n < 0 || int(n) >= len(attachments) {
				return nil, errors.New("placeholder without its attachment")
			}
			return map[string]any{"_binary": base64.StdEncoding.EncodeToString(attachments[n])}, nil
		}
		for k := range v {
			r, err := fillBinary(v[k], attachments)
			if err != nil {
				return nil, err
			}
			v[k] = r
		}
	}
	return v, nil
}

// mustArgs encodes Go values as Socket.IO arguments: binary values become
// placeholders and attachments.
func mustArgs(t *testing.T, values ...any) ([]json.RawMessage, [][]byte) {
	b, err := json.Marshal(values)
	if err != nil {
		t.Errorf("encode args: %v", err)
		return nil, nil
	}
	return mustArgsJSON(t, b)
}

// mustArgsJSON encodes a JSON array (binary as {"_binary":...}) as
// Socket.IO arguments.
func mustArgsJSON(t *testing.T, array json.RawMessage) ([]json.RawMessage, [][]byte) {
	d := json.NewDecoder(bytes.NewReader(array))
	d.UseNumber()
	var list []any
	if err := d.Decode(&list); err != nil {
		t.Errorf("args %s: %v", array, err)
		return nil, nil
	}
	var attachments [][]byte
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case []any:
			for i := range v {
				v[i] = walk(v[i])
			}
		case map[string]any:
			if s, ok := v["_binary"].(string); ok && len(v) == 1 {
				b, err := base64.StdEncoding.DecodeString(s)
				if err != nil {
					t.Errorf("bad _binary %q: %v", s, err)
				}
				attachments = append(attachments, b)
				return map[string]any{"_placeholder": true, "num": len(attachments) - 1}
			}
			for k := range v {
				v[k] = walk(v[k])
			}
		}
		return v
	}
	raw := make([]json.RawMessage, len(list))
	for i, v := range list {
		b, err := json.Marshal(walk(v))
		if err != nil {
			t.Errorf("encode arg: %v", err)
		}
		raw[i] = b
	}
	return raw, attachments
}
