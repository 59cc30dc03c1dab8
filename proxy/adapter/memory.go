// Package adapter provides the in-memory socketio.Adapter, the default for a
// single node, and (in adaptertest) the conformance suite every Adapter
// implementation passes.
package adapter

import (
	"slices"
	"sync"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// DefaultMaxPackets is Options.MaxPackets' zero value.
const DefaultMaxPackets = 10000

// Options tune the in-memory adapter.
type Options struct {
	// MaxPackets caps the packets kept per namespace for connection state
	// recovery. When full, the oldest packet is dropped, so a client that
	// missed more than MaxPackets packets cannot recover (it gets a new
	// session, as after an expired window). Zero means DefaultMaxPackets.
	MaxPackets int
	// MaxSessions caps the disconnected sessions kept per namespace; the
	// oldest is dropped first, and reported expired then (it can no
	// longer be restored). Zero means no cap other than the window.
	MaxSessions int
	// OnRoom, when set, is called when a room gets its first member
	// (created) and when it loses its last (deleted), as socket.io-adapter's
	// "create-room" and "delete-room" events, for distributed adapters that
	// subscribe per room. isSocket says whether the room is named after a
	// socket of this node (its own room, which every socket is in). It is called with the adapter's lock held and
	// must not block or call back into the adapter.
	OnRoom func(room string, created, isSocket bool)
	// NoRecoveryStore makes Broadcast deliver without appending an offset
	// or keeping the packet, whatever the recovery window: for a
	// distributed adapter whose offsets and sessions live elsewhere (the
	// Redis streams mode), which appends the offset itself and implements
	// socketio.SessionStore over its own storage.
	NoRecoveryStore bool
}

// Memory is the in-memory Adapter of one namespace, socket.io-adapter's
// Adapter and, when the server's recovery window is positive, its
// SessionAwareAdapter. It is safe for concurrent use.
type Memory struct {
	nsp  *socketio.Namespace
	opts Options

	mu sync.RWMutex
	// rooms holds each room's members, except that a socket's membership
	// of its own room (named by its id) is kept only as sids[id].own: a
	// set per socket for the room every socket is in would be most of the
	// adapter's memory per idle socket. Another socket may still join a
	// room named by a socket id; it is then listed in rooms.
	rooms map[string]map[string]struct{}
	sids  map[string]memberships

	rmu      sync.Mutex
	sessions map[string]*session
	order    []*session // in persist order; entries no longer in sessions are skipped
	packets  []persisted
	offsets  yeast
}

// memberships are one socket's rooms.
type memberships struct {
	own bool // in the room named by its own id
	// rooms are the other rooms, in join order. A slice costs an idle
	// socket less than a set; sockets are in few rooms, and each join or
	// leave scans them once.
	rooms []string
}

type session struct {
	s              *socketio.Session
	disconnectedAt time.Time
	timer          *time.Timer // reports the session when its window lapses; nil at shutdown
}

type persisted struct {
	id        string
	emittedAt time.Time
	packet    *socketio.Packet
	rooms     []string
	except    []string
}

var (
	_ socketio.Adapter      = (*Memory)(nil)
	_ socketio.SessionStore = (*Memory)(nil)
)

// New returns the in-memory adapter for nsp with default Options; it is a
// socketio.AdapterFactory.
func New(nsp *socketio.Namespace) socketio.Adapter { return NewMemory(nsp, Options{}) }

// Factory returns an AdapterFactory making in-memory adapters with opts.
func Factory(opts Options) socketio.AdapterFactory {
	return func(nsp *socketio.Namespace) socketio.Adapter { return NewMemory(nsp, opts) }
}

// NewMemory returns the in-memory adapter for nsp.
func NewMemory(nsp *socketio.Namespace, opts Options) *Memory {
	if opts.MaxPackets <= 0 {
		opts.MaxPackets = DefaultMaxPackets
	}
	return &Memory{
		nsp:      nsp,
		opts:     opts,
		rooms:    make(map[string]map[string]struct{}),
		sids:     make(map[string]memberships),
		sessions: make(map[string]*session),
	}
}

// AddAll implements socketio.Adapter.
func (a *Memory) AddAll(id string, rooms []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.sids[id]
	for _, r := range rooms {
		if r == id {
			if !m.own && a.opts.OnRoom != nil && len(a.rooms[id]) == 0 {
				a.opts.OnRoom(id, true, true)
			}
			m.own = true
			continue
		}
		if slices.Contains(m.rooms, r) {
			continue
		}
		m.rooms = append(m.rooms, r)
		members := a.rooms[r]
		if members == nil {
			members = make(map[string]struct{})
			a.rooms[r] = members
			if a.opts.OnRoom != nil {
				_, sock := a.sids[r]
				a.opts.OnRoom(r, true, sock)
			}
		}
		members[id] = struct{}{}
	}
	a.sids[id] = m
}

// Del implements socketio.Adapter.
func (a *Memory) Del(id, room string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.sids[id]
	if !ok {
		return
	}
	if room == id {
		if m.own && a.opts.OnRoom != nil && len(a.rooms[id]) == 0 {
			a.opts.OnRoom(id, false, true)
		}
		m.own = false
	} else if i := slices.Index(m.rooms, room); i >= 0 {
		m.rooms = slices.Delete(m.rooms, i, i+1)
		a.delLocked(room, id)
	}
	a.sids[id] = m
}

func (a *Memory) delLocked(room, id string) {
	members := a.rooms[room]
	if members == nil {
		return
	}
	delete(members, id)
	if len(members) == 0 {
		delete(a.rooms, room)
		if a.opts.OnRoom != nil {
			_, sock := a.sids[room]
			a.opts.OnRoom(room, false, sock)
		}
	}
}

// HasRoom reports whether room has a member on this node, a socket's own
// room included.
func (a *Memory) HasRoom(room string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if m, ok := a.sids[room]; ok && m.own {
		return true
	}
	return len(a.rooms[room]) > 0
}

// RoomNames returns the rooms with a member on this node, the rooms named
// after sockets included, as socket.io-adapter's rooms.keys().
func (a *Memory) RoomNames() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]string, 0, len(a.rooms)+len(a.sids))
	for r := range a.rooms {
		out = append(out, r)
	}
	for id, m := range a.sids {
		if m.own {
			if _, dup := a.rooms[id]; !dup {
				out = append(out, id)
			}
		}
	}
	return out
}

