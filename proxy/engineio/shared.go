package engineio

import (
	"encoding/base64"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// Share marks packets that are to be queued for many sessions (a
// broadcast's) so that each is compressed once for all of them: the first
// WebSocket that writes a marked packet compressed (Config.PerMessageDeflate,
// the message at least the threshold) compresses it, and every other writes
// the same frame. A packet queued for fewer than minSharedRecipients
// sessions is compressed by each, as an unmarked one. Without context takeover, which is how permessage-deflate
// is negotiated here, a compressed message does not depend on its
// connection, so the frame is the one each would have made. Packets under
// the threshold, polling sessions and connections without the extension
// are written as unmarked packets are.
//
// Share sets a field of each element of packets, which must not yet be
// handed to any session, and allocates once per call; a packet already
// marked is left as it is. Marking is worth it only on a server with
// PerMessageDeflate on: otherwise nothing is compressed and the mark is
// not looked at.
func Share(packets []Packet) {
	if len(packets) == 0 {
		return
	}
	f := make([]sharedFrames, len(packets))
	for i := range packets {
		if packets[i].shared == nil {
			packets[i].shared = &f[i]
		}
	}
}

// sharedFrames holds a marked packet's messages as gorilla prepares them
// for many connections, one per form the packet takes on the wire
// (frameKind). A PreparedMessage keeps the message's plain frame and, made
// by its first compressing writer, the compressed one; its recipients
// write those bytes (one write each, which corkConn gathers with the rest
// of a batch) without compressing or allocating.
//
// Preparing a message costs about three compressions (gorilla makes both
// frames on a connection of its own, with buffers of its own), so it is
// done only for a packet queued for at least minSharedRecipients
// sessions; one for fewer (a room of one, as to(socket.id)) is written as
// an unmarked packet, at the cost it had.
type sharedFrames struct {
	// recipients counts the WebSocket sessions that queued the packet
	// (polling ones never write it as a frame). A broadcast's packets
	// wait for the batcher (SendDeferred), so by the first write every
	// recipient has usually counted.
	recipients atomic.Int32
	mu         sync.Mutex // held while a message is made
	pm         [frameKinds]atomic.Pointer[websocket.PreparedMessage]
}

// minSharedRecipients is the fewest recipients for which a marked packet
// is prepared (see sharedFrames).
const minSharedRecipients = 4

// countRecipient counts a WebSocket session that queued packets, for
// those marked.
func countRecipient(packets []Packet) {
	for i := range packets {
		if f := packets[i].shared; f != nil {
			f.recipients.Add(1)
		}
	}
}

// The forms a packet takes in a WebSocket message.
const (
	frameText     = iota // a text packet: the type digit and the data
	frameBinary          // v4 binary: the data
	frameBinaryV3        // v3 binary: the type byte and the data
	frameBase64          // v3 binary, base64 on the WebSocket: "b", the type digit and the base64
	frameKinds
)

// frameKind returns the form p takes on a session of protocol proto (b64:
// a v3 session that asked for binary as base64), the message type and the
// message's length, as writeEach would write it.
func frameKind(p *Packet, proto uint8, b64 bool) (kind, mt, n int) {
	switch {
	case !p.Binary:
		return frameText, websocket.TextMessage, 1 + len(p.Data)
	case proto == 4:
		return frameBinary, websocket.BinaryMessage, len(p.Data)
	case b64:
		return frameBase64, websocket.TextMessage, 2 + base64.StdEncoding.EncodedLen(len(p.Data))
	default:
		return frameBinaryV3, websocket.BinaryMessage, 1 + len(p.Data)
	}
}

// appendFrame appends the message of p in form kind.
func appendFrame(b []byte, p *Packet, kind int) []byte {
	switch kind {
	case frameText:
		return append(append(b, typeDigits[p.Type]), p.Data...)
	case frameBinary:
		return append(b, p.Data...)
	case frameBase64:
		return appendPacketText(b, *p, 3)
	default:
		return append(append(b, typeBytes[p.Type]), p.Data...)
	}
}

// sharedMessage returns the prepared message for writing p on a session
// of protocol proto, when p is marked (Share), its message is at least
// deflateMin bytes (0: compression off) and it has enough recipients (see
// sharedFrames); nil otherwise, or if gorilla could not prepare it, and p
// is then written as an unmarked packet.
func sharedMessage(p *Packet, proto uint8, b64 bool, deflateMin int) *websocket.PreparedMessage {
	f := p.shared
	if f == nil || deflateMin == 0 {
		return nil
	}
	kind, mt, n := frameKind(p, proto, b64)
	if n < deflateMin {
		return nil
	}
	if pm := f.pm[kind].Load(); pm != nil {
		return pm
	}
	if f.recipients.Load() < minSharedRecipients {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if pm := f.pm[kind].Load(); pm != nil {
		return pm
	}
	bp := framePool.Get().(*[]byte)
	b := appendFrame((*bp)[:0], p, kind)
	// NewPreparedMessage copies b (into the plain frame it makes).
	pm, err := websocket.NewPreparedMessage(mt, b)
	if cap(b) <= maxPooledFrame {
		*bp = b[:0]
		framePool.Put(bp)
	}
	if err != nil {
		return nil
	}
	f.pm[kind].Store(pm)
	return pm
}

// writePrepared writes pm, compressed if the connection negotiated
// permessage-deflate (see writeMessage), plain otherwise.
func writePrepared(conn *websocket.Conn, pm *websocket.PreparedMessage) error {
	conn.EnableWriteCompression(true)
	err := conn.WritePreparedMessage(pm)
	conn.EnableWriteCompression(false)
	return err
}
