package adapter

import (
	"context"
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

func (a *Memory) pruneLocked(now time.Time) {
	window := a.nsp.RecoveryWindow()
	threshold := now.Add(-window)
	i := 0
	for i < len(a.packets) && a.packets[i].emittedAt.Before(threshold) {
		i++
	}
	if i > 0 {
		clear(a.packets[:i])
		a.packets = a.packets[i:]
	}
	j := 0
	for j < len(a.order) {
		s, ok := a.sessions[a.order[j]]
		if ok && !s.disconnectedAt.Before(threshold) {
			break
		}
		delete(a.sessions, a.order[j])
		j++
	}
	a.order = a.order[j:]
}

// PersistSession implements socketio.SessionStore.
func (a *Memory) PersistSession(s *socketio.Session) {
	if a.nsp.RecoveryWindow() <= 0 || s.PID == "" {
		return
	}
	now := time.Now()
	a.rmu.Lock()
	defer a.rmu.Unlock()
	a.pruneLocked(now)
	a.sessions[s.PID] = &session{s: s, disconnectedAt: now}
	a.order = append(a.order, s.PID)
	if m := a.opts.MaxSessions; m > 0 {
		for len(a.sessions) > m && len(a.order) > 0 {
			delete(a.sessions, a.order[0])
			a.order = a.order[1:]
		}
	}
}

// RestoreSession implements socketio.SessionStore.
func (a *Memory) RestoreSession(_ context.Context, pid, offset string) (*socketio.Session, error) {
	now := time.Now()
	a.rmu.Lock()
	defer a.rmu.Unlock()
	sess, ok := a.sessions[pid]
	if !ok {
		return nil, nil
	}
	delete(a.sessions, pid)
	if sess.disconnectedAt.Add(a.nsp.RecoveryWindow()).Before(now) {
		return nil, nil
	}
	index := -1
	for i := range a.packets {
		if a.packets[i].id == offset {
			index = i
			break
		}
	}
	if index < 0 {
		return nil, nil
	}
	out := *sess.s
	out.MissedPackets = nil
	for _, p := range a.packets[index+1:] {
		if shouldInclude(out.Rooms, p) {
			out.MissedPackets = append(out.MissedPackets, p.packet)
		}
	}
	return &out, nil
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