// DelAll implements socketio.Adapter.
func (a *Memory) DelAll(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.sids[id]
	for _, r := range m.rooms {
		a.delLocked(r, id)
	}
	if m.own && a.opts.OnRoom != nil && len(a.rooms[id]) == 0 {
		a.opts.OnRoom(id, false, true)
	}
	delete(a.sids, id)
}

// Rooms returns the number of sockets in each room.
func (a *Memory) Rooms() map[string]int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make(map[string]int, len(a.rooms)+len(a.sids))
	for r, m := range a.rooms {
		out[r] = len(m)
	}
	for id, m := range a.sids {
		if m.own {
			out[id]++
		}
	}
	return out
}

// SocketRooms implements socketio.Adapter.
func (a *Memory) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	m, ok := a.sids[id]
	if !ok {
		return nil
	}
	out := make([]string, 0, len(m.rooms)+1)
	if m.own {
		out = append(out, id)
	}
	return append(out, m.rooms...)
}

// Sockets implements socketio.Adapter.
func (a *Memory) Sockets(rooms []string) []string {
	var out []string
	a.mu.RLock()
	defer a.mu.RUnlock()
	a.apply(&socketio.BroadcastOptions{Rooms: rooms}, func(s *socketio.Socket) {
		out = append(out, s.ID())
	})
	return out
}

