package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/iobridge/iobridge/internal/jsonstr"
	"github.com/iobridge/iobridge/proxy/engineio"
)

// PacketType is the Socket.IO packet type, the first character of a packet.
type PacketType byte

// Socket.IO v5 packet types, in wire order ('0' through '6').
const (
	PacketConnect PacketType = iota
	PacketDisconnect
	PacketEvent
	PacketAck
	PacketConnectError
	PacketBinaryEvent
	PacketBinaryAck
)

var packetTypeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// DefaultMaxAttachments is the number of binary attachments a packet may
// announce when Decoder.MaxAttachments is zero, as socket.io-parser's
// maxAttachments default.
const DefaultMaxAttachments = 10

// Parse errors. Each wraps ErrParse, so errors.Is(err, ErrParse) tells a
// protocol violation from other failures. The reference server closes the
// connection on any of them.
var (
	ErrParse              = errors.New("socketio: parse error")
	ErrUnknownPacketType  = fmt.Errorf("%w: unknown packet type", ErrParse)
	ErrIllegalAttachments = fmt.Errorf("%w: illegal attachments", ErrParse)
	ErrTooManyAttachments = fmt.Errorf("%w: too many attachments", ErrParse)
	ErrInvalidPayload     = fmt.Errorf("%w: invalid payload", ErrParse)
	ErrInvalidAckID       = fmt.Errorf("%w: invalid ack id", ErrParse)
	ErrUnexpectedBinary   = fmt.Errorf("%w: got binary data when not reconstructing a packet", ErrParse)
	ErrUnexpectedText     = fmt.Errorf("%w: got plaintext data when reconstructing a packet", ErrParse)
)

// Packet is one decoded Socket.IO packet.
//
// Data is the JSON payload exactly as it travels (for EVENT, the array whose
// first element is the event name). Binary payloads keep their placeholders
// ({"_placeholder":true,"num":n}) in Data; Attachments holds the binary
// parts, in num order. A decoded BINARY_EVENT or BINARY_ACK is reported as
// PacketEvent or PacketAck with Attachments set, and Encode turns an EVENT or
// ACK with attachments back into its binary form, as socket.io-parser does.
//
// A Packet handed to Encode or to an Adapter is not modified afterwards; Data
// and Attachments may be shared by many recipients.
type Packet struct {
	Type PacketType
	// Namespace is the namespace name; "" and "/" both mean the main one.
	Namespace string
	// ID is the acknowledgement id; it is meaningful only when HasID is set.
	ID    uint64
	HasID bool
	// Data is the JSON payload, nil when the packet has none.
	Data json.RawMessage
	// Attachments are the binary parts of a binary packet.
	Attachments [][]byte
}

