package contract

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunWorkflowIDIsBounded(t *testing.T) {
	t.Parallel()
	short := "f:ada:1"
	require.Equal(t, "run/f:ada:1", RunWorkflowID(short), "short ids unchanged: runs in flight keep their workflow")
	long := "f:" + strings.Repeat("é", 600) + "@example.com:1"
	id := RunWorkflowID(long)
	require.LessOrEqual(t, len(id), maxWorkflowIDPart)
	require.True(t, strings.HasPrefix(id, "run/f:éé"))
	require.True(t, strings.ToValidUTF8(id, "?") == id, "cut on a rune boundary")
	other := "f:" + strings.Repeat("é", 600) + "@example.org:1"
	require.NotEqual(t, id, RunWorkflowID(other), "the hash keeps long ids apart")
	require.Equal(t, id, RunWorkflowID(long), "deterministic")
}
