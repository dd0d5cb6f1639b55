package store

import (
	"context"
	"fmt"
	"time"
)

// SweepEvents deletes applied events that occurred before now-horizon, at
// most batch at a time, each batch a statement of its own so that no lock
// is held for long, until none is left or maxBatches batches ran. Events
// not applied yet (pending or quarantined) are never deleted, nor events
// with a failure record (kept for audit). A sweep that deleted events is
// recorded in retention_sweeps. It returns how many events it deleted.
//
// Deleting events changes no score: the ledger keeps every point with its
// explanation, and the engine re-reads past events only through the
// windows that the retention check keeps within the horizon.
func (s *Store) SweepEvents(ctx context.Context, horizon time.Duration, now time.Time, batch, maxBatches int) (int64, error) {
	if horizon <= 0 {
		return 0, nil
	}
	cutoff := now.Add(-horizon)
	var total int64
	for range maxBatches {
		tag, err := s.Pool.Exec(ctx, `DELETE FROM events WHERE seq IN (
			SELECT seq FROM events e WHERE applied_at IS NOT NULL AND occurred_at < $1
				AND NOT EXISTS (SELECT 1 FROM event_failures f WHERE f.event_seq = e.seq)
			ORDER BY seq LIMIT $2)`, cutoff, batch)
		if err != nil {
			return total, fmt.Errorf("error deleting events older than %s: %w", cutoff.Format(time.RFC3339), err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			break
		}
	}
	if total > 0 {
		if _, err := s.Pool.Exec(ctx, `INSERT INTO retention_sweeps (swept_at, horizon_s, cutoff, deleted) VALUES ($1, $2, $3, $4)`,
			now, int64(horizon/time.Second), cutoff, total); err != nil {
			return total, fmt.Errorf("error recording the retention sweep: %w", err)
		}
	}
	return total, nil
}

// RetentionSweep is one recorded sweep.
type RetentionSweep struct {
	SweptAt time.Time
	Horizon time.Duration
	Cutoff  time.Time
	Deleted int64
}

// RetentionSweeps returns the last sweeps, newest first.
func (s *Store) RetentionSweeps(ctx context.Context, limit int) ([]RetentionSweep, error) {
	rows, err := s.Pool.Query(ctx, `SELECT swept_at, horizon_s, cutoff, deleted FROM retention_sweeps ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("error listing retention sweeps: %w", err)
	}
	defer rows.Close()
	var out []RetentionSweep
	for rows.Next() {
		var r RetentionSweep
		var secs int64
		if err := rows.Scan(&r.SweptAt, &secs, &r.Cutoff, &r.Deleted); err != nil {
			return nil, fmt.Errorf("error reading a retention sweep: %w", err)
		}
		r.Horizon = time.Duration(secs) * time.Second
		out = append(out, r)
	}
	return out, rows.Err()
}