// apply calls fn once for every connected local socket matching opts, with
// a.mu held for reading. It allocates nothing per socket: a socket in
// several selected rooms is recognised by looking at the rooms before,
// exceptions by looking at the except rooms.
func (a *Memory) apply(opts *socketio.BroadcastOptions, fn func(s *socketio.Socket)) {
	if len(opts.Rooms) == 0 {
		for id := range a.sids {
			if a.excluded(opts.Except, id) {
				continue
			}
			if s := a.nsp.Socket(id); s != nil {
				fn(s)
			}
		}
		return
	}
	for i, r := range opts.Rooms {
		if m, ok := a.sids[r]; ok && m.own {
			// The socket whose own room this is.
			if !a.inAny(opts.Rooms[:i], r) && !a.excluded(opts.Except, r) {
				if s := a.nsp.Socket(r); s != nil {
					fn(s)
				}
			}
		}
		for id := range a.rooms[r] {
			if a.inAny(opts.Rooms[:i], id) || a.excluded(opts.Except, id) {
				continue
			}
			if s := a.nsp.Socket(id); s != nil {
				fn(s)
			}
		}
	}
}

func (a *Memory) inAny(rooms []string, id string) bool {
	for _, r := range rooms {
		if r == id {
			if a.sids[id].own {
				return true
			}
			continue
		}
		if _, ok := a.rooms[r][id]; ok {
			return true
		}
	}
	return false
}

func (a *Memory) excluded(except []string, id string) bool { return a.inAny(except, id) }

// Broadcast implements socketio.Adapter.
func (a *Memory) Broadcast(p *socketio.Packet, opts *socketio.BroadcastOptions) error {
	if !a.opts.NoRecoveryStore && a.nsp.RecoveryWindow() > 0 && p.Type == socketio.PacketEvent && !p.HasID && !opts.Flags.Volatile {
		p = a.store(p, opts)
	}
	pkts, err := a.nsp.Encode(p)
	if err != nil {
		return err
	}
	volatile := opts.Flags.Volatile
	a.mu.RLock()
	a.apply(opts, func(s *socketio.Socket) { s.WriteEncoded(pkts, volatile) })
	a.mu.RUnlock()
	return nil
}

// BroadcastWithAck implements socketio.Adapter.
func (a *Memory) BroadcastWithAck(p *socketio.Packet, opts *socketio.BroadcastOptions, acks *socketio.BroadcastAck) error {
	pkts, err := a.nsp.Encode(p)
	if err != nil {
		return err
	}
	volatile := opts.Flags.Volatile
	n := 0
	g := &countFirst{}
	a.mu.RLock()
	a.apply(opts, func(s *socketio.Socket) {
		n++
		id := s.ID()
		acks.Recipient(id)
		s.ExpectAck(p.ID, func(args []jsonRaw, att [][]byte, err error) {
			g.ack(func() { acks.Ack(id, args, att, err) })
		})
		s.WriteEncoded(pkts, volatile)
	})
	a.mu.RUnlock()
	g.count(func() { acks.ClientCount(n) })
	return nil
}

// countFirst runs a broadcast's ClientCount before any of its acks, as
// Node does (single-threaded, it counts in the same tick it writes): a
// client here may answer before the loop that wrote to it has ended, and a
// node answering another's request publishes the count, then each ack
// (the Redis adapters' order). An ack that comes first waits for the
// count; the rest run at once. One per broadcast, whatever its recipients.
type countFirst struct {
	mu      sync.Mutex
	counted bool
	pending []func()
}

func (g *countFirst) ack(fn func()) {
	g.mu.Lock()
	if !g.counted {
		g.pending = append(g.pending, fn)
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	fn()
}

// count runs fn, then the acks that came before it, in their order. The
// lock is held throughout so that an ack arriving meanwhile queues behind
// them instead of overtaking them.
func (g *countFirst) count(fn func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fn()
	for _, f := range g.pending {
		f()
	}
	g.counted, g.pending = true, nil
}
