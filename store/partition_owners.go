package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// OwnerActivity names the Temporal activity of an owner.
type OwnerActivity struct {
	Namespace, WorkflowID, RunID, ActivityID string
}

// PartitionOwnerRow is the last claim of a partition and whether its lock
// is held now.
type PartitionOwnerRow struct {
	Partition  int
	Epoch      int64
	Owner      string
	OwnerPID   int32
	AcquiredAt time.Time
	// Held: the owner's lock connection holds the partition's lock now.
	Held bool
	// OwnerAlive: the owner's lock connection still exists (its worker
	// lives, whether or not it still holds this partition).
	OwnerAlive bool
	// Activity is the owner's Temporal activity (empty fields when the
	// claim was made outside an activity).
	Activity OwnerActivity
}

// PartitionOwners lists the partitions' last claims in partition order.
func (s *Store) PartitionOwners(ctx context.Context) ([]PartitionOwnerRow, error) {
	rows, err := s.Pool.Query(ctx, `SELECT o.partition, o.epoch, o.owner, o.owner_pid, o.acquired_at,
			o.namespace, o.workflow_id, o.run_id, o.activity_id,
			EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
				AND l.classid::int8 = $1 AND l.objid::int8 = o.partition AND l.pid = o.owner_pid
				AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())),
			EXISTS (SELECT 1 FROM pg_locks w WHERE w.locktype = 'advisory' AND w.granted AND w.objsubid = 2
				AND w.classid::int8 = $2 AND w.objid::int8 = o.owner_pid AND w.pid = o.owner_pid)
		FROM partition_owners o ORDER BY o.partition`, int64(partitionLockSpace), int64(workerLockSpace))
	if err != nil {
		return nil, fmt.Errorf("error listing partition owners: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PartitionOwnerRow, error) {
		var o PartitionOwnerRow
		err := r.Scan(&o.Partition, &o.Epoch, &o.Owner, &o.OwnerPID, &o.AcquiredAt,
			&o.Activity.Namespace, &o.Activity.WorkflowID, &o.Activity.RunID, &o.Activity.ActivityID, &o.Held, &o.OwnerAlive)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("error reading partition owners: %w", err)
	}
	return out, nil
}

// ClaimPartition records the owner (the worker's identity, the backend pid
// of its lock connection, its Temporal activity act) as the partition's and
// returns the new epoch, the fencing token of its transactions
// (WithPartitionFence). Call it holding the partition's lock. It waits for
// fenced transactions of the previous owner still in flight (at most
// FencedIdleTimeout for one whose process froze).
func (s *Store) ClaimPartition(ctx context.Context, partition int, owner string, ownerPID int32, act OwnerActivity) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, FencedIdleTimeout+5*time.Second)
	defer cancel()
	var epoch int64
	err := s.Pool.QueryRow(ctx, `INSERT INTO partition_owners (partition, epoch, owner, owner_pid, acquired_at, namespace, workflow_id, run_id, activity_id)
		VALUES ($1, 1, $2, $3, clock_timestamp(), $4, $5, $6, $7)
		ON CONFLICT (partition) DO UPDATE SET epoch = partition_owners.epoch + 1, owner = excluded.owner,
			owner_pid = excluded.owner_pid, acquired_at = excluded.acquired_at, namespace = excluded.namespace,
			workflow_id = excluded.workflow_id, run_id = excluded.run_id, activity_id = excluded.activity_id
		RETURNING epoch`, partition, owner, ownerPID, act.Namespace, act.WorkflowID, act.RunID, act.ActivityID).Scan(&epoch)
	if err != nil {
		return 0, fmt.Errorf("error claiming partition %d: %w", partition, err)
	}
	return epoch, nil
}
