package adminui

import (
	"sync"
	"sync/atomic"
	"time"
)

// aggregatedEvent is one entry of server_stats' aggregatedEvents: how many
// times something happened in one second (the package's EventBuffer).
type aggregatedEvent struct {
	Timestamp int64  `json:"timestamp"` // Unix milliseconds, whole seconds
	Type      string `json:"type"`
	SubType   string `json:"subType,omitempty"`
	Count     int    `json:"count"`
}

// eventKey identifies an aggregatedEvent.
type eventKey struct {
	sec          int64
	typ, subType string
}

// eventBuffer counts what happens until the next server_stats takes the
// counts. Entries keep the order they were first pushed in, as the
// package's Map does.
type eventBuffer struct {
	mu      sync.Mutex
	index   map[eventKey]int
	entries []aggregatedEvent

	packetsIn, bytesIn, packetsOut, bytesOut atomic.Int64
}

// push adds n to the count of typ/subType for the current second.
func (b *eventBuffer) push(now time.Time, typ, subType string, n int) {
	sec := now.Unix()
	b.mu.Lock()
	b.pushLocked(sec, typ, subType, n)
	b.mu.Unlock()
}

func (b *eventBuffer) pushLocked(sec int64, typ, subType string, n int) {
	k := eventKey{sec, typ, subType}
	if i, ok := b.index[k]; ok {
		b.entries[i].Count += n
		return
	}
	if b.index == nil {
		b.index = make(map[eventKey]int)
	}
	b.index[k] = len(b.entries)
	b.entries = append(b.entries, aggregatedEvent{Timestamp: sec * 1000, Type: typ, SubType: subType, Count: n})
}

// countPackets adds packets and their bytes, in or out. Every message
// of every connection comes here, so it takes no lock: the counts are
// stamped with the second take reads them in, which the UI, grouping by
// ten seconds, does not tell from the second they happened in.
func (b *eventBuffer) countPackets(in bool, packets, bytes int) {
	if in {
		b.packetsIn.Add(int64(packets))
		b.bytesIn.Add(int64(bytes))
		return
	}
	b.packetsOut.Add(int64(packets))
	b.bytesOut.Add(int64(bytes))
}

// take returns the counts and clears them (getValuesAndClear).
func (b *eventBuffer) take(now time.Time) []aggregatedEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	sec := now.Unix()
	for _, c := range []struct {
		typ string
		n   *atomic.Int64
	}{{"packetsIn", &b.packetsIn}, {"bytesIn", &b.bytesIn}, {"packetsOut", &b.packetsOut}, {"bytesOut", &b.bytesOut}} {
		if n := c.n.Swap(0); n > 0 {
			b.pushLocked(sec, c.typ, "", int(n))
		}
	}
	out := b.entries
	b.entries = nil
	clear(b.index)
	if out == nil {
		out = []aggregatedEvent{}
	}
	return out
}
