package socketio

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"
)

// BroadcastOperator selects sockets of a namespace (rooms, exceptions,
// flags) and emits to them or queries them, as the reference's
// BroadcastOperator. Each modifier returns a new operator; an operator is
// immutable and safe for concurrent use.
type BroadcastOperator struct {
	nsp  *Namespace
	opts BroadcastOptions
}

// AckResponse is one client's answer to EmitWithAck.
type AckResponse struct {
	// Socket is the answering socket's id ("" for a socket on another
	// node of a distributed adapter).
	Socket      string
	Args        []json.RawMessage
	Attachments [][]byte
}

// AckResults collects the answers to EmitWithAck.
type AckResults struct {
	Responses []AckResponse
	// TimedOut lists the local recipients that did not answer in time or
	// disconnected first.
	TimedOut []string
}

func (b *BroadcastOperator) clone() *BroadcastOperator {
	c := *b
	return &c
}

// Options returns the operator's selection.
func (b *BroadcastOperator) Options() BroadcastOptions { return b.opts }

// To adds rooms to the selection: a socket in any of them is selected
// (once).
func (b *BroadcastOperator) To(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.opts.Rooms = append(slices.Clip(b.opts.Rooms), rooms...)
	return c
}

// In is To.
func (b *BroadcastOperator) In(rooms ...string) *BroadcastOperator { return b.To(rooms...) }

// Except excludes the sockets in rooms.
func (b *BroadcastOperator) Except(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.opts.Except = append(slices.Clip(b.opts.Except), rooms...)
	return c
}

// Volatile makes emits volatile: dropped for a recipient whose transport
// cannot write now, never stored for recovery.
func (b *BroadcastOperator) Volatile() *BroadcastOperator {
	c := b.clone()
	c.opts.Flags.Volatile = true
	return c
}

// Local restricts the operator to this node.
func (b *BroadcastOperator) Local() *BroadcastOperator {
	c := b.clone()
	c.opts.Flags.Local = true
	return c
}

// Timeout bounds EmitWithAck's wait.
func (b *BroadcastOperator) Timeout(d time.Duration) *BroadcastOperator {
	c := b.clone()
	c.opts.Flags.Timeout = d
	return c
}

