package engineio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/iobridge/iobridge/internal/golden"
)

func msg(s string) Packet                   { return Packet{Type: PacketMessage, Data: []byte(s)} }
func bin(b ...byte) Packet                  { return Packet{Type: PacketMessage, Data: b, Binary: true} }
func ctl(t PacketType) Packet               { return Packet{Type: t} }
func ctlData(t PacketType, s string) Packet { return Packet{Type: t, Data: []byte(s)} }

// codecCases are the payloads of the golden files; the same packets are
// encoded in every wire variant.
var codecCases = []struct {
	name    string
	packets []Packet
}{
	{"one text packet", []Packet{msg("hello")}},
	{"several text packets", []Packet{msg("test1"), msg("test2"), msg("test3")}},
	{"text and binary", []Packet{msg("hello"), bin(1, 2, 3, 4)}},
	{"empty message", []Packet{msg("")}},
	{"empty binary", []Packet{bin()}},
	{"control packets", []Packet{ctl(PacketPing), ctl(PacketPong), ctl(PacketNoop), ctl(PacketClose)}},
	{"probe", []Packet{ctlData(PacketPing, "probe")}},
	{"open", []Packet{ctlData(PacketOpen, `{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)}},
	{"socket.io event", []Packet{msg(`2["chat",{"text":"hi"}]`)}},
	{"non-ascii text", []Packet{msg("é€"), msg("😀 emoji")}},
	{"binary with every byte class", []Packet{bin(0, 0x1e, ':', 0xff, 0x80)}},
}

type encoding struct {
	name   string
	file   string
	encode func([]byte, []Packet) []byte
	decode func([]byte) ([]Packet, error)
}

var encodings = []encoding{
	{"v4", "payload_v4.golden", appendPayloadV4, decodePayloadV4},
	{"v3 text", "payload_v3_text.golden", appendPayloadV3Text, decodePayloadV3Text},
	{"v3 binary", "payload_v3_binary.golden", appendPayloadV3Binary, decodePayloadV3Binary},
}

func packetsEqual(a, b []Packet) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Binary != b[i].Binary || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func fmtPackets(ps []Packet) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		if p.Binary {
			fmt.Fprintf(&b, "{%d bin %v}", p.Type, p.Data)
		} else {
			fmt.Fprintf(&b, "{%d %q}", p.Type, p.Data)
		}
	}
	return "[" + b.String() + "]"
}

// readGolden reads "name: quoted-bytes" lines.
func readGolden(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, q, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("%s: bad line %q", path, line)
		}
		v, err := strconv.Unquote(q)
		if err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		out[name] = v
	}
	return out
}

func TestPayloadGolden(t *testing.T) {
	for _, enc := range encodings {
		t.Run(enc.name, func(t *testing.T) {
			path := filepath.Join("testdata", enc.file)
			var b strings.Builder
			fmt.Fprintf(&b, "# Engine.IO %s payloads: case name, then the encoded payload as a Go string.\n", enc.name)
			b.WriteString("# Byte-identical to engine.io-parser 5.2.3 (v4) and engine.io 6.6.12 parser-v3 (v3) for the same packets.\n")
			for _, tc := range codecCases {
				fmt.Fprintf(&b, "%s: %s\n", tc.name, strconv.Quote(string(enc.encode(nil, tc.packets))))
			}
			golden.Assert(t, path, []byte(b.String()))
			entries := readGolden(t, path)
			for _, tc := range codecCases {
				want, ok := entries[tc.name]
				if !ok {
					t.Errorf("%s: no golden entry for %q", enc.file, tc.name)
					continue
				}
				if got := string(enc.encode(nil, tc.packets)); got != want {
					t.Errorf("encode %s = %q, want %q", fmtPackets(tc.packets), got, want)
				}
				got, err := enc.decode([]byte(want))
				if err != nil || !packetsEqual(got, tc.packets) {
					t.Errorf("decode %q = %s, %v; want %s", want, fmtPackets(got), err, fmtPackets(tc.packets))
				}
			}
		})
	}
}

// TestPayloadReference pins encodings the reference parsers produce.
func TestPayloadReference(t *testing.T) {
	tests := []struct {
		name    string
		encode  func([]byte, []Packet) []byte
		packets []Packet
		want    string
	}{
		{"v4 suite payload", appendPayloadV4, []Packet{msg("hello"), bin(1, 2, 3, 4)}, "4hello\x1ebAQIDBA=="},
		{"v3 length in UTF-16 units", appendPayloadV3Text, []Packet{msg("😀")}, "3:4😀"},
		{"v3 binary as base64", appendPayloadV3Text, []Packet{bin(1, 2, 3)}, "6:b4AQID"},
		{"v3 empty payload", appendPayloadV3Text, nil, "0:"},
		{"v3 binary payload", appendPayloadV3Binary, []Packet{msg("hi"), bin(1, 2, 3)}, "\x00\x03\xff4hi\x01\x04\xff\x04\x01\x02\x03"},
		{"v3 binary payload counts UTF-8 bytes", appendPayloadV3Binary, []Packet{msg("é")}, "\x00\x03\xff4é"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tc.encode(nil, tc.packets)); got != tc.want {
				t.Errorf("encode %s = %q, want %q", fmtPackets(tc.packets), got, tc.want)
			}
		})
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	for _, enc := range encodings {
		for _, tc := range codecCases {
			t.Run(enc.name+"/"+tc.name, func(t *testing.T) {
				encoded := enc.encode(nil, tc.packets)
				got, err := enc.decode(encoded)
				if err != nil || !packetsEqual(got, tc.packets) {
					t.Errorf("decode(encode(%s)) = %s, %v", fmtPackets(tc.packets), fmtPackets(got), err)
				}
			})
		}
	}
}

func TestPayloadDecodeErrors(t *testing.T) {
	tests := []struct {
		name      string
		decode    func([]byte) ([]Packet, error)
		in        string
		wantCount int // packets decoded before the error
	}{
		{"v4 empty", decodePayloadV4, "", 0},
		{"v4 bad type", decodePayloadV4, "abc", 0},
		{"v4 type out of range", decodePayloadV4, "7", 0},
		{"v4 trailing separator", decodePayloadV4, "4a\x1e", 1},
		{"v4 error after packets", decodePayloadV4, "4a\x1e4b\x1ex", 2},
		{"v3 empty", decodePayloadV3Text, "", 0},
		{"v3 no length", decodePayloadV3Text, "4hello", 0},
		{"v3 length not a number", decodePayloadV3Text, "x:4", 0},
		{"v3 length too long", decodePayloadV3Text, "10:4hi", 0},
		{"v3 splits a surrogate pair", decodePayloadV3Text, "2:4😀", 0},
		{"v3 bad type", decodePayloadV3Text, "2:9x", 0},
		{"v3 error after a packet", decodePayloadV3Text, "2:4a2:x", 1},
		{"v3 binary empty", decodePayloadV3Binary, "", 0},
		{"v3 binary bad kind", decodePayloadV3Binary, "\x02\x01\xff4", 0},
		{"v3 binary no terminator", decodePayloadV3Binary, "\x00\x01\x02", 0},
		{"v3 binary bad digit", decodePayloadV3Binary, "\x00\x0a\xff4", 0},
		{"v3 binary short", decodePayloadV3Binary, "\x00\x09\xff4", 0},
		{"v3 binary type out of range", decodePayloadV3Binary, "\x01\x01\xff\x07", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.decode([]byte(tc.in))
			if !errors.Is(err, errParse) || len(got) != tc.wantCount {
				t.Errorf("decode(%q) = %s, %v; want %d packets and errParse", tc.in, fmtPackets(got), err, tc.wantCount)
			}
		})
	}
}

func TestDecodePacketText(t *testing.T) {
	tests := []struct {
		in       string
		protocol int
		want     Packet
	}{
		{"4hello", 4, msg("hello")},
		{"2probe", 4, ctlData(PacketPing, "probe")},
		{"6", 4, ctl(PacketNoop)},
		{"bAQIDBA==", 4, bin(1, 2, 3, 4)},
		{"bAQIDBA", 4, bin(1, 2, 3, 4)},
		{"bAQ ID-_", 4, bin(1, 2, 3, 0xfb)},
		{"b4AQID", 3, bin(1, 2, 3)},
	}
	for _, tc := range tests {
		got, err := decodePacketText([]byte(tc.in), tc.protocol)
		if err != nil || !packetsEqual([]Packet{got}, []Packet{tc.want}) {
			t.Errorf("decodePacketText(%q, %d) = %s, %v; want %s", tc.in, tc.protocol, fmtPackets([]Packet{got}), err, fmtPackets([]Packet{tc.want}))
		}
	}
}

func TestUTF16Len(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0}, {"abc", 3}, {"é", 1}, {"€", 1}, {"😀", 2}, {"\xff", 1}, {"a😀b", 4},
	}
	for _, tc := range tests {
		if got := utf16Len([]byte(tc.in)); got != tc.want {
			t.Errorf("utf16Len(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
