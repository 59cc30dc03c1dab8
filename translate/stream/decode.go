package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/iobridge/iobridge/translate"
)

// ErrMalformed is wrapped by the errors of Decode: the message is not an
// instruction object or an array of them.
var ErrMalformed = errors.New("stream: malformed message")

// Decode decodes one stream message: an instruction object, or a JSON
// array of instruction objects (an empty array is no instruction). Every
// instruction must name its event. Errors wrap ErrMalformed.
func Decode(msg []byte) ([]translate.Instruction, error) {
	msg = bytes.TrimSpace(msg)
	if len(msg) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	var out []translate.Instruction
	switch msg[0] {
	case '{':
		out = make([]translate.Instruction, 1)
		if err := json.Unmarshal(msg, &out[0]); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	case '[':
		if err := json.Unmarshal(msg, &out); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	default:
		return nil, fmt.Errorf("%w: not a JSON object or array", ErrMalformed)
	}
	for i := range out {
		if out[i].Event == "" {
			return nil, fmt.Errorf("%w: instruction %d has no event", ErrMalformed, i)
		}
	}
	return out, nil
}
