package redis

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iobridge/iobridge/internal/jsonstr"
	"github.com/iobridge/iobridge/internal/msgpackjson"
	"github.com/iobridge/iobridge/proxy/adapter"
	"github.com/iobridge/iobridge/proxy/socketio"
)

// The streams mode's transport, as @socket.io/redis-streams-adapter 0.3.1
// (lib/adapter.ts): a namespace's stream (key_prefix, or
// key_prefix-<n> with several streams) is read by every node with XREAD
// BLOCK on a connection of its own per stream; entries are
// {uid, nsp, type: "<decimal>", data: JSON or base64(msgpack) when it
// carries binary}. Ephemeral messages and every answer go over pub/sub,
// whole messages in msgpack. With connection state recovery, offsets are
// entry ids and sessions are SET under sio:session:<pid>.

const (
	// streamReadCount and streamBlock are the streams adapter's readCount
	// and blockTimeInMs.
	streamReadCount = 100
	streamBlock     = 5 * time.Second
	// restoreRounds bounds the XRANGE calls of a restore, as
	// RESTORE_SESSION_MAX_XRANGE_CALLS; restoreCount bounds each.
	restoreRounds = 100
	restoreCount  = 1000
)

// streamRoute is the routes key of a namespace's stream entries.
func streamRoute(nsp string) string { return "\x00stream#" + nsp }

// entryHandler is a namespace adapter receiving stream entries.
type entryHandler interface {
	receiveEntry(id string, values map[string]any)
}

func (c *Cluster) xaddArgs(stream string, fields []any) *goredis.XAddArgs {
	return &goredis.XAddArgs{Stream: stream, MaxLen: c.cfg.StreamMaxLen, Approx: true, ID: "*", Values: fields}
}

// streamName is the stream of namespace nsp, as the streams adapter's
// computeStreamName: KeyPrefix with one stream, else
// KeyPrefix-<hashCode(nsp) % StreamCount>, where hashCode is Java's
// String.hashCode over UTF-16 code units in signed 32 bits and % keeps
// the sign, as in JavaScript ("/notifications" with 4 streams is
// "socket.io--3").
func (c *Cluster) streamName(nsp string) string {
	if c.cfg.StreamCount <= 1 {
		return c.cfg.KeyPrefix
	}
	var h int32
	for _, u := range utf16.Encode([]rune(nsp)) {
		h = h*31 + int32(u)
	}
	return c.cfg.KeyPrefix + "-" + strconv.Itoa(int(h%int32(c.cfg.StreamCount)))
}

// read starts reading stream on a connection of its own, unless it is read
// already. Open starts the streams Node's readers poll (KeyPrefix, or
// KeyPrefix-0 to -<StreamCount-1>); a namespace whose hash is negative
// writes to a stream Node never reads (an upstream quirk): its adapter
// starts a reader for it, so that iobridge nodes hear each other there.
func (c *Cluster) read(ctx context.Context, stream string) {
	c.readerMu.Lock()
	defer c.readerMu.Unlock()
	if _, ok := c.readers[stream]; ok || c.closed.Load() {
		return
	}
	r := goredis.NewClient(c.ropts)
	c.readers[stream] = r
	c.wg.Add(1)
	go c.readLoop(r, stream, c.streamStart(ctx, stream))
}

// xadd queues an XADD of fields to stream behind the messages already queued (so
// the order of a node's messages holds); with wait it waits for the entry
// id, "" when the entry was not added (queue full, Redis down, closed).
func (c *Cluster) xadd(stream string, fields []any, wait bool) string {
	if !wait {
		c.enqueue(outgoing{channel: stream, fields: fields})
		return ""
	}
	if c.state.Load().err != nil {
		// As a failed publish: counted, and the caller delivers locally.
		c.met.failed.Add(c.ctx, 1)
		c.failures.Add(1)
		return ""
	}
	reply := make(chan xaddResult, 1)
	if !c.enqueue(outgoing{channel: stream, fields: fields, reply: reply}) {
		return ""
	}
	select {
	case r := <-reply:
		if r.err != nil {
			return ""
		}
		return r.id
	case <-c.ctx.Done():
		return ""
	}
}

