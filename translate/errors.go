package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/iobridge/iobridge/plugins"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/telemetry"
)

// Sentinel errors. A Backend wraps the first four so that the translator
// can tell clients what went wrong (see Status).
var (
	// ErrTimeout: the backend did not answer (headers, or the whole JSON
	// answer) within the route's timeout, or a streamed answer went silent
	// for that long. Status 504.
	ErrTimeout = errors.New("translate: backend timed out")
	// ErrUnreachable: the backend could not be reached (connection
	// refused, reset, DNS failure). Status 502.
	ErrUnreachable = errors.New("translate: backend unreachable")
	// ErrInvalidAnswer: the backend answered 2xx with a body that breaks
	// the contract (not JSON, a non-array ack, an emit without event).
	// Status 502.
	ErrInvalidAnswer = errors.New("translate: invalid backend answer")
	// ErrOverloaded: the bound on deliveries in flight (the translator's
	// or a backend's) was reached; the event was not sent. Status 503.
	ErrOverloaded = errors.New("translate: too many deliveries in flight")
	// ErrQueueFull: the socket already has the maximum number of events
	// waiting for their turn; the event was not sent. Status 429.
	ErrQueueFull = errors.New("translate: too many events queued for this socket")
	// ErrNotForwarded: the route's events filter does not forward this
	// event. Status 404.
	ErrNotForwarded = errors.New("translate: event not forwarded")
	// ErrUnknownNamespace: an instruction names a namespace the server
	// does not have.
	ErrUnknownNamespace = errors.New("translate: unknown namespace")
	// ErrInvalidInstruction: an instruction is malformed (no event, a
	// reserved event name, a bad _binary value, a bad ack timeout).
	ErrInvalidInstruction = errors.New("translate: invalid instruction")
	// ErrClosed: the translator is shutting down.
	ErrClosed = errors.New("translate: shut down")
)

// StatusError is a backend's non-2xx answer (a 3xx included: redirects
// are not followed). Message and Data come from the answer's body
// ({"message":…,"data":…}); a connect rejection sends them to the
// client's connect_error.
type StatusError struct {
	// Status is the backend's HTTP status code.
	Status int
	// Message is the body's "message" (or "error") string, or a short
	// plain-text body; empty when the body had neither.
	Message string
	// Data is the body's "data" as raw JSON; nil when absent.
	Data json.RawMessage
}

func (e *StatusError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("translate: backend answered %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("translate: backend answered %d", e.Status)
}

// Status returns the HTTP-like status a failure is reported with in an
// ack error ({"error":{"status","message"}}): the backend's own status for
// a StatusError, 504 for ErrTimeout, 502 for ErrUnreachable and
// ErrInvalidAnswer, 503 for ErrOverloaded and ErrClosed, 429 for
// ErrQueueFull, 404 for ErrNotForwarded, 400 for ErrInvalidInstruction,
// a plugin's own status for a *plugins.Error, and 500 for anything else.
func Status(err error) int {
	var se *StatusError
	var pe *plugins.Error
	switch {
	case errors.As(err, &se):
		return se.Status
	case errors.As(err, &pe):
		return pe.Status
	case errors.Is(err, ErrTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, ErrUnreachable), errors.Is(err, ErrInvalidAnswer):
		return http.StatusBadGateway
	case errors.Is(err, ErrOverloaded), errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrQueueFull):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrNotForwarded):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalidInstruction), errors.Is(err, ErrUnknownNamespace):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// clientMessage is the message a client sees for a failure: short, free
// of URLs and internals.
func clientMessage(err error) string {
	var se *StatusError
	var pe *plugins.Error
	switch {
	case errors.As(err, &pe):
		return pe.Message
	case errors.As(err, &se):
		if se.Message != "" {
			return se.Message
		}
		return fmt.Sprintf("backend answered %d %s", se.Status, http.StatusText(se.Status))
	case errors.Is(err, ErrTimeout):
		return "backend timed out"
	case errors.Is(err, ErrUnreachable):
		return "backend unreachable"
	case errors.Is(err, ErrInvalidAnswer):
		return "invalid backend answer"
	case errors.Is(err, ErrOverloaded):
		return "too many deliveries in flight"
	case errors.Is(err, ErrQueueFull):
		return "too many events queued for this socket"
	case errors.Is(err, ErrNotForwarded):
		return "event not forwarded"
	case errors.Is(err, ErrClosed):
		return "server shutting down"
	default:
		return "internal error"
	}
}

// fail reports a failed delivery to the client and the log: the ack, if
// the client asked for one, gets {"error":{"status","message"}};
// otherwise the socket gets the route's error event with
// {"message","event","requestId"}. A recovered socket's connect job is
// only logged.
func (st *socketState) fail(j job, id string, err error) {
	status, msg := Status(err), clientMessage(err)
	if j.span != nil {
		telemetry.Fail(j.span, err)
	}
	st.dropped(err)
	log := st.s.Logger()
	if !logRefusal(st.s, "translate: event refused by plugin", j.event, err) && log.Enabled(context.Background(), slog.LevelWarn) {
		log.Warn("translate: delivery failed", "event", j.event, "delivery_id", id, "status", status, "err", err)
	}
	if j.kind == TypeConnect {
		return
	}
	if j.ack != nil {
		_ = j.ack([]json.RawMessage{ackErrorJSON(status, msg)}, nil)
		return
	}
	b := errorEventJSON(msg, j.event, id)
	if err := st.s.Emit(st.r.ErrorEvent, []json.RawMessage{b}, nil); err != nil && !errors.Is(err, socketio.ErrSocketClosed) {
		log.Warn("translate: error event not sent", "event", st.r.ErrorEvent, "delivery_id", id, "err", err)
	}
}

// ackErrorJSON is a failed event's ack argument:
// {"error":{"status":status,"message":msg}}.
func ackErrorJSON(status int, msg string) json.RawMessage {
	b := make([]byte, 0, 64+len(msg))
	b = append(b, `{"error":{"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	b = append(b, "}}"...)
	return b
}

// errorEventJSON is the argument of the error event a failed event sent
// without ack gets: {"message":msg,"event":event,"requestId":id}.
func errorEventJSON(msg, event, id string) json.RawMessage {
	b := make([]byte, 0, 96+len(msg)+len(event))
	b = append(b, `{"message":`...)
	b = appendString(b, msg)
	b = append(b, `,"event":`...)
	b = appendString(b, event)
	b = append(b, `,"requestId":`...)
	b = appendString(b, id)
	b = append(b, '}')
	return b
}

// logRefusal logs a plugin's refusal with the plugin's name, at Info (a
// refused client is policy at work, not a fault), and reports whether
// err was one.
func logRefusal(s *socketio.Socket, msg, event string, err error) bool {
	var pe *plugins.Error
	if !errors.As(err, &pe) {
		return false
	}
	log := s.Logger()
	if !log.Enabled(context.Background(), slog.LevelInfo) {
		return true
	}
	attrs := []slog.Attr{slog.String("plugin", pe.Plugin), slog.Int("status", pe.Status), slog.String("err", pe.Error())}
	if event != "" {
		attrs = append(attrs, slog.String("event", event))
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, msg, attrs...)
	return true
}
