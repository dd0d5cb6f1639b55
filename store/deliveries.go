package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Delivery is an outgoing HTTP call.
type Delivery struct {
	ID        int64
	Kind      string
	CRMTaskID *int64
	URL       string
	Body      json.RawMessage
	IdemKey   string
	Status    string
	Attempts  int
}

// LoadDelivery reads one delivery.
func (s *Store) LoadDelivery(ctx context.Context, id int64) (Delivery, error) {
	var d Delivery
	err := s.Pool.QueryRow(ctx, `SELECT id, kind, crm_task_id, url, body, idem_key, status, attempts FROM deliveries WHERE id = $1`, id).
		Scan(&d.ID, &d.Kind, &d.CRMTaskID, &d.URL, &d.Body, &d.IdemKey, &d.Status, &d.Attempts)
	if err == pgx.ErrNoRows {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("error loading delivery %d: %w", id, err)
	}
	return d, nil
}

// RecordDeliveryAttempt records one attempt; status is pending, delivered or failed.
func (s *Store) RecordDeliveryAttempt(ctx context.Context, id int64, status string, code int, errText string, at time.Time) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		var taskID *int64
		err := tx.QueryRow(ctx, `UPDATE deliveries SET status = $2, attempts = attempts + 1, response_code = $3, last_error = $4,
			delivered_at = CASE WHEN $2 = 'delivered' THEN $5 ELSE delivered_at END WHERE id = $1 RETURNING crm_task_id`,
			id, status, code, errText, at).Scan(&taskID)
		if err != nil {
			return fmt.Errorf("error recording delivery %d: %w", id, err)
		}
		if taskID != nil {
			if _, err := tx.Exec(ctx, `UPDATE crm_tasks SET delivery_status = $2 WHERE id = $1`, *taskID, status); err != nil {
				return fmt.Errorf("error recording delivery of task %d: %w", *taskID, err)
			}
		}
		return nil
	})
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
