package redis

// What a classic adapter receives: other nodes' broadcasts (and the
// emitter's), requests, and answers to its own requests.

import (
	"bytes"
	"encoding/json"

	"github.com/iobridge/iobridge/internal/jsonstr"
	"github.com/iobridge/iobridge/proxy/socketio"
)

func (a *classic) receive(kind int, channel string, payload []byte) {
	switch kind {
	case kindBroadcast:
		a.onBroadcast(channel, payload)
	case kindRequest:
		a.onRequest(payload)
	case kindResponse:
		a.onResponse(payload)
	}
}

// onBroadcast delivers another node's broadcast to this node's sockets.
func (a *classic) onBroadcast(channel string, payload []byte) {
	if channel != a.channel {
		if len(channel) <= len(a.channel) || channel[len(channel)-1] != '#' {
			return
		}
		if room := channel[len(a.channel) : len(channel)-1]; !a.HasRoom(room) {
			return
		}
	}
	if bytes.HasPrefix(payload, a.ownPrefix) {
		return
	}
	js, atts, err := decodeMessage(payload)
	if err != nil {
		a.bad(channel, err)
		return
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(js, &parts); err != nil || len(parts) < 3 {
		a.bad(channel, errBadMessage)
		return
	}
	var (
		uid  string
		wp   wirePacket
		opts wireOpts
	)
	if json.Unmarshal(parts[0], &uid) != nil || json.Unmarshal(parts[1], &wp) != nil || json.Unmarshal(parts[2], &opts) != nil {
		a.bad(channel, errBadMessage)
		return
	}
	if uid == a.uid {
		return
	}
	if wp.Nsp == "" {
		wp.Nsp = "/"
	}
	if wp.Nsp != a.name {
		return
	}
	p, err := wp.packet(a.name, atts)
	if err != nil {
		a.bad(channel, err)
		return
	}
	_ = a.Memory.Broadcast(p, opts.options())
}

func (a *classic) bad(channel string, err error) {
	a.logger().Warn("redis: message from another node dropped", "channel", channel, "err", err)
}

// classicRequest is any message on the request channel.
type classicRequest struct {
	UID       string          `json:"uid"`
	RequestID *string         `json:"requestId"`
	Type      int             `json:"type"`
	Rooms     roomList        `json:"rooms"`
	Opts      *wireOpts       `json:"opts"`
	Close     bool            `json:"close"`
	Data      json.RawMessage `json:"data"`
	Packet    *wirePacket     `json:"packet"`
	// Legacy (adapter 7.x) single-socket requests.
	SID  string          `json:"sid"`
	Room json.RawMessage `json:"room"`
}

func (a *classic) onRequest(payload []byte) {
	js, atts, err := decodeMessage(payload)
	if err != nil {
		a.bad(a.requestChannel, err)
		return
	}
	var r classicRequest
	if err := json.Unmarshal(js, &r); err != nil {
		a.bad(a.requestChannel, err)
		return
	}
	reqID := ""
	if r.RequestID != nil {
		reqID = *r.RequestID
	}
	own := r.UID == a.uid || (reqID != "" && a.pend.has(reqID))
	switch r.Type {
	case reqSockets:
		if own {
			return
		}
		ids := []string{}
		for _, s := range a.nsp.LocalSockets(&socketio.BroadcastOptions{Rooms: r.Rooms}) {
			ids = append(ids, s.ID())
		}
		a.respond(map[string]any{"requestId": reqID, "sockets": ids})
	case reqAllRooms:
		if own {
			return
		}
		a.respond(map[string]any{"requestId": reqID, "rooms": a.RoomNames()})
	case reqRemoteJoin, reqRemoteLeave:
		if r.Opts != nil {
			if own {
				return // applied when it was asked
			}
			if r.Type == reqRemoteJoin {
				joinLocal(a.nsp, r.Opts.options(), r.Rooms)
			} else {
				leaveLocal(a.nsp, r.Opts.options(), r.Rooms)
			}
			return
		}
		s := a.nsp.Socket(r.SID)
		if s == nil {
			return
		}
		var room string
		if err := json.Unmarshal(r.Room, &room); err != nil {
			return
		}
		if r.Type == reqRemoteJoin {
			s.Join(room)
		} else {
			s.Leave(room)
		}
		a.respond(map[string]any{"requestId": reqID})
	case reqRemoteDisconnect:
		if r.Opts != nil {
			if own {
				return
			}
			disconnectLocal(a.nsp, r.Opts.options(), r.Close)
			return
		}
		if s := a.nsp.Socket(r.SID); s != nil {
			s.Disconnect(r.Close)
			a.respond(map[string]any{"requestId": reqID})
		}
	case reqRemoteFetch:
		if own || r.Opts == nil {
			return
		}
		a.respond(map[string]any{"requestId": reqID, "sockets": detailsLocal(a.nsp, r.Opts.options())})
	case reqServerSideEmit:
		if r.UID == a.uid {
			return
		}
		event, args, err := splitEvent(r.Data)
		if err != nil {
			a.bad(a.requestChannel, err)
			return
		}
		a.nsp.DispatchServerSideEmit(event, args)
		if r.RequestID != nil {
			// Answered once, with no value, as a Node server's handler
			// calling back with none: the requester completes.
			a.respond(map[string]any{"type": reqServerSideEmit, "requestId": reqID})
		}
	case reqBroadcast:
		if own || r.Packet == nil || r.Opts == nil {
			return
		}
		a.onBroadcastWithAck(reqID, r.Packet, atts, r.Opts)
	}
}

// onBroadcastWithAck delivers another node's broadcast expecting acks and
// answers its client count (even 0), then each ack.
func (a *classic) onBroadcastWithAck(id string, wp *wirePacket, atts [][]byte, wo *wireOpts) {
	p, err := wp.packet(a.name, atts)
	if err != nil {
		a.bad(a.requestChannel, err)
		return
	}
	p.ID, p.HasID = a.nsp.NextAckID(), true
	hooks := &socketio.BroadcastAck{
		ClientCount: func(n int) {
			a.respond(map[string]any{"type": reqBroadcastClientCount, "requestId": id, "clientCount": n})
		},
		Recipient: func(string) {},
		Ack: func(_ string, args []json.RawMessage, atts [][]byte, err error) {
			if err != nil {
				return
			}
			msg := []byte(`{"type":9,"requestId":`)
			msg = jsonstr.Append(msg, id)
			if arg := firstArg(args); arg != nil {
				msg = append(msg, `,"packet":`...)
				msg = append(msg, arg...)
			}
			msg = append(msg, '}')
			a.send(a.responseChannel, msg, atts, true)
		},
	}
	opts := wo.options()
	opts.Flags.Volatile = false // receivers take rooms and except only
	_ = a.Memory.BroadcastWithAck(p, opts, hooks)
}

// respond publishes a JSON answer on the common response channel, where
// every classic requester listens.
func (a *classic) respond(v map[string]any) {
	msg, err := marshal(v)
	if err != nil {
		a.logger().Error("redis: answer not published", "err", err)
		return
	}
	a.send(a.responseChannel, msg, nil, false)
}

// classicResponse is any message on the response channels.
type classicResponse struct {
	Type        *int            `json:"type"`
	RequestID   string          `json:"requestId"`
	Sockets     json.RawMessage `json:"sockets"`
	Rooms       json.RawMessage `json:"rooms"`
	ClientCount *float64        `json:"clientCount"`
	Packet      json.RawMessage `json:"packet"`
}

func (a *classic) onResponse(payload []byte) {
	js, atts, err := decodeMessage(payload)
	if err != nil {
		a.bad(a.responseChannel, err)
		return
	}
	var r classicResponse
	if err := json.Unmarshal(js, &r); err != nil {
		a.bad(a.responseChannel, err)
		return
	}
	if acks := a.pend.ack(r.RequestID); acks != nil && r.Type != nil {
		switch *r.Type {
		case reqBroadcastClientCount:
			n := 0
			if r.ClientCount != nil {
				n = int(*r.ClientCount)
			}
			acks.ClientCount(n)
		case reqBroadcastAck:
			var args []json.RawMessage
			if len(r.Packet) > 0 {
				args = []json.RawMessage{r.Packet}
			}
			acks.Ack("", args, atts, nil)
		}
		return
	}
	a.pend.answer(r.RequestID, func(q *request) {
		switch q.typ {
		case reqRemoteFetch:
			var sockets []wireSocket
			if err := json.Unmarshal(r.Sockets, &sockets); err != nil {
				return
			}
			for i := range sockets {
				q.sockets = append(q.sockets, sockets[i].info())
			}
		case reqAllRooms:
			var rooms roomList
			if json.Unmarshal(r.Rooms, &rooms) == nil {
				q.rooms = append(q.rooms, rooms...)
			}
		}
	})
}
