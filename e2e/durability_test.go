package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/workflows"
)

// A worker stopped while a run waits, and events sent while no worker runs:
// a new worker picks everything up, and nothing is applied twice.
func TestWorkerStoppedAndRestartedMidFlow(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	st.publish([]byte(`[
{"kind": "score_model", "id": "m", "name": "M", "engagement": [{"id": "p", "on": {"type": "page_visited"}, "points": 1}]},
{"kind": "flow", "id": "slow", "name": "Slow", "trigger": {"type": "event", "event": "start"}, "entry": "once", "steps": [
  {"id": "first", "type": "add_tag", "tag": "first"},
  {"id": "nap", "type": "wait", "duration": "3s"},
  {"id": "second", "type": "add_tag", "tag": "second"}]}]`))
	st.send(ev("s1", "start", "dee", nil))
	st.eventually("dee", 10*time.Second, func(c contact) bool { return slices.Contains(c.Tags, "first") })

	st.stopWorker()
	for i := range 20 {
		st.send(ev("pv-"+string(rune('a'+i)), "page_visited", "dee", map[string]any{"url": "/"}))
	}
	time.Sleep(4 * time.Second) // the wait falls due while no worker runs
	c, _ := st.contact("dee")
	require.NotContains(t, c.Tags, "second")

	st.startWorker()
	c = st.eventually("dee", 20*time.Second, func(c contact) bool {
		return slices.Contains(c.Tags, "second") && c.Scores["m"].Score == 20
	})
	st.settled()
	_, totals := st.history("dee")
	require.Equal(t, 20.0, totals["m"])
}

// The run workflow's history is committed under testdata; replaying it
// against today's workflow code must not fail, so a change to workflow code
// cannot break runs in flight. Regenerate with LEADFLOW_RECORD_HISTORY=1.
func TestReplayRunWorkflowHistory(t *testing.T) {
	t.Parallel()
	runPath := filepath.Join("testdata", "run_workflow_history.json")
	partitionPath := filepath.Join("testdata", "partition_workflow_history.json")
	if os.Getenv("LEADFLOW_RECORD_HISTORY") != "" {
		recordHistories(t, runPath, partitionPath)
	}
	replayHistory(t, runPath)
	replayHistory(t, partitionPath)
}

func recordHistories(t *testing.T, runPath, partitionPath string) {
	st := newStack(t, stackOptions{})
	st.publish([]byte(`{"kind": "flow", "id": "replay", "name": "Replay", "trigger": {"type": "event", "event": "start"}, "entry": "once", "steps": [
  {"id": "nap", "type": "wait", "duration": "1s"},
  {"id": "want", "type": "wait_for_event", "event": "email_opened", "timeout": "30s", "on_event": "tag", "on_timeout": "end"},
  {"id": "tag", "type": "add_tag", "tag": "opened"},
  {"id": "nap2", "type": "wait", "duration": "1s"}]}`))
	st.send(ev("r1", "start", "rex", nil))
	time.Sleep(2 * time.Second)
	st.send(ev("r2", "email_opened", "rex", nil))
	st.eventually("rex", 15*time.Second, func(c contact) bool { return slices.Contains(c.Tags, "opened") && len(c.FlowRuns) == 0 })
	id := workflows.WorkflowID(st.TaskQueue, engine.RunWorkflowID("replay:rex:1"))
	writeHistory(t, st.Client, id, runPath)
	writeHistory(t, st.Client, workflows.PartitionWorkflowID(st.TaskQueue, store.PartitionOf("rex")), partitionPath)
}

func writeHistory(t *testing.T, c client.Client, workflowID, path string) {
	iter := c.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	var events []json.RawMessage
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		b, err := protoJSON(e)
		require.NoError(t, err)
		events = append(events, b)
	}
	out, err := json.MarshalIndent(map[string]any{"events": events}, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, out, 0o644))
}