// Emit sends an event to the selected sockets. The packet is encoded once
// and the same bytes are queued for every recipient.
func (b *BroadcastOperator) Emit(event string, args []json.RawMessage, attachments [][]byte) error {
	if IsReservedEvent(event) {
		return ErrReservedEvent
	}
	data := AppendEventData(make([]byte, 0, eventSize(event, args)), event, args)
	if b.nsp.pattern == nil {
		p := &Packet{Type: PacketEvent, Namespace: b.nsp.name, Data: data, Attachments: attachments}
		return b.nsp.adapter.Broadcast(p, &b.opts)
	}
	var errs []error
	for _, n := range b.nsp.targets() {
		p := &Packet{Type: PacketEvent, Namespace: n.name, Data: data, Attachments: attachments}
		if err := n.adapter.Broadcast(p, &b.opts); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type pendingAck struct {
	nsp *Namespace
	id  uint64
}

type ackCollector struct {
	mu       sync.Mutex
	done     bool
	finished chan struct{}
	servers  int // ClientCount calls expected
	counted  int
	expected int
	answered int
	pending  map[string]pendingAck
	res      AckResults
}

func (c *ackCollector) check() {
	if !c.done && c.counted >= c.servers && c.answered >= c.expected {
		c.done = true
		close(c.finished)
	}
}

func (c *ackCollector) hooks(n *Namespace, id uint64) *BroadcastAck {
	return &BroadcastAck{
		ClientCount: func(k int) {
			c.mu.Lock()
			c.counted++
			c.expected += k
			c.check()
			c.mu.Unlock()
		},
		Recipient: func(socketID string) {
			c.mu.Lock()
			if !c.done {
				c.pending[socketID] = pendingAck{nsp: n, id: id}
			}
			c.mu.Unlock()
		},
		Ack: func(socketID string, args []json.RawMessage, attachments [][]byte, err error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.done {
				return
			}
			c.answered++
			if socketID != "" {
				delete(c.pending, socketID)
			}
			if err != nil {
				if socketID != "" {
					c.res.TimedOut = append(c.res.TimedOut, socketID)
				}
			} else {
				c.res.Responses = append(c.res.Responses, AckResponse{Socket: socketID, Args: args, Attachments: attachments})
			}
			c.check()
		},
	}
}

// EmitWithAck sends an event to the selected sockets and waits for each
// one's acknowledgement, until all answered, the operator's Timeout passed
// (ErrAckTimeout) or ctx ended (ctx.Err()). The results hold the answers
// received so far and, on timeout, the ids of the sockets that did not
// answer; they are valid whatever the error.
func (b *BroadcastOperator) EmitWithAck(ctx context.Context, event string, args []json.RawMessage, attachments [][]byte) (AckResults, error) {
	if IsReservedEvent(event) {
		return AckResults{}, ErrReservedEvent
	}
	data := AppendEventData(make([]byte, 0, eventSize(event, args)), event, args)
	c := &ackCollector{finished: make(chan struct{}), pending: make(map[string]pendingAck)}
	targets := b.nsp.targets()
	for _, n := range targets {
		k := 1
		if n.counter != nil {
			cnt, err := n.counter.ServerCount(ctx)
			if err != nil {
				return AckResults{}, err
			}
			k = cnt
		}
		c.servers += k
	}
	var errs []error
	for _, n := range targets {
		p := &Packet{Type: PacketEvent, Namespace: n.name, Data: data, Attachments: attachments}
		p.ID, p.HasID = n.NextAckID(), true
		if err := n.adapter.BroadcastWithAck(p, &b.opts, c.hooks(n, p.ID)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		c.finish()
		return AckResults{}, err
	}
	var timeout <-chan time.Time
	if d := b.opts.Flags.Timeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	var err error
	select {
	case <-c.finished:
	case <-timeout:
		err = ErrAckTimeout
	case <-ctx.Done():
		err = ctx.Err()
	}
	res := c.finish()
	return res, err
}

// finish stops collecting, cancels the waiters of the sockets that did not
// answer and returns the results.
func (c *ackCollector) finish() AckResults {
	c.mu.Lock()
	if !c.done {
		c.done = true
		close(c.finished)
	}
	pending := c.pending
	c.pending = nil
	for id := range pending {
		c.res.TimedOut = append(c.res.TimedOut, id)
	}
	res := c.res
	c.mu.Unlock()
	for sid, p := range pending {
		if s := p.nsp.Socket(sid); s != nil {
			s.cancelAck(p.id)
		}
	}
	slices.Sort(res.TimedOut)
	return res
}

// LocalSockets returns the connected sockets of this node matching opts
// (rooms and except; flags are ignored), for adapters applying another
// node's request.
func (n *Namespace) LocalSockets(opts *BroadcastOptions) []*Socket { return n.localMatch(opts) }

// localMatch returns the local connected sockets matching opts.
func (n *Namespace) localMatch(opts *BroadcastOptions) []*Socket {
	ids := n.adapter.Sockets(opts.Rooms)
	var except map[string]struct{}
	if len(opts.Except) > 0 {
		except = make(map[string]struct{})
		for _, r := range opts.Except {
			for _, id := range n.adapter.Sockets([]string{r}) {
				except[id] = struct{}{}
			}
		}
	}
	out := make([]*Socket, 0, len(ids))
	for _, id := range ids {
		if _, ok := except[id]; ok {
			continue
		}
		if s := n.Socket(id); s != nil {
			out = append(out, s)
		}
	}
	return out
}

func (b *BroadcastOperator) distributed(n *Namespace) bool {
	return n.fetcher != nil && !b.opts.Flags.Local
}

// FetchSockets describes the selected sockets (across nodes when the
// adapter is a SocketFetcher).
func (b *BroadcastOperator) FetchSockets(ctx context.Context) ([]SocketInfo, error) {
	var out []SocketInfo
	for _, n := range b.nsp.targets() {
		if b.distributed(n) {
			infos, err := n.fetcher.FetchSockets(ctx, &b.opts)
			if err != nil {
				return out, err
			}
			out = append(out, infos...)
			continue
		}
		for _, s := range n.localMatch(&b.opts) {
			out = append(out, s.info())
		}
	}
	return out, nil
}

// SocketsJoin makes the selected sockets join rooms.
func (b *BroadcastOperator) SocketsJoin(ctx context.Context, rooms ...string) error {
	for _, n := range b.nsp.targets() {
		if b.distributed(n) {
			if err := n.fetcher.AddSockets(ctx, &b.opts, rooms); err != nil {
				return err
			}
			continue
		}
		for _, s := range n.localMatch(&b.opts) {
			s.Join(rooms...)
		}
	}
	return nil
}

// SocketsLeave makes the selected sockets leave rooms.
func (b *BroadcastOperator) SocketsLeave(ctx context.Context, rooms ...string) error {
	for _, n := range b.nsp.targets() {
		if b.distributed(n) {
			if err := n.fetcher.DelSockets(ctx, &b.opts, rooms); err != nil {
				return err
			}
			continue
		}
		for _, s := range n.localMatch(&b.opts) {
			for _, r := range rooms {
				s.Leave(r)
			}
		}
	}
	return nil
}

// DisconnectSockets disconnects the selected sockets (see
// Socket.Disconnect).
func (b *BroadcastOperator) DisconnectSockets(ctx context.Context, close bool) error {
	for _, n := range b.nsp.targets() {
		if b.distributed(n) {
			if err := n.fetcher.DisconnectSockets(ctx, &b.opts, close); err != nil {
				return err
			}
			continue
		}
		for _, s := range n.localMatch(&b.opts) {
			s.Disconnect(close)
		}
	}
	return nil
}
