package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/leadflow/leadflow/activities"
)

// `leadflow dev` stopped, and the Temporal server it embeds with it, while
// a schedule flow's firings fall due: when it starts again, Temporal's
// catch-up starts one run for all of them, late, not one per missed
// firing, and the run completes. The flow's spec is replaced with a 5 s
// interval so that missed mornings take seconds; the update keeps
// leadflow's note (its fingerprint of the schedule), as an operator's
// change would not, so the restarted worker's schedule sync leaves the
// schedule alone — an update would make Temporal drop the missed firings,
// so this also checks that the sync does not update an unchanged schedule.
func TestDevScheduleFiresOnceAfterDowntime(t *testing.T) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	db := "leadflow_devtest_" + hex.EncodeToString(b[:]) + "_sched"
	dropDatabasesAfter(t, db, db+"_temporal", db+"_temporal_visibility")
	dataDir := t.TempDir()
	ctx := context.Background()

	d := startDev(t, databaseURL(t, db), dataDir)
	d.publish(t, `{"kind": "flow", "id": "every-morning", "name": "Every morning",
	 "trigger": {"type": "schedule", "cron": "0 9 * * 1-5", "timezone": "Europe/Rome"}, "entry": "every_time",
	 "steps": [{"id": "hot", "type": "digest", "model": "main", "band": ["hot"], "top": 5, "owner_field": "owner"}]}`)
	c := d.temporal(t)
	h := c.ScheduleClient().GetHandle(ctx, activities.ScheduleID("leadflow", "every-morning"))
	waitUntil(t, 30*time.Second, "the flow's schedule", func() bool { _, err := h.Describe(ctx); return err == nil })
	require.NoError(t, h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := in.Description.Schedule
		s.Spec = &client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 5 * time.Second}}}
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}}))
	// Stop between firings, with no run in flight: a run started but not
	// finished when Temporal stops is still running when it returns, and
	// the overlap policy then skips every missed firing (one run on return
	// all the same, but not the catch-up this test is about).
	var before *client.ScheduleDescription
	waitUntil(t, 60*time.Second, "a firing done, the next one 2.5 s away", func() bool {
		var err error
		before, err = h.Describe(ctx)
		return err == nil && before.Info.NumActions >= 1 && len(before.Info.RunningWorkflows) == 0 &&
			len(before.Info.NextActionTimes) > 0 && time.Until(before.Info.NextActionTimes[0]) > 2500*time.Millisecond
	})
	c.Close()
	stoppedAt := time.Now()
	d.stop(t)

	time.Sleep(time.Until(stoppedAt.Add(21 * time.Second))) // four firings or more fall due
	restartedAt := time.Now()
	d = startDev(t, databaseURL(t, db), dataDir)
	c = d.temporal(t)
	defer c.Close()
	h = c.ScheduleClient().GetHandle(ctx, activities.ScheduleID("leadflow", "every-morning"))
	var after *client.ScheduleDescription
	waitUntil(t, 60*time.Second, "a firing after the restart", func() bool {
		var err error
		after, err = h.Describe(ctx)
		return err == nil && after.Info.NumActions > before.Info.NumActions
	})

	var missed []client.ScheduleActionResult
	for _, a := range after.Info.RecentActions {
		if a.ScheduleTime.After(stoppedAt) && a.ScheduleTime.Before(restartedAt) {
			missed = append(missed, a)
		}
	}
	require.Len(t, missed, 1, "one run for the firings missed while down (stopped %s, restarted %s): %+v; info %+v; note %q",
		stoppedAt, restartedAt, after.Info.RecentActions, after.Info, after.Schedule.State.Note)
	require.True(t, missed[0].ActualTime.After(restartedAt), "it fired on return (scheduled %s, started %s)", missed[0].ScheduleTime, missed[0].ActualTime)
	require.GreaterOrEqual(t, after.Info.NumActionsSkippedOverlap-before.Info.NumActionsSkippedOverlap, 3, "the other missed firings were skipped")
	require.Zero(t, after.Info.NumActionsMissedCatchupWindow, "all within the catch-up window")
	require.True(t, strings.HasPrefix(after.Schedule.State.Note, "managed by leadflow"), after.Schedule.State.Note)
	require.NotEmpty(t, after.Schedule.Spec.Intervals, "leadflow's restart did not update the unchanged schedule")

	run := missed[0].StartWorkflowResult
	require.NotNil(t, run)
	waitUntil(t, 30*time.Second, "the caught-up run to complete", func() bool {
		w, err := c.DescribeWorkflowExecution(ctx, run.WorkflowID, run.FirstExecutionRunID)
		return err == nil && w.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	})
	d.stop(t)
}

// publish posts definitions with the admin key and requires 200 or 201.
func (d *devRun) publish(t *testing.T, body string) {
	t.Helper()
	req, err := http.NewRequest("POST", d.apiURL+"/v1/definitions", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer adm")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Contains(t, []int{200, 201}, resp.StatusCode)
}
