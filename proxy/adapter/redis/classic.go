package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// Request types of @socket.io/redis-adapter's classic protocol.
const (
	reqSockets = iota
	reqAllRooms
	reqRemoteJoin
	reqRemoteLeave
	reqRemoteDisconnect
	reqRemoteFetch
	reqServerSideEmit
	reqBroadcast
	reqBroadcastClientCount
	reqBroadcastAck
)

// What arrives on a channel.
const (
	kindBroadcast = iota // classic: P#N#[room#] (pattern)
	kindRequest          // classic: P-request#N#
	kindResponse         // P-response#N#[uid#]; sharded: P#N#uid#
	kindMessage          // sharded: P#N# and dynamic room channels
)

// classic is one namespace's adapter speaking @socket.io/redis-adapter's
// createAdapter protocol: broadcasts are notepack arrays [uid, packet,
// opts] PUBLISHed on P#N# (P#N#room# for exactly one room) and received
// through PSUBSCRIBE P#N#*; requests go to P-request#N#, answers to the
// common P-response#N#.
type classic struct {
	*adapter.Memory
	c         *Cluster
	nsp       *socketio.Namespace
	name      string
	uid       string
	ownPrefix []byte // how this adapter's own broadcasts start

	channel, requestChannel, responseChannel, specificChannel string

	pend   *requests
	closed atomic.Bool
}

var (
	_ socketio.Adapter           = (*classic)(nil)
	_ socketio.SocketFetcher     = (*classic)(nil)
	_ socketio.ServerSideEmitter = (*classic)(nil)
	_ socketio.ServerCounter     = (*classic)(nil)
	_ socketio.Closer            = (*classic)(nil)
	_ socketio.Initializer       = (*classic)(nil)
)

func newClassic(c *Cluster, nsp *socketio.Namespace) *classic {
	name := nsp.Name()
	a := &classic{
		Memory:          adapter.NewMemory(nsp, c.cfg.Memory),
		c:               c,
		nsp:             nsp,
		name:            name,
		uid:             uid2(6),
		channel:         c.cfg.KeyPrefix + "#" + name + "#",
		requestChannel:  c.cfg.KeyPrefix + "-request#" + name + "#",
		responseChannel: c.cfg.KeyPrefix + "-response#" + name + "#",
		pend:            newRequests(),
	}
	a.specificChannel = a.responseChannel + a.uid + "#"
	// msgpack: fixarray of 3, then the uid as a fixstr.
	a.ownPrefix = append([]byte{0x93, 0xa0 | byte(len(a.uid))}, a.uid...)
	return a
}

// Init implements socketio.Initializer: the namespace's channels are
// subscribed once it is ready to receive.
func (a *classic) Init() {
	a.c.subscribe("subscribe", a, map[string]int{
		a.requestChannel:  kindRequest,
		a.responseChannel: kindResponse,
		a.specificChannel: kindResponse,
	})
	a.c.subscribe("psubscribe", a, map[string]int{a.channel + "*": kindBroadcast})
}

func (a *classic) logger() *slog.Logger { return a.nsp.Logger() }

// Broadcast implements socketio.Adapter: published unless local, then
// delivered to this node's sockets.
func (a *classic) Broadcast(p *socketio.Packet, opts *socketio.BroadcastOptions) error {
	if !opts.Flags.Local {
		msg := make([]byte, 0, 64+len(p.Data)+len(a.name))
		msg = append(msg, '[')
		msg = appendString(msg, a.uid)
		msg = append(msg, ',')
		msg = appendPacket(msg, p, a.name)
		msg = append(msg, ',')
		msg = appendOpts(msg, opts, true, false)
		msg = append(msg, ']')
		channel := a.channel
		if len(opts.Rooms) == 1 {
			channel += opts.Rooms[0] + "#"
		}
		a.send(channel, msg, p.Attachments, true)
	}
	return a.Memory.Broadcast(p, opts)
}

// send encodes and queues a message; a message that cannot be encoded is
// logged (it is delivered locally all the same).
func (a *classic) send(channel string, msg []byte, atts [][]byte, msgpack bool) {
	payload, err := encodeMessage(msg, atts, msgpack)
	if err != nil {
		a.logger().Error("redis: message not published: it cannot be encoded", "channel", channel, "err", err)
		return
	}
	a.c.publish(channel, payload, false)
}

// BroadcastWithAck implements socketio.Adapter: the other nodes answer
// with their client count, then each ack.
func (a *classic) BroadcastWithAck(p *socketio.Packet, opts *socketio.BroadcastOptions, acks *socketio.BroadcastAck) error {
	if !opts.Flags.Local {
		id := uid2(6)
		a.pend.addAck(id, acks, ackKeep(opts, a.c.cfg.RequestTimeout))
		msg := make([]byte, 0, 128+len(p.Data))
		msg = append(msg, `{"uid":`...)
		msg = appendString(msg, a.uid)
		msg = append(msg, `,"requestId":`...)
		msg = appendString(msg, id)
		msg = append(msg, `,"type":7,"packet":`...)
		msg = appendPacket(msg, p, a.name)
		msg = append(msg, `,"opts":`...)
		msg = appendOpts(msg, opts, true, true)
		msg = append(msg, '}')
		a.send(a.requestChannel, msg, p.Attachments, true)
	}
	return a.Memory.BroadcastWithAck(p, opts, acks)
}

