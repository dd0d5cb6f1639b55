package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadflow/leadflow/contract"
)

// RetentionSweepWorkflow deletes the applied events older than the worker's
// horizon (LEADFLOW_EVENT_RETENTION) in small batches, in one activity that
// heartbeats; a Temporal Schedule starts it periodically (worker
// EnsureRetention). The horizon is the worker's configuration, not an
// input, so a changed setting applies at the next sweep.
func RetentionSweepWorkflow(ctx workflow.Context, in contract.RetentionInput) (contract.SweepResult, error) {
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
	var res contract.SweepResult
	err := workflow.ExecuteActivity(ctx, contract.ActivitySweepEvents, in).Get(ctx, &res)
	return res, err
}
