package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/leadflow/leadflow/activities"
	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
	"github.com/leadflow/leadflow/worker"
)

// The shipped "no email opens in 60 days → disqualify" flow, with Temporal's
// test suite skipping the 60 days; the activities are the real ones against
// PostgreSQL, and they see the workflow's clock.
func TestSixtyDayWaitWithTimeSkipping(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		openAfter    time.Duration // 0: never
		disqualified bool
	}{
		{"no opens: disqualified after 60 days", 0, true},
		{"an open on day 59 ends the watch", 59 * 24 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := storetest.NewStore(t)
			_, err := engine.PublishShipped(ctx, s)
			require.NoError(t, err)
			eng := engine.New(s, "", zerolog.Nop())
			t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			_, _, err = s.InsertEvents(ctx, []store.EventRow{{ID: "c1", ContactID: "eve", Type: "page_visited", OccurredAt: t0,
				Properties: map[string]any{"url": "https://example.com/"}}})
			require.NoError(t, err)
			_, err = eng.ApplyPartition(ctx, store.PartitionOf("eve"), t0, 100)
			require.NoError(t, err)
			// The run waits; its workflow start is in the outbox: take it from there.
			var w contract.Wait
			require.NoError(t, s.Pool.QueryRow(ctx, `UPDATE outbox SET dispatched_at = now()
				WHERE kind = 'start_run' AND workflow_id = 'run/dead-end-no-opens:eve:1' RETURNING payload`).Scan(&w))
			require.Equal(t, contract.WaitEvent, w.Kind)
			require.Equal(t, t0.Add(60*24*time.Hour), w.Until.UTC())

			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestWorkflowEnvironment()
			env.SetStartTime(t0)
			worker.RegisterWorkflows(env)
			worker.RegisterActivities(env, &activities.Activities{Engine: eng, Store: s, TaskQueue: "timeskip"})
			if tc.openAfter > 0 {
				env.RegisterDelayedCallback(func() {
					// The event arrives: the engine records it and signals the run.
					at := t0.Add(tc.openAfter)
					_, _, err := s.InsertEvents(ctx, []store.EventRow{{ID: "o1", ContactID: "eve", Type: "email_opened", OccurredAt: at}})
					require.NoError(t, err)
					_, err = eng.ApplyPartition(ctx, store.PartitionOf("eve"), at, 100)
					require.NoError(t, err)
					var sig contract.RunSignal
					require.NoError(t, s.Pool.QueryRow(ctx, `UPDATE outbox SET dispatched_at = now()
						WHERE kind = 'signal_run' AND dispatched_at IS NULL RETURNING payload`).Scan(&sig))
					env.SignalWorkflow(contract.SignalRunEvent, sig)
				}, tc.openAfter)
			}
			env.ExecuteWorkflow(contract.RunWorkflowName, w)
			require.True(t, env.IsWorkflowCompleted())
			require.NoError(t, env.GetWorkflowError())

			var disq bool
			var stage, status string
			require.NoError(t, s.Pool.QueryRow(ctx, `SELECT c.disqualified, c.stage, r.status FROM contacts c
				JOIN flow_runs r ON r.contact_id = c.id AND r.flow_id = 'dead-end-no-opens' WHERE c.id = 'eve'`).Scan(&disq, &stage, &status))
			require.Equal(t, tc.disqualified, disq)
			require.Equal(t, "completed", status)
			if tc.disqualified {
				require.Equal(t, "lost", stage)
			}
		})
	}
}
