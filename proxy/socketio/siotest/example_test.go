package siotest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/proxy/socketio/siotest"
)

// newServer starts a Socket.IO server on httptest whose sockets are
// greeted with "hello" and whose "echo" event acknowledges with its own
// args. Stop it with the returned func.
func newServer() (*httptest.Server, func()) {
	srv := socketio.NewServer(socketio.Config{Adapter: adapter.New, Logger: slog.New(slog.DiscardHandler)})
	srv.Of("/").OnConnection(func(s *socketio.Socket) {
		s.On("echo", func(e socketio.Event) {
			if e.Ack != nil {
				e.Ack(e.Args, nil)
			}
		})
		s.Emit("hello", []json.RawMessage{json.RawMessage(`"world"`)}, nil)
	})
	ts := httptest.NewServer(srv)
	return ts, func() {
		srv.Shutdown(context.Background())
		ts.Close()
	}
}

// exampleTB is the testing.TB an example passes to Dial: examples run
// outside a test, so it panics where a test would fail and runs the
// cleanups when done.
type exampleTB struct {
	testing.TB // nil: only the methods below are called
	cleanups   []func()
}

func (t *exampleTB) Helper()                   {}
func (t *exampleTB) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }
func (t *exampleTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

func (t *exampleTB) done() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

func Example() {
	ts, stop := newServer()
	defer stop()
	t := &exampleTB{} // in a test: the *testing.T
	defer t.done()

	c := siotest.Dial(t, ts.URL, "/", nil)
	fmt.Println(c.Event())
	id := c.EmitWithAck("echo", `"hi",2`)
	fmt.Println(c.WaitAck(id))
	// Output:
	// hello ["world"]
	// ["hi",2]
}

// A polling Client has the same API; it never upgrades.
func Example_polling() {
	ts, stop := newServer()
	defer stop()
	t := &exampleTB{}
	defer t.done()

	c := siotest.Dial(t, ts.URL, "/", &siotest.Options{Transport: siotest.Polling})
	c.Expect("hello", `["world"]`)
	id := c.EmitWithAck("echo", `{"n":1}`)
	fmt.Println(c.WaitAck(id))
	// Output:
	// [{"n":1}]
}

// DialRaw returns the CONNECT_ERROR payload instead of failing the test.
func ExampleDialRaw() {
	ts, stop := newServer()
	defer stop()
	t := &exampleTB{}
	defer t.done()

	_, connErr := siotest.DialRaw(t, ts.URL, "/nope", nil)
	fmt.Println(connErr)
	// Output:
	// {"message":"Invalid namespace"}
}
