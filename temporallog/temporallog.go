// Package temporallog adapts zerolog to the Temporal Go SDK's logger
// interface (go.temporal.io/sdk/log.Logger), for clients and workers.
package temporallog

import (
	"fmt"

	"github.com/rs/zerolog"
	sdklog "go.temporal.io/sdk/log"
)

type logger struct {
	zl zerolog.Logger
}

var (
	_ sdklog.Logger     = logger{}
	_ sdklog.WithLogger = logger{}
)

// New returns an SDK logger writing to l. Key/value pairs become fields; a
// trailing key without a value is logged under "EXTRA_VALUE_AT_END".
func New(l zerolog.Logger) sdklog.Logger {
	return logger{zl: l}
}

func (l logger) Debug(msg string, keyvals ...any) { emit(l.zl.Debug(), msg, keyvals) }
func (l logger) Info(msg string, keyvals ...any)  { emit(l.zl.Info(), msg, keyvals) }
func (l logger) Warn(msg string, keyvals ...any)  { emit(l.zl.Warn(), msg, keyvals) }
func (l logger) Error(msg string, keyvals ...any) { emit(l.zl.Error(), msg, keyvals) }

// With returns a logger that adds keyvals to every entry.
func (l logger) With(keyvals ...any) sdklog.Logger {
	return logger{zl: l.zl.With().Fields(fields(keyvals)).Logger()}
}

func emit(e *zerolog.Event, msg string, keyvals []any) {
	if e == nil {
		return
	}
	e.Fields(fields(keyvals)).Msg(msg)
}

func fields(keyvals []any) []any {
	out := make([]any, 0, len(keyvals)+1)
	for i := 0; i < len(keyvals); i += 2 {
		key, ok := keyvals[i].(string)
		if !ok {
			key = fmt.Sprint(keyvals[i])
		}
		if i+1 >= len(keyvals) {
			out = append(out, "EXTRA_VALUE_AT_END", keyvals[i])
			break
		}
		out = append(out, key, keyvals[i+1])
	}
	return out
}
