package temporallog

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	sdklog "go.temporal.io/sdk/log"
)

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	l := New(zerolog.New(&buf).Level(zerolog.InfoLevel))

	l.Debug("hidden")
	require.Zero(t, buf.Len())

	l.(sdklog.WithLogger).With("Namespace", "default").Error("task failed", "WorkflowID", "wf-1", "Error", errors.New("boom"), 42, "odd", "dangling")
	var entry map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &entry))
	require.Equal(t, "error", entry["level"])
	require.Equal(t, "task failed", entry["message"])
	require.Equal(t, "default", entry["Namespace"])
	require.Equal(t, "wf-1", entry["WorkflowID"])
	require.Equal(t, "boom", entry["Error"])
	require.Equal(t, "odd", entry["42"])
	require.Equal(t, "dangling", entry["EXTRA_VALUE_AT_END"])
}
