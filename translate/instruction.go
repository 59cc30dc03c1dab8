package translate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// Backend is where a route's deliveries go: the webhook client
// (translate/webhook), or anything answering the same contract.
//
// Deliver sends env and returns the backend's 2xx answer as a Reply. A
// failure is an error wrapping ErrTimeout, ErrUnreachable,
// ErrInvalidAnswer or ErrOverloaded, or a *StatusError for a non-2xx
// answer; the translator turns it into the client's ack error or error
// event (a connect's into its connect_error). Deliver may be called from
// many goroutines at once; it blocks until the answer's headers (and, for
// a JSON answer, its body) arrived, ctx ended, or the backend's own
// timeout passed. For a streamed answer the Reply's Stream is open and
// the caller must close it.
//
// A Backend retries a disconnect delivery itself when it can (the backend
// must learn that a socket left), with the same env.ID every attempt.
type Backend interface {
	Deliver(ctx context.Context, env *Envelope) (*Reply, error)
}

// Reply is a backend's 2xx answer. The JSON body's fields:
//
//	event:   {"ack":[…],"emit":[instruction…],"join":[room…],"leave":[room…],"disconnect":true}
//	connect: {"rooms":[room…],"data":{…},"emit":[instruction…]}
//
// all optional, applied in the order ack, emit, join, leave, disconnect.
type Reply struct {
	// Ack holds the ack's arguments; HasAck says whether the answer had
	// an "ack" (an empty array is an ack without arguments).
	Ack    []json.RawMessage
	HasAck bool
	// Emit are instructions; their namespace defaults to the delivery's.
	Emit []Instruction
	// Join and Leave are rooms for the socket the delivery is about.
	Join, Leave []string
	// Disconnect makes that socket leave the namespace.
	Disconnect bool
	// Rooms and Data answer a connect: rooms joined before the CONNECT
	// acknowledgement, and the socket's data.
	Rooms []string
	Data  json.RawMessage
	// Stream, when non-nil, is a text/event-stream answer relayed to the
	// socket: each message an event, one named "ack" the ack. The other
	// fields are then empty. The receiver must close it; closing it ends
	// the request.
	Stream io.ReadCloser
}

// replyJSON is the wire form of Reply.
type replyJSON struct {
	Ack        json.RawMessage `json:"ack"`
	Emit       []Instruction   `json:"emit"`
	Join       []string        `json:"join"`
	Leave      []string        `json:"leave"`
	Disconnect bool            `json:"disconnect"`
	Rooms      []string        `json:"rooms"`
	Data       json.RawMessage `json:"data"`
}

// DecodeReply decodes a backend's 2xx JSON answer. An empty body (or
// whitespace) is an answer with nothing in it. Anything that breaks the
// contract (not a JSON object, a non-array ack, an emit without event) is
// an error wrapping ErrInvalidAnswer.
func DecodeReply(body []byte) (*Reply, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return &Reply{}, nil
	}
	if body[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidAnswer)
	}
	if r, ok := ackOnly(body); ok {
		return r, nil
	}
	var w replyJSON
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidAnswer, err)
	}
	r := &Reply{Emit: w.Emit, Join: w.Join, Leave: w.Leave, Disconnect: w.Disconnect, Rooms: w.Rooms}
	if len(w.Ack) > 0 && string(w.Ack) != "null" {
		if w.Ack[0] != '[' {
			return nil, fmt.Errorf("%w: ack is not an array", ErrInvalidAnswer)
		}
		args, err := splitArray(w.Ack)
		if err != nil {
			return nil, fmt.Errorf("%w: ack: %v", ErrInvalidAnswer, err)
		}
		r.Ack, r.HasAck = args, true
	}
	if len(w.Data) > 0 && string(w.Data) != "null" {
		r.Data = w.Data
	}
	for i := range r.Emit {
		if err := r.Emit[i].validate(); err != nil {
			return nil, fmt.Errorf("%w: emit[%d]: %v", ErrInvalidAnswer, i, err)
		}
	}
	return r, nil
}

