package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

const (
	// partitionIdle is how long a partition sleeps without a wake signal
	// before it looks for work anyway (a lost signal costs at most this).
	partitionIdle = 10 * time.Second
	// partitionIterations bounds one run's history before continue-as-new.
	partitionIterations = 250
	partitionMaxHistory = 8000
)

// PartitionWorkflow applies the events and due changes of one partition of
// contacts, in batches, for ever. It is woken by SignalWake when events
// arrive, by a timer at the partition's next due time, and every
// partitionIdle in case a signal was lost. It continues as new before its
// history grows large; wake signals carry no data (the database holds the
// work), so none is lost across it.
func PartitionWorkflow(ctx workflow.Context, in PartitionInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    5 * time.Second, // a dead worker's batch is retried within seconds
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    200 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    15 * time.Second,
		},
	})
	wake := workflow.GetSignalChannel(ctx, SignalWake)
	for i := 0; i < partitionIterations; i++ {
		for wake.ReceiveAsync(nil) {
		}
		var res ApplyResult
		if err := workflow.ExecuteActivity(ctx, ActivityApplyPartition, ApplyInput{Partition: in.Partition}).Get(ctx, &res); err != nil {
			return err
		}
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
	return workflow.NewContinueAsNewError(ctx, PartitionWorkflowName, in)
}
