package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/leadflow/leadflow/contract"
)

// OutboxItem is a pending outbox row.
type OutboxItem struct {
	ID         int64
	Kind       contract.OutboxKind
	WorkflowID string
	Payload    json.RawMessage
}

// PendingOutbox returns up to limit undispatched outbox rows of a partition, oldest first.
func (s *Store) PendingOutbox(ctx context.Context, partition, limit int) ([]OutboxItem, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, kind, workflow_id, payload FROM outbox
		WHERE partition = $1 AND dispatched_at IS NULL ORDER BY id LIMIT $2`, partition, limit)
	if err != nil {
		return nil, fmt.Errorf("error loading outbox: %w", err)
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		var o OutboxItem
		if err := rows.Scan(&o.ID, &o.Kind, &o.WorkflowID, &o.Payload); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// MarkDispatched records outbox rows as done. A cancel_run row forgets
// the workflow id it cancelled: it named a contact that was erased.
func (s *Store) MarkDispatched(ctx context.Context, ids []int64, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.Pool.Exec(ctx, `UPDATE outbox SET dispatched_at = $2,
		workflow_id = CASE WHEN kind = $3 THEN $4 ELSE workflow_id END WHERE id = ANY($1)`, ids, at, string(contract.OutboxCancelRun), ErasedText)
	if err != nil {
		return fmt.Errorf("error marking outbox dispatched: %w", err)
	}
	return nil
}
