package engineio

import (
	"context"
	"log/slog"
	"runtime"
	"time"
)

// logAttrs writes a record with the session's sid as its first attribute,
// as a logger bound once with Logger.With("sid", …) would. Such a bound
// logger keeps its preformatted attributes, about a kilobyte per session,
// for the life of the session; with tens of thousands of idle sessions
// that is a large share of the memory per connection, so the attribute is
// built only when a record is actually written. Hot paths still check
// logEnabled before building their attributes.
func (s *Session) logAttrs(level slog.Level, msg string, attrs ...slog.Attr) {
	l := s.srv.log
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return
	}
	var pcs [1]uintptr
	runtime.Callers(2, pcs[:]) // skip Callers and logAttrs
	r := slog.NewRecord(time.Now(), level, msg, pcs[0])
	r.AddAttrs(slog.String("sid", s.id))
	r.AddAttrs(attrs...)
	_ = l.Handler().Handle(ctx, r)
}

// logEnabled reports whether the server's logger writes records at level.
func (s *Session) logEnabled(level slog.Level) bool {
	return s.srv.log.Enabled(context.Background(), level)
}
