package store

import (
	"context"
	"fmt"
	"time"
)

// HistoryQuery selects the contacts whose stored history a preview
// replays: those with events applied since Since; of them, Contacts only
// when set, and a deterministic sample of Sample (by a hash of the id) when
// positive.
type HistoryQuery struct {
	Since    time.Time
	Sample   int
	Contacts []string
}

// HistoryEvent is an applied event of the log, with the time the engine
// applied it at.
type HistoryEvent struct {
	EventRow
	AppliedAt time.Time
}

const historyContacts = `SELECT contact_id FROM events
	WHERE applied_at IS NOT NULL AND applied_at >= $1 AND ($3::text[] IS NULL OR contact_id = ANY($3))
	GROUP BY contact_id
	ORDER BY CASE WHEN $2 > 0 THEN md5(contact_id) END, contact_id
	LIMIT CASE WHEN $2 > 0 THEN $2 END`

// CountHistories returns how many contacts and applied events a history
// query replays.
func (s *Store) CountHistories(ctx context.Context, q HistoryQuery) (contacts int, events int64, err error) {
	err = s.Pool.QueryRow(ctx, `WITH chosen AS (`+historyContacts+`)
		SELECT (SELECT count(*) FROM chosen)::int, (SELECT count(*) FROM events e JOIN chosen c USING (contact_id) WHERE e.applied_at IS NOT NULL)`,
		q.Since, q.Sample, nilIfEmpty(q.Contacts)).Scan(&contacts, &events)
	if err != nil {
		return 0, 0, fmt.Errorf("error counting the histories to replay: %w", err)
	}
	return contacts, events, nil
}

// Histories streams the whole applied history of each contact a query
// selects, one contact at a time in id order, its events in arrival order.
// Events whose stored properties no longer decode are skipped (they were
// applied before; a preview cannot say more of them).
func (s *Store) Histories(ctx context.Context, q HistoryQuery, fn func(contactID string, events []HistoryEvent) error) error {
	rows, err := s.Pool.Query(ctx, `WITH chosen AS (`+historyContacts+`)
		SELECT e.seq, e.id, e.contact_id, e.partition, e.type, e.properties::text, e.email, e.traits::text, e.tags, e.account_id,
			e.occurred_at, e.received_at, e.applied_at
		FROM events e JOIN chosen c USING (contact_id) WHERE e.applied_at IS NOT NULL ORDER BY e.contact_id, e.seq`,
		q.Since, q.Sample, nilIfEmpty(q.Contacts))
	if err != nil {
		return fmt.Errorf("error reading the histories to replay: %w", err)
	}
	defer rows.Close()
	var cur string
	var batch []HistoryEvent
	for rows.Next() {
		var e HistoryEvent
		var props string
		var traits *string
		if err := rows.Scan(&e.Seq, &e.ID, &e.ContactID, &e.Partition, &e.Type, &props, &e.Email, &traits,
			&e.Tags, &e.AccountID, &e.OccurredAt, &e.ReceivedAt, &e.AppliedAt); err != nil {
			return fmt.Errorf("error reading a stored event: %w", err)
		}
		if decodeObject(props, "properties", &e.Properties) != nil {
			continue
		}
		if traits != nil && decodeObject(*traits, "traits", &e.Traits) != nil {
			continue
		}
		if e.ContactID != cur && len(batch) > 0 {
			if err := fn(cur, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		cur = e.ContactID
		batch = append(batch, e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error reading the histories to replay: %w", err)
	}
	if len(batch) > 0 {
		return fn(cur, batch)
	}
	return nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
