package adminui

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/iobridge/iobridge/proxy/engineio"
	"github.com/iobridge/iobridge/proxy/socketio"
)

var _ socketio.Observer = (*observer)(nil)

// socketUpdate is socket_updated's payload: a socket's new data or its
// new transport.
type socketUpdate struct {
	ID        string          `json:"id"`
	Nsp       string          `json:"nsp"`
	Data      json.RawMessage `json:"data,omitempty"`
	Transport string          `json:"transport,omitempty"`
}

// observer turns what the server reports into the package's counts (both
// modes) and, in development mode, into its events, as the package's
// engine, adapter, onAny and onAnyOutgoing listeners do.
type observer struct {
	ui  *ui
	now func() time.Time

	pollMu  sync.Mutex
	polling map[socketio.Conn]struct{} // connections on long-polling

	sentMu   sync.Mutex
	sentLast *engineio.Packet // the broadcast decoded last, see sentEvent
	sentData json.RawMessage
	sentAtts [][]byte
}

func newObserver(u *ui) *observer {
	return &observer{ui: u, now: time.Now, polling: make(map[socketio.Conn]struct{})}
}

// pollingCount is server_stats' pollingClientsCount.
func (o *observer) pollingCount() int {
	o.pollMu.Lock()
	defer o.pollMu.Unlock()
	return len(o.polling)
}

func (o *observer) ConnOpened(c socketio.Conn, transport string) {
	o.ui.events.push(o.now(), "rawConnection", "", 1)
	if transport == "polling" {
		o.pollMu.Lock()
		o.polling[c] = struct{}{}
		o.pollMu.Unlock()
	}
}

func (o *observer) ConnUpgraded(c socketio.Conn, transport string) {
	if transport != "polling" {
		o.pollMu.Lock()
		delete(o.polling, c)
		o.pollMu.Unlock()
	}
}

func (o *observer) ConnClosed(c socketio.Conn, reason engineio.CloseReason) {
	o.ui.events.push(o.now(), "rawDisconnection", string(reason), 1)
	o.pollMu.Lock()
	delete(o.polling, c)
	o.pollMu.Unlock()
}

func (o *observer) Received(_ socketio.Conn, data []byte, _ bool) {
	o.ui.events.countPackets(true, 1, len(data))
}

func (o *observer) Sent(_ socketio.Conn, s *socketio.Socket, pkts []engineio.Packet) {
	n := 0
	for _, p := range pkts {
		n += len(p.Data)
	}
	o.ui.events.countPackets(false, len(pkts), n)
	if s == nil || !o.ui.dev || s.Namespace() == o.ui.nsp || len(pkts) == 0 {
		return
	}
	data, atts, ok := o.sentEvent(pkts)
	if !ok {
		return
	}
	o.ui.out.emit("event_sent", atts, mustJSON(s.Namespace().Name()), mustJSON(s.ID()), data, jsDate(o.now()))
}

// sentEvent decodes the event in pkts: its JSON array [event, ...args]
// and its attachments; false for a packet that is not an event. A
// broadcast reaches Sent once per recipient with the same slice, so the
// last one decoded is kept (the slice is immutable once queued).
func (o *observer) sentEvent(pkts []engineio.Packet) (json.RawMessage, [][]byte, bool) {
	first := &pkts[0]
	o.sentMu.Lock()
	defer o.sentMu.Unlock()
	if o.sentLast == first {
		return o.sentData, o.sentAtts, o.sentData != nil
	}
	o.sentLast, o.sentData, o.sentAtts = first, nil, nil
	p, atts := decodeSent(pkts)
	if p == nil || (p.Type != socketio.PacketEvent && p.Type != socketio.PacketBinaryEvent) {
		return nil, nil, false
	}
	o.sentData, o.sentAtts = p.Data, atts
	return p.Data, atts, true
}

// decodeSent decodes the packet written as pkts, nil if it cannot: in
// the default format a text message and one binary message per
// attachment; with the msgpack parser, which the default format never
// starts with, one binary message.
func decodeSent(pkts []engineio.Packet) (*socketio.Packet, [][]byte) {
	first := pkts[0]
	if first.Binary {
		p, err := msgpack.Decode(first.Data, true)
		if err != nil || p == nil {
			return nil, nil
		}
		return p, p.Attachments
	}
	p, n, err := socketio.DecodeText(first.Data, len(pkts))
	if err != nil {
		return nil, nil
	}
	var atts [][]byte
	for i := 1; i <= n && i < len(pkts); i++ {
		atts = append(atts, pkts[i].Data)
	}
	return p, atts
}

// msgpack decodes what a server with the msgpack parser writes.
var msgpack = socketio.MsgpackParser()

func (o *observer) SocketConnected(s *socketio.Socket) {
	if !o.ui.dev {
		return
	}
	info := serializeLocal(s)
	o.ui.out.emit("socket_connected", nil, mustJSON(info), jsDate(o.now()))
	nsp, id := s.Namespace().Name(), s.ID()
	updated := func(transport string) {
		o.ui.out.emit("socket_updated", nil, mustJSON(socketUpdate{ID: id, Nsp: nsp, Transport: transport}))
	}
	s.OnUpgrade(updated)
	// An upgrade that completed between the description above and
	// OnUpgrade would go untold.
	if t := s.Transport(); t != info.Transport {
		updated(t)
	}
}

func (o *observer) SocketDisconnected(s *socketio.Socket, reason socketio.DisconnectReason) {
	if !o.ui.dev {
		return
	}
	o.ui.out.emit("socket_disconnected", nil, mustJSON(s.Namespace().Name()), mustJSON(s.ID()), mustJSON(string(reason)), jsDate(o.now()))
}

func (o *observer) RoomJoined(s *socketio.Socket, room string) {
	if !o.ui.dev {
		return
	}
	o.ui.out.emit("room_joined", nil, mustJSON(s.Namespace().Name()), mustJSON(room), mustJSON(s.ID()), jsDate(o.now()))
}

func (o *observer) RoomLeft(s *socketio.Socket, room string) {
	if !o.ui.dev {
		return
	}
	o.ui.out.emit("room_left", nil, mustJSON(s.Namespace().Name()), mustJSON(room), mustJSON(s.ID()), jsDate(o.now()))
}

func (o *observer) EventReceived(s *socketio.Socket, e socketio.Event) {
	if !o.ui.dev || s.Namespace() == o.ui.nsp {
		return
	}
	// Args alias the received message: AppendEventData copies them.
	args := socketio.AppendEventData(nil, e.Name, e.Args)
	var atts [][]byte
	for _, a := range e.Attachments {
		atts = append(atts, append([]byte(nil), a...))
	}
	o.ui.out.emit("event_received", atts, mustJSON(s.Namespace().Name()), mustJSON(s.ID()), args, jsDate(o.now()))
}

func (o *observer) DataSet(s *socketio.Socket) {
	if !o.ui.dev || !s.Connected() {
		return
	}
	data, _ := splitData(s.Data())
	o.ui.out.emit("socket_updated", nil, mustJSON(socketUpdate{ID: s.ID(), Nsp: s.Namespace().Name(), Data: data}))
}
