package redis

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/iobridge/iobridge/internal/jsonstr"
	"github.com/iobridge/iobridge/internal/msgpackjson"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// Both protocols carry values as Node's packages do: JSON where Node
// JSON.stringifies, msgpack (notepack.io) where it may carry binary. A
// received message is turned into JSON once (msgpack bin becoming
// placeholders with attachments, as socket.io-parser deconstructs binary)
// and then read with encoding/json: only one field of a message can carry
// binary (the packet, or the ack argument), so the placeholders number
// that field's attachments.

// errBadMessage wraps what is wrong with a message from Redis.
var errBadMessage = errors.New("redis: malformed message")

// decodeMessage returns the message as JSON, with the attachments its
// placeholders refer to.
func decodeMessage(payload []byte) ([]byte, [][]byte, error) {
	if len(payload) == 0 {
		return nil, nil, fmt.Errorf("%w: empty", errBadMessage)
	}
	if payload[0] == '{' {
		if !json.Valid(payload) {
			return nil, nil, fmt.Errorf("%w: invalid JSON", errBadMessage)
		}
		return payload, nil, nil
	}
	out, atts, err := msgpackjson.ToJSON(payload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", errBadMessage, err)
	}
	return out, atts, nil
}

// encodeMessage returns msg (JSON) as msgpack when it carries
// attachments or when always is set, else as is.
func encodeMessage(msg []byte, atts [][]byte, always bool) ([]byte, error) {
	if len(atts) == 0 && !always {
		return msg, nil
	}
	return msgpackjson.FromJSON(msg, atts)
}

// roomList decodes rooms sent as strings or, from JavaScript, numbers.
type roomList []string

func (r *roomList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make([]string, 0, len(raw))
	for _, x := range raw {
		var s string
		if json.Unmarshal(x, &s) == nil {
			out = append(out, s)
			continue
		}
		var f float64
		if err := json.Unmarshal(x, &f); err != nil {
			return fmt.Errorf("room %s is not a string", x)
		}
		out = append(out, jsNumber(f))
	}
	*r = out
	return nil
}

// jsNumber formats f as JavaScript's String(f) does for the usual cases.
func jsNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// wireFlags are the broadcast flags as they travel: a sparse object,
// timeout in milliseconds.
type wireFlags struct {
	Volatile *bool   `json:"volatile,omitempty"`
	Compress *bool   `json:"compress,omitempty"`
	Local    *bool   `json:"local,omitempty"`
	Timeout  float64 `json:"timeout,omitempty"`
}

// wireOpts are socket.io-adapter's BroadcastOptions as they travel.
type wireOpts struct {
	Rooms  roomList   `json:"rooms"`
	Except roomList   `json:"except"`
	Flags  *wireFlags `json:"flags,omitempty"`
}

func (o *wireOpts) options() *socketio.BroadcastOptions {
	out := &socketio.BroadcastOptions{Rooms: o.Rooms, Except: o.Except}
	if o.Flags != nil && o.Flags.Volatile != nil && *o.Flags.Volatile {
		out.Flags.Volatile = true
	}
	return out
}

// appendOpts appends {"rooms":[…],"except":[…],"flags":{…}}; flags carry
// only what is set (volatile; timeout in ms when withTimeout).
func appendOpts(b []byte, opts *socketio.BroadcastOptions, withFlags, withTimeout bool) []byte {
	b = append(b, `{"rooms":`...)
	b = appendStrings(b, opts.Rooms)
	b = append(b, `,"except":`...)
	b = appendStrings(b, dedupe(opts.Except))
	if withFlags {
		b = append(b, `,"flags":{`...)
		sep := false
		if opts.Flags.Volatile {
			b = append(b, `"volatile":true`...)
			sep = true
		}
		if withTimeout && opts.Flags.Timeout > 0 {
			if sep {
				b = append(b, ',')
			}
			b = append(b, `"timeout":`...)
			b = strconv.AppendInt(b, opts.Flags.Timeout.Milliseconds(), 10)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func dedupe(s []string) []string {
	if len(s) < 2 {
		return s
	}
	out := make([]string, 0, len(s))
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func appendStrings(b []byte, s []string) []byte {
	b = append(b, '[')
	for i, x := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, x)
	}
	return append(b, ']')
}

// wirePacket is a Socket.IO packet as the adapters carry it.
type wirePacket struct {
	Type int             `json:"type"`
	Data json.RawMessage `json:"data"`
	Nsp  string          `json:"nsp"`
}

// appendPacket appends {"type":2,"data":…,"nsp":…}: events travel as
// type 2 with binary inline, as socket.io-adapter hands them over before
// socket.io-parser turns them into BINARY_EVENT.
func appendPacket(b []byte, p *socketio.Packet, nsp string) []byte {
	b = append(b, `{"type":2,"data":`...)
	b = append(b, p.Data...)
	b = append(b, `,"nsp":`...)
	b = jsonstr.Append(b, nsp)
	return append(b, '}')
}

// packet turns a received packet into an event for this namespace, or an
// error when it is not an event.
func (w *wirePacket) packet(nsp string, atts [][]byte) (*socketio.Packet, error) {
	if w.Type != int(socketio.PacketEvent) && w.Type != int(socketio.PacketBinaryEvent) {
		return nil, fmt.Errorf("%w: packet type %d is not an event", errBadMessage, w.Type)
	}
	data := bytes.TrimSpace(w.Data)
	if len(data) < 2 || data[0] != '[' {
		return nil, fmt.Errorf("%w: packet data is not an array", errBadMessage)
	}
	if _, _, err := socketio.EventName(data); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadMessage, err)
	}
	return &socketio.Packet{Type: socketio.PacketEvent, Namespace: nsp, Data: data, Attachments: atts}, nil
}

