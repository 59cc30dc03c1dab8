package adminui

import (
	"sync"
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

// pushPackets counts packets and their bytes, in or out ("packetsIn" and
// "bytesIn", or the "Out" pair), under one lock.
func (b *eventBuffer) pushPackets(now time.Time, in bool, packets, bytes int) {
	pt, bt := "packetsOut", "bytesOut"
	if in {
		pt, bt = "packetsIn", "bytesIn"
	}
	sec := now.Unix()
	b.mu.Lock()
	b.pushLocked(sec, pt, "", packets)
	b.pushLocked(sec, bt, "", bytes)
	b.mu.Unlock()
}

// take returns the counts and clears them (getValuesAndClear).
func (b *eventBuffer) take() []aggregatedEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.entries
	b.entries = nil
	clear(b.index)
	if out == nil {
		out = []aggregatedEvent{}
	}
	return out
}
