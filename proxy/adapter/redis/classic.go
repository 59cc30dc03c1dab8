package redis

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/iobridge/iobridge/internal/jsonstr"
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
		msg = jsonstr.Append(msg, a.uid)
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
		msg = jsonstr.Append(msg, a.uid)
		msg = append(msg, `,"requestId":`...)
		msg = jsonstr.Append(msg, id)
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
	msg = jsonstr.Append(msg, a.uid)
	msg = append(msg, `,"requestId":`...)
	msg = jsonstr.Append(msg, id)
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
	msg = jsonstr.Append(msg, a.uid)
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
	msg = jsonstr.Append(msg, a.uid)
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
