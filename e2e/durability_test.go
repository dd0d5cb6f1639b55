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
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/store"
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

// TestRecordWorkflowHistories records the histories that
// workflows.TestReplayRecordedHistories replays without a server (under
// workflows/testdata), from real runs on the embedded Temporal server. Run
// it with LEADFLOW_RECORD_HISTORY=1 after a change to workflow code that
// histories in flight must survive, and commit both the old and new files.
func TestRecordWorkflowHistories(t *testing.T) {
	if os.Getenv("LEADFLOW_RECORD_HISTORY") == "" {
		t.Skip("set LEADFLOW_RECORD_HISTORY=1 to record the workflow histories under workflows/testdata")
	}
	dir := filepath.Join("..", "workflows", "testdata")
	recordHistories(t, filepath.Join(dir, "run_workflow_history.json"), filepath.Join(dir, "partition_workflow_history.json"))
	recordDigestHistory(t, filepath.Join(dir, "digest_workflow_history.json"))
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
	id := contract.WorkflowID(st.TaskQueue, contract.RunWorkflowID("replay:rex:1"))
	writeHistory(t, st.Client, id, runPath)
	writeHistory(t, st.Client, contract.PartitionWorkflowID(st.TaskQueue, store.PartitionOf("rex")), partitionPath)
}

func writeHistory(t *testing.T, c client.Client, workflowID, path string) {
	iter := c.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	var events []json.RawMessage
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		b, err := protojson.Marshal(e)
		require.NoError(t, err)
		events = append(events, b)
	}
	out, err := json.MarshalIndent(map[string]any{"events": events}, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, out, 0o644))
}

// A run keeps the flow version it started on; a new version applies to runs
// that start after it; a paused flow starts no runs until resumed.
func TestVersionsAndPause(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	version := func(tag string) []byte {
		return []byte(`{"kind": "flow", "id": "v", "name": "Versions", "trigger": {"type": "event", "event": "go"}, "entry": "every_time", "steps": [
  {"id": "nap", "type": "wait", "duration": "2s"},
  {"id": "tag", "type": "add_tag", "tag": "` + tag + `"}]}`)
	}
	st.publish(version("from-v1"))
	st.send(ev("g1", "go", "vic", nil))
	st.eventually("vic", 10*time.Second, func(c contact) bool { return len(c.FlowRuns) == 1 })
	st.publish(version("from-v2"))
	c := st.eventually("vic", 10*time.Second, func(c contact) bool { return len(c.FlowRuns) == 0 && len(c.Tags) > 0 })
	require.Equal(t, []string{"from-v1"}, c.Tags)

	st.send(ev("g2", "go", "vic", nil))
	st.eventually("vic", 10*time.Second, func(c contact) bool { return slices.Contains(c.Tags, "from-v2") })

	var def struct {
		Status   string           `json:"status"`
		Versions []map[string]any `json:"versions"`
	}
	require.Equal(t, 200, st.do("POST", "/v1/definitions/v/pause", adminKey, nil, nil))
	require.Equal(t, 200, st.do("GET", "/v1/definitions/v", adminKey, nil, &def))
	require.Equal(t, "paused", def.Status)
	require.Len(t, def.Versions, 2)
	st.send(ev("g3", "go", "vic", nil))
	st.settled()
	c, _ = st.contact("vic")
	require.Empty(t, c.FlowRuns)
	require.Equal(t, 200, st.do("POST", "/v1/definitions/v/resume", adminKey, nil, nil))
	st.send(ev("g4", "go", "vic", nil))
	st.eventually("vic", 10*time.Second, func(c contact) bool { return len(c.FlowRuns) == 1 })
}
