package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"

	"github.com/iobridge/iobridge/proxy/socketio"
)

type connectHook struct {
	name string
	h    ConnectHook
}

type inboundHook struct {
	name string
	h    InboundHook
}

type outboundHook struct {
	name string
	h    OutboundHook
}

// Chain is one namespace's plugins, in configured order, with their hooks
// sorted out once. A nil *Chain is an empty chain. Its methods are safe
// for concurrent use.
type Chain struct {
	plugins    []Plugin
	connect    []connectHook
	inbound    []inboundHook
	outbound   []outboundHook
	disconnect []DisconnectHook
	request    []RequestChecker
	log        *slog.Logger
}

// NewChain returns the chain running ps in order. It asserts each
// plugin's hooks and capabilities here, once. logger (nil means
// slog.Default()) receives what no client is told: outbound drops on
// error, shutdown failures.
func NewChain(logger *slog.Logger, ps []Plugin) *Chain {
	if logger == nil {
		logger = slog.Default()
	}
	c := &Chain{plugins: ps, log: logger}
	for _, p := range ps {
		if h, ok := p.(ConnectHook); ok {
			c.connect = append(c.connect, connectHook{p.Name(), h})
		}
		if h, ok := p.(InboundHook); ok {
			c.inbound = append(c.inbound, inboundHook{p.Name(), h})
		}
		if h, ok := p.(OutboundHook); ok {
			c.outbound = append(c.outbound, outboundHook{p.Name(), h})
		}
		if h, ok := p.(DisconnectHook); ok {
			c.disconnect = append(c.disconnect, h)
		}
		if h, ok := p.(RequestChecker); ok {
			c.request = append(c.request, h)
		}
	}
	return c
}

// Plugins returns the chain's plugins in order.
func (c *Chain) Plugins() []Plugin {
	if c == nil {
		return nil
	}
	return c.plugins
}

// Empty reports whether the chain has no plugin.
func (c *Chain) Empty() bool { return c == nil || len(c.plugins) == 0 }

// HasConnect reports whether a plugin has a ConnectHook.
func (c *Chain) HasConnect() bool { return c != nil && len(c.connect) > 0 }

// HasInbound reports whether a plugin has an InboundHook: without one,
// callers skip Inbound (and its cost) entirely.
func (c *Chain) HasInbound() bool { return c != nil && len(c.inbound) > 0 }

// HasOutbound reports whether a plugin has an OutboundHook: without one,
// emits stay encoded once for every recipient.
func (c *Chain) HasOutbound() bool { return c != nil && len(c.outbound) > 0 }

// HasDisconnect reports whether a plugin has a DisconnectHook.
func (c *Chain) HasDisconnect() bool { return c != nil && len(c.disconnect) > 0 }

// Connect runs the connect hooks in order for s, joining the rooms and
// merging the data of each reply as it goes, so a later plugin sees what
// an earlier one set. The first refusal stops the chain; the returned
// error is a *socketio.ConnectError (message and data {"plugin",
// "status"}) wrapping the plugin's *Error.
func (c *Chain) Connect(ctx context.Context, s *socketio.Socket) error {
	if !c.HasConnect() {
		return nil
	}
	e := ConnectEvent{Socket: s, Handshake: s.Handshake()}
	for _, h := range c.connect {
		rep, err := h.h.OnConnect(ctx, e)
		if err != nil {
			return asError(h.name, err).connectError()
		}
		if len(rep.Rooms) > 0 {
			s.Join(rep.Rooms...)
		}
		if len(rep.Data) > 0 {
			s.SetData(mergeData(s.Data(), rep.Data))
		}
	}
	return nil
}

// mergeData merges add into socket data: an object (a map, or raw JSON
// of an object) keeps its other keys; anything else is replaced.
func mergeData(cur any, add map[string]any) map[string]any {
	out := make(map[string]any, len(add)+4)
	switch d := cur.(type) {
	case map[string]any:
		maps.Copy(out, d)
	case json.RawMessage:
		var m map[string]any
		if json.Unmarshal(d, &m) == nil {
			maps.Copy(out, m)
		}
	}
	maps.Copy(out, add)
	return out
}

