package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/iobridge/iobridge/plugins"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
)

// Executor applies instructions to a socketio.Server. It is the one path
// from backends to clients: webhook answers, POST /v1/emit and backend
// streams all call Execute. It is safe for concurrent use and holds no
// state of its own beyond the server.
type Executor struct {
	srv *socketio.Server
	// known reports whether a namespace that does not exist yet is one a
	// route would create (a pattern's child with no socket so far).
	known func(name string) bool
	// chain returns a namespace's plugins (nil: none).
	chain func(name string) *plugins.Chain
	// tracer and metrics are the Translator's telemetry (nil: none).
	tracer  trace.Tracer
	metrics *telemetry.Metrics
}

// NewExecutor returns an Executor for srv. Instructions naming a namespace
// the server does not have fail with ErrUnknownNamespace. A Translator's
// Executor also accepts namespaces its pattern routes would create (they
// have no recipients until a client connects).
func NewExecutor(srv *socketio.Server) *Executor { return &Executor{srv: srv} }

// WithTelemetry returns a copy of x that makes an emit's producer span
// with tp (a child of the span in Execute's ctx) and counts emits and acks
// timed out on mp, as the Translator's Executor does. Nil providers leave
// that part off. x itself is unchanged, so both stay safe for concurrent
// use. main gives it to the bridges, whose Executor exists before the
// Translator.
func (x *Executor) WithTelemetry(tp trace.TracerProvider, mp metric.MeterProvider) *Executor {
	c := *x
	c.tracer, c.metrics = telemetry.Tracer(tp), telemetry.NewMetrics(mp)
	return &c
}

// ExecOptions say how an instruction is applied.
type ExecOptions struct {
	// Namespace is the default for an instruction without one: the
	// namespace of the delivery that answered it. Empty means "/".
	Namespace string
	// Count makes Execute count the recipients (Result.Recipients). It
	// costs a pass over the selected sockets; webhook answers skip it.
	Count bool
	// WaitAcks honors the instruction's "ack": Execute waits for each
	// recipient's ack (or the ack timeout) and returns them. Without it
	// the emit goes out without asking for acks.
	WaitAcks bool
	// Accepted, when set, is called once the instruction is validated and
	// its recipients counted, just before the emit goes out; it is not
	// called when Execute fails before that, nor for an emit that waits
	// for acks. The control API answers there, so that a backend's next
	// request is read while this emit fans out: packets queued meanwhile
	// go out together, one write per connection rather than one per
	// packet.
	Accepted func(Result)
}

// Result is what Execute did.
type Result struct {
	// Recipients is the number of sockets selected on this node (with
	// ExecOptions.Count); a volatile emit may still have dropped some.
	Recipients int `json:"recipients"`
	// Acks are the recipients' answers (ExecOptions.WaitAcks and an
	// instruction with ack), binary values as {"_binary":…}.
	Acks []AckResult `json:"acks,omitempty"`
	// Timeouts are the ids of the recipients that did not answer in time
	// (or left first).
	Timeouts []string `json:"timeouts,omitempty"`
}

// AckResult is one client's answer to an emit with ack.
type AckResult struct {
	Socket string            `json:"socket"`
	Args   []json.RawMessage `json:"args"`
}

// Execute applies ins: the emit goes to the sockets of the namespace in
// any of ins.To (every socket when To is empty) and in none of
// ins.Except, volatile if asked, encoded once for every recipient. Errors
// wrap ErrUnknownNamespace or ErrInvalidInstruction; with acks, a ctx that
// ends returns the answers so far and ctx's error.
//
// With the Translator's TracerProvider, the emit is a producer span
// ("<namespace> send"), a child of the span in ctx.
func (x *Executor) Execute(ctx context.Context, ins *Instruction, opts ExecOptions) (Result, error) {
	if x.tracer == nil && x.metrics == nil {
		return x.execute(ctx, ins, opts)
	}
	return x.traced(ctx, ins, opts)
}

