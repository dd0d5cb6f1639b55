package devserver

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
	"go.uber.org/zap/zapcore"
)

// serverLogger adapts Temporal's server logger interface (log.Logger) to
// zerolog. Tags become structured fields.
//
// DPanic, Panic and Fatal are logged at error level and never panic or exit:
// an embedded server must not take the host process down with it.
type serverLogger struct {
	zl  zerolog.Logger
	min *atomic.Int32 // minimum zerolog.Level, shared with derived loggers
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

// NewServerLogger returns a Temporal server log.Logger that writes to zl,
// adding the field component=temporal. Entries below level are dropped (as
// are those below zl's own level).
func NewServerLogger(zl zerolog.Logger, level zerolog.Level) log.Logger {
	return newServerLogger(zl, level)
}

func newServerLogger(zl zerolog.Logger, level zerolog.Level) serverLogger {
	l := serverLogger{zl: zl.With().Str("component", "temporal").Logger(), min: new(atomic.Int32)}
	l.min.Store(int32(level))
	return l
}

// raiseLevel drops entries below level from now on, in this logger and every
// one derived from it.
func (l serverLogger) raiseLevel(level zerolog.Level) {
	for {
		cur := l.min.Load()
		if int32(level) <= cur || l.min.CompareAndSwap(cur, int32(level)) {
			return
		}
	}
}

func (l serverLogger) Debug(msg string, tags ...tag.Tag) { l.emit(zerolog.DebugLevel, "", msg, tags) }
func (l serverLogger) Info(msg string, tags ...tag.Tag)  { l.emit(zerolog.InfoLevel, "", msg, tags) }
func (l serverLogger) Warn(msg string, tags ...tag.Tag)  { l.emit(zerolog.WarnLevel, "", msg, tags) }
func (l serverLogger) Error(msg string, tags ...tag.Tag) { l.emit(zerolog.ErrorLevel, "", msg, tags) }
func (l serverLogger) DPanic(msg string, tags ...tag.Tag) {
	l.emit(zerolog.ErrorLevel, "dpanic", msg, tags)
}
func (l serverLogger) Panic(msg string, tags ...tag.Tag) {
	l.emit(zerolog.ErrorLevel, "panic", msg, tags)
}
func (l serverLogger) Fatal(msg string, tags ...tag.Tag) {
	l.emit(zerolog.ErrorLevel, "fatal", msg, tags)
}

// With returns a logger that adds tags to every entry.
func (l serverLogger) With(tags ...tag.Tag) log.Logger {
	ctx := l.zl.With()
	for _, t := range tags {
		ctx = ctx.Interface(t.Key(), tagValue(t))
	}
	return serverLogger{zl: ctx.Logger(), min: l.min}
}

// emit writes one entry; nothing is computed when the level is disabled.
func (l serverLogger) emit(level zerolog.Level, severity, msg string, tags []tag.Tag) {
	if int32(level) < l.min.Load() {
		return
	}
	var e *zerolog.Event
	switch level {
	case zerolog.DebugLevel:
		e = l.zl.Debug()
	case zerolog.InfoLevel:
		e = l.zl.Info()
	case zerolog.WarnLevel:
		e = l.zl.Warn()
	default:
		e = l.zl.Error()
	}
	if e == nil {
		return
	}
	if severity != "" {
		e.Str("severity", severity)
	}
	for _, t := range tags {
		addTag(e, t)
	}
	e.Msg(msg)
}

func addTag(e *zerolog.Event, t tag.Tag) {
	zt, ok := t.(tag.ZapTag)
	if !ok {
		e.Interface(t.Key(), t.Value())
		return
	}
	f := zt.Field()
	switch f.Type {
	case zapcore.StringType:
		e.Str(f.Key, f.String)
	case zapcore.BoolType:
		e.Bool(f.Key, f.Integer == 1)
	case zapcore.Int64Type, zapcore.Int32Type, zapcore.Int16Type, zapcore.Int8Type:
		e.Int64(f.Key, f.Integer)
	case zapcore.Uint64Type, zapcore.Uint32Type, zapcore.Uint16Type, zapcore.Uint8Type:
		e.Uint64(f.Key, uint64(f.Integer))
	case zapcore.DurationType:
		e.Dur(f.Key, time.Duration(f.Integer))
	case zapcore.ErrorType:
		if err, ok := f.Interface.(error); ok {
			e.AnErr(f.Key, err)
			return
		}
		e.Interface(f.Key, tagValue(t))
	case zapcore.StringerType:
		if s, ok := f.Interface.(fmt.Stringer); ok {
			e.Str(f.Key, safeString(s))
			return
		}
		e.Interface(f.Key, tagValue(t))
	case zapcore.SkipType:
	default:
		e.Interface(f.Key, tagValue(t))
	}
}

// tagValue renders a tag's value; a value that panics while rendering (a nil
// pointer Stringer, say) is logged as such instead of crashing the server.
func tagValue(t tag.Tag) (v any) {
	defer func() {
		if r := recover(); r != nil {
			v = fmt.Sprintf("<unrenderable: %v>", r)
		}
	}()
	return t.Value()
}

func safeString(s fmt.Stringer) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf("<unrenderable: %v>", r)
		}
	}()
	return s.String()
}
