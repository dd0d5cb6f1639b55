package devserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

func TestServerLogger(t *testing.T) {
	var buf bytes.Buffer
	l := NewServerLogger(zerolog.New(&buf), zerolog.InfoLevel)

	l.Debug("hidden", tag.NewStringTag("k", "v"))
	require.Zero(t, buf.Len(), "below the level")

	l.Warn("shard acquired",
		tag.NewStringTag("wf-id", "abc"),
		tag.NewInt64("count", 3),
		tag.NewBoolTag("ok", true),
		tag.NewDurationTag("took", 1500*time.Millisecond),
		tag.Error(errors.New("boom")),
		tag.NewAnyTag("any", []int{1, 2}),
	)
	var entry map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &entry))
	require.Equal(t, "warn", entry["level"])
	require.Equal(t, "shard acquired", entry["message"])
	require.Equal(t, "temporal", entry["component"])
	require.Equal(t, "abc", entry["wf-id"])
	require.EqualValues(t, 3, entry["count"])
	require.Equal(t, true, entry["ok"])
	require.EqualValues(t, 1500, entry["took"])
	require.Equal(t, "boom", entry["error"])
	require.Equal(t, []any{1.0, 2.0}, entry["any"])

	buf.Reset()
	withTags := l.(log.WithLogger).With(tag.NewStringTag("service", "history"))
	withTags.Fatal("fatal does not exit")
	require.NoError(t, json.Unmarshal(buf.Bytes(), &entry))
	require.Equal(t, "error", entry["level"])
	require.Equal(t, "fatal", entry["severity"])
	require.Equal(t, "history", entry["service"])
}