// Inbound runs the inbound hooks in order. The reply's Args are the
// rewritten args (nil when no plugin rewrote them); Handled means a plugin
// answered the event, whose ack gets AckArgs. The first refusal stops the
// chain with an *Error naming the plugin. With no hook it costs nothing
// and allocates nothing.
func (c *Chain) Inbound(ctx context.Context, e InboundEvent) (InboundReply, error) {
	var out InboundReply
	if c == nil {
		return out, nil
	}
	for i := range c.inbound {
		h := &c.inbound[i]
		rep, err := h.h.OnInbound(ctx, e)
		if err != nil {
			return InboundReply{}, asError(h.name, err)
		}
		if rep.Args != nil {
			e.Args, out.Args = rep.Args, rep.Args
		}
		if rep.Handled {
			out.Handled, out.AckArgs = true, rep.AckArgs
			return out, nil
		}
	}
	return out, nil
}

// Outbound runs the outbound hooks in order for one recipient and returns
// the args to send it, or drop. A hook's error drops the emit for that
// socket and is logged here (no client is told).
func (c *Chain) Outbound(ctx context.Context, e OutboundEvent) (args []json.RawMessage, drop bool) {
	if c == nil {
		return e.Args, false
	}
	for i := range c.outbound {
		h := &c.outbound[i]
		rep, err := h.h.OnOutbound(ctx, e)
		if err != nil {
			e.Socket.Logger().Warn("plugins: emit dropped", "plugin", h.name, "event", e.Name, "err", err)
			return nil, true
		}
		if rep.Drop {
			return nil, true
		}
		if rep.Args != nil {
			e.Args = rep.Args
		}
	}
	return e.Args, false
}

// Disconnect tells the disconnect hooks that s left.
func (c *Chain) Disconnect(ctx context.Context, s *socketio.Socket, reason socketio.DisconnectReason) {
	if c == nil {
		return
	}
	for _, h := range c.disconnect {
		h.OnDisconnect(ctx, DisconnectEvent{Socket: s, Reason: reason})
	}
}

// allowRequest reports whether some plugin of the chain refuses r.
func (c *Chain) allowRequest(r *http.Request) error {
	for _, rc := range c.request {
		if err := rc.AllowRequest(r); err != nil {
			return err
		}
	}
	return nil
}

// Shutdown stops the plugins that have a Shutdowner, each once, and
// returns their errors joined.
func (c *Chain) Shutdown(ctx context.Context) error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, p := range c.plugins {
		if sd, ok := p.(Shutdowner); ok {
			errs = append(errs, sd.Shutdown(ctx))
		}
	}
	return errors.Join(errs...)
}

// AllowRequest returns a check of the Engine.IO handshake request
// (engineio.Config.AllowRequest) for the chains of every namespace the
// server routes, or nil when no check can be made that early.
//
// One Engine.IO connection may join any namespace, so the handshake is
// refused only when every chain has a RequestChecker and each of them
// refuses: then no namespace would accept the socket, and refusing the
// handshake (403, before a session or a WebSocket exists) is what
// protects against cross-site WebSocket hijacking. When some namespace
// has no RequestChecker, the same plugins still refuse at CONNECT, in
// their ConnectHook.
func AllowRequest(chains []*Chain) func(*http.Request) error {
	if len(chains) == 0 {
		return nil
	}
	for _, c := range chains {
		if c == nil || len(c.request) == 0 {
			return nil
		}
	}
	return func(r *http.Request) error {
		var first error
		for _, c := range chains {
			err := c.allowRequest(r)
			if err == nil {
				return nil
			}
			if first == nil {
				first = err
			}
		}
		return first
	}
}
