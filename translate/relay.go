package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
)

// relay forwards a text/event-stream answer to the socket that sent j:
// each message becomes an event (SSE "event:" is its name, "message" when
// absent; "data:" its args), a message named "ack" answers the client's
// ack. It returns when the stream ends (a pending ack is then answered
// without arguments), the socket leaves, the translator stops, or nothing
// arrives for the route's timeout (a failure: 504).
func (st *socketState) relay(j job, id string, body io.ReadCloser) {
	idle := st.r.Timeout
	base := time.Now()
	var last atomic.Int64 // time since base of the last bytes read
	msgs := make(chan SSEMessage)
	errc := make(chan error, 1)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		rd := NewSSEReader(&activityReader{r: body, base: base, last: &last}, 0)
		for {
			m, err := rd.Next()
			if err != nil {
				errc <- err
				return
			}
			select {
			case msgs <- m:
			case <-stop:
				return
			}
		}
	}()
	defer func() {
		close(stop)
		body.Close()
		<-readerDone
	}()

	acked := false
	answer := func(args []json.RawMessage) {
		if j.ack == nil || acked {
			return
		}
		acked = true
		a, atts, err := BinaryToAttachments(args)
		if err != nil {
			st.fail(j, id, fmt.Errorf("%w: ack: %v", ErrInvalidAnswer, err))
			return
		}
		_ = j.ack(a, atts)
	}
	failed := func(err error) {
		if acked {
			j.ack = nil // the failure goes to the error event
		}
		st.fail(j, id, err)
	}
	timer := time.NewTimer(idle)
	defer timer.Stop()
	log := st.s.Logger()
	for {
		select {
		case m := <-msgs:
			args := sseArgs(m.Data)
			if m.Event == "ack" {
				answer(args)
				continue
			}
			name := m.Event
			if name == "" {
				name = "message"
			}
			a, atts, err := BinaryToAttachments(args)
			if err != nil {
				log.Warn("translate: stream message skipped", "delivery_id", id, "event", name, "err", err)
				continue
			}
			span := st.emitted(j.span, name)
			err = st.s.Emit(name, a, atts)
			telemetry.End(span, err)
			if err != nil {
				if errors.Is(err, socketio.ErrSocketClosed) {
					return
				}
				log.Warn("translate: stream message not emitted", "delivery_id", id, "event", name, "err", err)
			}
		case err := <-errc:
			if errors.Is(err, io.EOF) {
				answer(nil)
				return
			}
			failed(fmt.Errorf("%w: stream: %v", ErrUnreachable, err))
			return
		case <-timer.C:
			since := time.Since(base) - time.Duration(last.Load())
			if since < idle {
				timer.Reset(idle - since)
				continue
			}
			failed(fmt.Errorf("%w: stream silent for %v", ErrTimeout, idle))
			return
		case <-st.left:
			return
		case <-st.t.ctx.Done():
			return
		}
	}
}

// sseArgs turns an SSE message's data into event args: a JSON array is
// the args, any other JSON value one arg, and text that is not JSON one
// string arg. Empty data is no args.
func sseArgs(data []byte) []json.RawMessage {
	d := bytes.TrimSpace(data)
	if len(d) == 0 {
		return nil
	}
	if json.Valid(d) {
		if d[0] == '[' {
			args, err := splitArray(d)
			if err == nil {
				return args
			}
		}
		return []json.RawMessage{d}
	}
	return []json.RawMessage{appendString(nil, string(data))}
}

// activityReader records when bytes last arrived, for the idle timeout.
type activityReader struct {
	r    io.Reader
	base time.Time
	last *atomic.Int64
}

func (a *activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.last.Store(int64(time.Since(a.base)))
	}
	return n, err
}