func (x *Executor) execute(ctx context.Context, ins *Instruction, opts ExecOptions) (Result, error) {
	var res Result
	if ins.Event == "" {
		return res, fmt.Errorf("%w: no event", ErrInvalidInstruction)
	}
	if socketio.IsReservedEvent(ins.Event) {
		return res, fmt.Errorf("%w: %q is a reserved event name", ErrInvalidInstruction, ins.Event)
	}
	name := ins.Namespace
	if name == "" {
		name = opts.Namespace
	}
	nsp, err := x.namespace(name)
	if err != nil {
		return res, err
	}
	args, atts, err := BinaryToAttachments(ins.Args)
	if err != nil {
		return res, err
	}
	wantAcks := opts.WaitAcks && ins.Ack != nil && ins.Ack.Timeout > 0
	if nsp == nil {
		// A pattern's namespace nobody connected to: no recipients.
		if wantAcks {
			res.Acks, res.Timeouts = []AckResult{}, []string{}
		}
		return res, nil
	}
	if opts.Count {
		res.Recipients = countSockets(nsp, ins.To, ins.Except)
	}
	if opts.Accepted != nil && !wantAcks {
		opts.Accepted(res)
	}
	if x.chain != nil {
		if ch := x.chain(nsp.Name()); ch.HasOutbound() {
			return executeEach(ctx, nsp, ch, ins, args, atts, wantAcks, res)
		}
	}
	op := nsp.To(ins.To...)
	if len(ins.Except) > 0 {
		op = op.Except(ins.Except...)
	}
	if ins.Volatile {
		op = op.Volatile()
	}
	if !wantAcks {
		if err := op.Emit(ins.Event, args, atts); err != nil {
			return res, fmt.Errorf("emit %q to %s: %w", ins.Event, nsp.Name(), err)
		}
		return res, nil
	}
	acks, err := op.Timeout(ins.Ack.Timeout).EmitWithAck(ctx, ins.Event, args, atts)
	if errors.Is(err, socketio.ErrAckTimeout) {
		err = nil // the timed-out recipients are listed
	}
	res.Acks = make([]AckResult, 0, len(acks.Responses))
	for _, r := range acks.Responses {
		out := make([]json.RawMessage, len(r.Args))
		for i, a := range r.Args {
			b, cerr := AttachmentsToBinary(a, r.Attachments)
			if cerr != nil {
				b = a
			}
			out[i] = b
		}
		res.Acks = append(res.Acks, AckResult{Socket: r.Socket, Args: out})
	}
	res.Timeouts = acks.TimedOut
	if res.Timeouts == nil {
		res.Timeouts = []string{}
	}
	if err != nil {
		return res, fmt.Errorf("emit %q to %s: %w", ins.Event, nsp.Name(), err)
	}
	return res, nil
}

// Join makes the sockets of namespace in any of to (every socket when to
// is empty) join rooms, and returns how many were selected on this node.
func (x *Executor) Join(ctx context.Context, namespace string, to, rooms []string) (int, error) {
	nsp, err := x.namespace(namespace)
	if err != nil || nsp == nil {
		return 0, err
	}
	n := countSockets(nsp, to, nil)
	return n, nsp.To(to...).SocketsJoin(ctx, rooms...)
}

// Leave makes the selected sockets leave rooms (see Join).
func (x *Executor) Leave(ctx context.Context, namespace string, to, rooms []string) (int, error) {
	nsp, err := x.namespace(namespace)
	if err != nil || nsp == nil {
		return 0, err
	}
	n := countSockets(nsp, to, nil)
	return n, nsp.To(to...).SocketsLeave(ctx, rooms...)
}

// Disconnect disconnects the selected sockets (see Join): each client
// sees "io server disconnect", and each socket's disconnect delivery says
// "server namespace disconnect". With close the whole connection of each
// socket is closed.
func (x *Executor) Disconnect(ctx context.Context, namespace string, to []string, close bool) (int, error) {
	nsp, err := x.namespace(namespace)
	if err != nil || nsp == nil {
		return 0, err
	}
	n := countSockets(nsp, to, nil)
	return n, nsp.To(to...).DisconnectSockets(ctx, close)
}

