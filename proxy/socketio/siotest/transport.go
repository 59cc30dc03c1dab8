package siotest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gorilla/websocket"
)

// conn is the Engine.IO transport under a Client. Writes are serialized
// by the Client's wmu; reading belongs to the loop that dialled it.
type conn interface {
	writeText(s string) error
	writeBinary(b []byte) error
	close()
}

// endpoint is the Engine.IO URL for transport: base itself when it has a
// query, else base's root with path (default /socket.io/) and the query.
// WebSocket URLs get a ws:// or wss:// scheme, polling ones http(s)://.
func endpoint(base, path, transport string) string {
	u := base
	if !strings.Contains(u, "?") {
		if path == "" {
			path = "/socket.io/"
		}
		u = strings.TrimSuffix(u, "/") + path + "?EIO=4&transport=" + transport
	}
	if transport == WebSocket && !strings.HasPrefix(u, "ws") {
		u = "ws" + strings.TrimPrefix(u, "http")
	}
	if transport == Polling && strings.HasPrefix(u, "ws") {
		u = "http" + strings.TrimPrefix(u, "ws")
	}
	return u
}

// wsConn is the WebSocket transport: one packet per message.
type wsConn struct{ ws *websocket.Conn }

func (w wsConn) writeText(s string) error {
	return w.ws.WriteMessage(websocket.TextMessage, []byte(s))
}

func (w wsConn) writeBinary(b []byte) error {
	return w.ws.WriteMessage(websocket.BinaryMessage, b)
}

func (w wsConn) close() { w.ws.Close() }

func (c *Client) dialWebSocket(u string, header http.Header) {
	c.t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(u, header)
	if err != nil {
		c.t.Fatalf("dial %s: %v", u, err)
	}
	c.conn = wsConn{ws}
	done := make(chan struct{})
	c.t.Cleanup(func() { ws.Close(); <-done })
	go c.wsLoop(ws, done)
}

func (c *Client) wsLoop(ws *websocket.Conn, done chan struct{}) {
	defer close(done)
	defer close(c.in)
	for {
		typ, b, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if typ == websocket.BinaryMessage {
			c.in <- Frame{Binary: b}
			continue
		}
		if string(b) == "2" {
			c.Send("3")
			continue
		}
		c.in <- Frame{Text: string(b)}
	}
}

// pollConn is the long-polling transport: each write is one POST of one
// packet; a loop of GETs reads payloads, packets separated by \x1e and
// binary ones written "b" + base64 (Engine.IO v4).
type pollConn struct {
	url    string // with the session's sid
	header http.Header
	ctx    context.Context // ends at close, aborting requests in flight
	cancel context.CancelFunc
}

func (p *pollConn) writeText(s string) error { return p.post(s) }

func (p *pollConn) writeBinary(b []byte) error {
	return p.post("b" + base64.StdEncoding.EncodeToString(b))
}

func (p *pollConn) close() { p.cancel() }

func (p *pollConn) post(body string) error {
	req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, p.url, strings.NewReader(body))
	if err != nil {
		return err
	}
	if p.header != nil {
		req.Header = p.header.Clone()
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("siotest: POST = %d %q", resp.StatusCode, b)
	}
	return nil
}

// get sends one GET to u and returns the payload.
func (p *pollConn) get(u string) (int, string, error) {
	req, err := http.NewRequestWithContext(p.ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	if p.header != nil {
		req.Header = p.header.Clone()
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), err
}

// dialPolling opens the session with the handshake GET at u, queues its
// packets (the OPEN first) and starts the GET loop.
func (c *Client) dialPolling(u string, header http.Header) {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &pollConn{header: header, ctx: ctx, cancel: cancel}
	status, body, err := p.get(u)
	if err != nil || status != http.StatusOK {
		cancel()
		c.t.Fatalf("handshake GET %s = %d %q, %v; want 200 and an OPEN packet", u, status, body, err)
	}
	open, _, _ := strings.Cut(body, "\x1e")
	var v struct {
		SID string `json:"sid"`
	}
	if !strings.HasPrefix(open, "0") || json.Unmarshal([]byte(open[1:]), &v) != nil || v.SID == "" {
		cancel()
		c.t.Fatalf("handshake GET %s = %q, want an OPEN packet with a sid", u, body)
	}
	p.url = u + "&sid=" + v.SID
	c.conn = p
	done := make(chan struct{})
	c.t.Cleanup(func() { cancel(); <-done })
	go c.pollLoop(p, body, done)
}

// pollLoop queues the packets of payload, then of each GET's payload,
// until the session ends (a CLOSE packet, an answer other than 200) or
// the Client closes.
func (c *Client) pollLoop(p *pollConn, payload string, done chan struct{}) {
	defer close(done)
	defer close(c.in)
	for {
		for _, pkt := range strings.Split(payload, "\x1e") {
			switch {
			case pkt == "2":
				c.Send("3")
			case pkt == "1":
				return
			case pkt == "6", pkt == "":
			case strings.HasPrefix(pkt, "b"):
				b, err := base64.StdEncoding.DecodeString(pkt[1:])
				if err != nil {
					return
				}
				c.in <- Frame{Binary: b}
			default:
				c.in <- Frame{Text: pkt}
			}
		}
		status, body, err := p.get(p.url)
		if err != nil || status != http.StatusOK {
			return
		}
		payload = body
	}
}
