package translate

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// SSEMessage is one Server-Sent Events message.
type SSEMessage struct {
	// Event is the "event:" field; empty means "message".
	Event string
	// Data is the "data:" lines joined with "\n".
	Data []byte
	// ID is the last "id:" seen in the stream (it carries over, as the
	// EventSource's lastEventId).
	ID string
	// Retry is the "retry:" field in milliseconds, 0 when absent.
	Retry int
}

// ErrSSELineTooLong is returned by SSEReader.Next for a line over the
// reader's limit.
var ErrSSELineTooLong = errors.New("translate: SSE line too long")

// DefaultSSEMaxLine bounds one SSE line when NewSSEReader gets zero.
const DefaultSSEMaxLine = 1 << 20

// SSEReader parses a text/event-stream as the HTML standard's
// EventSource does: lines end with \n, \r\n or \r; ":" starts a comment;
// a blank line dispatches the message being built unless its data is
// empty; an incomplete message at the end of the stream is dropped, and so
// is its "id:" (the last event ID changes only when a blank line ends a
// message, so a reconnect after a cut never skips the cut message). It is
// used by one goroutine.
type SSEReader struct {
	sc     *bufio.Scanner
	lastID string // the last event ID, as of the last blank line
	idBuf  string // the last "id:" field read
	first  bool
}

// NewSSEReader reads from r. maxLine bounds one line in bytes (zero
// means DefaultSSEMaxLine).
func NewSSEReader(r io.Reader, maxLine int) *SSEReader {
	if maxLine <= 0 {
		maxLine = DefaultSSEMaxLine
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(4096, maxLine)), maxLine)
	sc.Split(scanSSELines)
	return &SSEReader{sc: sc, first: true}
}

// Next returns the next message, io.EOF at the end of the stream, or the
// read error.
func (r *SSEReader) Next() (SSEMessage, error) {
	var (
		m       SSEMessage
		data    []byte
		hasData bool
	)
	for r.sc.Scan() {
		line := r.sc.Bytes()
		if r.first {
			r.first = false
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(line) == 0 {
			r.lastID = r.idBuf
			if !hasData {
				m.Event = ""
				continue
			}
			m.Data = data
			m.ID = r.lastID
			return m, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			m.Event = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				r.idBuf = string(value)
			}
		case "retry":
			if n, err := strconv.Atoi(string(value)); err == nil && n >= 0 {
				m.Retry = n
			}
		}
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return SSEMessage{}, ErrSSELineTooLong
		}
		return SSEMessage{}, err
	}
	return SSEMessage{}, io.EOF
}

// LastEventID is the last event ID: the last "id:" field of a message
// that a blank line ended (whether or not it had data), as EventSource
// sends back in Last-Event-ID.
func (r *SSEReader) LastEventID() string { return r.lastID }

// scanSSELines splits at \n, \r\n or \r.
func scanSSELines(data []byte, atEOF bool) (int, []byte, error) {
	for i, c := range data {
		switch c {
		case '\n':
			return i + 1, data[:i], nil
		case '\r':
			if i+1 < len(data) {
				if data[i+1] == '\n' {
					return i + 2, data[:i], nil
				}
				return i + 1, data[:i], nil
			}
			if atEOF {
				return i + 1, data[:i], nil
			}
			return 0, nil, nil // a \n may follow
		}
	}
	if atEOF && len(data) > 0 {
		// An unterminated last line cannot complete a message: drop it.
		return len(data), nil, nil
	}
	return 0, nil, nil
}