// ackOnly decodes the commonest answer, {"ack":[…]}, without reflection.
// It reports false for anything else, which DecodeReply then decodes in
// full.
func ackOnly(body []byte) (*Reply, bool) {
	w := rewriter{src: body, pos: 1, match: func(*rewriter, *object) error { return nil }}
	w.ws()
	if !bytes.HasPrefix(body[w.pos:], []byte(`"ack"`)) {
		return nil, false
	}
	w.pos += len(`"ack"`)
	w.ws()
	if w.pos >= len(body) || body[w.pos] != ':' {
		return nil, false
	}
	w.pos++
	w.ws()
	start := w.pos
	if start >= len(body) || body[start] != '[' || w.value() != nil {
		return nil, false
	}
	arr := body[start:w.pos]
	w.ws()
	if w.pos != len(body)-1 || body[w.pos] != '}' || !json.Valid(arr) {
		return nil, false
	}
	args, err := socketio.SplitArray(arr)
	if err != nil {
		return nil, false
	}
	if args == nil {
		args = []json.RawMessage{}
	}
	return &Reply{Ack: args, HasAck: true}, true
}

// splitArray splits a JSON array into raw elements (copies of no bytes:
// they alias b).
func splitArray(b json.RawMessage) ([]json.RawMessage, error) {
	var out []json.RawMessage
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	if out == nil {
		out = []json.RawMessage{}
	}
	return out, nil
}

// Instruction tells the sidecar to emit: the same object in a webhook
// answer's "emit", in POST /v1/emit and in backend streams.
//
//	{"namespace":"/","to":[rooms or socket ids],"except":[…],"event":"e",
//	 "args":[…],"volatile":false,"ack":{"timeout":"5s"}}
//
// An empty Namespace means the namespace of the delivery (or "/" where
// there is none); an empty To means every socket of the namespace. Every
// socket is in the room named by its id. Args are raw JSON; binary values
// are {"_binary":"<base64>"}.
type Instruction struct {
	Namespace string            `json:"namespace,omitempty"`
	To        Rooms             `json:"to,omitempty"`
	Except    Rooms             `json:"except,omitempty"`
	Event     string            `json:"event"`
	Args      []json.RawMessage `json:"args,omitempty"`
	Volatile  bool              `json:"volatile,omitempty"`
	// Ack, when set, asks each recipient for an acknowledgement and
	// waits for them (POST /v1/emit). Webhook answers and streams have
	// no one to hand the acks to: there the emit goes out without ack.
	Ack *AckOptions `json:"ack,omitempty"`
}

func (in *Instruction) validate() error {
	if in.Event == "" {
		return fmt.Errorf("%w: no event", ErrInvalidInstruction)
	}
	return nil
}

// Rooms is a list of rooms or socket ids. In JSON it is an array of
// strings, or one string.
type Rooms []string

// UnmarshalJSON accepts "room" as well as ["room", …].
func (r *Rooms) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*r = Rooms{s}
		return nil
	}
	var s []string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*r = s
	return nil
}

// DefaultAckTimeout is the wait for acks when an instruction asks for
// them without a timeout.
const DefaultAckTimeout = 5 * time.Second

// AckOptions is an instruction's "ack": {"timeout":"5s"} (a duration
// string, or a number of milliseconds); true or {} mean DefaultAckTimeout,
// false (Timeout zero) means no ack.
type AckOptions struct {
	Timeout time.Duration
}

// UnmarshalJSON implements json.Unmarshaler.
func (a *AckOptions) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "true", "{}":
		a.Timeout = DefaultAckTimeout
		return nil
	case "false":
		a.Timeout = 0
		return nil
	}
	var w struct {
		Timeout json.RawMessage `json:"timeout"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("ack: want {\"timeout\":\"5s\"}: %w", err)
	}
	a.Timeout = DefaultAckTimeout
	t := bytes.TrimSpace(w.Timeout)
	switch {
	case len(t) == 0 || string(t) == "null":
	case t[0] == '"':
		var s string
		_ = json.Unmarshal(t, &s)
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return fmt.Errorf("ack.timeout %s: want a positive duration such as \"5s\"", t)
		}
		a.Timeout = d
	default:
		ms, err := strconv.ParseFloat(string(t), 64)
		if err != nil || ms <= 0 {
			return fmt.Errorf("ack.timeout %s: want a positive duration such as \"5s\"", t)
		}
		a.Timeout = time.Duration(ms * float64(time.Millisecond))
	}
	return nil
}

// MarshalJSON implements json.Marshaler.
func (a AckOptions) MarshalJSON() ([]byte, error) {
	return []byte(`{"timeout":"` + a.Timeout.String() + `"}`), nil
}
