package engineio

import (
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// permessage-deflate on WebSocket (Config.PerMessageDeflate).
//
// gorilla implements the extension only without context takeover: each
// message is compressed on its own, with a pooled compressor, so an idle
// connection holds no compression state (the reference's ws keeps a
// window per connection and direction). It answers an offer with
// "permessage-deflate; server_no_context_takeover;
// client_no_context_takeover", which browsers and ws accept. Under those
// parameters ws compresses only messages of at least its threshold, as
// done here.

// wsDeflateMin is the smallest message compressed on a WebSocket that
// negotiated permessage-deflate, or 0 when Config.PerMessageDeflate is
// off.
func (s *Server) wsDeflateMin() int {
	if !s.cfg.PerMessageDeflate {
		return 0
	}
	return compressionThreshold(s.cfg.PerMessageDeflateThreshold)
}

// upgraderFor returns the Upgrader for the WebSocket handshake r: one
// that negotiates permessage-deflate when the server compresses and r
// offers the extension in a form gorilla can honour, else the plain one,
// which answers no extension, as the reference with perMessageDeflate
// off.
func (s *Server) upgraderFor(r *http.Request) *websocket.Upgrader {
	if !s.cfg.PerMessageDeflate || !offersDeflate(r.Header) {
		return &s.upgrader
	}
	// Made per handshake, which allocates anyway, so the Server keeps
	// one Upgrader.
	u := s.upgrader
	u.EnableCompression = true
	return &u
}

// offersDeflate reports whether Sec-WebSocket-Extensions offers
// permessage-deflate with parameters gorilla can honour: any
// client_max_window_bits and either no-context-takeover flag, but no
// server_max_window_bits below 15, as Go's compressor always uses a 32 KiB
// window. (gorilla itself would accept any offer and answer with a window
// the client refused.)
func offersDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		for offer := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(offer, ";")
			if strings.TrimSpace(name) != "permessage-deflate" {
				continue
			}
			ok := true
			for param := range strings.SplitSeq(params, ";") {
				key, value, _ := strings.Cut(param, "=")
				if strings.TrimSpace(key) == "server_max_window_bits" && strings.Trim(strings.TrimSpace(value), `"`) != "15" {
					ok = false
				}
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// writeMessage writes b as one data message, compressed when the
// connection negotiated permessage-deflate and b is at least deflateMin
// bytes (0: never). Compression is switched on for that message only:
// gorilla's default, on for every message once negotiated, is switched
// off at the upgrade (upgrade), so that the writes of other goroutines
// (the OPEN packet, a probe's pong) go uncompressed unless they ask.
func writeMessage(conn *websocket.Conn, mt int, b []byte, deflateMin int) error {
	if deflateMin == 0 || len(b) < deflateMin {
		return conn.WriteMessage(mt, b)
	}
	conn.EnableWriteCompression(true)
	err := conn.WriteMessage(mt, b)
	conn.EnableWriteCompression(false)
	return err
}

// readMessage reads the next data message. With PerMessageDeflate on it
// bounds the message as inflated by MaxHTTPBufferSize, as the reference's
// maxPayload bounds it (closing with 1009): gorilla's read limit counts
// the bytes on the wire, which a compressed message may multiply a
// thousandfold.
func (s *Server) readMessage(conn *websocket.Conn) (int, []byte, error) {
	if !s.cfg.PerMessageDeflate {
		return conn.ReadMessage()
	}
	mt, rd, err := conn.NextReader()
	if err != nil {
		return mt, nil, err
	}
	limit := s.cfg.MaxHTTPBufferSize
	data, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return mt, nil, err
	}
	if int64(len(data)) > limit {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""), time.Now().Add(closeGrace))
		return mt, nil, websocket.ErrReadLimit
	}
	return mt, data, nil
}
