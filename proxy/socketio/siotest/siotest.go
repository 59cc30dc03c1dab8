// Package siotest is a Socket.IO v5 test client over an Engine.IO v4
// WebSocket or long-polling (Options.Transport), for package tests, in the
// spirit of net/http/httptest: enough to connect to one namespace, emit,
// receive events and acks, and see the raw frames when a test asserts the
// wire itself. It answers pings, and reports failures through the
// testing.TB it was dialled with. Over polling it sends each packet in a
// POST of its own and reads payloads (packets separated by \x1e, binary
// ones as "b" + base64) with a loop of GETs; it never upgrades.
//
// It writes and reads packets as text, the way the tests assert them, and
// does not use the socketio codec: a test of the codec through a client
// built on that codec would check it against itself. The interop package
// drives the server with the real socket.io-client instead.
package siotest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultTimeout bounds each wait of a Client whose Options leave Timeout
// zero: generous for -race on a loaded machine.
const DefaultTimeout = 10 * time.Second

// Transports of Options.Transport.
const (
	WebSocket = "websocket"
	Polling   = "polling"
)

// Options configure Dial. The zero value (or nil) connects over WebSocket
// to /socket.io/, without auth or extra headers.
type Options struct {
	// Transport is WebSocket or Polling. Empty means WebSocket. A polling
	// Client stays on polling: it never upgrades.
	Transport string
	// Path is the server's Engine.IO path, as "/rt/". Empty means
	// /socket.io/. Dial ignores it when its URL has a query already.
	Path string
	// Header is sent with the WebSocket handshake request, or with every
	// polling request.
	Header http.Header
	// Auth is the CONNECT payload, a JSON object, or "" for none.
	Auth string
	// Timeout bounds each wait for a frame. Zero means DefaultTimeout.
	Timeout time.Duration
}

// Frame is one Engine.IO packet from the server: Text for a text packet,
// Binary for a binary one (an attachment), as WebSocket messages or
// packets of a polling payload.
type Frame struct {
	Text   string
	Binary []byte
}

// Packet is a received Socket.IO packet of the client's namespace.
// BINARY_EVENT and BINARY_ACK arrive as EVENT ('2') and ACK ('3') with
// their Attachments.
type Packet struct {
	Type        byte // '0'..'6', as on the wire
	ID          int
	HasID       bool
	Data        string
	Attachments [][]byte
}

// Client is a Socket.IO client connected to one namespace. Its methods
// are for the test goroutine; Send and SendBinary may also be called from
// others.
type Client struct {
	// SID is the socket id the server gave in its CONNECT answer; empty
	// after a CONNECT_ERROR.
	SID string
	// PID is the private session id of the CONNECT answer, given when
	// the server has connection state recovery on; else empty.
	PID string
	// Open is the JSON of the server's Engine.IO OPEN packet (sid,
	// upgrades, pingInterval, pingTimeout, maxPayload).
	Open string

	t       testing.TB
	conn    conn
	nsp     string
	timeout time.Duration
	wmu     sync.Mutex
	in      chan Frame
	ackN    int
}

// Dial connects to the Socket.IO server at base (an http:// or ws:// URL
// of the server root; the client adds Options.Path and the Engine.IO
// query, unless base has a query already) and to namespace nsp,
// and fails the test on a CONNECT_ERROR. The connection closes when the
// test ends.
func Dial(t testing.TB, base, nsp string, opts *Options) *Client {
	t.Helper()
	c, connErr := DialRaw(t, base, nsp, opts)
	if connErr != "" {
		t.Fatalf("connect %s: CONNECT_ERROR %s", nsp, connErr)
	}
	return c
}

// DialRaw is Dial that returns the CONNECT_ERROR payload instead of
// failing, or "" once connected.
func DialRaw(t testing.TB, base, nsp string, opts *Options) (*Client, string) {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	c := &Client{t: t, nsp: nsp, timeout: opts.Timeout, in: make(chan Frame, 1<<16)}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	switch opts.Transport {
	case "", WebSocket:
		c.dialWebSocket(endpoint(base, opts.Path, WebSocket), opts.Header)
	case Polling:
		c.dialPolling(endpoint(base, opts.Path, Polling), opts.Header)
	default:
		t.Fatalf("siotest: transport %q, want %q or %q", opts.Transport, WebSocket, Polling)
	}
	f := c.Text()
	open, ok := strings.CutPrefix(f, "0")
	if !ok || !strings.HasPrefix(open, "{") {
		t.Fatalf("first frame %q, want OPEN", f)
	}
	c.Open = open
	c.Send("40" + c.Prefix() + opts.Auth)
	f = c.connectAnswer(c.Prefix())
	if rest, ok := strings.CutPrefix(f, "44"+c.Prefix()); ok {
		return c, rest
	}
	rest, ok := strings.CutPrefix(f, "40"+c.Prefix())
	if !ok || !strings.HasPrefix(rest, "{") {
		t.Fatalf("CONNECT answered %q", f)
	}
	var v struct {
		SID string `json:"sid"`
		PID string `json:"pid"`
	}
	_ = json.Unmarshal([]byte(rest), &v)
	c.SID, c.PID = v.SID, v.PID
	return c, ""
}