// AppendText appends the text part of p (everything but the binary
// attachments) to dst: <type>[<attachments>-][<nsp>,][<id>][<json>].
func (p *Packet) AppendText(dst []byte) []byte {
	t := p.Type
	n := len(p.Attachments)
	if n > 0 {
		switch t {
		case PacketEvent:
			t = PacketBinaryEvent
		case PacketAck:
			t = PacketBinaryAck
		}
	}
	dst = append(dst, '0'+byte(t))
	if t == PacketBinaryEvent || t == PacketBinaryAck {
		dst = strconv.AppendInt(dst, int64(n), 10)
		dst = append(dst, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.HasID {
		dst = strconv.AppendUint(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}

// Encode returns the Engine.IO messages carrying p: one text message, then
// one binary message per attachment. The attachments are not copied.
func Encode(p *Packet) []engineio.Packet {
	out := make([]engineio.Packet, 1+len(p.Attachments))
	size := 1 + len(p.Namespace) + 1 + len(p.Data) + 24
	out[0] = engineio.Packet{Type: engineio.PacketMessage, Data: p.AppendText(make([]byte, 0, size))}
	for i, a := range p.Attachments {
		out[i+1] = engineio.Packet{Type: engineio.PacketMessage, Data: a, Binary: true}
	}
	return out
}

// reservedEvents are the names neither side may emit: a client packet using
// one is invalid, and the server refuses to emit them.
var reservedEvents = [...]string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

// IsReservedEvent reports whether name is reserved by Socket.IO.
func IsReservedEvent(name string) bool {
	for _, r := range reservedEvents {
		if r == name {
			return true
		}
	}
	return false
}

// DecodeText decodes the text part of a packet. A binary packet comes back
// with its type still PacketBinaryEvent or PacketBinaryAck and the announced
// attachment count in the second result; Decoder reassembles it.
// maxAttachments <= 0 means DefaultMaxAttachments.
func DecodeText(s []byte, maxAttachments int) (*Packet, int, error) {
	if maxAttachments <= 0 {
		maxAttachments = DefaultMaxAttachments
	}
	p := &Packet{Namespace: "/"}
	i := 0
	// Like the reference (Number(str.charAt(0))), an empty message reads as
	// type 0.
	if len(s) > 0 {
		c := s[0]
		if c < '0' || c > '6' {
			return nil, 0, ErrUnknownPacketType
		}
		p.Type = PacketType(c - '0')
	}
	attachments := 0
	if p.Type == PacketBinaryEvent || p.Type == PacketBinaryAck {
		start := 1
		i = 1
		for i < len(s) && s[i] != '-' {
			i++
		}
		if i == len(s) || i == start || i-start > 9 {
			return nil, 0, ErrIllegalAttachments
		}
		n := 0
		for _, c := range s[start:i] {
			if c < '0' || c > '9' {
				return nil, 0, ErrIllegalAttachments
			}
			n = n*10 + int(c-'0')
		}
		if n < 1 {
			return nil, 0, ErrIllegalAttachments
		}
		if n > maxAttachments {
			return nil, 0, ErrTooManyAttachments
		}
		attachments = n
		i++ // past '-'
	} else if len(s) > 0 {
		i = 1
	}
	// namespace
	if i < len(s) && s[i] == '/' {
		start := i
		for i < len(s) && s[i] != ',' {
			i++
		}
		p.Namespace = string(s[start:i])
		if i < len(s) {
			i++ // past ','
		}
	}
	// ack id
	if i < len(s) && s[i] >= '0' && s[i] <= '9' {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		id, err := strconv.ParseUint(string(s[start:i]), 10, 64)
		if err != nil {
			return nil, 0, ErrInvalidAckID
		}
		p.ID, p.HasID = id, true
	}
	if i < len(s) {
		data := s[i:]
		if !json.Valid(data) || !payloadValid(p.Type, data) {
			return nil, 0, ErrInvalidPayload
		}
		p.Data = json.RawMessage(data)
	} else if p.Type == PacketEvent || p.Type == PacketBinaryEvent {
		// The reference accepts an EVENT without payload and emits an
		// event with no name; there is nothing to route, so it is refused.
		return nil, 0, ErrInvalidPayload
	}
	if (p.Type == PacketAck || p.Type == PacketBinaryAck) && !p.HasID {
		return nil, 0, ErrInvalidAckID
	}
	return p, attachments, nil
}

// payloadValid mirrors socket.io-parser's isPayloadValid on JSON that is
// already known to be valid.
func payloadValid(t PacketType, data []byte) bool {
	i := skipSpace(data, 0)
	c := data[i]
	switch t {
	case PacketConnect:
		return c == '{'
	case PacketDisconnect:
		return false
	case PacketConnectError:
		return c == '{' || c == '"'
	case PacketEvent, PacketBinaryEvent:
		if c != '[' {
			return false
		}
		j := skipSpace(data, i+1)
		switch {
		case data[j] == '"':
			end := skipValue(data, j)
			name, ok := unquote(data[j:end])
			return ok && !IsReservedEvent(name)
		case data[j] == '-' || (data[j] >= '0' && data[j] <= '9'):
			return true
		}
		return false
	case PacketAck, PacketBinaryAck:
		return c == '['
	}
	return false
}

// EventName returns the event name of an EVENT payload and the raw
// arguments that follow it. The arguments alias data. A numeric first
// element (which the reference accepts) is returned as its JSON text.
func EventName(data json.RawMessage) (string, []json.RawMessage, error) {
	elems, err := SplitArray(data)
	if err != nil || len(elems) == 0 {
		return "", nil, ErrInvalidPayload
	}
	first := elems[0]
	if first[0] == '"' {
		name, ok := unquote(first)
		if !ok {
			return "", nil, ErrInvalidPayload
		}
		return name, elems[1:], nil
	}
	if first[0] == '-' || (first[0] >= '0' && first[0] <= '9') {
		return string(first), elems[1:], nil
	}
	return "", nil, ErrInvalidPayload
}

// SplitArray splits a JSON array into its elements, which alias data. data
// must be valid JSON (as every decoded Packet's Data is).
func SplitArray(data json.RawMessage) ([]json.RawMessage, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, ErrInvalidPayload
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return nil, nil
	}
	n := countElems(data, i)
	out := make([]json.RawMessage, 0, n)
	for i < len(data) {
		end := skipValue(data, i)
		if end <= i {
			return nil, ErrInvalidPayload
		}
		out = append(out, data[i:end:end])
		i = skipSpace(data, end)
		if i >= len(data) {
			return nil, ErrInvalidPayload
		}
		if data[i] == ']' {
			return out, nil
		}
		if data[i] != ',' {
			return nil, ErrInvalidPayload
		}
		i = skipSpace(data, i+1)
	}
	return nil, ErrInvalidPayload
}

func countElems(data []byte, i int) int {
	n := 1
	for i < len(data) {
		end := skipValue(data, i)
		if end <= i {
			return n
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ',' {
			return n
		}
		n++
		i = skipSpace(data, i+1)
	}
	return n
}

// AppendEventData appends the JSON array ["event",args...] to dst.
func AppendEventData(dst []byte, event string, args []json.RawMessage) []byte {
	dst = append(dst, '[')
	dst = jsonstr.Append(dst, event)
	for _, a := range args {
		dst = append(dst, ',')
		dst = append(dst, a...)
	}
	return append(dst, ']')
}

// AppendArray appends the JSON array [args...] to dst.
func AppendArray(dst []byte, args []json.RawMessage) []byte {
	dst = append(dst, '[')
	for i, a := range args {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, a...)
	}
	return append(dst, ']')
}

// Placeholder returns the JSON placeholder that stands for attachment num
// in a binary packet's arguments.
func Placeholder(num int) json.RawMessage {
	b := append([]byte(`{"_placeholder":true,"num":`), strconv.Itoa(num)...)
	return append(b, '}')
}
