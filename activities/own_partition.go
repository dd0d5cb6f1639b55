package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
)

const (
	// DefaultOwnerPoll is how often an owner looks for work when nothing
	// woke it: a lost notification delays events at most this.
	DefaultOwnerPoll = time.Second
	// ownerLeaseMargin: an owner ends its lease this long before the
	// activity's start-to-close timeout.
	ownerLeaseMargin = 2 * time.Minute
	// Backoff of a batch that failed: transient failures (the database
	// restarting) are retried soon, a batch failing as a whole for another
	// reason (definitions that cannot load) much later.
	ownerTransientBackoff    = 200 * time.Millisecond
	ownerTransientMaxBackoff = 2 * time.Second
	ownerFailureBackoff      = 10 * time.Second
	ownerFailureMaxBackoff   = 5 * time.Minute
)

// OwnPartition owns a partition until its lease ends, it is handed back,
// its worker stops or it loses the partition: it holds the partition's
// advisory lock and applies its events and due changes as they come
// (engine.ApplyPartition, then the outbox), woken by NOTIFY when events are
// inserted, by a timer at the partition's next due time, and by a poll
// every OwnerPoll in case a notification was lost. Every apply transaction
// is fenced by the owner's epoch, so an owner that lost its lock cannot
// apply beside its successor. It records a heartbeat every second (the SDK
// sends one every 3 s); Temporal runs it elsewhere when they stop, or at
// once when another worker finds its lock connection gone (reap).
func (a *Activities) OwnPartition(ctx context.Context, in contract.OwnInput) (contract.OwnResult, error) {
	if err := a.checkDeployment(contract.ActivityOwnPartition, in.Deployment); err != nil {
		return contract.OwnResult{}, err
	}
	if in.Partition < 0 || in.Partition >= store.Partitions {
		return contract.OwnResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("partition %d does not exist (0 to %d)", in.Partition, store.Partitions-1), contract.ErrPermanentApply, nil)
	}
	if a.Owners == nil {
		return contract.OwnResult{}, temporal.NewNonRetryableApplicationError(
			"this worker has no PartitionOwners: build it with worker.New", contract.ErrPermanentApply, nil)
	}
	attempt, deadline, stopping := 1, time.Time{}, (<-chan struct{})(nil)
	var act store.OwnerActivity
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		attempt, deadline = int(info.Attempt), info.Deadline
		stopping = activity.GetWorkerStopChannel(ctx)
		act = store.OwnerActivity{Namespace: info.WorkflowNamespace, WorkflowID: info.WorkflowExecution.ID,
			RunID: info.WorkflowExecution.RunID, ActivityID: info.ActivityID}
	}
	lease, err := a.Owners.acquire(ctx, in.Partition, attempt, act)
	if errors.Is(err, errPartitionBusy) {
		return contract.OwnResult{}, temporal.NewApplicationError(err.Error(), contract.ErrPartitionBusy)
	}
	if err != nil {
		return contract.OwnResult{}, fmt.Errorf("error taking partition %d: %w", in.Partition, err)
	}
	defer a.Owners.release(lease)
	defer heartbeat(ctx)()
	a.Log.Debug().Int("partition", in.Partition).Int64("epoch", lease.epoch).Msg("owning partition")
	var leaseEnd <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(max(time.Until(deadline)-ownerLeaseMargin, time.Second))
		defer t.Stop()
		leaseEnd = t.C
	}
	return a.serve(store.WithPartitionFence(ctx, in.Partition, lease.epoch), lease, stopping, leaseEnd)
}

// serve is the owner's loop.
func (a *Activities) serve(ctx context.Context, lease *partitionLease, stopping <-chan struct{}, leaseEnd <-chan time.Time) (contract.OwnResult, error) {
	p := lease.partition
	woken, unsubscribe := a.Owners.notifier.Subscribe(p)
	defer unsubscribe()
	poll := a.OwnerPoll
	if poll <= 0 {
		poll = DefaultOwnerPoll
	}
	size := a.BatchSize
	if size <= 0 {
		size = 500
	}
	// The outbox goes to Temporal beside the applying, not between two
	// batches: a slow Temporal delays runs and deliveries, never scores.
	dispatchWake := make(chan struct{}, 1)
	dctx, stopDispatch := context.WithCancel(ctx)
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		a.dispatchLoop(dctx, p, dispatchWake)
	}()
	defer func() {
		stopDispatch()
		<-dispatched
	}()
	var res contract.OwnResult
	transient, failures := 0, 0
	for {
		wait := poll
		batch, err := a.Engine.ApplyPartition(ctx, p, a.now(), size)
		switch {
		case err == nil:
			transient, failures = 0, 0
			res.Batches++
			res.Events += batch.Events
			if batch.NextDue != nil {
				wait = min(wait, max(time.Until(*batch.NextDue), time.Millisecond))
			}
			select {
			case dispatchWake <- struct{}{}:
			default:
			}
			if batch.More {
				wait = 0
			}
		case store.IsNotPartitionOwner(err):
			return res, fmt.Errorf("partition %d lost: %w", p, err)
		case ctx.Err() != nil:
			return res, ctx.Err()
		case engine.Transient(err):
			transient++
			wait = backoff(ownerTransientBackoff, ownerTransientMaxBackoff, transient)
			a.Log.Warn().Err(err).Int("partition", p).Dur("retry_in", wait).Msg("partition batch failed; retrying")
		default:
			failures++
			wait = backoff(ownerFailureBackoff, ownerFailureMaxBackoff, failures)
			a.Log.Error().Err(err).Int("partition", p).Int("failures", failures).Dur("retry_in", wait).
				Msg("partition batch failed as a whole; trying again later")
		}
		if wait > 0 || err != nil {
			woke := woken
			if err != nil {
				woke = nil // a failing partition is not retried on every insert
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return res, ctx.Err()
			case <-stopping:
				// Not an error: the workflow starts the next owner at once,
				// on another worker.
				t.Stop()
				res.Reason = contract.OwnWorkerStopping
				return res, nil
			case <-lease.locks.Done():
				t.Stop()
				return res, fmt.Errorf("partition %d: %w", p, store.ErrLockSessionLost)
			case <-lease.handBack:
				t.Stop()
				res.Reason = contract.OwnHandedBack
				return res, nil
			case <-leaseEnd:
				t.Stop()
				res.Reason = contract.OwnLeaseEnded
				return res, nil
			case <-woke:
			case <-t.C:
			}
			t.Stop()
		} else {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-stopping:
				res.Reason = contract.OwnWorkerStopping
				return res, nil
			case <-lease.handBack:
				res.Reason = contract.OwnHandedBack
				return res, nil
			case <-lease.locks.Done():
				return res, fmt.Errorf("partition %d: %w", p, store.ErrLockSessionLost)
			default:
			}
		}
	}
}

// dispatchLoop hands the partition's outbox to Temporal each time it is
// woken (after every batch), retrying every 2 s while Temporal refuses.
func (a *Activities) dispatchLoop(ctx context.Context, p int, wake <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		for {
			err := a.dispatch(ctx, p)
			if err == nil || ctx.Err() != nil {
				break
			}
			a.Log.Warn().Err(err).Int("partition", p).Msg("outbox dispatch incomplete; retrying shortly")
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
		}
	}
}

// backoff is first doubled n-1 times, at most most.
func backoff(first, most time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}
