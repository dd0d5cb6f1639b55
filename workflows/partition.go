package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadflow/leadflow/contract"
)

const (
	// PartitionOwnerVersion is the change id of the partition owner (issue
	// 10) for workflow.GetVersion: histories recorded before it replay
	// with applyLoop.
	PartitionOwnerVersion = "partition-owner"
	// OwnerHeartbeatTimeout is how long Temporal waits for an owner's
	// heartbeat (sent every 3 s) before it runs the partition elsewhere. It
	// is a last resort: the workers watch each other through PostgreSQL and
	// move a partition sooner. A killed worker's locks die with its
	// connections, and a frozen worker's lock connection (quiet for 8 s) is
	// ended by the others; either way they fail its owners' activities at
	// once (activities.PartitionOwners.reap). It still serves an attempt
	// that died before it claimed its partition (or whose completion was
	// lost with a stopping worker); it allows three heartbeats, so that one
	// slow call to a busy Temporal server does not time a healthy owner out.
	OwnerHeartbeatTimeout = 10 * time.Second
	// OwnerLease bounds one OwnPartition activity; the owner returns a
	// little before it (OwnLeaseEnded) and the workflow starts the next.
	OwnerLease = time.Hour
	// ownerIterations bounds one owner run's history (about six events per
	// owner activity) before continue-as-new.
	ownerIterations = 200
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

// PartitionWorkflow keeps one owner of a partition running somewhere in
// the fleet, for ever. The owner (the OwnPartition activity) applies the
// partition's events and due changes itself, woken by PostgreSQL: no
// Temporal round trip lies between an event and its score. Temporal's part
// is to keep it running: when its worker dies the owner's heartbeats stop,
// and Temporal retries it within OwnerHeartbeatTimeout on another worker
// (an advisory lock and a fencing epoch make the old one harmless if it is
// still alive). An owner that hands its partition back (its worker owns
// more than its share) or ends its lease is started again at once.
//
// An owner failing for good (a non-retryable error) does not end the
// workflow: it waits (partitionFailureBackoff, doubling) and starts it
// again. Work refused as another deployment's (contract.ErrForeignDeployment) ends
// it, as before. Wake signals of older APIs are drained and ignored: the
// owner is woken by NOTIFY.
func PartitionWorkflow(ctx workflow.Context, in contract.PartitionInput) error {
	if workflow.GetVersion(ctx, PartitionOwnerVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return applyLoop(ctx, in)
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: OwnerLease + time.Minute,
		HeartbeatTimeout:    OwnerHeartbeatTimeout,
		// An attempt that finds the partition busy (its lock still held,
		// or a less loaded worker should take it) is retried at most 1 s
		// apart.
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    100 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Second,
		},
	})
	wake := workflow.GetSignalChannel(ctx, contract.SignalWake)
	failures := 0
	for i := 0; i < ownerIterations; i++ {
		for wake.ReceiveAsync(nil) {
		}
		var res contract.OwnResult
		err := workflow.ExecuteActivity(ctx, contract.ActivityOwnPartition, contract.OwnInput{Partition: in.Partition, Deployment: in.Deployment}).Get(ctx, &res)
		if err != nil {
			if ForeignDeployment(err) {
				return err
			}
			failures++
			backoff := partitionFailureBackoff
			for j := 1; j < failures && backoff < partitionFailureMaxBackoff; j++ {
				backoff *= 2
			}
			backoff = min(backoff, partitionFailureMaxBackoff)
			workflow.GetLogger(ctx).Error("partition owner failed; starting it again later",
				"partition", in.Partition, "failures", failures, "retry_in", backoff.String(), "error", err.Error())
			if err := workflow.Sleep(ctx, backoff); err != nil {
				return err
			}
			continue
		}
		failures = 0
		if workflow.GetInfo(ctx).GetCurrentHistoryLength() > partitionMaxHistory {
			break
		}
	}
	for wake.ReceiveAsync(nil) {
	}
	return workflow.NewContinueAsNewError(ctx, contract.PartitionWorkflowName, in)
}

// applyLoop is the partition workflow of histories from before partition
// owners (PartitionOwnerVersion): it applies the events and due changes of
// one partition of contacts in batches, one activity per batch, for ever.
// Runs in flight finish their run with it, then continue as new as owners.
// It is woken by contract.SignalWake when events
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
// A batch refused as another deployment's work (contract.ErrForeignDeployment: two
// deployments share the task queue) ends the workflow: no worker of this
// deployment will ever take it, and its own deployment starts it again.
func applyLoop(ctx workflow.Context, in contract.PartitionInput) error {
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
