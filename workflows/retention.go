package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Names of the event retention sweep: part of the durable contract.
const (
	RetentionWorkflowName = "RetentionSweepWorkflow"
	ActivitySweepEvents   = "SweepEvents"
)

// RetentionScheduleID is the id of the Temporal Schedule that starts the
// retention sweep of a task queue's deployment, and RetentionWorkflowID
// the id of the workflows it starts.
func RetentionScheduleID(taskQueue string) string { return taskQueue + "/retention" }
func RetentionWorkflowID(taskQueue string) string { return taskQueue + "/retention-sweep" }

// RetentionInput is the input of RetentionSweepWorkflow and of the
// SweepEvents activity.
type RetentionInput struct {
	// Deployment: see PartitionInput.
	Deployment string `json:"deployment,omitempty"`
}

// SweepResult is what one sweep did: how many applied events older than
// the horizon it deleted, or why it refused to delete any (a published
// definition reads further back than the horizon).
type SweepResult struct {
	Deleted int64  `json:"deleted"`
	Refused string `json:"refused,omitempty"`
}

// RetentionSweepWorkflow deletes the applied events older than the worker's
// horizon (LEADFLOW_EVENT_RETENTION) in small batches, in one activity that
// heartbeats; a Temporal Schedule starts it periodically (worker
// EnsureRetention). The horizon is the worker's configuration, not an
// input, so a changed setting applies at the next sweep.
func RetentionSweepWorkflow(ctx workflow.Context, in RetentionInput) (SweepResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Minute,
			MaximumAttempts:    10,
		},
	})
	var res SweepResult
	err := workflow.ExecuteActivity(ctx, ActivitySweepEvents, in).Get(ctx, &res)
	return res, err
}
