package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iobridge/iobridge/translate"
)

// answered makes an attempt's result of an answer that is not a stream:
// its status, Retry-After header and body, and the error reading the body
// (errTooLarge, or already mapped to the translate sentinels).
func (c *Client) answered(status int, retry string, b []byte, rerr error) (*translate.Reply, time.Duration, error) {
	if status < 200 || status >= 300 {
		return nil, retryAfter(retry), statusError(status, b)
	}
	if errors.Is(rerr, errTooLarge) {
		return nil, 0, fmt.Errorf("%w: answer over %d bytes", translate.ErrInvalidAnswer, c.maxAnswer)
	}
	if rerr != nil {
		return nil, 0, rerr
	}
	reply, err := translate.DecodeReply(b)
	if err != nil {
		return nil, 0, err
	}
	return reply, 0, nil
}

func isEventStream(ct string) bool {
	if !strings.HasPrefix(ct, "text/event-stream") {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "text/event-stream"
}

var errTooLarge = errors.New("webhook: answer too large")

// readAnswer reads resp's body, at most max bytes. A body of known
// length is read into a slice of that size (the Reply aliases it, so it
// cannot come from a pool), and up to its EOF, which frees the connection
// for the next request.
func readAnswer(resp *http.Response, max int64) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= max {
		b := make([]byte, n, n+1) // the spare byte takes the read to EOF
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			return nil, err
		}
		if m, err := resp.Body.Read(b[n : n+1]); m > 0 || (err != nil && err != io.EOF) {
			if err == nil {
				err = errors.New("webhook: answer longer than its Content-Length")
			}
			return nil, err
		}
		return b, nil
	}
	return readMax(resp.Body, max)
}

// readMax reads r to its end, failing with errTooLarge past max bytes.
func readMax(r io.Reader, max int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, max+1))
	if err != nil {
		return buf.Bytes(), err
	}
	if n > max {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}

// statusError builds the error for a non-2xx answer: message and data from
// a JSON body ({"message","data"}, or {"error":"…"} / {"error":{"message"}}),
// or a short plain-text body as the message.
func statusError(status int, body []byte) *translate.StatusError {
	se := &translate.StatusError{Status: status}
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return se
	}
	if b[0] == '{' {
		var w struct {
			Message any             `json:"message"`
			Error   any             `json:"error"`
			Data    json.RawMessage `json:"data"`
		}
		if json.Unmarshal(b, &w) == nil {
			switch m := w.Message.(type) {
			case string:
				se.Message = m
			}
			if se.Message == "" {
				switch e := w.Error.(type) {
				case string:
					se.Message = e
				case map[string]any:
					if m, ok := e["message"].(string); ok {
						se.Message = m
					}
				}
			}
			if len(w.Data) > 0 && string(w.Data) != "null" {
				se.Data = w.Data
			}
			return se
		}
	}
	if len(b) <= 200 && !bytes.ContainsAny(b, "\r\n<") {
		se.Message = string(b)
	}
	return se
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// streamBody is a text/event-stream answer: closing it ends the request
// and frees its in-flight slot.
type streamBody struct {
	body io.ReadCloser
	once sync.Once
	done func()
}

func (s *streamBody) Read(p []byte) (int, error) { return s.body.Read(p) }

func (s *streamBody) Close() error {
	err := s.body.Close()
	s.once.Do(s.done)
	return err
}
