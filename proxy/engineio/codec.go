package engineio

import (
	"encoding/base64"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Wire encodings of Engine.IO packets and polling payloads.
//
// v4 (engine.io-parser 5): a payload is packets joined by the record
// separator 0x1e; a text packet is its type digit followed by its data; a
// binary packet is "b" followed by standard base64.
//
// v3 (engine.io-parser 2, used by socket.io-client 2.x): a text payload is a
// run of "<length>:<packet>", the length counted in UTF-16 code units as
// JavaScript counts string length; binary data travels as "b4"+base64. A
// binary payload (sent to clients that support binary and POSTed by them as
// application/octet-stream) is a run of <0|1><length digits as bytes><0xff>
// <packet bytes>, 0 marking a UTF-8 string packet and 1 a binary one.

// recordSeparator separates packets in a v4 polling payload.
const recordSeparator = 0x1e

// errParse is returned by the decoders for a malformed packet or payload.
var errParse = errors.New("engineio: parse error")

// typeDigits maps a PacketType to its wire digit without allocating.
var typeDigits = []byte("0123456")

// typeBytes maps a PacketType to its v3 binary type byte.
var typeBytes = []byte{0, 1, 2, 3, 4, 5, 6}

// maxLengthDigits bounds the length prefix of a v3 packet; more digits than
// this cannot describe a body that fits under any sane MaxHTTPBufferSize.
const maxLengthDigits = 10

// decodePacketText decodes one text-encoded packet (a v4 or v3 WebSocket
// text frame, or one packet of a polling payload). A leading "b" marks a
// base64 binary message; in v3 the type digit follows the "b". The returned
// Data aliases b.
func decodePacketText(b []byte, protocol int) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, errParse
	}
	if b[0] == 'b' {
		b = b[1:]
		t := PacketMessage
		if protocol == 3 {
			if len(b) == 0 || b[0] < '0' || b[0] > '6' {
				return Packet{}, errParse
			}
			t = PacketType(b[0] - '0')
			b = b[1:]
		}
		return Packet{Type: t, Data: decodeBase64Lenient(b), Binary: true}, nil
	}
	if b[0] < '0' || b[0] > '6' {
		return Packet{}, errParse
	}
	p := Packet{Type: PacketType(b[0] - '0')}
	if len(b) > 1 {
		p.Data = b[1:]
	}
	return p, nil
}

// decodeBase64Lenient decodes base64 the way Node's Buffer.from(s, "base64")
// does: standard and URL-safe alphabets, padding optional, other characters
// skipped, decoding stops at the first "=". It never fails.
func decodeBase64Lenient(b []byte) []byte {
	if len(b)%4 == 0 {
		if out, err := base64.StdEncoding.AppendDecode(nil, b); err == nil {
			return out
		}
	}
	out := make([]byte, 0, len(b)*3/4)
	var acc uint32
	var bits uint
	for _, c := range b {
		var v byte
		switch {
		case c >= 'A' && c <= 'Z':
			v = c - 'A'
		case c >= 'a' && c <= 'z':
			v = c - 'a' + 26
		case c >= '0' && c <= '9':
			v = c - '0' + 52
		case c == '+' || c == '-':
			v = 62
		case c == '/' || c == '_':
			v = 63
		case c == '=':
			return out
		default:
			continue
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
			acc &= 1<<bits - 1
		}
	}
	return out
}

// appendPacketText appends p in its text form: type digit + data, or
// "b"+base64 for binary data ("b<type>"+base64 in v3).
func appendPacketText(dst []byte, p Packet, protocol int) []byte {
	if p.Binary {
		dst = append(dst, 'b')
		if protocol == 3 {
			dst = append(dst, typeDigits[p.Type])
		}
		return base64.StdEncoding.AppendEncode(dst, p.Data)
	}
	dst = append(dst, typeDigits[p.Type])
	return append(dst, p.Data...)
}

// appendPayloadV4 appends packets as a v4 polling payload.
func appendPayloadV4(dst []byte, packets []Packet) []byte {
	for i, p := range packets {
		if i > 0 {
			dst = append(dst, recordSeparator)
		}
		dst = appendPacketText(dst, p, 4)
	}
	return dst
}

