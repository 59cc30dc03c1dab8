package redis

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/iobridge/iobridge/internal/jsonstr"
	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// Message types of socket.io-adapter's ClusterAdapter, which the sharded
// adapter speaks (and, in the streams adapter, the stream entries).
const (
	msgInitialHeartbeat = iota + 1
	msgHeartbeat
	msgBroadcast
	msgSocketsJoin
	msgSocketsLeave
	msgDisconnectSockets
	msgFetchSockets
	msgFetchSocketsResponse
	msgServerSideEmit
	msgServerSideEmitResponse
	msgBroadcastClientCount
	msgBroadcastAck
	msgAdapterClose
)

// sharded is one namespace's adapter speaking socket.io-adapter's
// ClusterAdapter protocol: messages {uid, nsp, type, data}; the requester
// applies its own requests locally and ignores their echo. Two transports
// carry them (see post and respond):
//   - sharded (createShardedAdapter): SPUBLISHed on P#N# (or a room's
//     P#N#room# in the dynamic modes), answers on the requester's
//     P#N#uid#; JSON unless the message carries binary (then notepack);
//   - streams (@socket.io/redis-streams-adapter 0.3): what every node must
//     get is XADDed to the stream (streams.go), ephemeral messages are
//     PUBLISHed on P#N#, answers on P#N#uid#, in msgpack; with recovery
//     on, offsets are stream entry ids and sessions live in Redis.
type sharded struct {
	*adapter.Memory
	c       *Cluster
	nsp     *socketio.Namespace
	name    string
	uid     string
	channel string // P#N#
	private string // P#N#uid#
	streams bool
	stream  string // streams mode: this namespace's stream
	pend    *requests
	closed  atomic.Bool

	// Dynamic room channels to subscribe (true) or leave (false), applied
	// by subLoop in the order rooms come and go.
	subMu   sync.Mutex
	want    map[string]bool
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{} // closed when subLoop has returned
}

var (
	_ socketio.Adapter           = (*sharded)(nil)
	_ socketio.SocketFetcher     = (*sharded)(nil)
	_ socketio.ServerSideEmitter = (*sharded)(nil)
	_ socketio.ServerCounter     = (*sharded)(nil)
	_ socketio.Closer            = (*sharded)(nil)
	_ socketio.Initializer       = (*sharded)(nil)
	_ socketio.SessionStore      = (*sharded)(nil)
)