// ConnectRaw joins namespace nsp on this client's Engine.IO connection
// (multiplexing, as socket.io-client does for io("/a") and io("/b") on one
// Manager) with the CONNECT payload auth, and returns the sid the server
// answered, or the CONNECT_ERROR payload. The client's own namespace and
// its methods are unchanged; the next frame must be the answer, after any
// events of nsp (see connectAnswer).
func (c *Client) ConnectRaw(nsp, auth string) (sid, connErr string) {
	c.t.Helper()
	prefix := ""
	if nsp != "/" && nsp != "" {
		prefix = nsp + ","
	}
	c.Send("40" + prefix + auth)
	f := c.connectAnswer(prefix)
	if rest, ok := strings.CutPrefix(f, "44"+prefix); ok {
		return "", rest
	}
	rest, ok := strings.CutPrefix(f, "40"+prefix)
	if !ok || !strings.HasPrefix(rest, "{") {
		c.t.Fatalf("CONNECT %s answered %q", nsp, f)
	}
	var v struct {
		SID string `json:"sid"`
	}
	_ = json.Unmarshal([]byte(rest), &v)
	return v.SID, ""
}

// connectAnswer returns the next text frame that is not an EVENT of the
// namespace being connected: a server may send a socket events before its
// CONNECT answer (Node sends a recovered socket's missed packets first, and
// the admin UI's room_joined for the socket's own room lands there too),
// which socket.io-client buffers until it is connected. The answer is what
// these tests look at, so such events are passed over.
func (c *Client) connectAnswer(prefix string) string {
	c.t.Helper()
	for {
		f := c.Text()
		if !strings.HasPrefix(f, "42"+prefix) && !strings.HasPrefix(f, "45"+prefix) {
			return f
		}
	}
}

// Prefix is the namespace part of a packet: "/chat," or "" for "/".
func (c *Client) Prefix() string {
	if c.nsp == "/" || c.nsp == "" {
		return ""
	}
	return c.nsp + ","
}

// Send writes one text packet, an Engine.IO packet such as
// "42[\"x\"]": a WebSocket text message, or a POST over polling. It
// returns the write error, which tests that close the connection on
// purpose ignore.
func (c *Client) Send(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.writeText(s)
}

// SendBinary writes one binary packet (an attachment).
func (c *Client) SendBinary(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.writeBinary(b)
}

// Frame waits for the next frame, text or binary. It fails the test when
// the connection closes first or nothing comes within the timeout.
func (c *Client) Frame() Frame {
	c.t.Helper()
	select {
	case f, ok := <-c.in:
		if !ok {
			c.t.Fatalf("connection closed")
		}
		return f
	case <-time.After(c.timeout):
		c.t.Fatalf("no frame within %v", c.timeout)
		return Frame{}
	}
}

// ErrClosed is returned by Receive once the connection has closed and
// every frame received before has been read.
var ErrClosed = errors.New("siotest: connection closed")