// Namespace returns the namespace an instruction's name selects: nil
// without error for a pattern's namespace nobody has connected to yet.
func (x *Executor) Namespace(name string) (*socketio.Namespace, error) { return x.namespace(name) }

func (x *Executor) namespace(name string) (*socketio.Namespace, error) {
	if name == "" {
		name = "/"
	} else if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if n, ok := x.srv.Namespace(name); ok {
		return n, nil
	}
	if x.known != nil && x.known(name) {
		return nil, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownNamespace, name)
}

// countSockets counts the local sockets in any of to (all when empty) and
// in none of except.
func countSockets(nsp *socketio.Namespace, to, except []string) int {
	a := nsp.Adapter()
	if a == nil {
		return 0
	}
	if len(to) == 0 && len(except) == 0 {
		return nsp.Len()
	}
	ids := a.Sockets(to)
	if len(except) == 0 {
		return len(ids)
	}
	ex := make(map[string]struct{})
	for _, id := range a.Sockets(except) {
		ex[id] = struct{}{}
	}
	n := 0
	for _, id := range ids {
		if _, ok := ex[id]; !ok {
			n++
		}
	}
	return n
}

// executeEach is Execute for a namespace with outbound hooks: each local
// recipient gets its own emit, as the hooks decide (dropped, or with its
// own args). Only such namespaces pay for it; the others keep the
// encode-once broadcast.
func executeEach(ctx context.Context, nsp *socketio.Namespace, ch *plugins.Chain, ins *Instruction, args []json.RawMessage, atts [][]byte, wantAcks bool, res Result) (Result, error) {
	a := nsp.Adapter()
	if a == nil {
		return res, nil
	}
	ids := a.Sockets(ins.To)
	if len(ins.Except) > 0 {
		ex := make(map[string]struct{})
		for _, id := range a.Sockets(ins.Except) {
			ex[id] = struct{}{}
		}
		ids = slices.DeleteFunc(ids, func(id string) bool { _, ok := ex[id]; return ok })
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	if wantAcks {
		res.Acks, res.Timeouts = []AckResult{}, []string{}
	}
	for _, id := range ids {
		s := nsp.Socket(id)
		if s == nil {
			continue
		}
		out, drop := ch.Outbound(ctx, plugins.OutboundEvent{Socket: s, Name: ins.Event, Args: args})
		if drop {
			continue
		}
		var err error
		switch {
		case wantAcks:
			wg.Add(1)
			err = s.EmitWithAck(ins.Event, out, atts, ins.Ack.Timeout, func(rargs []json.RawMessage, ratts [][]byte, aerr error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if aerr != nil {
					res.Timeouts = append(res.Timeouts, id)
					return
				}
				conv := make([]json.RawMessage, len(rargs))
				for i, r := range rargs {
					b, cerr := AttachmentsToBinary(r, ratts)
					if cerr != nil {
						b = r
					}
					conv[i] = b
				}
				res.Acks = append(res.Acks, AckResult{Socket: id, Args: conv})
			})
			if err != nil { // the callback will not run
				wg.Done()
				mu.Lock()
				res.Timeouts = append(res.Timeouts, id)
				mu.Unlock()
			}
		case ins.Volatile:
			err = s.EmitVolatile(ins.Event, out, atts)
		default:
			err = s.Emit(ins.Event, out, atts)
		}
		if err != nil && !errors.Is(err, socketio.ErrSocketClosed) {
			errs = append(errs, err)
		}
	}
	if wantAcks {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			mu.Lock()
			r := Result{Recipients: res.Recipients, Acks: slices.Clone(res.Acks), Timeouts: slices.Clone(res.Timeouts)}
			mu.Unlock()
			return r, ctx.Err()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("emit %q to %s: %w", ins.Event, nsp.Name(), err)
	}
	return res, nil
}
