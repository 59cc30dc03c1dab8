package translate

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
)

// onDisconnecting sends the disconnect delivery at once, not behind the
// socket's queue, with the rooms the socket is leaving. At most
// Config.MaxPendingDisconnects are under way (t.disc), retries included;
// over it, and once the translator shuts down, one is not sent and an
// error is logged. With a gate it waits in the line as long as it takes.
func (st *socketState) onDisconnecting(reason socketio.DisconnectReason) {
	close(st.left)
	if st.r.Plugins.HasDisconnect() {
		st.r.Plugins.Disconnect(st.t.ctx, st.s, reason)
	}
	ctx, span := st.closed(reason)
	if st.r.Backend == nil {
		span.End()
		return
	}
	t := st.t
	env := &Envelope{
		Type:      TypeDisconnect,
		ID:        NewDeliveryID(),
		Time:      time.Now(),
		Namespace: st.ns,
		Socket:    socketInfo(st.s, st.handshake),
		Reason:    string(reason),
	}
	log := st.s.Logger()
	if !t.disc.take() {
		if st.mns != nil {
			st.mns.Dropped(ctx, telemetry.BoundPendingDisconnects)
		}
		telemetry.End(span, ErrOverloaded)
		log.Error("translate: disconnect delivery not sent: too many under way", "delivery_id", env.ID, "reason", reason, "bound", t.disc.max)
		return
	}
	ok := t.pool.spawn(func() {
		defer t.disc.done()
		reply, err := st.deliverInLine(ctx, env)
		if err == errNotSent {
			notSent(span, log, env.ID, reason)
			return
		}
		telemetry.End(span, err)
		if err != nil {
			log.Error("translate: disconnect delivery failed", "delivery_id", env.ID, "reason", reason, "status", Status(err), "err", err)
			return
		}
		if reply.Stream != nil {
			reply.Stream.Close()
		}
		t.applyReply(ctx, st.s, st.ns, TypeDisconnect, env.ID, reply, true)
	})
	if !ok {
		t.disc.done()
		notSent(span, log, env.ID, reason)
	}
}

// errNotSent is deliverInLine's error when the translator shut down
// before the delivery's turn came.
var errNotSent = errors.New("translate: not sent: shutting down")

// deliverInLine sends env once the route's gate lets it, waiting in line
// as long as it takes: the backend must learn that a socket left (or is
// gone for good).
func (st *socketState) deliverInLine(ctx context.Context, env *Envelope) (*Reply, error) {
	g := st.r.gate
	if g != nil {
		if err := g.acquire(st.t.ctx, false); err != nil {
			return nil, errNotSent
		}
	}
	reply, rtt, err := st.deliver(ctx, env)
	if g != nil {
		releaseSlot(g, rtt)
	}
	return reply, err
}

// notSent ends the span of a disconnect delivery the translator's
// shutdown kept from being sent, and logs it.
func notSent(span trace.Span, log *slog.Logger, id string, reason socketio.DisconnectReason) {
	telemetry.End(span, ErrClosed)
	log.Error("translate: disconnect delivery not sent: shutting down", "delivery_id", id, "reason", reason)
}
