package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PartitionOwnerRow is the last claim of a partition and whether its lock
// is held now.
type PartitionOwnerRow struct {
	Partition  int
	Epoch      int64
	Owner      string
	OwnerPID   int32
	AcquiredAt time.Time
	Held       bool
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
				AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
		FROM partition_owners o ORDER BY o.partition`, int64(partitionLockSpace))
	if err != nil {
		return nil, fmt.Errorf("error listing partition owners: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PartitionOwnerRow, error) {
		var o PartitionOwnerRow
		err := r.Scan(&o.Partition, &o.Epoch, &o.Owner, &o.OwnerPID, &o.AcquiredAt,
			&o.Activity.Namespace, &o.Activity.WorkflowID, &o.Activity.RunID, &o.Activity.ActivityID, &o.Held)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("error reading partition owners: %w", err)
	}
	return out, nil
}
