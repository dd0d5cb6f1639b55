package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EventRow is one event of the durable log.
type EventRow struct {
	Seq        int64
	ID         string
	ContactID  string
	Partition  int
	Type       string
	Properties map[string]any
	// Contact changes carried by identify/contact events.
	Email      *string
	Traits     map[string]any
	Tags       []string
	AccountID  *string
	OccurredAt time.Time
	ReceivedAt time.Time
}

// InsertEvents appends events to the log in one transaction, skipping ids
// already there. It returns how many were new and the partitions they fall in.
func (s *Store) InsertEvents(ctx context.Context, events []EventRow) (int, []int, error) {
	if len(events) == 0 {
		return 0, nil, nil
	}
	inserted := 0
	parts := map[int]bool{}
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, e := range events {
			props := e.Properties
			if props == nil {
				props = map[string]any{}
			}
			var traits any
			if e.Traits != nil {
				traits = e.Traits
			}
			b.Queue(`INSERT INTO events (id, contact_id, partition, type, properties, email, traits, tags, account_id, occurred_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
				e.ID, e.ContactID, PartitionOf(e.ContactID), e.Type, props, e.Email, traits, e.Tags, e.AccountID, e.OccurredAt)
		}
		br := tx.SendBatch(ctx, b)
		for _, e := range events {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return fmt.Errorf("error appending event %q: %w", e.ID, err)
			}
			if tag.RowsAffected() == 1 {
				inserted++
				parts[PartitionOf(e.ContactID)] = true
			}
		}
		return br.Close()
	})
	if err != nil {
		return 0, nil, err
	}
	var out []int
	for p := 0; p < Partitions; p++ {
		if parts[p] {
			out = append(out, p)
		}
	}
	return inserted, out, nil
}

// PendingEvents locks and returns up to limit events of a partition not yet
// applied, in arrival order.
func PendingEvents(ctx context.Context, tx pgx.Tx, partition, limit int) ([]EventRow, error) {
	rows, err := tx.Query(ctx, `SELECT seq, id, contact_id, partition, type, properties, email, traits, tags, account_id, occurred_at, received_at
		FROM events WHERE partition = $1 AND applied_at IS NULL ORDER BY seq LIMIT $2 FOR UPDATE`, partition, limit)
	if err != nil {
		return nil, fmt.Errorf("error loading pending events: %w", err)
	}
	defer rows.Close()
	var out []EventRow
	for rows.Next() {
		var e EventRow
		if err := rows.Scan(&e.Seq, &e.ID, &e.ContactID, &e.Partition, &e.Type, &e.Properties, &e.Email, &e.Traits,
			&e.Tags, &e.AccountID, &e.OccurredAt, &e.ReceivedAt); err != nil {
			return nil, fmt.Errorf("error reading pending event: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DueContacts returns up to limit contacts of a partition whose next
// time-driven change is due at now.
func DueContacts(ctx context.Context, tx pgx.Tx, partition int, now time.Time, limit int) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM contacts WHERE partition = $1 AND next_due_at <= $2 ORDER BY next_due_at LIMIT $3`,
		partition, now, limit)
	if err != nil {
		return nil, fmt.Errorf("error loading due contacts: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// NextDue returns the earliest time-driven change in a partition.
func (s *Store) NextDue(ctx context.Context, partition int) (*time.Time, error) {
	var t *time.Time
	err := s.Pool.QueryRow(ctx, `SELECT min(next_due_at) FROM contacts WHERE partition = $1`, partition).Scan(&t)
	if err != nil {
		return nil, fmt.Errorf("error reading next due time: %w", err)
	}
	return t, nil
}

// PendingCount returns how many events are not applied yet.
func (s *Store) PendingCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE applied_at IS NULL`).Scan(&n)
	return n, err
}
