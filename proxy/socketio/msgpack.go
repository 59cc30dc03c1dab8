package socketio

import (
	"fmt"
	"math"
	"sync"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/iobridge/iobridge/internal/msgpackjson"
	"github.com/iobridge/iobridge/proxy/engineio"
)

// The socket.io-msgpack-parser wire format (3.x, on notepack.io 2): each
// packet is one binary message holding one msgpack map {type, data, nsp,
// id}, binary values inline as msgpack bin; there are no BINARY_EVENT or
// BINARY_ACK types and no attachment messages. Inside the server a packet
// is the same as with the default format: data converts to JSON with
// binary placeholders plus Attachments on the way in, and back on the way
// out (internal/msgpackjson), so handlers and backends see what they see
// with the default format.

// Errors of the msgpack format; each wraps ErrParse, so the connection is
// closed as the reference closes it when its decoder throws.
var (
	ErrTextMessage      = fmt.Errorf("%w: text message where the msgpack parser reads binary ones", ErrParse)
	ErrInvalidMsgpack   = fmt.Errorf("%w: invalid msgpack", ErrParse)
	ErrInvalidNamespace = fmt.Errorf("%w: invalid namespace", ErrParse)
)

// MsgpackParser returns the socket.io-msgpack-parser wire format. A
// default-parser client cannot connect to a server using it: its first
// packet is a text message, which closes the connection, as with the
// reference.
func MsgpackParser() Parser { return msgpackParser{} }

type msgpackParser struct{}

// Decode implements Parser with the checks of the reference decoder
// (checkPacket after notepack's decode): the message is one msgpack value,
// a map whose type is an integer from 0 (CONNECT) to 4 (CONNECT_ERROR),
// whose nsp is a string, whose data fits the type (CONNECT: absent or an
// object; DISCONNECT: absent; CONNECT_ERROR: a string or an object; EVENT
// and ACK: an array) and whose id is absent or an integer. Other members
// are ignored (clients send "options"). A text message is an error, as
// notepack fails on a string.
//
// Where the reference would accept a packet and then do nothing useful
// with it, Decode returns no packet and no error: an ACK without id
// (acks nothing) and an EVENT named after a reserved event (the reference
// would run the socket's own "disconnect"-style listeners with the
// client's arguments). A negative id is an error: the reference would
// answer it with an ACK no client can match.
func (msgpackParser) Decode(data []byte, binary bool) (*Packet, error) {
	if !binary {
		return nil, ErrTextMessage
	}
	r := mpReader{b: data}
	n, ok := r.mapLen()
	if !ok {
		if err := r.skip(); err != nil {
			return nil, err
		}
		return nil, ErrUnknownPacketType // a value other than a map has no type
	}
	var typ, nsp, payload, id mpSpan
	for range n {
		key, isStr, err := r.key()
		if err != nil {
			return nil, err
		}
		start, bins, binBytes := r.i, r.bins, r.binBytes
		if err := r.skip(); err != nil {
			return nil, err
		}
		span := mpSpan{b: data[start:r.i], bins: r.bins - bins, binBytes: r.binBytes - binBytes}
		if !isStr {
			continue
		}
		// A JavaScript object keeps the last of duplicate keys.
		switch string(key) {
		case "type":
			typ = span
		case "nsp":
			nsp = span
		case "data":
			payload = span
		case "id":
			id = span
		}
	}
	if r.i != len(data) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMsgpack, msgpackjson.ErrTrailing)
	}
	t, integral, neg, isNum := typ.number()
	if !isNum || !integral || neg || t > uint64(PacketConnectError) {
		return nil, ErrUnknownPacketType
	}
	p := &Packet{Type: PacketType(t)}
	name, ok := nsp.str()
	if !ok {
		return nil, ErrInvalidNamespace
	}
	p.Namespace = name
	if !id.undefined() {
		v, integral, neg, isNum := id.number()
		if !isNum || !integral || neg {
			return nil, ErrInvalidAckID
		}
		p.ID, p.HasID = v, true
	}
	kind := payload.kind()
	switch p.Type {
	case PacketConnect:
		ok = kind == jsUndefined || kind == jsObject
	case PacketDisconnect:
		ok = kind == jsUndefined
	case PacketConnectError:
		ok = kind == jsString || kind == jsObject
	default:
		ok = kind == jsArray
	}
	if !ok {
		return nil, ErrInvalidPayload
	}
	if kind != jsUndefined {
		// Binary inside a CONNECT's auth has no attachments to refer to:
		// it becomes {"_binary":…} in place, as backends take binary.
		var atts *[][]byte
		if p.Type == PacketEvent || p.Type == PacketAck {
			atts = &p.Attachments
		}
		// The JSON is about the msgpack's size, less the binary bytes,
		// which become attachments or base64.
		size := len(payload.b) - payload.binBytes + 32*payload.bins + 16
		if atts == nil {
			size += payload.binBytes * 4 / 3
		}
		js, err := msgpackjson.AppendJSONShared(make([]byte, 0, size), payload.b, atts)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidMsgpack, err)
		}
		if js[0] != kind.jsonStart() {
			// A timestamp ext reads as a Date here (notepack 3) but as
			// [-1, <bytes>] in notepack 2: not the array the packet needs.
			return nil, ErrInvalidPayload
		}
		p.Data = js
	}
	switch p.Type {
	case PacketAck:
		if !p.HasID {
			return nil, nil
		}
	case PacketEvent:
		if name, ok := payload.firstStr(); ok && isReservedName(name) {
			return nil, nil
		}
	}
	return p, nil
}

