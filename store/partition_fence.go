package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// NotPartitionOwnerError is returned by a fenced transaction (see
// WithPartitionFence) whose owner lost its partition: another owner took it
// (and bumped the epoch) after this one's lock went away. Nothing was
// written. It is transient: the owner stops, and Temporal runs the partition
// where its lock is held.
type NotPartitionOwnerError struct {
	Partition int
	Epoch     int64
}

func (e *NotPartitionOwnerError) Error() string {
	return fmt.Sprintf("partition %d is no longer owned by this owner (epoch %d): another owner took it over", e.Partition, e.Epoch)
}

// Transient tells the engine to return the error as it is (no retry part by
// part: nothing of the batch was tried).
func (e *NotPartitionOwnerError) Transient() bool { return true }

// IsNotPartitionOwner reports whether err says the owner lost its partition.
func IsNotPartitionOwner(err error) bool {
	var e *NotPartitionOwnerError
	return errors.As(err, &e)
}

type fenceKey struct{}

// partitionFence is the ownership a transaction must still hold.
type partitionFence struct {
	partition int
	epoch     int64
}

// WithPartitionFence returns a context whose transactions (InTx) apply only
// while epoch is the partition's current owner epoch (ClaimPartition).
//
// Each such transaction first reads the partition's owner row FOR SHARE.
// A new owner's claim updates that row, so it waits for a fenced
// transaction in flight to end, and every fenced transaction after the
// claim sees the new epoch and writes nothing: an owner that lost its lock
// (a zombie) can never apply beside the new one.
func WithPartitionFence(ctx context.Context, partition int, epoch int64) context.Context {
	return context.WithValue(ctx, fenceKey{}, partitionFence{partition: partition, epoch: epoch})
}

// FencedIdleTimeout ends a fenced transaction whose client stopped in the
// middle of it (a frozen process): PostgreSQL closes the session after this
// long idle in the transaction, which releases its locks, so that the next
// owner's claim does not wait for it for ever.
const FencedIdleTimeout = 10 * time.Second

func (f partitionFence) check(ctx context.Context, tx pgx.Tx) error {
	var owned bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM partition_owners WHERE partition = $1 AND epoch = $2 FOR SHARE),
			set_config('idle_in_transaction_session_timeout', $3, true)`,
		f.partition, f.epoch, strconv.Itoa(int(FencedIdleTimeout.Milliseconds()))).Scan(&owned, nil)
	if err != nil {
		return fmt.Errorf("error checking the ownership of partition %d: %w", f.partition, err)
	}
	if !owned {
		return &NotPartitionOwnerError{Partition: f.partition, Epoch: f.epoch}
	}
	return nil
}
