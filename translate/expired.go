package translate

import (
	"slices"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
)

// onSessionExpired sends the expired delivery of a socket whose recovery
// window lapsed without it coming back (socketio.Namespace.OnSessionExpired):
// the socket's last id, rooms, data and handshake, and the reason it left
// with. It follows the disconnect delivery's rules: sent at once, retried
// by the Backend, counted against Config.MaxPendingDisconnects (over it,
// and once the translator shuts down, it is not sent and an error is
// logged), and waiting in the gate's line as long as it takes. An
// answer's emits are applied; nothing else in it counts, the socket being
// gone.
func (t *Translator) onSessionExpired(nsp *socketio.Namespace, sess *socketio.Session) {
	name := nsp.Name()
	r := t.routeFor(name)
	if r == nil || r.Backend == nil {
		return
	}
	rooms := slices.Clone(sess.Rooms)
	slices.Sort(rooms)
	if rooms == nil {
		rooms = []string{}
	}
	env := &Envelope{
		Type:      TypeExpired,
		ID:        NewDeliveryID(),
		Time:      time.Now(),
		Namespace: name,
		Socket:    SocketInfo{ID: sess.SID, Rooms: rooms, Data: EncodeData(sess.Data)},
		Reason:    string(sess.Reason),
	}
	if sess.Handshake != nil {
		env.Socket.Handshake = EncodeHandshake(*sess.Handshake)
	}
	log := nsp.Logger().With("socket", sess.SID)
	st := &socketState{t: t, r: r, ns: name}
	if t.metrics != nil {
		st.mns = t.metrics.Namespace(name)
	}
	if !t.disc.take() {
		if st.mns != nil {
			st.mns.Dropped(t.ctx, telemetry.BoundPendingDisconnects)
		}
		log.Error("translate: expired delivery not sent: too many under way", "delivery_id", env.ID, "bound", t.disc.max)
		return
	}
	ok := t.pool.spawn(func() {
		defer t.disc.done()
		ctx, span := t.ctx, noSpan
		if t.tracer != nil {
			ctx, span = telemetry.StartReceive(ctx, t.tracer, name, TypeExpired, sess.SID)
		}
		reply, err := st.deliverInLine(ctx, env)
		if err == errNotSent {
			telemetry.End(span, ErrClosed)
			log.Error("translate: expired delivery not sent: shutting down", "delivery_id", env.ID)
			return
		}
		telemetry.End(span, err)
		if err != nil {
			log.Error("translate: expired delivery failed", "delivery_id", env.ID, "reason", sess.Reason, "status", Status(err), "err", err)
			return
		}
		if reply.Stream != nil {
			reply.Stream.Close()
		}
		for i := range reply.Emit {
			if _, err := t.exec.Execute(ctx, &reply.Emit[i], ExecOptions{Namespace: name}); err != nil {
				log.Warn("translate: emit from backend answer not applied", "delivery_id", env.ID, "event", reply.Emit[i].Event, "err", err)
			}
		}
	})
	if !ok {
		t.disc.done()
		log.Error("translate: expired delivery not sent: shutting down", "delivery_id", env.ID)
	}
}