// streamStart returns the id to read the stream from: its last entry's
// (so what is added once Open returned is read, rather than what is added
// once the first XREAD reached Redis, as "$" would), "0-0" for an empty
// stream, "$" while Redis does not answer.
func (c *Cluster) streamStart(ctx context.Context, stream string) string {
	if c.state.Load().err != nil {
		return "$" // not a dial timeout per stream while Redis is down
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ms, err := c.rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil {
		return "$"
	}
	if len(ms) == 0 {
		return "0-0"
	}
	return ms[0].ID
}

// readLoop reads stream from last on the reader's connection and
// hands each entry to its namespace's adapters. After an error it reads
// again from the last entry it saw: nothing added meanwhile is lost while
// the stream still holds it.
func (c *Cluster) readLoop(reader *goredis.Client, stream, last string) {
	defer c.wg.Done()
	for c.ctx.Err() == nil {
		res, err := reader.XRead(c.ctx, &goredis.XReadArgs{
			Streams: []string{stream, last},
			Count:   streamReadCount,
			Block:   streamBlock,
		}).Result()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			if c.ctx.Err() != nil || c.closed.Load() {
				return
			}
			c.log.Debug("redis: reading the stream failed, retried", "stream", stream, "err", err)
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		for _, st := range res {
			for _, e := range st.Messages {
				last = e.ID
				nsp, _ := e.Values["nsp"].(string)
				if nsp == "" {
					continue
				}
				c.met.received.Add(c.ctx, 1)
				c.mu.RLock()
				rs := c.routes[streamRoute(nsp)]
				c.mu.RUnlock()
				for _, r := range rs {
					if h, ok := r.h.(entryHandler); ok {
						h.receiveEntry(e.ID, e.Values)
					}
				}
			}
		}
	}
}

// route adds (on) or removes h as a receiver of key, with no pub/sub.
func (c *Cluster) route(key string, h handler, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs := slices.DeleteFunc(slices.Clone(c.routes[key]), func(r route) bool { return r.h == h })
	if on {
		rs = append(rs, route{h: h})
	}
	if len(rs) == 0 {
		delete(c.routes, key)
		return
	}
	c.routes[key] = rs
}

// isEphemeral is the streams adapter's: what goes over pub/sub rather than
// into the stream.
func isEphemeral(typ int, hasRequestID bool) bool {
	return (typ == msgBroadcast && hasRequestID) || typ == msgServerSideEmit || typ == msgFetchSockets
}

// mayContainBinary lists the types whose data the streams adapter writes
// as base64(msgpack) when it has binary.
func mayContainBinary(typ int) bool {
	switch typ {
	case msgBroadcast, msgFetchSocketsResponse, msgServerSideEmit, msgServerSideEmitResponse, msgBroadcastAck:
		return true
	}
	return false
}

// entryFields returns an XADD's fields: uid, nsp, type, data.
func (a *sharded) entryFields(typ int, data []byte, atts [][]byte) ([]any, error) {
	f := []any{"uid", a.uid, "nsp", a.name, "type", strconv.Itoa(typ)}
	if data == nil {
		return f, nil
	}
	if len(atts) > 0 && mayContainBinary(typ) {
		b, err := msgpackjson.FromJSON(data, atts)
		if err != nil {
			return nil, err
		}
		return append(f, "data", base64.StdEncoding.EncodeToString(b)), nil
	}
	return append(f, "data", string(data)), nil
}

// decodeEntry turns a stream entry into a message.
func decodeEntry(values map[string]any) (*clusterMessage, [][]byte, error) {
	str := func(k string) string { s, _ := values[k].(string); return s }
	typ, err := strconv.Atoi(str("type"))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: type %q", errBadMessage, str("type"))
	}
	m := &clusterMessage{UID: str("uid"), Nsp: str("nsp"), Type: typ, Data: &clusterData{}}
	raw := str("data")
	if raw == "" {
		return m, nil, nil
	}
	var js []byte
	var atts [][]byte
	if strings.HasPrefix(raw, "{") {
		js = []byte(raw)
	} else {
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: data: %w", errBadMessage, err)
		}
		if js, atts, err = msgpackjson.ToJSON(b); err != nil {
			return nil, nil, fmt.Errorf("%w: data: %w", errBadMessage, err)
		}
	}
	if err := json.Unmarshal(js, m.Data); err != nil {
		return nil, nil, fmt.Errorf("%w: data: %w", errBadMessage, err)
	}
	return m, atts, nil
}

