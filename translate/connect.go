package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
)

// middleware is the connect middleware: the connect span (its parent the
// traceparent of the handshake headers), around connect.
func (t *Translator) middleware(ctx context.Context, s *socketio.Socket) error {
	if t.tracer == nil {
		err := t.connect(ctx, s)
		if err != nil && t.metrics != nil {
			t.metrics.Namespace(s.Namespace().Name()).Connect(ctx, connectOutcome(err))
		}
		return err
	}
	ns := s.Namespace().Name()
	ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(s.Handshake().Headers))
	ctx, span := telemetry.StartReceive(ctx, t.tracer, ns, telemetry.ConnectEvent, s.ID())
	err := t.connect(ctx, s)
	if err != nil {
		t.metrics.Namespace(ns).Connect(ctx, connectOutcome(err))
	} else if sc := span.SpanContext(); sc.IsValid() {
		t.spans.put(ctx, s, &sc)
	}
	telemetry.End(span, err)
	return err
}

// connect asks the backend whether a socket may connect (after the
// route's connect plugins). An accepted socket's rooms and data are
// applied at once; its emits wait in t.connects for onConnection, after
// the CONNECT acknowledgement.
func (t *Translator) connect(ctx context.Context, s *socketio.Socket) error {
	nsName := s.Namespace().Name()
	r := t.routeFor(nsName)
	if r == nil {
		return nil
	}
	if r.Plugins.HasConnect() {
		if err := r.Plugins.Connect(ctx, s); err != nil {
			logRefusal(s, "translate: connection refused by plugin", "", err)
			return err
		}
	}
	if r.OnConnect != OnConnectWebhook {
		return nil
	}
	env := Envelope{
		Type:      TypeConnect,
		ID:        NewDeliveryID(),
		Time:      time.Now(),
		Namespace: nsName,
		Socket:    socketInfo(s, EncodeHandshake(s.Handshake())),
		Recovered: s.Recovered(),
	}
	log := s.Logger()
	if !t.inflight.take() {
		log.Warn("translate: connect refused: too many deliveries in flight", "delivery_id", env.ID, "bound", t.inflight.max)
		return unavailable(ErrOverloaded)
	}
	if r.gate != nil {
		if err := r.gate.acquire(ctx, true); err != nil {
			t.inflight.done()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return connectUnavailable(log, env.ID, err)
		}
	}
	reply, rtt, err := t.deliverConnect(ctx, r, &env)
	if r.gate != nil {
		releaseSlot(r.gate, rtt)
	}
	t.inflight.done()
	rejected, failed := judgeConnect(reply, err)
	switch {
	case rejected != nil:
		log.Info("translate: backend rejected the connection", "delivery_id", env.ID, "status", rejected.Status)
		msg := rejected.Message
		if msg == "" {
			msg = "connection rejected"
		}
		return &socketio.ConnectError{Message: msg, Data: rejected.Data, Err: failed}
	case failed != nil:
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		return connectUnavailable(log, env.ID, failed)
	}
	t.applyReply(ctx, s, nsName, TypeConnect, env.ID, reply, false)
	if len(reply.Emit) > 0 || s.Recovered() {
		t.connects.put(ctx, s, &connectAnswer{emit: reply.Emit})
	}
	return nil
}

// connectAnswer is what a connect answer leaves for onConnection.
type connectAnswer struct {
	emit []Instruction
}

// applyRecovered applies the answer to a recovered socket's connect
// delivery (sent from its queue: the socket is already connected).
// Accepted, the answer applies at once, emits included; rejected, the
// socket is disconnected; otherwise the failure is logged.
func (st *socketState) applyRecovered(ctx context.Context, id string, reply *Reply, err error) {
	rejected, failed := judgeConnect(reply, err)
	switch {
	case rejected != nil:
		st.s.Logger().Info("translate: backend rejected the recovered connection", "delivery_id", id, "status", rejected.Status)
		st.s.Disconnect(false)
	case failed != nil:
		connectUnavailable(st.s.Logger(), id, failed)
	default:
		st.t.applyReply(ctx, st.s, st.ns, TypeConnect, id, reply, true)
	}
}

// judgeConnect is the one rule for a connect delivery's outcome, for a
// new connection and a recovered one alike: a backend's 4xx rejects the
// socket (rejected, its message and data for the client; failed is err);
// any other failure, and an answer a connect cannot have (a stream,
// closed here), leaves the backend unable to decide (failed only); else
// the answer accepts the socket (both nil).
func judgeConnect(reply *Reply, err error) (rejected *StatusError, failed error) {
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) && se.Status >= 400 && se.Status < 500 {
			return se, err
		}
		return nil, err
	}
	if reply.Stream != nil {
		reply.Stream.Close()
		return nil, fmt.Errorf("%w: a connect answer cannot be a stream", ErrInvalidAnswer)
	}
	return nil, nil
}

// connectUnavailable logs a connect delivery that failed without the
// backend deciding, and returns the connect_error for it: "backend
// unavailable" with data {"status":N}.
func connectUnavailable(log *slog.Logger, id string, err error) error {
	log.Warn("translate: connect delivery failed", "delivery_id", id, "status", Status(err), "err", err)
	return unavailable(err)
}

// unavailable is the connect_error for a backend that could not decide.
func unavailable(err error) error {
	return &socketio.ConnectError{
		Message: "backend unavailable",
		Data:    json.RawMessage(`{"status":` + strconv.Itoa(Status(err)) + `}`),
		Err:     err,
	}
}

// connectOutcome is the outcome label of a refused connect.
func connectOutcome(err error) string {
	if Status(err) >= 500 {
		return telemetry.ConnectUnavailable
	}
	return telemetry.ConnectRejected
}

// stash holds a value per socket between the connect middleware and the
// connection handler. A socket that never connects (its connection
// closes first) takes its value with it. Safe for concurrent use.
type stash[V any] struct {
	m sync.Map // *socketio.Socket -> V
}

// put keeps v for s until take, or until ctx (the connect's) ends.
func (x *stash[V]) put(ctx context.Context, s *socketio.Socket, v V) {
	x.m.Store(s, v)
	context.AfterFunc(ctx, func() { x.m.Delete(s) })
}

// take removes and returns s's value, if any.
func (x *stash[V]) take(s *socketio.Socket) (V, bool) {
	v, ok := x.m.LoadAndDelete(s)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}
