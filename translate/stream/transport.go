package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iobridge/iobridge/translate"
)

// runSSE reads one SSE connection. It reports whether a message was
// applied, and the delay a "retry:" field asked for.
func (s *Stream) runSSE() (delivered bool, retry time.Duration, err error) {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url.String(), nil)
	if err != nil {
		return false, 0, err
	}
	for k, v := range s.cfg.Header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if s.lastID != "" {
		req.Header.Set("Last-Event-ID", s.lastID)
	}
	// The dial timeout covers the wait for the response headers only.
	headers := make(chan struct{})
	timer := time.AfterFunc(s.cfg.DialTimeout, func() {
		select {
		case <-headers:
		default:
			cancel()
		}
	})
	resp, err := s.cfg.Client.Do(req)
	close(headers)
	timer.Stop()
	if err != nil {
		if s.ctx.Err() == nil && ctx.Err() != nil {
			err = fmt.Errorf("no answer within %v", s.cfg.DialTimeout)
		}
		return false, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.CopyN(io.Discard, resp.Body, 4096)
		return false, 0, fmt.Errorf("%w: status %d", ErrStatus, resp.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return false, 0, fmt.Errorf("%w: Content-Type %q, want text/event-stream", ErrStatus, resp.Header.Get("Content-Type"))
	}
	s.connectedNow()
	rd := translate.NewSSEReader(resp.Body, s.cfg.MaxMessageBytes)
	for {
		m, err := rd.Next()
		s.lastID = rd.LastEventID()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("stream ended")
			}
			return delivered, retry, err
		}
		if m.Retry > 0 {
			retry = time.Duration(m.Retry) * time.Millisecond
		}
		if s.apply(m.Data) {
			delivered = true
		}
	}
}

// runWS reads one WebSocket connection. It reports whether a message was
// applied.
func (s *Stream) runWS() (delivered bool, err error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.DialTimeout)
	conn, resp, err := s.cfg.Dialer.DialContext(ctx, s.url.String(), s.cfg.Header.Clone())
	cancel()
	if err != nil {
		if resp != nil {
			return false, fmt.Errorf("%w: status %d", ErrStatus, resp.StatusCode)
		}
		return false, err
	}
	conn.SetReadLimit(int64(s.cfg.MaxMessageBytes))
	s.connectedNow()
	// Shutdown closes the connection, which ends ReadMessage.
	stop := context.AfterFunc(s.ctx, func() {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"),
			time.Now().Add(time.Second))
		conn.Close()
	})
	defer func() {
		if stop() {
			conn.Close()
		}
	}()
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			return delivered, err
		}
		if typ != websocket.TextMessage {
			s.messages.Add(1)
			s.skip()
			s.log.Warn("stream: binary frame skipped", "bytes", len(msg))
			continue
		}
		if s.apply(msg) {
			delivered = true
		}
	}
}
