package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reevaluation is the progress of re-evaluating every existing contact
// under a newly published version of a score model or segment.
type Reevaluation struct {
	Version    int        `json:"version"`
	Contacts   int        `json:"contacts"` // contacts that existed when the version was published
	Done       int        `json:"done"`     // contacts re-evaluated so far
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// startReevaluation records, inside the publishing transaction, that every
// existing contact must be re-evaluated under version of definition id: one
// row per partition with its contact count (a version published again after
// a pause starts its walk over). An unfinished walk of an older version of
// the same definition is finished now: the new one covers it.
func startReevaluation(ctx context.Context, tx pgx.Tx, id string, version int) error {
	if _, err := tx.Exec(ctx, `UPDATE reevaluations SET finished_at = now()
		WHERE definition_id = $1 AND version < $2 AND finished_at IS NULL`, id, version); err != nil {
		return fmt.Errorf("error superseding the re-evaluation of %q: %w", id, err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO reevaluations (definition_id, version, partition, total, finished_at)
		SELECT $1, $2, p, coalesce(c.n, 0), CASE WHEN coalesce(c.n, 0) = 0 THEN now() END
		FROM generate_series(0, $3 - 1) AS p
		LEFT JOIN (SELECT partition, count(*)::int AS n FROM contacts GROUP BY partition) c ON c.partition = p
		ON CONFLICT (definition_id, version, partition) DO UPDATE SET total = excluded.total, done = 0, cursor = NULL,
			started_at = now(), finished_at = excluded.finished_at`, id, version, Partitions)
	if err != nil {
		return fmt.Errorf("error starting the re-evaluation of %q: %w", id, err)
	}
	return nil
}

// MarkReevaluationDue advances the unfinished re-evaluations of a
// partition, oldest first, inside the applying transaction: the next slice
// of their contacts in id order (at most n in all) becomes due at now, so
// that the batch applies their due changes, and each walk's cursor and
// count move past them; a walk finishes when its slice comes back short,
// and the next one goes on in the same call. It returns how many contacts
// it marked, and whether walks remain.
func MarkReevaluationDue(ctx context.Context, tx pgx.Tx, partition int, now time.Time, n int) (marked int, more bool, err error) {
	for marked < n {
		var id string
		var version int
		var cursor *string
		err := tx.QueryRow(ctx, `SELECT definition_id, version, cursor FROM reevaluations
			WHERE partition = $1 AND finished_at IS NULL ORDER BY started_at, definition_id, version LIMIT 1 FOR UPDATE`, partition).
			Scan(&id, &version, &cursor)
		if err == pgx.ErrNoRows {
			return marked, false, nil
		}
		if err != nil {
			return marked, false, fmt.Errorf("error reading the re-evaluation of partition %d: %w", partition, err)
		}
		want := n - marked
		var got int
		var last *string
		err = tx.QueryRow(ctx, `WITH slice AS (
				SELECT id FROM contacts WHERE partition = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3),
			due AS (
				UPDATE contacts c SET next_due_at = $4 FROM slice
				WHERE c.id = slice.id AND c.erased_at IS NULL AND (c.next_due_at IS NULL OR c.next_due_at > $4))
			SELECT count(*)::int, max(id) FROM slice`, partition, cursor, want, now).Scan(&got, &last)
		if err != nil {
			return marked, false, fmt.Errorf("error marking contacts of partition %d due for re-evaluation: %w", partition, err)
		}
		_, err = tx.Exec(ctx, `UPDATE reevaluations SET done = done + $4, cursor = coalesce($5, cursor),
				finished_at = CASE WHEN $4 < $6 THEN $7::timestamptz END
			WHERE definition_id = $1 AND version = $2 AND partition = $3`, id, version, partition, got, last, want, now)
		if err != nil {
			return marked, false, fmt.Errorf("error advancing the re-evaluation of partition %d: %w", partition, err)
		}
		marked += got
		if got == want {
			return marked, true, nil
		}
	}
	return marked, true, nil
}

// LatestReevaluation returns the progress of the re-evaluation of the
// newest version of a definition that started one; nil when none did.
func (s *Store) LatestReevaluation(ctx context.Context, id string) (*Reevaluation, error) {
	var r Reevaluation
	var unfinished int
	err := s.Pool.QueryRow(ctx, `SELECT version, sum(total)::int, sum(least(done, total))::int, min(started_at),
			max(finished_at), count(*) FILTER (WHERE finished_at IS NULL)::int
		FROM reevaluations WHERE definition_id = $1
		GROUP BY version ORDER BY version DESC LIMIT 1`, id).
		Scan(&r.Version, &r.Contacts, &r.Done, &r.StartedAt, &r.FinishedAt, &unfinished)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error reading the re-evaluation of %q: %w", id, err)
	}
	if unfinished > 0 {
		r.FinishedAt = nil
	} else {
		r.Done = r.Contacts
	}
	return &r, nil
}
