package adminui

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/iobridge/iobridge/proxy/socketio"
)

// registerCommands listens to the UI's commands on an admin socket (the
// package's registerFeatureHandlers for Socket.IO v4). Each selects the
// sockets of a namespace, or of one room of it (the filter: a socket's id
// names the room of that socket only), and acts through the adapter, so
// on every node. They run on their own goroutines: a distributed
// adapter's request waits for the other nodes.
func (u *ui) registerCommands(s *socketio.Socket) {
	// emit(nsp, filter, event, ...args)
	s.On("emit", func(e socketio.Event) {
		if len(e.Args) < 3 {
			return
		}
		ev, ok := str(e.Args[2])
		if !ok {
			return
		}
		args := append([]json.RawMessage(nil), e.Args[3:]...)
		atts := e.Attachments
		u.command(e.Args[0], e.Args[1], func(_ context.Context, op *socketio.BroadcastOperator) error {
			return op.Emit(ev, args, atts)
		})
	})
	// join(nsp, room, filter) and leave(nsp, room, filter)
	u.onRoomCommand(s, "join", (*socketio.BroadcastOperator).SocketsJoin)
	u.onRoomCommand(s, "leave", (*socketio.BroadcastOperator).SocketsLeave)
	// _disconnect(nsp, close, filter)
	s.On("_disconnect", func(e socketio.Event) {
		closeConn := truthy(argRaw(e.Args, 1))
		u.command(argRaw(e.Args, 0), argRaw(e.Args, 2), func(ctx context.Context, op *socketio.BroadcastOperator) error {
			return op.DisconnectSockets(ctx, closeConn)
		})
	})
}

// onRoomCommand listens to a command (nsp, room, filter) that applies
// do with the room.
func (u *ui) onRoomCommand(s *socketio.Socket, name string, do func(*socketio.BroadcastOperator, context.Context, ...string) error) {
	s.On(name, func(e socketio.Event) {
		room, ok := arg(e.Args, 1)
		if !ok {
			return
		}
		u.command(argRaw(e.Args, 0), argRaw(e.Args, 2), func(ctx context.Context, op *socketio.BroadcastOperator) error {
			return do(op, ctx, room)
		})
	})
}

// command applies do to the sockets of namespace nspArg in room filterArg
// (every socket of it when the filter is empty), off the admin socket's
// reader. A namespace this node does not have is passed over.
func (u *ui) command(nspArg, filterArg json.RawMessage, do func(context.Context, *socketio.BroadcastOperator) error) {
	name, ok := str(nspArg)
	if !ok {
		return
	}
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	n, ok := u.srv.Namespace(name)
	if !ok {
		u.log.Debug("adminui: command for a namespace this node does not have", "namespace", name)
		return
	}
	op := n.Except() // every socket
	if filter, ok := str(filterArg); ok && filter != "" {
		op = n.In(filter)
	}
	if u.stopped.Load() {
		return
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		ctx, cancel := context.WithTimeout(u.ctx, queryTimeout)
		defer cancel()
		if err := do(ctx, op); err != nil {
			u.log.Warn("adminui: command failed", "namespace", name, "err", err)
		}
	}()
}

// str decodes a JSON string; false for anything else.
func str(raw json.RawMessage) (string, bool) {
	var v string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	return v, true
}

// arg is args[i] as a string.
func arg(args []json.RawMessage, i int) (string, bool) { return str(argRaw(args, i)) }

// argRaw is args[i], nil when absent.
func argRaw(args []json.RawMessage, i int) json.RawMessage {
	if i < len(args) {
		return args[i]
	}
	return nil
}

// truthy is JavaScript's truthiness of a JSON value.
func truthy(raw json.RawMessage) bool {
	switch s := strings.TrimSpace(string(raw)); s {
	case "", "false", "null", `""`, "0", "-0", "0.0":
		return false
	default:
		return true
	}
}