// ackKeep is how long acks from other nodes are awaited: the broadcast's
// timeout, or the request timeout without one.
func ackKeep(opts *socketio.BroadcastOptions, def time.Duration) time.Duration {
	if d := opts.Flags.Timeout; d > 0 {
		return d + time.Second
	}
	return max(def, 2*time.Minute)
}

// ServerCount implements socketio.ServerCounter: the request channel's
// subscribers, one per node serving the namespace.
func (a *classic) ServerCount(ctx context.Context) (int, error) {
	return a.c.numSub(ctx, a.requestChannel, false), nil
}

// FetchSockets implements socketio.SocketFetcher.
func (a *classic) FetchSockets(ctx context.Context, opts *socketio.BroadcastOptions) ([]socketio.SocketInfo, error) {
	out := infosLocal(a.nsp, opts)
	if opts.Flags.Local {
		return out, nil
	}
	n := a.c.numSub(ctx, a.requestChannel, false)
	if n <= 1 {
		return out, nil
	}
	id := uid2(6)
	q := a.pend.add(id, reqRemoteFetch, n-1)
	msg := []byte(`{"uid":`)
	msg = appendString(msg, a.uid)
	msg = append(msg, `,"requestId":`...)
	msg = appendString(msg, id)
	msg = append(msg, `,"type":5,"opts":`...)
	msg = appendOpts(msg, opts, false, false)
	msg = append(msg, '}')
	a.send(a.requestChannel, msg, nil, false)
	err := a.pend.wait(ctx, a.c, id, q, requestTimeout(opts, a.c.cfg.RequestTimeout))
	return append(out, q.sockets...), err
}

func requestTimeout(opts *socketio.BroadcastOptions, def time.Duration) time.Duration {
	if d := opts.Flags.Timeout; d > 0 {
		return d
	}
	return def
}

// AddSockets implements socketio.SocketFetcher: applied here, and asked of
// the other nodes.
func (a *classic) AddSockets(_ context.Context, opts *socketio.BroadcastOptions, rooms []string) error {
	joinLocal(a.nsp, opts, rooms)
	if !opts.Flags.Local {
		a.remote(reqRemoteJoin, opts, rooms, false)
	}
	return nil
}

// DelSockets implements socketio.SocketFetcher.
func (a *classic) DelSockets(_ context.Context, opts *socketio.BroadcastOptions, rooms []string) error {
	leaveLocal(a.nsp, opts, rooms)
	if !opts.Flags.Local {
		a.remote(reqRemoteLeave, opts, rooms, false)
	}
	return nil
}

// DisconnectSockets implements socketio.SocketFetcher.
func (a *classic) DisconnectSockets(_ context.Context, opts *socketio.BroadcastOptions, close bool) error {
	disconnectLocal(a.nsp, opts, close)
	if !opts.Flags.Local {
		a.remote(reqRemoteDisconnect, opts, nil, close)
	}
	return nil
}

// remote publishes a join, leave or disconnect request.
func (a *classic) remote(typ int, opts *socketio.BroadcastOptions, rooms []string, close bool) {
	msg := []byte(`{"uid":`)
	msg = appendString(msg, a.uid)
	msg = append(msg, `,"type":`...)
	msg = strconv.AppendInt(msg, int64(typ), 10)
	msg = append(msg, `,"opts":`...)
	msg = appendOpts(msg, opts, false, false)
	if typ == reqRemoteDisconnect {
		msg = append(msg, `,"close":`...)
		msg = strconv.AppendBool(msg, close)
	} else {
		msg = append(msg, `,"rooms":`...)
		msg = appendStrings(msg, rooms)
	}
	msg = append(msg, '}')
	a.send(a.requestChannel, msg, nil, false)
}

// ServerSideEmit implements socketio.ServerSideEmitter.
func (a *classic) ServerSideEmit(_ context.Context, event string, args []json.RawMessage) error {
	msg := []byte(`{"uid":`)
	msg = appendString(msg, a.uid)
	msg = append(msg, `,"type":6,"data":`...)
	msg = socketio.AppendEventData(msg, event, args)
	msg = append(msg, '}')
	a.send(a.requestChannel, msg, nil, false)
	return nil
}

// Close implements socketio.Closer: the namespace's channels are left.
func (a *classic) Close() error {
	if !a.closed.CompareAndSwap(false, true) {
		return nil
	}
	a.c.unsubscribe("subscribe", a, a.requestChannel, a.responseChannel, a.specificChannel)
	a.c.unsubscribe("psubscribe", a, a.channel+"*")
	return nil
}

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
			msg = appendString(msg, id)
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