func newSharded(c *Cluster, nsp *socketio.Namespace) *sharded {
	name := nsp.Name()
	a := &sharded{
		c:       c,
		nsp:     nsp,
		name:    name,
		uid:     randomID(8),
		streams: c.cfg.Mode == ModeStreams,
		channel: c.cfg.KeyPrefix + "#" + name + "#",
		pend:    newRequests(),
		want:    make(map[string]bool),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	a.private = a.channel + a.uid + "#"
	if a.streams {
		a.stream = c.streamName(name)
	}
	mopts := c.cfg.Memory
	if a.streams {
		// Offsets are entry ids and sessions live in Redis.
		mopts.NoRecoveryStore = true
	} else if c.cfg.SubscriptionMode != SubscribeStatic {
		mopts.OnRoom = a.onRoom
		go a.subLoop()
	}
	a.Memory = adapter.NewMemory(nsp, mopts)
	return a
}

// Init implements socketio.Initializer.
func (a *sharded) Init() {
	if a.streams {
		a.c.read(a.c.ctx, a.stream)
		a.c.route(streamRoute(a.name), a, true)
		a.c.subscribe("subscribe", a, map[string]int{a.channel: kindMessage, a.private: kindResponse})
		return
	}
	a.c.subscribe("ssubscribe", a, map[string]int{a.channel: kindMessage, a.private: kindResponse})
}

// dynamic reports whether rooms get channels of their own.
func (a *sharded) dynamic() bool {
	return !a.streams && a.c.cfg.SubscriptionMode != SubscribeStatic
}

func (a *sharded) logger() *slog.Logger { return a.nsp.Logger() }

// onRoom is the in-memory adapter's create-room/delete-room: a public room
// (private too in dynamic-private) gets its own channel while it has
// members here.
func (a *sharded) onRoom(room string, created, isSocket bool) {
	if isSocket && a.c.cfg.SubscriptionMode == SubscribeDynamic {
		return
	}
	a.subMu.Lock()
	a.want[room] = created
	a.subMu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func (a *sharded) subLoop() {
	defer close(a.stopped)
	for {
		select {
		case <-a.done:
			return
		case <-a.kick:
		}
		a.subMu.Lock()
		want := a.want
		a.want = make(map[string]bool)
		a.subMu.Unlock()
		add := make(map[string]int)
		var del []string
		for room, on := range want {
			if on {
				add[a.channel+room+"#"] = kindMessage
			} else {
				del = append(del, a.channel+room+"#")
			}
		}
		if len(add) > 0 {
			a.c.subscribe("ssubscribe", a, add)
		}
		if len(del) > 0 {
			a.c.unsubscribe("ssubscribe", a, del...)
		}
	}
}

// looksLikeSocketID is the sharded adapter's test: socket ids are 20
// characters long.
func looksLikeSocketID(room string) bool { return len(room) == 20 }

// message returns {"uid","nsp","type","data":…} with data's fields.
func (a *sharded) message(typ int, data []byte) []byte {
	msg := make([]byte, 0, 64+len(a.name)+len(data))
	msg = append(msg, `{"uid":`...)
	msg = jsonstr.Append(msg, a.uid)
	msg = append(msg, `,"nsp":`...)
	msg = jsonstr.Append(msg, a.name)
	msg = append(msg, `,"type":`...)
	msg = strconv.AppendInt(msg, int64(typ), 10)
	if data != nil {
		msg = append(msg, `,"data":`...)
		msg = append(msg, data...)
	}
	return append(msg, '}')
}

// post sends a message to every other node: sharded, SPUBLISHed on
// channel; streams, XADDed unless ephemeral (then PUBLISHed on P#N#). With
// wait (streams only) it returns the entry id once Redis added it, ""
// when it was not.
func (a *sharded) post(channel string, typ int, data []byte, atts [][]byte, ephemeral, wait bool) string {
	if !a.streams {
		a.send(channel, a.message(typ, data), atts)
		return ""
	}
	if ephemeral {
		a.send(a.channel, a.message(typ, data), atts)
		return ""
	}
	fields, err := a.entryFields(typ, data, atts)
	if err != nil {
		a.logger().Error("redis: message not published: it cannot be encoded", "stream", a.stream, "err", err)
		return ""
	}
	return a.c.xadd(a.stream, fields, wait)
}

// send publishes a whole message: in the sharded mode, SPUBLISHed as JSON
// or notepack when it carries binary; in the streams mode, PUBLISHed as
// msgpack.
func (a *sharded) send(channel string, msg []byte, atts [][]byte) {
	payload, err := encodeMessage(msg, atts, a.streams)
	if err != nil {
		a.logger().Error("redis: message not published: it cannot be encoded", "channel", channel, "err", err)
		return
	}
	a.c.publish(channel, payload, !a.streams)
}

// Broadcast implements socketio.Adapter.
func (a *sharded) Broadcast(p *socketio.Packet, opts *socketio.BroadcastOptions) error {
	if !opts.Flags.Local {
		data := make([]byte, 0, 64+len(p.Data))
		data = append(data, `{"packet":`...)
		data = appendPacket(data, p, a.name)
		data = append(data, `,"opts":`...)
		data = appendOpts(data, opts, true, false)
		data = append(data, '}')
		channel := a.channel
		if len(opts.Rooms) == 1 && a.dynamic() {
			room := opts.Rooms[0]
			switch a.c.cfg.SubscriptionMode {
			case SubscribeDynamic:
				if !looksLikeSocketID(room) {
					channel += room + "#"
				}
			case SubscribeDynamicPrivate:
				channel += room + "#"
			}
		}
		// With recovery on, the entry id is known before the local
		// delivery, as Node awaits publishAndReturnOffset.
		wait := a.streams && a.wantsOffset(p, opts.Flags.Volatile)
		if offset := a.post(channel, msgBroadcast, data, p.Attachments, false, wait); offset != "" {
			p = withOffset(p, offset)
		}
	}
	return a.Memory.Broadcast(p, opts)
}

// BroadcastWithAck implements socketio.Adapter.
func (a *sharded) BroadcastWithAck(p *socketio.Packet, opts *socketio.BroadcastOptions, acks *socketio.BroadcastAck) error {
	if !opts.Flags.Local {
		id := randomID(8)
		a.pend.addAck(id, acks, ackKeep(opts, a.c.cfg.RequestTimeout))
		data := make([]byte, 0, 96+len(p.Data))
		data = append(data, `{"packet":`...)
		data = appendPacket(data, p, a.name)
		data = append(data, `,"requestId":`...)
		data = jsonstr.Append(data, id)
		data = append(data, `,"opts":`...)
		data = appendOpts(data, opts, true, true)
		data = append(data, '}')
		a.post(a.channel, msgBroadcast, data, p.Attachments, true, false)
	}
	return a.Memory.BroadcastWithAck(p, opts, acks)
}

// ServerCount implements socketio.ServerCounter.
func (a *sharded) ServerCount(ctx context.Context) (int, error) {
	return a.c.numSub(ctx, a.channel, !a.streams), nil
}

// FetchSockets implements socketio.SocketFetcher.
func (a *sharded) FetchSockets(ctx context.Context, opts *socketio.BroadcastOptions) ([]socketio.SocketInfo, error) {
	out := infosLocal(a.nsp, opts)
	if opts.Flags.Local {
		return out, nil
	}
	n := a.c.numSub(ctx, a.channel, !a.streams) - 1
	if n <= 0 {
		return out, nil
	}
	id := randomID(8)
	q := a.pend.add(id, msgFetchSockets, n)
	data := []byte(`{"opts":`)
	data = appendOpts(data, opts, true, true)
	data = append(data, `,"requestId":`...)
	data = jsonstr.Append(data, id)
	data = append(data, '}')
	a.post(a.channel, msgFetchSockets, data, nil, true, false)
	err := a.pend.wait(ctx, a.c, id, q, requestTimeout(opts, a.c.cfg.RequestTimeout))
	return append(out, q.sockets...), err
}

// AddSockets implements socketio.SocketFetcher.
func (a *sharded) AddSockets(_ context.Context, opts *socketio.BroadcastOptions, rooms []string) error {
	joinLocal(a.nsp, opts, rooms)
	if !opts.Flags.Local {
		a.remote(msgSocketsJoin, opts, rooms, false)
	}
	return nil
}

// DelSockets implements socketio.SocketFetcher.
func (a *sharded) DelSockets(_ context.Context, opts *socketio.BroadcastOptions, rooms []string) error {
	leaveLocal(a.nsp, opts, rooms)
	if !opts.Flags.Local {
		a.remote(msgSocketsLeave, opts, rooms, false)
	}
	return nil
}

// DisconnectSockets implements socketio.SocketFetcher.
func (a *sharded) DisconnectSockets(_ context.Context, opts *socketio.BroadcastOptions, close bool) error {
	disconnectLocal(a.nsp, opts, close)
	if !opts.Flags.Local {
		a.remote(msgDisconnectSockets, opts, nil, close)
	}
	return nil
}

func (a *sharded) remote(typ int, opts *socketio.BroadcastOptions, rooms []string, close bool) {
	data := []byte(`{"opts":`)
	data = appendOpts(data, opts, true, false)
	if typ == msgDisconnectSockets {
		data = append(data, `,"close":`...)
		data = strconv.AppendBool(data, close)
	} else {
		data = append(data, `,"rooms":`...)
		data = appendStrings(data, rooms)
	}
	data = append(data, '}')
	a.post(a.channel, typ, data, nil, false, false)
}

// ServerSideEmit implements socketio.ServerSideEmitter.
func (a *sharded) ServerSideEmit(_ context.Context, event string, args []json.RawMessage) error {
	data := []byte(`{"packet":`)
	data = socketio.AppendEventData(data, event, args)
	data = append(data, '}')
	a.post(a.channel, msgServerSideEmit, data, nil, true, false)
	return nil
}

// Close implements socketio.Closer.
func (a *sharded) Close() error {
	if !a.closed.CompareAndSwap(false, true) {
		return nil
	}
	if a.streams {
		a.c.route(streamRoute(a.name), a, false)
		a.c.unsubscribe("subscribe", a, a.channel, a.private)
		return nil
	}
	if a.c.cfg.SubscriptionMode != SubscribeStatic {
		// Once subLoop has returned nothing subscribes for this adapter
		// any more; every channel it is on is left, the room channels
		// of rooms already gone included (a namespace removed once
		// empty, CleanupEmptyChildNamespaces).
		close(a.done)
		<-a.stopped
	}
	a.c.unsubscribeAll("ssubscribe", a)
	return nil
}

// PersistSession implements socketio.SessionStore: in the streams mode in
// Redis, for any node to restore; otherwise in memory, for this node.
func (a *sharded) PersistSession(s *socketio.Session) {
	if a.streams {
		a.persistStream(s)
		return
	}
	a.Memory.PersistSession(s)
}

// RestoreSession implements socketio.SessionStore.
func (a *sharded) RestoreSession(ctx context.Context, pid, offset string) (*socketio.Session, error) {
	if a.streams {
		return a.restoreStream(ctx, pid, offset)
	}
	return a.Memory.RestoreSession(ctx, pid, offset)
}
