package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadflow/leadflow/contract"
)

// RetentionEvery is how often the event retention sweep runs.
const RetentionEvery = time.Hour

// EnsureRetention keeps the Temporal Schedule of the event retention sweep
// in line with the horizon: with a horizon, a schedule that starts
// RetentionSweepWorkflow every RetentionEvery (one at a time, missed runs
// skipped) is created if missing; without one, the schedule is deleted if
// present. Several workers may call it at once.
func EnsureRetention(ctx context.Context, c client.Client, taskQueue, deployment string, horizon time.Duration) error {
	id := contract.RetentionScheduleID(taskQueue)
	if horizon <= 0 {
		err := c.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			return fmt.Errorf("error deleting the event retention schedule %s: %w", id, err)
		}
		return nil
	}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      id,
		Spec:    client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: RetentionEvery}}},
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{
			ID:        contract.RetentionWorkflowID(taskQueue),
			Workflow:  contract.RetentionWorkflowName,
			Args:      []any{contract.RetentionInput{Deployment: deployment}},
			TaskQueue: taskQueue,
		},
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("error creating the event retention schedule %s: %w", id, err)
	}
	return nil
}
