package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/iobridge/iobridge/telemetry"
	"github.com/iobridge/iobridge/translate"
	"go.opentelemetry.io/otel/trace"
)

// frame is a backend frame: an ack, a join or leave, or an instruction.
type frame struct {
	Type  string   `json:"type"`
	ID    *uint64  `json:"id"`
	Rooms []string `json:"rooms"`
	translate.Instruction
}

// Frame types.
const (
	frameAck   = "ack"
	frameEmit  = "emit"
	frameJoin  = "join"
	frameLeave = "leave"
)

// errFrame is wrapped by the errors of decodeFrame.
var errFrame = errors.New("bridge: malformed frame")

// decodeFrame decodes a backend frame: an object, or an array of them.
func decodeFrame(msg []byte) ([]frame, error) {
	msg = bytes.TrimSpace(msg)
	if len(msg) == 0 {
		return nil, fmt.Errorf("%w: empty", errFrame)
	}
	var out []frame
	switch msg[0] {
	case '{':
		out = make([]frame, 1)
		if err := json.Unmarshal(msg, &out[0]); err != nil {
			return nil, fmt.Errorf("%w: %v", errFrame, err)
		}
	case '[':
		if err := json.Unmarshal(msg, &out); err != nil {
			return nil, fmt.Errorf("%w: %v", errFrame, err)
		}
	default:
		return nil, fmt.Errorf("%w: not a JSON object or array", errFrame)
	}
	for i := range out {
		f := &out[i]
		switch f.Type {
		case frameAck:
			if f.ID == nil {
				return nil, fmt.Errorf("%w: ack without id", errFrame)
			}
			if f.Args == nil {
				f.Args = []json.RawMessage{}
			}
		case "", frameEmit:
			if f.Event == "" {
				return nil, fmt.Errorf("%w: instruction %d has no event", errFrame, i)
			}
		case frameJoin, frameLeave:
		default:
			return nil, fmt.Errorf("%w: unknown type %q", errFrame, f.Type)
		}
	}
	return out, nil
}

// handle applies one backend frame.
func (c *conn) handle(msg []byte) {
	frames, err := decodeFrame(msg)
	if err != nil {
		c.s.Logger().Warn("bridge: frame skipped", "bytes", len(msg), "err", err)
		if c.b.tracer != nil {
			_, span := telemetry.StartBridgeSpan(context.Background(), c.b.tracer, telemetry.OperationReceive, c.ns, "malformed", c.s.ID())
			if span.IsRecording() {
				span.SetAttributes(frameMalformed)
			}
			telemetry.End(span, err)
		}
		return
	}
	for i := range frames {
		f := &frames[i]
		ctx, span := c.frameSpan(f)
		switch f.Type {
		case frameAck:
			if !c.resolve(*f.ID, f.Args) {
				c.s.Logger().Debug("bridge: ack frame for no waiting event", "id", *f.ID)
			}
		case frameJoin:
			c.s.Join(f.Rooms...)
		case frameLeave:
			for _, r := range f.Rooms {
				c.s.Leave(r)
			}
		default:
			ins := &f.Instruction
			if len(ins.To) == 0 {
				ins.To = translate.Rooms{c.s.ID()}
			}
			if _, err := c.b.cfg.Executor.Execute(ctx, ins, translate.ExecOptions{Namespace: c.ns}); err != nil {
				c.s.Logger().Warn("bridge: instruction skipped", "event", ins.Event, "err", err)
				if span != nil {
					telemetry.Fail(span, err)
				}
			}
		}
		if span != nil {
			span.End()
		}
	}
}

// frameSpan starts the consumer span of backend frame f: named for the
// instruction's event, or for the frame's type (ack, join, leave); an ack
// frame's parent is the span of the event it answers. Without a tracer it
// returns context.Background() and a nil span.
func (c *conn) frameSpan(f *frame) (context.Context, trace.Span) {
	ctx := context.Background()
	if c.b.tracer == nil {
		return ctx, nil
	}
	typ, event := f.Type, f.Event
	switch f.Type {
	case "", frameEmit:
		typ = frameEmit
	case frameAck:
		event = frameAck
		if sc := c.pendingSpan(*f.ID); sc.IsValid() {
			ctx = trace.ContextWithSpanContext(ctx, sc)
		}
	default:
		event = f.Type
	}
	ctx, span := telemetry.StartBridgeSpan(ctx, c.b.tracer, telemetry.OperationReceive, c.ns, event, c.s.ID())
	if span.IsRecording() {
		span.SetAttributes(telemetry.AttrBridgeFrame.String(typ))
	}
	return ctx, span
}
