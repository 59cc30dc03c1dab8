package adapter

import (
	"strings"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// store appends the packet's offset as its last argument and keeps it for
// recovery (SessionAwareAdapter.broadcast).
func (a *Memory) store(p *socketio.Packet, opts *socketio.BroadcastOptions) *socketio.Packet {
	now := time.Now()
	a.rmu.Lock()
	defer a.rmu.Unlock()
	id := a.offsets.next(now)
	cp := *p
	cp.Data = AppendOffset(p.Data, id)
	a.pruneLocked(now)
	if len(a.packets) >= a.opts.MaxPackets {
		drop := len(a.packets) - a.opts.MaxPackets + 1
		clear(a.packets[:drop])
		a.packets = a.packets[drop:]
	}
	a.packets = append(a.packets, persisted{
		id:        id,
		emittedAt: now,
		packet:    &cp,
		rooms:     append([]string(nil), opts.Rooms...),
		except:    append([]string(nil), opts.Except...),
	})
	return &cp
}

// LastStored returns the last packet kept for recovery, nil if none.
func (a *Memory) LastStored() *socketio.Packet {
	a.rmu.Lock()
	defer a.rmu.Unlock()
	if len(a.packets) == 0 {
		return nil
	}
	return a.packets[len(a.packets)-1].packet
}

// AppendOffset turns the event data [..] into [..,"offset"], in a new
// slice: how a recovery offset travels, as the last argument.
func AppendOffset(data []byte, offset string) []byte {
	end := len(data)
	for end > 0 && data[end-1] != ']' {
		end--
	}
	if end == 0 {
		return data
	}
	out := make([]byte, 0, end+len(offset)+3)
	out = append(out, data[:end-1]...)
	if strings.TrimSpace(string(data[:end-1])) != "[" {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, offset...)
	return append(out, '"', ']')
}

// pruneLocked drops the packets older than the recovery window. Sessions
// leave through their expiry timer, a restore or the session cap
// (sessions.go).
func (a *Memory) pruneLocked(now time.Time) {
	threshold := now.Add(-a.nsp.RecoveryWindow())
	i := 0
	for i < len(a.packets) && a.packets[i].emittedAt.Before(threshold) {
		i++
	}
	if i > 0 {
		clear(a.packets[:i])
		a.packets = a.packets[i:]
	}
}

// replay returns the stored packets after offset that a session in rooms
// would have received, and whether offset is still stored.
func (a *Memory) replayLocked(rooms []string, offset string) ([]*socketio.Packet, bool) {
	index := -1
	for i := range a.packets {
		if a.packets[i].id == offset {
			index = i
			break
		}
	}
	if index < 0 {
		return nil, false
	}
	var out []*socketio.Packet
	for _, p := range a.packets[index+1:] {
		if shouldInclude(rooms, p) {
			out = append(out, p.packet)
		}
	}
	return out, true
}

func shouldInclude(rooms []string, p persisted) bool {
	included := len(p.rooms) == 0
	for _, r := range rooms {
		for _, x := range p.except {
			if r == x {
				return false
			}
		}
		if !included {
			for _, x := range p.rooms {
				if r == x {
					included = true
					break
				}
			}
		}
	}
	return included
}
