package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadflow/leadflow/contract"
)

// Delivery is an outgoing HTTP call (a CRM task or a webhook step).
type Delivery struct {
	ID            int64
	Kind          string
	CRMTaskID     *int64
	URL           string
	Body          json.RawMessage
	Headers       map[string]string
	IdemKey       string
	Status        string
	Attempts      int
	LastError     string
	ResponseCode  int
	CreatedAt     time.Time
	LastAttemptAt *time.Time
	DeliveredAt   *time.Time
	FailedAt      *time.Time
	ManualRetries int
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	// DeliveryCancelled: the contact was erased before it was delivered.
	DeliveryCancelled = "cancelled"
)

const deliveryColumns = `id, kind, crm_task_id, url, body, headers, idem_key, status, attempts, last_error, response_code,
	created_at, last_attempt_at, delivered_at, failed_at, manual_retries`

func scanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	err := row.Scan(&d.ID, &d.Kind, &d.CRMTaskID, &d.URL, &d.Body, &d.Headers, &d.IdemKey, &d.Status, &d.Attempts,
		&d.LastError, &d.ResponseCode, &d.CreatedAt, &d.LastAttemptAt, &d.DeliveredAt, &d.FailedAt, &d.ManualRetries)
	return d, err
}

// LoadDelivery reads one delivery.
func (s *Store) LoadDelivery(ctx context.Context, id int64) (Delivery, error) {
	d, err := scanDelivery(s.Pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("error loading delivery %d: %w", id, err)
	}
	return d, nil
}

// DeliveryQuery selects deliveries for ListDeliveries.
type DeliveryQuery struct {
	Status string // pending, delivered, failed; "" for all
	Before int64  // only ids below this (the cursor); 0 for the newest
	Limit  int
}

// ListDeliveries returns deliveries newest first.
func (s *Store) ListDeliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE ($1 = '' OR status = $1) AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, q.Status, q.Before, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("error listing deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("error reading deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error listing deliveries: %w", err)
	}
	return out, nil
}

// RecordDeliveryAttempt records one attempt; status is pending, delivered
// or failed. errText must already be redacted (it is stored and shown).
// The CRM task the delivery is for follows its status.
func (s *Store) RecordDeliveryAttempt(ctx context.Context, id int64, status string, code int, errText string, at time.Time) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		var taskID *int64
		err := tx.QueryRow(ctx, `UPDATE deliveries SET status = $2, attempts = attempts + 1, response_code = $3, last_error = $4,
			last_attempt_at = $5,
			delivered_at = CASE WHEN $2 = 'delivered' THEN $5 ELSE delivered_at END,
			failed_at = CASE WHEN $2 = 'failed' THEN $5 ELSE NULL END
			WHERE id = $1 AND status <> 'cancelled' RETURNING crm_task_id`,
			id, status, code, errText, at).Scan(&taskID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // cancelled meanwhile (its contact was erased): nothing to record
		}
		if err != nil {
			return fmt.Errorf("error recording delivery %d: %w", id, err)
		}
		return setTaskDeliveryStatus(ctx, tx, taskID, status)
	})
}

// GiveUpDelivery marks a delivery still pending as failed after its retries
// ran out, keeping its last error after reason. It reports whether it
// changed anything (a delivery already delivered or failed is left alone).
func (s *Store) GiveUpDelivery(ctx context.Context, id int64, reason string, at time.Time) (bool, error) {
	changed := false
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var taskID *int64
		err := tx.QueryRow(ctx, `UPDATE deliveries SET status = 'failed', failed_at = $3,
			last_error = CASE WHEN last_error = '' THEN $2 ELSE $2 || ': ' || last_error END
			WHERE id = $1 AND status = 'pending' RETURNING crm_task_id`, id, reason, at).Scan(&taskID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("error giving up delivery %d: %w", id, err)
		}
		changed = true
		return setTaskDeliveryStatus(ctx, tx, taskID, DeliveryFailed)
	})
	return changed, err
}

// ErrNotRetryable is returned by RetryDelivery for a delivery that is not
// failed (it is pending — still being tried — or already delivered).
var ErrNotRetryable = errors.New("only a failed delivery can be retried")

// RetryDelivery puts a failed delivery back to pending and queues a new
// delivery workflow for it in the outbox; it returns the delivery, that
// workflow's id (unique per hand retry: "delivery-ID", the first run's id,
// is never reused) and the partition whose outbox holds it (wake it).
func (s *Store) RetryDelivery(ctx context.Context, id int64) (d Delivery, workflowID string, partition int, err error) {
	partition = int(id % Partitions)
	err = s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		d, err = scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("error loading delivery %d: %w", id, err)
		}
		if d.Status != DeliveryFailed {
			return fmt.Errorf("delivery %d is %s: %w", id, d.Status, ErrNotRetryable)
		}
		d.ManualRetries++
		d.Status, d.FailedAt = DeliveryPending, nil
		workflowID = fmt.Sprintf("%s-retry-%d", contract.DeliveryWorkflowID(id), d.ManualRetries)
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'pending', failed_at = NULL, manual_retries = $2 WHERE id = $1`,
			id, d.ManualRetries); err != nil {
			return fmt.Errorf("error retrying delivery %d: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO outbox (partition, kind, workflow_id, payload) VALUES ($1, $4, $2, jsonb_build_object('delivery_id', $3::bigint))`,
			partition, workflowID, id, string(contract.OutboxDeliver)); err != nil {
			return fmt.Errorf("error queueing the retry of delivery %d: %w", id, err)
		}
		return setTaskDeliveryStatus(ctx, tx, d.CRMTaskID, DeliveryPending)
	})
	return d, workflowID, partition, err
}

func setTaskDeliveryStatus(ctx context.Context, tx pgx.Tx, taskID *int64, status string) error {
	if taskID == nil {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE crm_tasks SET delivery_status = $2 WHERE id = $1`, *taskID, status); err != nil {
		return fmt.Errorf("error recording delivery status of CRM task %d: %w", *taskID, err)
	}
	return nil
}

// RunPartition returns the partition of a flow run's contact.
func (s *Store) RunPartition(ctx context.Context, runID string) (int, error) {
	var p int
	err := s.Pool.QueryRow(ctx, `SELECT c.partition FROM flow_runs r JOIN contacts c ON c.id = r.contact_id WHERE r.id = $1`, runID).Scan(&p)
	if err == pgx.ErrNoRows {
		return 0, ErrNotFound
	}
	return p, err
}
