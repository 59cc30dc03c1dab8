package redis

import (
	"encoding/json"
	"strconv"

	"github.com/iobridge/iobridge/internal/jsonstr"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// clusterMessage is a ClusterAdapter message; data's fields are the union
// of every type's.
type clusterMessage struct {
	UID  string       `json:"uid"`
	Nsp  string       `json:"nsp"`
	Type int          `json:"type"`
	Data *clusterData `json:"data"`
}

type clusterData struct {
	Opts        *wireOpts       `json:"opts"`
	Packet      json.RawMessage `json:"packet"`
	RequestID   *string         `json:"requestId"`
	Rooms       roomList        `json:"rooms"`
	Close       bool            `json:"close"`
	Sockets     json.RawMessage `json:"sockets"`
	ClientCount *float64        `json:"clientCount"`
}

func (a *sharded) receive(kind int, channel string, payload []byte) {
	js, atts, err := decodeMessage(payload)
	if err != nil {
		a.bad(channel, err)
		return
	}
	var m clusterMessage
	if err := json.Unmarshal(js, &m); err != nil {
		a.bad(channel, err)
		return
	}
	if m.Data == nil {
		m.Data = &clusterData{}
	}
	if kind == kindResponse {
		a.onResponse(&m, atts)
		return
	}
	if m.UID == a.uid || m.Nsp != a.name {
		return
	}
	a.onMessage(channel, &m, atts, "")
}

func (a *sharded) bad(channel string, err error) {
	a.logger().Warn("redis: message from another node dropped", "channel", channel, "err", err)
}

// onMessage handles another node's message; offset is its stream entry
// id (streams mode), "" otherwise.
func (a *sharded) onMessage(channel string, m *clusterMessage, atts [][]byte, offset string) {
	d := m.Data
	reqID := ""
	if d.RequestID != nil {
		reqID = *d.RequestID
	}
	switch m.Type {
	case msgBroadcast:
		if d.Opts == nil {
			a.bad(channel, errBadMessage)
			return
		}
		var wp wirePacket
		if err := json.Unmarshal(d.Packet, &wp); err != nil {
			a.bad(channel, err)
			return
		}
		p, err := wp.packet(a.name, atts)
		if err != nil {
			a.bad(channel, err)
			return
		}
		if d.RequestID == nil {
			opts := d.Opts.options()
			if offset != "" && a.wantsOffset(p, d.Opts.Flags != nil && d.Opts.Flags.Volatile != nil) {
				p = withOffset(p, offset)
			}
			_ = a.Memory.Broadcast(p, opts)
			return
		}
		a.onBroadcastWithAck(m.UID, reqID, p, d.Opts)
	case msgSocketsJoin, msgSocketsLeave:
		if d.Opts == nil {
			return
		}
		if m.Type == msgSocketsJoin {
			joinLocal(a.nsp, d.Opts.options(), d.Rooms)
		} else {
			leaveLocal(a.nsp, d.Opts.options(), d.Rooms)
		}
	case msgDisconnectSockets:
		if d.Opts == nil {
			return
		}
		disconnectLocal(a.nsp, d.Opts.options(), d.Close)
	case msgFetchSockets:
		if d.Opts == nil {
			return
		}
		b, err := marshal(map[string]any{"requestId": reqID, "sockets": detailsLocal(a.nsp, d.Opts.options())})
		if err != nil {
			a.logger().Error("redis: answer not published", "err", err)
			return
		}
		a.respond(m.UID, msgFetchSocketsResponse, b, nil)
	case msgServerSideEmit:
		event, args, err := splitEvent(d.Packet)
		if err != nil {
			a.bad(channel, err)
			return
		}
		a.nsp.DispatchServerSideEmit(event, args)
		if d.RequestID != nil {
			// Answered once, with no value, as a Node server's handler
			// calling back with none: the requester completes.
			data := []byte(`{"requestId":`)
			data = jsonstr.Append(data, reqID)
			data = append(data, '}')
			a.respond(m.UID, msgServerSideEmitResponse, data, nil)
		}
	case msgBroadcastClientCount, msgBroadcastAck, msgFetchSocketsResponse, msgServerSideEmitResponse:
		a.onResponse(m, atts)
	}
}

// respond publishes an answer on the requester's private channel.
func (a *sharded) respond(requester string, typ int, data []byte, atts [][]byte) {
	a.send(a.channel+requester+"#", a.message(typ, data), atts)
}

func (a *sharded) onBroadcastWithAck(requester, id string, p *socketio.Packet, wo *wireOpts) {
	p.ID, p.HasID = a.nsp.NextAckID(), true
	hooks := &socketio.BroadcastAck{
		ClientCount: func(n int) {
			data := []byte(`{"requestId":`)
			data = jsonstr.Append(data, id)
			data = append(data, `,"clientCount":`...)
			data = strconv.AppendInt(data, int64(n), 10)
			data = append(data, '}')
			a.respond(requester, msgBroadcastClientCount, data, nil)
		},
		Recipient: func(string) {},
		Ack: func(_ string, args []json.RawMessage, atts [][]byte, err error) {
			if err != nil {
				return
			}
			data := []byte(`{"requestId":`)
			data = jsonstr.Append(data, id)
			if arg := firstArg(args); arg != nil {
				data = append(data, `,"packet":`...)
				data = append(data, arg...)
			}
			data = append(data, '}')
			a.respond(requester, msgBroadcastAck, data, atts)
		},
	}
	_ = a.Memory.BroadcastWithAck(p, wo.options(), hooks)
}

func (a *sharded) onResponse(m *clusterMessage, atts [][]byte) {
	d := m.Data
	if d.RequestID == nil {
		return
	}
	id := *d.RequestID
	switch m.Type {
	case msgBroadcastClientCount:
		if acks := a.pend.ack(id); acks != nil {
			n := 0
			if d.ClientCount != nil {
				n = int(*d.ClientCount)
			}
			acks.ClientCount(n)
		}
	case msgBroadcastAck:
		if acks := a.pend.ack(id); acks != nil {
			var args []json.RawMessage
			if len(d.Packet) > 0 {
				args = []json.RawMessage{d.Packet}
			}
			acks.Ack("", args, atts, nil)
		}
	case msgFetchSocketsResponse:
		a.pend.answer(id, func(q *request) {
			var sockets []wireSocket
			if json.Unmarshal(d.Sockets, &sockets) != nil {
				return
			}
			for i := range sockets {
				q.sockets = append(q.sockets, sockets[i].info())
			}
		})
	case msgServerSideEmitResponse:
		a.pend.answer(id, nil)
	}
}
