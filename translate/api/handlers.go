package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/iobridge/iobridge/internal/jsonobj"
	"github.com/iobridge/iobridge/proxy/socketio"
	"github.com/iobridge/iobridge/translate"
)

// emit is POST /v1/emit: one instruction, through the executor. Without
// "ack" it answers once the emit is validated and its recipients counted
// (202, the recipient count), before it fans out; with "ack" it waits for
// every recipient's ack or the timeout (200, the acks and the ids that
// timed out).
func (a *API) emit(c *gin.Context) {
	var ins translate.Instruction
	if err := decode(c, &ins); err != nil {
		a.fail(c, err)
		return
	}
	withAck := ins.Ack != nil && ins.Ack.Timeout > 0
	opts := translate.ExecOptions{Namespace: "/", Count: true, WaitAcks: withAck}
	answered := false
	if !withAck {
		opts.Accepted = func(res translate.Result) {
			writeJSON(c, http.StatusAccepted, gin.H{"recipients": res.Recipients})
			c.Writer.Flush()
			answered = true
		}
		// The 202 goes out before the fan-out ends; one emit at a time
		// keeps a backend that posts the next emit on another connection
		// after the 202 from overtaking this one.
		a.emitMu.Lock()
		defer a.emitMu.Unlock()
	}
	res, err := a.cfg.Executor.Execute(c.Request.Context(), &ins, opts)
	if answered {
		if err != nil {
			a.log.Error("api: emit failed after it was accepted", "namespace", ins.Namespace, "event", ins.Event, "err", err)
		}
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	if !withAck {
		writeJSON(c, http.StatusAccepted, gin.H{"recipients": res.Recipients})
		return
	}
	acks, timeouts := res.Acks, res.Timeouts
	if acks == nil {
		acks = []translate.AckResult{}
	}
	if timeouts == nil {
		timeouts = []string{}
	}
	writeJSON(c, http.StatusOK, emitAckAnswer{Acks: acks, Timeouts: timeouts})
}

type emitAckAnswer struct {
	Acks     []translate.AckResult `json:"acks"`
	Timeouts []string              `json:"timeouts"`
}

// roomsRequest is the body of /v1/join and /v1/leave.
type roomsRequest struct {
	Namespace string          `json:"namespace"`
	To        translate.Rooms `json:"to"`
	Rooms     translate.Rooms `json:"rooms"`
}

func (a *API) join(c *gin.Context)  { a.joinLeave(c, true) }
func (a *API) leave(c *gin.Context) { a.joinLeave(c, false) }

// joinLeave is POST /v1/join and /v1/leave: the sockets of the namespace
// in any of "to" (every socket when absent) join or leave "rooms".
func (a *API) joinLeave(c *gin.Context, join bool) {
	var req roomsRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if err := checkRooms("rooms", req.Rooms, false); err != nil {
		a.fail(c, err)
		return
	}
	if err := checkRooms("to", req.To, true); err != nil {
		a.fail(c, err)
		return
	}
	op := a.cfg.Executor.Leave
	if join {
		op = a.cfg.Executor.Join
	}
	n, err := op(c.Request.Context(), req.Namespace, req.To, req.Rooms)
	if err != nil {
		a.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"sockets": n})
}

// disconnectRequest is the body of /v1/disconnect.
type disconnectRequest struct {
	Namespace string          `json:"namespace"`
	To        translate.Rooms `json:"to"`
	Close     bool            `json:"close"`
}

