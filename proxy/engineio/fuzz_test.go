package engineio

import (
	"testing"
)

// fuzzRoundTrip checks that decode never panics and that what decodes
// cleanly re-encodes to something that decodes to the same packets.
func fuzzRoundTrip(t *testing.T, in []byte, decode func([]byte) ([]Packet, error), encode func([]byte, []Packet) []byte) {
	packets, err := decode(in)
	if err != nil {
		return
	}
	out := encode(nil, packets)
	again, err := decode(out)
	if err != nil {
		t.Fatalf("decode(encode(decode(%q))) failed on %q: %v", in, out, err)
	}
	if !packetsEqual(packets, again) {
		t.Fatalf("round trip of %q: %s, then %q decodes to %s", in, fmtPackets(packets), out, fmtPackets(again))
	}
}

func FuzzDecodePayloadV4(f *testing.F) {
	for _, s := range []string{"4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==", "2", "b", "bAQ ID-_", "abc", "4a\x1e", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRoundTrip(t, in, decodePayloadV4, appendPayloadV4)
	})
}

func FuzzDecodePayloadV3Text(f *testing.F) {
	for _, s := range []string{"6:4hello", "6:4hello10:b4AQIDBA==", "3:4😀", "2:4😀", "0:", "1:2", "x:4", "10:4hi", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRoundTrip(t, in, decodePayloadV3Text, appendPayloadV3Text)
	})
}

func FuzzDecodePayloadV3Binary(f *testing.F) {
	for _, s := range []string{"\x00\x06\xff4hello", "\x00\x03\xff4hi\x01\x04\xff\x04\x01\x02\x03", "\x01\x01\xff\x04", "\x00\x01\x02", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRoundTrip(t, in, decodePayloadV3Binary, appendPayloadV3Binary)
	})
}
