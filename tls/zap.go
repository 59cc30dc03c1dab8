package tls

import (
	"context"
	"log/slog"
	"slices"

	"go.uber.org/zap/zapcore"
)

// slogCore sends certmagic's zap logs to a slog.Logger, so the sidecar has
// one log. Its error field is renamed err, as everywhere in iobridge.
type slogCore struct {
	logger *slog.Logger
	fields []zapcore.Field
}

func newSlogCore(logger *slog.Logger) zapcore.Core { return &slogCore{logger: logger} }

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l <= zapcore.DebugLevel:
		return slog.LevelDebug
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	}
	return slog.LevelError
}

func (c *slogCore) Enabled(l zapcore.Level) bool {
	return c.logger.Enabled(context.Background(), slogLevel(l))
}

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{logger: c.logger, fields: append(slices.Clip(c.fields), fields...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	r := slog.NewRecord(e.Time, slogLevel(e.Level), e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name := k
		if name == "error" {
			name = "err"
		}
		r.AddAttrs(slog.Any(name, enc.Fields[k]))
	}
	return c.logger.Handler().Handle(context.Background(), r)
}

func (c *slogCore) Sync() error { return nil }
