package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadflow/leadflow/contract"
)

// scheduledStartTime is the search attribute Temporal Schedules set on the
// workflows they start: the firing's nominal time.
var scheduledStartTime = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")

// DigestWorkflow runs a schedule flow's digest steps once for one firing of
// its schedule. The firing time comes from the schedule (the
// TemporalScheduledStartTime search attribute; the workflow's start time
// otherwise), so a retried activity writes under the same keys.
func DigestWorkflow(ctx workflow.Context, in contract.DigestInput) (contract.DigestResult, error) {
	if in.FiredAt.IsZero() {
		if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartTime); ok {
			in.FiredAt = t
		} else {
			in.FiredAt = workflow.GetInfo(ctx).WorkflowStartTime
		}
	}
	in.FiredAt = in.FiredAt.UTC().Truncate(time.Second)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		// A digest a day late is no morning hot list: give up then.
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{contract.ErrForeignDeployment},
		},
	})
	var res contract.DigestResult
	err := workflow.ExecuteActivity(actx, contract.ActivityRunDigest, in).Get(actx, &res)
	return res, err
}