// decodePayloadV4 decodes a v4 polling payload. On a malformed packet it
// returns the packets before it together with errParse, as the reference
// parser delivers them before its error packet.
func decodePayloadV4(b []byte) ([]Packet, error) {
	n := 1
	for _, c := range b {
		if c == recordSeparator {
			n++
		}
	}
	packets := make([]Packet, 0, n)
	for {
		i := indexByte(b, recordSeparator)
		chunk := b
		if i >= 0 {
			chunk = b[:i]
		}
		p, err := decodePacketText(chunk, 4)
		if err != nil {
			return packets, err
		}
		packets = append(packets, p)
		if i < 0 {
			return packets, nil
		}
		b = b[i+1:]
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// utf16Len returns the length of b in UTF-16 code units, JavaScript's
// string length. An invalid byte counts as one unit (it decodes to U+FFFD).
func utf16Len(b []byte) int {
	n := 0
	for len(b) > 0 {
		c := b[0]
		if c < utf8.RuneSelf {
			n++
			b = b[1:]
			continue
		}
		r, size := utf8.DecodeRune(b)
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		b = b[size:]
	}
	return n
}

// utf16Prefix returns how many bytes of b hold its first n UTF-16 code
// units, or -1 if b is shorter or the boundary splits a surrogate pair.
func utf16Prefix(b []byte, n int) int {
	i := 0
	for n > 0 {
		if i >= len(b) {
			return -1
		}
		c := b[i]
		if c < utf8.RuneSelf {
			i++
			n--
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		units := 1
		if r >= 0x10000 {
			units = 2
		}
		if units > n {
			return -1
		}
		i += size
		n -= units
	}
	return i
}

// appendPayloadV3Text appends packets as a v3 text payload; binary packets
// are written "b4"+base64. An empty list encodes as "0:", as the reference
// does.
func appendPayloadV3Text(dst []byte, packets []Packet) []byte {
	if len(packets) == 0 {
		return append(dst, '0', ':')
	}
	for _, p := range packets {
		var n int
		if p.Binary {
			n = 2 + base64.StdEncoding.EncodedLen(len(p.Data))
		} else {
			n = 1 + utf16Len(p.Data)
		}
		dst = strconv.AppendInt(dst, int64(n), 10)
		dst = append(dst, ':')
		dst = appendPacketText(dst, p, 3)
	}
	return dst
}

// decodePayloadV3Text decodes a v3 text payload. As with v4, packets before
// a malformed one are returned with errParse.
func decodePayloadV3Text(b []byte) ([]Packet, error) {
	if len(b) == 0 {
		return nil, errParse
	}
	var packets []Packet
	for len(b) > 0 {
		i := indexByte(b, ':')
		if i <= 0 || i > maxLengthDigits {
			return packets, errParse
		}
		n := 0
		for _, c := range b[:i] {
			if c < '0' || c > '9' {
				return packets, errParse
			}
			n = n*10 + int(c-'0')
		}
		b = b[i+1:]
		size := utf16Prefix(b, n)
		if size < 0 {
			return packets, errParse
		}
		if size > 0 {
			p, err := decodePacketText(b[:size], 3)
			if err != nil {
				return packets, err
			}
			packets = append(packets, p)
		}
		b = b[size:]
	}
	return packets, nil
}

// appendPayloadV3Binary appends packets as a v3 binary payload.
func appendPayloadV3Binary(dst []byte, packets []Packet) []byte {
	for _, p := range packets {
		if p.Binary {
			dst = append(dst, 1)
			dst = appendLengthBytes(dst, 1+len(p.Data))
			dst = append(dst, 0xff, typeBytes[p.Type])
		} else {
			dst = append(dst, 0)
			dst = appendLengthBytes(dst, 1+len(p.Data))
			dst = append(dst, 0xff, typeDigits[p.Type])
		}
		dst = append(dst, p.Data...)
	}
	return dst
}

// appendLengthBytes appends the decimal digits of n as byte values 0-9.
func appendLengthBytes(dst []byte, n int) []byte {
	start := len(dst)
	dst = strconv.AppendInt(dst, int64(n), 10)
	for i := start; i < len(dst); i++ {
		dst[i] -= '0'
	}
	return dst
}

// decodePayloadV3Binary decodes a v3 binary payload. Packets before a
// malformed one are returned with errParse.
func decodePayloadV3Binary(b []byte) ([]Packet, error) {
	if len(b) == 0 {
		return nil, errParse
	}
	var packets []Packet
	for len(b) > 0 {
		kind := b[0]
		if kind > 1 {
			return packets, errParse
		}
		n, digits := 0, 0
		i := 1
		for ; i < len(b) && b[i] != 0xff; i++ {
			if b[i] > 9 || digits == maxLengthDigits {
				return packets, errParse
			}
			n = n*10 + int(b[i])
			digits++
		}
		if i >= len(b) || digits == 0 {
			return packets, errParse
		}
		b = b[i+1:]
		if n < 1 || n > len(b) {
			return packets, errParse
		}
		msg := b[:n]
		b = b[n:]
		var p Packet
		if kind == 0 {
			var err error
			if p, err = decodePacketText(msg, 3); err != nil {
				return packets, err
			}
		} else {
			if msg[0] > 6 {
				return packets, errParse
			}
			p = Packet{Type: PacketType(msg[0]), Data: msg[1:], Binary: true}
			if len(p.Data) == 0 {
				p.Data = nil
			}
		}
		packets = append(packets, p)
	}
	return packets, nil
}

// hasBinary reports whether any packet carries binary data.
func hasBinary(packets []Packet) bool {
	for _, p := range packets {
		if p.Binary {
			return true
		}
	}
	return false
}
