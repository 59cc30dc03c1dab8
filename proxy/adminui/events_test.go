package adminui

import (
	"slices"
	"testing"
	"time"
)

func TestEventBuffer(t *testing.T) {
	var b eventBuffer
	t0 := time.UnixMilli(1_700_000_000_250)
	b.push(t0, "rawConnection", "", 1)
	b.push(t0.Add(500*time.Millisecond), "rawConnection", "", 1) // same second
	b.push(t0.Add(time.Second), "rawConnection", "", 1)
	b.push(t0, "rawDisconnection", "transport close", 1)
	b.countPackets(true, 1, 10)
	b.countPackets(true, 1, 5)
	b.countPackets(false, 3, 100)
	got := b.take(t0.Add(2 * time.Second))
	want := []aggregatedEvent{
		{Timestamp: 1_700_000_000_000, Type: "rawConnection", Count: 2},
		{Timestamp: 1_700_000_001_000, Type: "rawConnection", Count: 1},
		{Timestamp: 1_700_000_000_000, Type: "rawDisconnection", SubType: "transport close", Count: 1},
		{Timestamp: 1_700_000_002_000, Type: "packetsIn", Count: 2},
		{Timestamp: 1_700_000_002_000, Type: "bytesIn", Count: 15},
		{Timestamp: 1_700_000_002_000, Type: "packetsOut", Count: 3},
		{Timestamp: 1_700_000_002_000, Type: "bytesOut", Count: 100},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("take = %+v\nwant %+v", got, want)
	}
	if again := b.take(t0); again == nil || len(again) != 0 {
		t.Fatalf("second take = %#v, want an empty list", again)
	}
}
