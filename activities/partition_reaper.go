package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/leadflow/leadflow/contract"
)

// reapPeriod is how often a worker pings its lock connection and looks for
// frozen workers and for partitions whose owner's lock is gone while its
// activity may still look alive to Temporal.
const reapPeriod = time.Second

// reapLoop fails, at once, the activity of every owner whose lock
// connection is gone (seen twice in a row with the same epoch): its worker
// died (kill -9, a lost machine), PostgreSQL dropped its connection and the
// locks with it,
// and Temporal would otherwise wait for the heartbeat timeout before
// running it elsewhere. Failing an activity that already ended (an owner
// that let its partition go) does nothing. Every worker reaps; the first
// call wins.
func (o *PartitionOwners) reapLoop(ctx context.Context) {
	if o.client == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(reapPeriod):
		}
		if err := o.ping(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn().Err(err).Msg("partition lock connection lost; its owners stop and start again")
		}
		if err := o.reap(ctx); err != nil && ctx.Err() == nil {
			o.log.Debug().Err(err).Msg("could not look for partitions of dead workers")
		}
	}
}

// ping shows PostgreSQL that this worker lives (its lock connection is
// used every second) and notices at once when that connection is lost.
func (o *PartitionOwners) ping(ctx context.Context) error {
	o.mu.Lock()
	locks := o.locks
	o.mu.Unlock()
	if locks == nil {
		return nil
	}
	return locks.Ping(ctx)
}

// frozenAfter: a worker whose lock connection has been quiet this long is
// frozen (SIGSTOP, a hung machine, a stalled VM) and is ended.
const frozenAfter = 8 * time.Second

func (o *PartitionOwners) reap(ctx context.Context) error {
	o.mu.Lock()
	locks := o.locks
	o.mu.Unlock()
	if locks != nil {
		pids, err := locks.TerminateFrozenWorkers(ctx, frozenAfter)
		if err != nil {
			return err
		}
		for _, pid := range pids {
			o.log.Warn().Int32("lock_backend", pid).Dur("quiet", frozenAfter).
				Msg("ended the lock connection of a frozen worker; its partitions go to the others")
		}
	}
	rows, err := o.store.PartitionOwners(ctx)
	if err != nil {
		return err
	}
	for _, r := range rows {
		// Only the owners of dead workers: an owner that let its partition
		// go lives on, and its activity (or its retry) is Temporal's.
		if r.Held || r.OwnerAlive || r.Activity.ActivityID == "" || o.reaped[r.Partition] == r.Epoch {
			delete(o.orphans, r.Partition)
			continue
		}
		if o.orphans[r.Partition] != r.Epoch {
			o.orphans[r.Partition] = r.Epoch // seen once: a release may be under way
			continue
		}
		o.reaped[r.Partition] = r.Epoch
		delete(o.orphans, r.Partition)
		a := r.Activity
		cause := temporal.NewApplicationError(fmt.Sprintf("the owner of partition %d (%s) lost its lock: its worker is gone", r.Partition, r.Owner),
			contract.ErrOwnerGone)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := o.client.CompleteActivityByID(cctx, a.Namespace, a.WorkflowID, a.RunID, a.ActivityID, nil, cause)
		cancel()
		if err != nil {
			o.log.Debug().Err(err).Int("partition", r.Partition).Msg("could not fail the activity of a gone owner (it may have ended already)")
		} else {
			o.log.Warn().Int("partition", r.Partition).Str("owner", r.Owner).Msg("failed the activity of a partition owner whose worker is gone; it runs elsewhere")
		}
	}
	return nil
}
