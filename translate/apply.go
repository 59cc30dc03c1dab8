package translate

import (
	"context"
	"fmt"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// applyReply applies reply, the answer to a delivery of type kind about
// socket s of namespace ns, in the contract's order. The one place that
// says which parts of an answer count for which delivery:
//
//   - connect: rooms joined and data set, then the emits;
//   - event: the emits, then join, leave and disconnect (the ack comes
//     first, from applyEvent);
//   - disconnect: the emits.
//
// With emit false the emits are left to the caller: a new connection's
// wait for its CONNECT acknowledgement (see connect and onConnection).
func (t *Translator) applyReply(ctx context.Context, s *socketio.Socket, ns, kind, id string, reply *Reply, emit bool) {
	if kind == TypeConnect {
		if len(reply.Rooms) > 0 {
			s.Join(reply.Rooms...)
		}
		if reply.Data != nil {
			s.SetData(reply.Data)
		}
	}
	if emit {
		t.applyEmits(ctx, s, ns, reply.Emit, id)
	}
	if kind != TypeEvent {
		return
	}
	if len(reply.Join) > 0 {
		s.Join(reply.Join...)
	}
	for _, room := range reply.Leave {
		s.Leave(room)
	}
	if reply.Disconnect {
		s.Disconnect(false)
	}
}

// applyEvent applies an event's answer: the ack, then the rest
// (applyReply). An ack the client cannot be sent fails the event.
func (st *socketState) applyEvent(ctx context.Context, j job, id string, reply *Reply) {
	if j.ack != nil {
		args, atts, err := BinaryToAttachments(reply.Ack)
		if err != nil {
			st.fail(j, id, fmt.Errorf("%w: ack: %v", ErrInvalidAnswer, err))
		} else {
			_ = j.ack(args, atts)
		}
	}
	st.t.applyReply(ctx, st.s, st.ns, TypeEvent, id, reply, true)
}

// applyEmits runs a delivery answer's emits through the executor, their
// namespace defaulting to ns. An emit that cannot be applied is logged
// on s: the client already has its answer, and the fault is the
// backend's.
func (t *Translator) applyEmits(ctx context.Context, s *socketio.Socket, ns string, emits []Instruction, id string) {
	for i := range emits {
		if _, err := t.exec.Execute(ctx, &emits[i], ExecOptions{Namespace: ns}); err != nil {
			s.Logger().Warn("translate: emit from backend answer not applied", "delivery_id", id, "event", emits[i].Event, "err", err)
		}
	}
}