// receiveEntry implements entryHandler.
func (a *sharded) receiveEntry(id string, values map[string]any) {
	m, atts, err := decodeEntry(values)
	if err != nil {
		a.bad(a.stream, err)
		return
	}
	if m.UID == a.uid || m.Nsp != a.name {
		return
	}
	a.onMessage(a.stream, m, atts, id)
}

// wantsOffset reports whether a broadcast gets an offset, as
// ClusterAdapter.addOffsetIfNecessary: with recovery on, an event without
// ack id that is not volatile.
func (a *sharded) wantsOffset(p *socketio.Packet, volatile bool) bool {
	return a.nsp.RecoveryWindow() > 0 && p.Type == socketio.PacketEvent && !p.HasID && !volatile
}

// withOffset returns p with offset appended as its last argument.
func withOffset(p *socketio.Packet, offset string) *socketio.Packet {
	cp := *p
	cp.Data = adapter.AppendOffset(p.Data, offset)
	return &cp
}

// storedSession is a session as the streams adapter keeps it.
type storedSession struct {
	SID   string          `json:"sid"`
	PID   string          `json:"pid"`
	Rooms roomList        `json:"rooms"`
	Data  json.RawMessage `json:"data"`
}

var offsetPattern = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// persistStream keeps s in Redis for the recovery window: SET
// sio:session:<pid> base64(msgpack({sid,pid,rooms,data,claim})) PX
// <window + claimGrace>, and schedules its claim (expiry.go). It returns
// once Redis answered (at most 2s), so that a node shutting down has
// persisted its sessions before it exits.
func (a *sharded) persistStream(s *socketio.Session) {
	window := a.nsp.RecoveryWindow()
	if window <= 0 || s.PID == "" || a.c.state.Load().err != nil {
		return
	}
	js := []byte(`{"sid":`)
	js = jsonstr.Append(js, s.SID)
	js = append(js, `,"pid":`...)
	js = jsonstr.Append(js, s.PID)
	js = append(js, `,"rooms":`...)
	js = appendStrings(js, s.Rooms)
	js = append(js, `,"data":`...)
	js = append(js, dataJSON(s.Data)...)
	js = append(js, `,"claim":"`...)
	js = append(js, randomID(12)...)
	js = append(js, `"}`...)
	b, err := msgpackjson.FromJSON(js, nil)
	if err != nil {
		a.logger().Warn("redis: session not persisted: it cannot be encoded", "socket", s.SID, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(a.c.ctx, 2*time.Second)
	defer cancel()
	key := DefaultSessionKeyPrefix + s.PID
	value := base64.StdEncoding.EncodeToString(b)
	if err := a.c.rdb.Set(ctx, key, value, window+claimGrace).Err(); err != nil {
		a.logger().Warn("redis: session not persisted", "socket", s.SID, "err", err)
		return
	}
	if !a.nsp.Server().ShuttingDown() {
		a.c.claims.add(a.c, &claim{nsp: a.nsp, sess: s, key: key, value: value,
			deadline: time.Now().Add(window + claimGrace)}, window)
	}
}

// restoreStream is the streams adapter's restoreSession: the session is
// taken (GET and DEL in one MULTI) and the offset must still be in the
// stream; then the entries after it that this session would have
// received, each with its id appended. A session taken for an offset no
// longer in the stream is put back for the rest of its time, as the
// in-memory store keeps it, so that its owner still claims it and reports
// it lapsed (expiry.go).
func (a *sharded) restoreStream(ctx context.Context, pid, offset string) (*socketio.Session, error) {
	if !offsetPattern.MatchString(offset) || a.c.state.Load().err != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.c.cfg.RequestTimeout)
	defer cancel()
	key := DefaultSessionKeyPrefix + pid
	var get *goredis.StringCmd
	var ttl *goredis.DurationCmd
	var at *goredis.XMessageSliceCmd
	_, err := a.c.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		get = p.Get(ctx, key)
		ttl = p.PTTL(ctx, key)
		p.Del(ctx, key)
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis: restore session: %w", err)
	}
	at = a.c.rdb.XRange(ctx, a.stream, offset, offset)
	raw, gerr := get.Result()
	entries, xerr := at.Result()
	if gerr != nil {
		return nil, nil
	}
	if xerr != nil || len(entries) == 0 {
		if left, err := ttl.Result(); err == nil && left > 0 {
			a.c.rdb.SetNX(ctx, key, raw, left)
		}
		return nil, nil
	}
	a.c.claims.restored(key, raw)
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("redis: restore session: %w", err)
	}
	js, _, err := msgpackjson.ToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("redis: restore session: %w", err)
	}
	var ss storedSession
	if err := json.Unmarshal(js, &ss); err != nil {
		return nil, fmt.Errorf("redis: restore session: %w", err)
	}
	out := &socketio.Session{SID: ss.SID, PID: ss.PID, Rooms: ss.Rooms}
	if d := strings.TrimSpace(string(ss.Data)); d != "" && d != "{}" && d != "null" {
		out.Data = ss.Data
	}
	for range restoreRounds {
		entries, err := a.c.rdb.XRangeN(ctx, a.stream, nextOffset(offset), "+", restoreCount).Result()
		if err != nil {
			return nil, fmt.Errorf("redis: restore session: %w", err)
		}
		if len(entries) == 0 {
			break
		}
		for _, e := range entries {
			offset = e.ID
			if nsp, _ := e.Values["nsp"].(string); nsp != a.name {
				continue
			}
			if typ, _ := e.Values["type"].(string); typ != "3" {
				continue
			}
			m, atts, err := decodeEntry(e.Values)
			if err != nil || m.Data.Opts == nil {
				continue
			}
			var wp wirePacket
			if json.Unmarshal(m.Data.Packet, &wp) != nil {
				continue
			}
			p, err := wp.packet(a.name, atts)
			if err != nil || !includes(out.Rooms, m.Data.Opts) {
				continue
			}
			out.MissedPackets = append(out.MissedPackets, withOffset(p, e.ID))
		}
	}
	return out, nil
}

// includes is shouldIncludePacket: the broadcast went to every room or to
// one of the session's, and excluded none of them.
func includes(rooms []string, o *wireOpts) bool {
	included := len(o.Rooms) == 0
	for _, r := range rooms {
		for _, x := range o.Except {
			if r == x {
				return false
			}
		}
		if !included {
			for _, x := range o.Rooms {
				if r == x {
					included = true
					break
				}
			}
		}
	}
	return included
}

// nextOffset is the id after offset (an exclusive XRANGE start, as the
// streams adapter emulates it for Redis < 6.2).
func nextOffset(offset string) string {
	ts, seq, _ := strings.Cut(offset, "-")
	n, _ := strconv.ParseUint(seq, 10, 64)
	return ts + "-" + strconv.FormatUint(n+1, 10)
}
