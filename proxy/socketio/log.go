package socketio

import (
	"context"
	"log/slog"
	"runtime"
	"time"
)

// Connections and sockets do not keep loggers bound with Logger.With: a
// bound logger keeps its preformatted attributes, about a kilobyte each,
// for the life of the connection, a large share of what an idle
// connection costs. Their attributes (sid, socket) are built only when a
// record is written, by logAttrs; hot paths still check Enabled before
// building their own attributes.

// logAttrs writes a record to l with scope's attributes first, then attrs,
// as a logger bound with scope would. The record's source is the caller's
// caller (the method that logs on behalf of its own caller).
func logAttrs(l *slog.Logger, level slog.Level, msg string, attrs []slog.Attr, scope ...slog.Attr) {
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return
	}
	var pcs [1]uintptr
	runtime.Callers(3, pcs[:]) // skip Callers, logAttrs and the logging method
	r := slog.NewRecord(time.Now(), level, msg, pcs[0])
	r.AddAttrs(scope...)
	r.AddAttrs(attrs...)
	_ = l.Handler().Handle(ctx, r)
}

// logAttrs logs with the connection's sid.
func (c *client) logAttrs(level slog.Level, msg string, attrs ...slog.Attr) {
	logAttrs(c.srv.log, level, msg, attrs, slog.String("sid", c.conn.ID()))
}

// logAttrs logs with the namespace, the connection's sid and the socket id.
func (s *Socket) logAttrs(level slog.Level, msg string, attrs ...slog.Attr) {
	logAttrs(s.nsp.log, level, msg, attrs, slog.String("sid", s.client.conn.ID()), slog.String("socket", s.id))
}

// scopedHandler adds the attributes of a connection or socket to every
// record, as Handler.WithAttrs would, without keeping a handler per socket
// (see logAttrs).
type scopedHandler struct {
	h     slog.Handler
	scope [2]slog.Attr
}

func (h *scopedHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.h.Enabled(ctx, level)
}

func (h *scopedHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	nr.AddAttrs(h.scope[:]...)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(a)
		return true
	})
	return h.h.Handle(ctx, nr)
}

func (h *scopedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.h.WithAttrs(h.scope[:]).WithAttrs(attrs)
}

func (h *scopedHandler) WithGroup(name string) slog.Handler {
	return h.h.WithAttrs(h.scope[:]).WithGroup(name)
}
