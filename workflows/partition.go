package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadflow/leadflow/contract"
)

const (
	// partitionIdle is how long a partition sleeps without a wake signal
	// before it looks for work anyway (a lost signal costs at most this).
	partitionIdle = 10 * time.Second
	// partitionIterations bounds one run's history before continue-as-new.
	partitionIterations = 250
	partitionMaxHistory = 8000
	// partitionFailureBackoff is the first wait after a batch failed for a
	// reason retrying at once cannot cure; it doubles up to
	// partitionFailureMaxBackoff while the failures go on.
	partitionFailureBackoff    = 10 * time.Second
	partitionFailureMaxBackoff = 5 * time.Minute
	// PartitionWorkflowTaskTimeout bounds how long a partition waits for a
	// workflow task lost with a crashed worker or server.
	PartitionWorkflowTaskTimeout = 4 * time.Second
)

// PartitionWorkflow applies the events and due changes of one partition of
// contacts, in batches, for ever. It is woken by SignalWake when events
// arrive, by a timer at the partition's next due time, and every
// partitionIdle in case a signal was lost. It continues as new before its
// history grows large; wake signals carry no data (the database holds the
// work), so none is lost across it.
//
// Transient failures of a batch (database or Temporal unavailable) are
// retried by Temporal without limit, with backoff. A batch that fails for
// good as a whole (the activity says so with a non-retryable error) does
// not end the workflow: it waits (partitionFailureBackoff, doubling) and
// tries again, so that a fix (a definition, the database) takes effect
// without anyone restarting anything.
// A batch refused as another deployment's work (ErrForeignDeployment: two
// deployments share the task queue) ends the workflow: no worker of this
// deployment will ever take it, and its own deployment starts it again.
func PartitionWorkflow(ctx workflow.Context, in contract.PartitionInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    5 * time.Second, // a dead worker's batch is retried within seconds
		// Transient failures (the database restarting) are retried at most
		// 2 s apart, so a partition applies again within seconds of the
		// database coming back.
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    200 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    2 * time.Second,
		},
	})
	wake := workflow.GetSignalChannel(ctx, contract.SignalWake)
	failures := 0
	for i := 0; i < partitionIterations; i++ {
		for wake.ReceiveAsync(nil) {
		}
		var res contract.BatchResult
		if err := workflow.ExecuteActivity(ctx, contract.ActivityApplyPartition, contract.ApplyInput{Partition: in.Partition, Deployment: in.Deployment}).Get(ctx, &res); err != nil {
			if ForeignDeployment(err) {
				return err // no worker of this deployment will ever take it
			}
			failures++
			backoff := partitionFailureBackoff
			for j := 1; j < failures && backoff < partitionFailureMaxBackoff; j++ {
				backoff *= 2
			}
			backoff = min(backoff, partitionFailureMaxBackoff)
			workflow.GetLogger(ctx).Error("partition batch failed; trying again later",
				"partition", in.Partition, "failures", failures, "retry_in", backoff.String(), "error", err.Error())
			if err := workflow.Sleep(ctx, backoff); err != nil {
				return err
			}
			continue
		}
		failures = 0
		if res.More {
			continue
		}
		if workflow.GetInfo(ctx).GetCurrentHistoryLength() > partitionMaxHistory {
			break
		}
		sleep := partitionIdle
		if res.NextDue != nil {
			if d := res.NextDue.Sub(workflow.Now(ctx)); d < sleep {
				sleep = max(d, time.Millisecond)
			}
		}
		timerCtx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.AddFuture(workflow.NewTimer(timerCtx, sleep), func(workflow.Future) {})
		sel.Select(ctx)
		cancel()
	}
	for wake.ReceiveAsync(nil) {
	}
	return workflow.NewContinueAsNewError(ctx, contract.PartitionWorkflowName, in)
}