// wireSocket is socket.io's SocketDetails: a FETCH answer's entry.
type wireSocket struct {
	ID        string          `json:"id"`
	Handshake wireHandshake   `json:"handshake"`
	Rooms     roomList        `json:"rooms"`
	Data      json.RawMessage `json:"data"`
}

// wireHandshake is socket.handshake as Node sends it.
type wireHandshake struct {
	Headers map[string]any  `json:"headers"`
	Time    string          `json:"time"`
	Address string          `json:"address"`
	XDomain bool            `json:"xdomain"`
	Secure  bool            `json:"secure"`
	Issued  float64         `json:"issued"`
	URL     string          `json:"url"`
	Query   map[string]any  `json:"query"`
	Auth    json.RawMessage `json:"auth"`
}

// socketDetails describes a local socket for another node: its data as
// the server's RemoteDataDecorator makes it (with the admin UI on,
// data._admin first, as a Node server with instrument() answers).
func socketDetails(s *socketio.Socket) wireSocket {
	info := s.RemoteInfo()
	h := info.Handshake
	hs := wireHandshake{
		Headers: make(map[string]any, len(h.Headers)),
		Time:    h.Time,
		Address: h.Address,
		XDomain: h.XDomain,
		Secure:  h.Secure,
		Issued:  float64(h.Issued),
		URL:     h.URL,
		Query:   make(map[string]any, len(h.Query)),
		Auth:    h.Auth,
	}
	for k, v := range h.Headers {
		k = strings.ToLower(k)
		if k == "set-cookie" {
			hs.Headers[k] = v
		} else {
			hs.Headers[k] = strings.Join(v, ", ")
		}
	}
	for k, v := range h.Query {
		if len(v) == 1 {
			hs.Query[k] = v[0]
		} else {
			hs.Query[k] = v
		}
	}
	if len(hs.Auth) == 0 {
		hs.Auth = json.RawMessage("{}")
	}
	return wireSocket{ID: info.ID, Handshake: hs, Rooms: info.Rooms, Data: dataJSON(info.Data)}
}

// dataJSON encodes socket.data as JSON ({} when unset, as Node's starts).
func dataJSON(v any) json.RawMessage {
	switch d := v.(type) {
	case nil:
		return json.RawMessage("{}")
	case json.RawMessage:
		if len(d) == 0 || !json.Valid(d) {
			return json.RawMessage("{}")
		}
		return d
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// info turns another node's socket into a SocketInfo.
func (w *wireSocket) info() socketio.SocketInfo {
	h := socketio.Handshake{
		Headers: make(http.Header, len(w.Handshake.Headers)),
		Query:   make(url.Values, len(w.Handshake.Query)),
		Auth:    w.Handshake.Auth,
		Address: w.Handshake.Address,
		Secure:  w.Handshake.Secure,
		XDomain: w.Handshake.XDomain,
		URL:     w.Handshake.URL,
		Time:    w.Handshake.Time,
		Issued:  int64(w.Handshake.Issued),
	}
	for k, v := range w.Handshake.Headers {
		h.Headers[k] = anyStrings(v)
	}
	for k, v := range w.Handshake.Query {
		h.Query[k] = anyStrings(v)
	}
	if len(h.Auth) == 0 || h.Auth[0] != '{' {
		h.Auth = json.RawMessage("{}")
	}
	var data any
	if len(w.Data) > 0 && string(w.Data) != "null" {
		data = w.Data
	}
	return socketio.SocketInfo{ID: w.ID, Handshake: h, Rooms: w.Rooms, Data: data}
}

func anyStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case nil:
		return nil
	}
	return []string{fmt.Sprint(v)}
}

// marshal is json.Marshal without HTML escaping: "&" stays "&", as
// JSON.stringify writes it.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// randomID returns n random bytes in hex (socket.io-adapter's randomId is
// 8 bytes).
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// uid2 returns n characters of [A-Za-z0-9-_], as the uid2 package the
// classic adapter uses.
func uid2(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&63]
	}
	return string(b)
}

// splitEvent returns the event name and arguments of a [event, …args]
// array.
func splitEvent(data json.RawMessage) (string, []json.RawMessage, error) {
	return socketio.EventName(data)
}

// firstArg returns args[0], or nil (absent, as a JavaScript callback
// called with no argument) when there is none.
func firstArg(args []json.RawMessage) json.RawMessage {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}