// Encode implements Parser: one binary message holding the packet map, its
// keys in the reference's order ({type, data, id, nsp}, {id, type, data,
// nsp} for an ACK), placeholders replaced by their attachments as bin.
func (msgpackParser) Encode(p *Packet) ([]engineio.Packet, error) {
	size := 32 + len(p.Namespace) + len(p.Data)
	for _, a := range p.Attachments {
		size += len(a)
	}
	b, err := appendMsgpackPacket(make([]byte, 0, size), p)
	if err != nil {
		return nil, err
	}
	return []engineio.Packet{{Type: engineio.PacketMessage, Data: b, Binary: true}}, nil
}

// appendWriter is the io.Writer (and io.ByteWriter, so the msgpack encoder
// does not wrap it) that appends to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

// mpEncoder pairs a msgpack encoder with the slice it appends to; pooled,
// since an encoder is a few hundred bytes.
type mpEncoder struct {
	w   appendWriter
	enc *msgpack.Encoder
}

var mpEncoderPool = sync.Pool{New: func() any {
	e := new(mpEncoder)
	e.enc = msgpack.NewEncoder(&e.w)
	return e
}}

func appendMsgpackPacket(dst []byte, p *Packet) ([]byte, error) {
	n := byte(2)
	if p.Data != nil {
		n++
	}
	if p.HasID {
		n++
	}
	dst = append(dst, 0x80|n)
	if p.HasID && p.Type == PacketAck {
		dst = append(dst, 0xa2, 'i', 'd')
		dst = appendMsgpackUint(dst, p.ID)
	}
	dst = append(dst, 0xa4, 't', 'y', 'p', 'e', byte(p.Type))
	if p.Data != nil {
		dst = append(dst, 0xa4, 'd', 'a', 't', 'a')
		e := mpEncoderPool.Get().(*mpEncoder)
		e.w.b = dst
		err := msgpackjson.EncodeJSON(e.enc, p.Data, p.Attachments)
		dst = e.w.b
		e.w.b = nil
		mpEncoderPool.Put(e)
		if err != nil {
			return nil, fmt.Errorf("socketio: encoding packet data as msgpack: %w", err)
		}
	}
	if p.HasID && p.Type != PacketAck {
		dst = append(dst, 0xa2, 'i', 'd')
		dst = appendMsgpackUint(dst, p.ID)
	}
	dst = append(dst, 0xa3, 'n', 's', 'p')
	nsp := p.Namespace
	if nsp == "" {
		nsp = "/"
	}
	return appendMsgpackStr(dst, nsp), nil
}

