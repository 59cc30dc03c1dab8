package socketio

import (
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"time"
)

type ackWaiter struct {
	fn    AckCallback
	timer *time.Timer
}

// ExpectAck registers fn for the client's ACK with id (for adapters
// implementing BroadcastWithAck). fn gets ErrSocketClosed if the socket
// closes first.
func (s *Socket) ExpectAck(id uint64, fn AckCallback) { s.expectAck(id, fn, 0) }

func (s *Socket) expectAck(id uint64, fn AckCallback, timeout time.Duration) {
	w := &ackWaiter{fn: fn}
	s.mu.Lock()
	if s.acksClosed {
		s.mu.Unlock()
		fn(nil, nil, ErrSocketClosed)
		return
	}
	if s.acks == nil {
		s.acks = make(map[uint64]*ackWaiter)
	}
	s.acks[id] = w
	if timeout > 0 {
		w.timer = time.AfterFunc(timeout, func() {
			if s.takeAck(id, w) {
				fn(nil, nil, ErrAckTimeout)
			}
		})
	}
	s.mu.Unlock()
}

func (s *Socket) takeAck(id uint64, w *ackWaiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acks[id] != w {
		return false
	}
	delete(s.acks, id)
	return true
}

func (s *Socket) cancelAck(id uint64) {
	s.mu.Lock()
	if w := s.acks[id]; w != nil {
		delete(s.acks, id)
		if w.timer != nil {
			w.timer.Stop()
		}
	}
	s.mu.Unlock()
}

func (s *Socket) ackFunc(id uint64) AckFunc {
	var sent atomic.Bool
	return func(args []json.RawMessage, attachments [][]byte) error {
		if !sent.CompareAndSwap(false, true) {
			return nil
		}
		p := &Packet{
			Type:        PacketAck,
			Namespace:   s.nsp.name,
			ID:          id,
			HasID:       true,
			Data:        AppendArray(nil, args),
			Attachments: attachments,
		}
		pkts, err := s.client.srv.encode(p)
		if err != nil {
			return err
		}
		if o := s.observer(); o != nil {
			o.Sent(s.client.conn, s, pkts)
		}
		return s.client.conn.Send(pkts)
	}
}

func (s *Socket) onack(p *Packet) {
	s.mu.Lock()
	w := s.acks[p.ID]
	delete(s.acks, p.ID)
	s.mu.Unlock()
	if w == nil {
		s.logAttrs(slog.LevelDebug, "socketio: ack for unknown id ignored", slog.Uint64("id", p.ID))
		return
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	var args []json.RawMessage
	if len(p.Data) > 0 {
		args, _ = SplitArray(p.Data)
	}
	w.fn(args, p.Attachments, nil)
}
