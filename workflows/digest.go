package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// DigestWorkflowName is the workflow a schedule flow's Temporal Schedule
// starts at each firing; ActivityRunDigest is its one activity.
const (
	DigestWorkflowName = "DigestWorkflow"
	ActivityRunDigest  = "RunDigest"
)

// scheduledStartTime is the search attribute Temporal Schedules set on the
// workflows they start: the firing's nominal time.
var scheduledStartTime = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")

// DigestInput is the input of DigestWorkflow (fixed in the schedule's
// action) and of the RunDigest activity (with FiredAt set).
type DigestInput struct {
	FlowID string `json:"flow_id"`
	// FiredAt is the firing's nominal time (its scheduled time), the same
	// on every retry: the idempotency keys of what the digest writes are
	// derived from it.
	FiredAt time.Time `json:"fired_at,omitzero"`
	// Deployment: see PartitionInput.
	Deployment string `json:"deployment,omitempty"`
}

// DigestResult says what one digest run wrote.
type DigestResult struct {
	Leads    int `json:"leads"`
	Tasks    int `json:"tasks"`
	Webhooks int `json:"webhooks"`
	// Skipped says why nothing was sent (the flow is no longer published).
	Skipped string `json:"skipped,omitempty"`
}

// DigestWorkflow runs a schedule flow's digest steps once for one firing of
// its schedule. The firing time comes from the schedule (the
// TemporalScheduledStartTime search attribute; the workflow's start time
// otherwise), so a retried activity writes under the same keys.
func DigestWorkflow(ctx workflow.Context, in DigestInput) (DigestResult, error) {
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
		// A digest hours late is no morning hot list: give up after a day.
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{ErrForeignDeployment},
		},
	})
	var res DigestResult
	err := workflow.ExecuteActivity(actx, ActivityRunDigest, in).Get(actx, &res)
	return res, err
}