// disconnect is POST /v1/disconnect: the selected sockets leave the
// namespace ("io server disconnect" for the client, "server namespace
// disconnect" for the backend); with close, their whole connections close.
func (a *API) disconnect(c *gin.Context) {
	var req disconnectRequest
	if err := decode(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if err := checkRooms("to", req.To, true); err != nil {
		a.fail(c, err)
		return
	}
	n, err := a.cfg.Executor.Disconnect(c.Request.Context(), req.Namespace, req.To, req.Close)
	if err != nil {
		a.fail(c, err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"sockets": n})
}

// checkRooms refuses empty room names, and an empty list unless allowed.
func checkRooms(field string, rooms []string, emptyOK bool) error {
	if len(rooms) == 0 && !emptyOK {
		return wrap(errInvalidRequest, field+": name at least one room")
	}
	if slices.Contains(rooms, "") {
		return wrap(errInvalidRequest, field+": a room name is empty")
	}
	return nil
}

// socketJSON is one socket of GET /v1/sockets.
type socketJSON struct {
	ID        string          `json:"id"`
	Rooms     []string        `json:"rooms"`
	Data      json.RawMessage `json:"data"`
	Handshake json.RawMessage `json:"handshake"`
}

// sockets is GET /v1/sockets?namespace=&room=: the sockets of the
// namespace in any of the rooms (every socket without room), as
// fetchSockets describes them, sorted by id, each one's rooms its own
// first and then by name.
func (a *API) sockets(c *gin.Context) {
	infos, ok := a.fetch(c)
	if !ok {
		return
	}
	out := make([]socketJSON, 0, len(infos))
	for _, s := range infos {
		data, err := dataJSON(s.Data)
		if err != nil {
			a.fail(c, fmt.Errorf("socket %s data: %w", s.ID, err))
			return
		}
		out = append(out, socketJSON{ID: s.ID, Rooms: sortRooms(s.ID, s.Rooms), Data: data, Handshake: translate.EncodeHandshake(s.Handshake)})
	}
	slices.SortFunc(out, func(x, y socketJSON) int { return strings.Compare(x.ID, y.ID) })
	writeJSON(c, http.StatusOK, gin.H{"sockets": out})
}

// sortRooms orders a socket's rooms for a stable answer: its own room
// first, then by name.
func sortRooms(id string, rooms []string) []string {
	out := make([]string, 0, len(rooms))
	own := false
	for _, r := range rooms {
		if r == id {
			own = true
		} else {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	if own {
		out = slices.Insert(out, 0, id)
	}
	return out
}

type roomJSON struct {
	Name string `json:"name"`
	Size int    `json:"size"`
}

// rooms is GET /v1/rooms?namespace=: every room with its number of
// sockets, sorted by name, leaving out the rooms named after socket ids
// (each socket's own room).
func (a *API) rooms(c *gin.Context) {
	if _, ok := c.GetQueryArray("room"); ok {
		abort(c, http.StatusBadRequest, CodeInvalidRequest, "room: /v1/rooms takes only namespace")
		return
	}
	infos, ok := a.fetch(c)
	if !ok {
		return
	}
	ids := make(map[string]struct{}, len(infos))
	for _, s := range infos {
		ids[s.ID] = struct{}{}
	}
	sizes := map[string]int{}
	for _, s := range infos {
		for _, r := range s.Rooms {
			if _, own := ids[r]; !own {
				sizes[r]++
			}
		}
	}
	out := make([]roomJSON, 0, len(sizes))
	for name, n := range sizes {
		out = append(out, roomJSON{name, n})
	}
	slices.SortFunc(out, func(x, y roomJSON) int { return strings.Compare(x.Name, y.Name) })
	writeJSON(c, http.StatusOK, gin.H{"rooms": out})
}

// fetch describes the sockets the query selects (?namespace=, ?room=…),
// across nodes when the adapter can. It has answered the error when ok is
// false.
func (a *API) fetch(c *gin.Context) (infos []socketio.SocketInfo, ok bool) {
	for k := range c.Request.URL.Query() {
		if k != "namespace" && k != "room" {
			abort(c, http.StatusBadRequest, CodeInvalidRequest, "unknown query parameter "+k)
			return nil, false
		}
	}
	rooms := c.QueryArray("room")
	if slices.Contains(rooms, "") {
		abort(c, http.StatusBadRequest, CodeInvalidRequest, "room: a room name is empty")
		return nil, false
	}
	nsp, err := a.cfg.Executor.Namespace(c.Query("namespace"))
	if err != nil {
		a.fail(c, err)
		return nil, false
	}
	if nsp == nil { // a pattern's namespace nobody connected to yet
		return nil, true
	}
	if len(rooms) > 0 {
		infos, err = nsp.To(rooms...).FetchSockets(c.Request.Context())
	} else {
		infos, err = nsp.FetchSockets(c.Request.Context())
	}
	if err != nil {
		a.fail(c, err)
		return nil, false
	}
	return infos, true
}

// dataJSON encodes socket.data for a backend: raw JSON as is, {} when
// unset (as the reference's socket.data starts), without a top-level
// _admin member. That one is the admin UI's bookkeeping ({clientId,
// transport}), which Node servers with instrument() keep in every
// socket's data and iobridge nodes with the admin UI add to what other
// nodes fetch of theirs: backends see a socket's data alike on every
// node, as the admin UI's own serializeData shows it.
func dataJSON(v any) (json.RawMessage, error) {
	b, err := rawData(v)
	if err != nil || !bytes.Contains(b, []byte("_admin")) {
		return b, err
	}
	b, _ = jsonobj.Without(b, "_admin")
	return b, nil
}

// rawData encodes socket.data: raw JSON as is, {} when unset.
func rawData(v any) (json.RawMessage, error) {
	switch d := v.(type) {
	case nil:
		return json.RawMessage("{}"), nil
	case json.RawMessage:
		if len(d) == 0 {
			return json.RawMessage("{}"), nil
		}
		return d, nil
	case []byte:
		if len(d) == 0 || !json.Valid(d) {
			return json.Marshal(d)
		}
		return d, nil
	}
	return json.Marshal(v)
}