func appendMsgpackUint(dst []byte, v uint64) []byte {
	switch {
	case v < 0x80:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return append(dst, 0xcd, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return append(dst, 0xce, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(dst, 0xcf, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendMsgpackStr(dst []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		dst = append(dst, 0xda, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, s...)
}

// jsKind is what notepack 2 makes of a msgpack value, as far as the
// reference decoder's checks tell kinds apart.
type jsKind byte

const (
	jsUndefined jsKind = iota // absent, or notepack's d4 00 00
	jsObject                  // a map: a plain object
	jsArray                   // an array, or an ext other than notepack's type 0 forms
	jsString
	jsOther // numbers, booleans, null, Buffer, ArrayBuffer, Date
)

// jsonStart is the first byte of the kind's JSON form.
func (k jsKind) jsonStart() byte {
	switch k {
	case jsObject:
		return '{'
	case jsArray:
		return '['
	case jsString:
		return '"'
	}
	return 0
}

// mpSpan is one msgpack value of a packet map, already checked to be
// complete; empty when the key was absent. bins and binBytes count the bin
// and ext values in it and their payload bytes.
type mpSpan struct {
	b              []byte
	bins, binBytes int
}

// firstStr returns the bytes of the first element of an array value when
// it is a str (an event name: msgpack strings need no unescaping).
func (s mpSpan) firstStr() ([]byte, bool) {
	if len(s.b) == 0 {
		return nil, false
	}
	i := 1
	switch c := s.b[0]; {
	case c >= 0x90 && c <= 0x9f:
	case c == 0xdc:
		i = 3
	case c == 0xdd:
		i = 5
	default:
		return nil, false
	}
	if i >= len(s.b) {
		return nil, false
	}
	str, ok := mpSpan{b: s.b[i:]}.strBody()
	return str, ok
}

// isReservedName is IsReservedEvent on a name's bytes, without making a
// string of them.
func isReservedName(name []byte) bool {
	for _, r := range reservedEvents {
		if string(name) == r {
			return true
		}
	}
	return false
}

func (s mpSpan) undefined() bool {
	return len(s.b) == 0 || (len(s.b) == 3 && s.b[0] == 0xd4 && s.b[1] == 0)
}

func (s mpSpan) kind() jsKind {
	if s.undefined() {
		return jsUndefined
	}
	switch c := s.b[0]; {
	case c >= 0x80 && c <= 0x8f, c == 0xde, c == 0xdf:
		return jsObject
	case c >= 0x90 && c <= 0x9f, c == 0xdc, c == 0xdd:
		return jsArray
	case c >= 0xa0 && c <= 0xbf, c >= 0xd9 && c <= 0xdb:
		return jsString
	case c == 0xc7, c == 0xc8, c == 0xc9:
		// ext 8/16/32: type 0 is an ArrayBuffer, others [type, Buffer].
		if s.b[1+int(1)<<(c-0xc7)] == 0 {
			return jsOther
		}
		return jsArray
	case c >= 0xd4 && c <= 0xd8:
		// fixext: type 0 is undefined (d4, handled above) or a Date (d7).
		if s.b[1] == 0 && c == 0xd7 {
			return jsOther
		}
		return jsArray
	}
	return jsOther
}

// str returns the value as a string if it is a msgpack str (notepack
// decodes its bytes as UTF-8, replacing invalid sequences).
func (s mpSpan) str() (string, bool) {
	body, ok := s.strBody()
	if !ok {
		return "", false
	}
	if utf8.Valid(body) {
		return string(body), true
	}
	return string([]rune(string(body))), true
}

// strBody returns the bytes of a str value starting the span (the span may
// hold more after it). The length is checked against the span.
func (s mpSpan) strBody() ([]byte, bool) {
	if len(s.b) == 0 {
		return nil, false
	}
	r := mpReader{b: s.b}
	var n int
	ok := true
	switch c := s.b[0]; {
	case c >= 0xa0 && c <= 0xbf:
		r.i, n = 1, int(c&0x1f)
	case c == 0xd9:
		n, ok = r.length(0)
	case c == 0xda:
		n, ok = r.length(1)
	case c == 0xdb:
		n, ok = r.length(2)
	default:
		return nil, false
	}
	if !ok || n > len(s.b)-r.i {
		return nil, false
	}
	return s.b[r.i : r.i+n], true
}

// number reads a numeric value: its magnitude when it is an integer (a
// float with an integral value counts, as Number.isInteger has it) that
// fits a uint64, whether it is integral, whether it is negative, and
// whether it is a number at all.
func (s mpSpan) number() (v uint64, integral, neg, ok bool) {
	if len(s.b) == 0 {
		return 0, false, false, false
	}
	b := s.b
	be := func(n int) uint64 {
		var u uint64
		for _, x := range b[1 : 1+n] {
			u = u<<8 | uint64(x)
		}
		return u
	}
	switch c := b[0]; {
	case c <= 0x7f:
		return uint64(c), true, false, true
	case c >= 0xe0:
		return 0, true, true, true
	case c >= 0xcc && c <= 0xcf:
		return be(1 << (c - 0xcc)), true, false, true
	case c >= 0xd0 && c <= 0xd3:
		n := 1 << (c - 0xd0)
		u := be(n)
		shift := 64 - 8*n
		i := int64(u<<shift) >> shift
		if i < 0 {
			return 0, true, true, true
		}
		return uint64(i), true, false, true
	case c == 0xca, c == 0xcb:
		var f float64
		if c == 0xca {
			f = float64(math.Float32frombits(uint32(be(4))))
		} else {
			f = math.Float64frombits(be(8))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
			return 0, false, false, true
		}
		if f < 0 {
			return 0, true, true, true
		}
		if f >= 1<<64 {
			return 0, false, false, true // no uint64 holds it; refused as an id
		}
		return uint64(f), true, false, true
	}
	return 0, false, false, false
}
