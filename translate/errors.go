package translate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/iobridge/iobridge/plugins"
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