// Receive waits for the next frame until ctx ends, for loops that run
// off the test goroutine or stop on their own deadline; it fails no test.
func (c *Client) Receive(ctx context.Context) (Frame, error) {
	select {
	case f, ok := <-c.in:
		if !ok {
			return Frame{}, ErrClosed
		}
		return f, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

// Text waits for the next text frame, passing over binary ones.
func (c *Client) Text() string {
	c.t.Helper()
	for {
		if f := c.Frame(); f.Binary == nil {
			return f.Text
		}
	}
}

// Pending returns a frame already received and not yet read, if any,
// without waiting: a test that proved by a later frame that earlier ones
// arrived can check that nothing else did. A closed connection counts as
// a frame (ok true, the zero Frame).
func (c *Client) Pending() (Frame, bool) {
	select {
	case f := <-c.in:
		return f, true
	default:
		return Frame{}, false
	}
}

// Closed waits for the server to close the connection, discarding frames
// until then, and reports whether it did within the timeout.
func (c *Client) Closed() bool {
	deadline := time.After(c.timeout)
	for {
		select {
		case _, ok := <-c.in:
			if !ok {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// Emit sends an EVENT without an ack id. args is the JSON of the arguments
// after the event name, without brackets ("" for none).
func (c *Client) Emit(event, args string) {
	c.Send("42" + c.Prefix() + EventData(event, args))
}

// EmitWithAck sends an EVENT with the next ack id (1, 2, …) and returns it.
func (c *Client) EmitWithAck(event, args string) int {
	c.ackN++
	c.Send("42" + c.Prefix() + strconv.Itoa(c.ackN) + EventData(event, args))
	return c.ackN
}

// Ack answers the server's EVENT with ack id; args is a JSON array.
func (c *Client) Ack(id int, args string) {
	c.Send("43" + c.Prefix() + strconv.Itoa(id) + args)
}

// EventData is the data of an EVENT: the JSON array of event and args
// (args the JSON after the event name, without brackets, "" for none).
func EventData(event, args string) string {
	e, _ := json.Marshal(event)
	if args == "" {
		return "[" + string(e) + "]"
	}
	return "[" + string(e) + "," + args + "]"
}

// Next waits for the next Socket.IO packet of the client's namespace,
// with its attachments, passing over other namespaces' packets and
// Engine.IO packets other than MESSAGE.
func (c *Client) Next() Packet {
	c.t.Helper()
	for {
		f := c.Frame()
		if !strings.HasPrefix(f.Text, "4") || len(f.Text) < 2 {
			continue
		}
		s := f.Text[1:]
		p := Packet{Type: s[0]}
		s = s[1:]
		n := 0
		if p.Type == '5' || p.Type == '6' {
			i := strings.IndexByte(s, '-')
			fmt.Sscanf(s[:i], "%d", &n)
			s = s[i+1:]
			p.Type -= 3 // BINARY_EVENT → EVENT, BINARY_ACK → ACK
		}
		if pre := c.Prefix(); pre != "" {
			if !strings.HasPrefix(s, pre) {
				continue
			}
			s = s[len(pre):]
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i > 0 {
			fmt.Sscanf(s[:i], "%d", &p.ID)
			p.HasID = true
		}
		p.Data = s[i:]
		for range n {
			p.Attachments = append(p.Attachments, c.Frame().Binary)
		}
		return p
	}
}

// WaitAck waits for the ACK with id, passing over other packets, and
// returns its args array.
func (c *Client) WaitAck(id int) string {
	c.t.Helper()
	for {
		p := c.Next()
		if p.Type == '3' && p.ID == id {
			return p.Data
		}
	}
}

// WaitEvent waits for an EVENT named ev, passing over other packets, and
// returns its args array (without the name) and the packet.
func (c *Client) WaitEvent(ev string) (string, Packet) {
	c.t.Helper()
	for {
		p := c.Next()
		if p.Type != '2' {
			continue
		}
		name, args := c.split(p.Data)
		if name == ev {
			return args, p
		}
	}
}

// Event waits for the next text EVENT of the client's namespace, passing
// over other frames, and returns its name and args array.
func (c *Client) Event() (string, string) {
	c.t.Helper()
	p := "42" + c.Prefix()
	for {
		if rest, ok := strings.CutPrefix(c.Text(), p); ok {
			return c.split(rest)
		}
	}
}

// Expect waits for the next EVENT (as Event does) and fails the test
// unless it has this name and args array.
func (c *Client) Expect(name, args string) {
	c.t.Helper()
	gotName, gotArgs := c.Event()
	if gotName != name || gotArgs != args {
		c.t.Fatalf("event = %s %s, want %s %s", gotName, gotArgs, name, args)
	}
}

// split parses an EVENT's data into name and the JSON array of args.
func (c *Client) split(data string) (string, string) {
	c.t.Helper()
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(data), &arr); err != nil || len(arr) == 0 {
		c.t.Fatalf("event payload %q", data)
	}
	var name string
	_ = json.Unmarshal(arr[0], &name)
	b, _ := json.Marshal(arr[1:])
	return name, string(b)
}

// Close drops the transport without a Socket.IO DISCONNECT: it closes the
// WebSocket, or stops polling (aborting the GET in flight). Receive then
// returns ErrClosed once earlier frames are read.
func (c *Client) Close() { c.conn.close() }
