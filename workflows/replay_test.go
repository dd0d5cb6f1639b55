package workflows

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/leadflow/leadflow/contract"
)

// The histories under testdata were recorded from real runs on a Temporal
// server (e2e.TestRecordWorkflowHistories, LEADFLOW_RECORD_HISTORY=1).
// Replaying them against today's workflow code must not fail, so a change
// to workflow code cannot break workflows in flight. No server is needed.
func TestReplayRecordedHistories(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*_history.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(PartitionWorkflow, workflow.RegisterOptions{Name: contract.PartitionWorkflowName})
			r.RegisterWorkflowWithOptions(RunWorkflow, workflow.RegisterOptions{Name: contract.RunWorkflowName})
			r.RegisterWorkflowWithOptions(DeliveryWorkflow, workflow.RegisterOptions{Name: contract.DeliveryWorkflowName})
			r.RegisterWorkflowWithOptions(DigestWorkflow, workflow.RegisterOptions{Name: contract.DigestWorkflowName})
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(nil, path))
		})
	}
}
