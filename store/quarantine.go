package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// ErrNotQuarantined is returned when an event asked to be retried or
// discarded is not quarantined (it was applied, is pending, or was already
// retried or discarded).
var ErrNotQuarantined = errors.New("event is not quarantined")

// Statuses of an event failure.
const (
	FailureFailed    = "failed"    // quarantined, waiting for a person
	FailureRetried   = "retried"   // put back in the log to be applied again
	FailureDiscarded = "discarded" // kept for audit, never applied
)

// maxErrorText bounds an error stored with a failure.
const maxErrorText = 4000

// ErrorText is err's message made storable: NUL and invalid UTF-8 (which
// PostgreSQL text refuses) replaced, and bounded in length.
func ErrorText(err error) string {
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	msg = strings.ReplaceAll(msg, "\x00", `\x00`)
	if len(msg) > maxErrorText {
		cut := maxErrorText
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// QuarantineEvent sets an event aside with the error that stopped its
// application, inside tx: it is no longer pending. A later failure of the
// same event (after a retry) counts one more attempt.
func QuarantineEvent(ctx context.Context, tx pgx.Tx, seq int64, cause error, at time.Time) error {
	_, err := tx.Exec(ctx, `WITH q AS (UPDATE events SET quarantined_at = $3 WHERE seq = $1)
		INSERT INTO event_failures (event_seq, status, error, attempts, first_attempt_at, last_attempt_at)
		VALUES ($1, 'failed', $2, 1, $3, $3)
		ON CONFLICT (event_seq) DO UPDATE SET status = 'failed', error = excluded.error,
			attempts = event_failures.attempts + 1, last_attempt_at = excluded.last_attempt_at`,
		seq, ErrorText(cause), at)
	if err != nil {
		return fmt.Errorf("error quarantining event %d: %w", seq, err)
	}
	return nil
}

// FailedEvent is a quarantined (or retried, or discarded) event with its
// failure.
type FailedEvent struct {
	Seq            int64
	ID             string
	ContactID      string
	Partition      int
	Type           string
	Status         string
	Error          string
	Attempts       int
	FirstAttemptAt time.Time
	LastAttemptAt  time.Time
	RetriedAt      *time.Time
	DiscardedAt    *time.Time
}

// FailedEvents returns up to limit event failures with the given status,
// oldest event first, after the event with sequence number after (0 for the
// first page).
func (s *Store) FailedEvents(ctx context.Context, status string, after int64, limit int) ([]FailedEvent, error) {
	rows, err := s.Pool.Query(ctx, `SELECT f.event_seq, e.id, e.contact_id, e.partition, e.type, f.status, f.error, f.attempts,
			f.first_attempt_at, f.last_attempt_at, f.retried_at, f.discarded_at
		FROM event_failures f JOIN events e ON e.seq = f.event_seq
		WHERE f.status = $1 AND f.event_seq > $2 ORDER BY f.event_seq LIMIT $3`, status, after, limit)
	if err != nil {
		return nil, fmt.Errorf("error listing failed events: %w", err)
	}
	defer rows.Close()
	var out []FailedEvent
	for rows.Next() {
		var f FailedEvent
		if err := rows.Scan(&f.Seq, &f.ID, &f.ContactID, &f.Partition, &f.Type, &f.Status, &f.Error, &f.Attempts,
			&f.FirstAttemptAt, &f.LastAttemptAt, &f.RetriedAt, &f.DiscardedAt); err != nil {
			return nil, fmt.Errorf("error reading a failed event: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// RetryEvent puts a quarantined event back in the log to be applied again
// and returns its partition (to wake). ErrNotFound: no such event;
// ErrNotQuarantined: the event is not quarantined.
func (s *Store) RetryEvent(ctx context.Context, id string, at time.Time) (int, error) {
	return s.resolveFailure(ctx, id, func(tx pgx.Tx, seq int64) error {
		if _, err := tx.Exec(ctx, `UPDATE events SET quarantined_at = NULL WHERE seq = $1`, seq); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE event_failures SET status = 'retried', retried_at = $2 WHERE event_seq = $1`, seq, at)
		return err
	})
}

// DiscardEvent marks a quarantined event discarded: it stays in the log and
// in the failures for audit, and is never applied. It returns the event's
// partition. ErrNotFound: no such event; ErrNotQuarantined: the event is
// not quarantined.
func (s *Store) DiscardEvent(ctx context.Context, id string, at time.Time) (int, error) {
	return s.resolveFailure(ctx, id, func(tx pgx.Tx, seq int64) error {
		_, err := tx.Exec(ctx, `UPDATE event_failures SET status = 'discarded', discarded_at = $2 WHERE event_seq = $1`, seq, at)
		return err
	})
}

func (s *Store) resolveFailure(ctx context.Context, id string, fn func(tx pgx.Tx, seq int64) error) (int, error) {
	var partition int
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var seq int64
		var status *string
		err := tx.QueryRow(ctx, `SELECT e.seq, e.partition, f.status FROM events e
			LEFT JOIN event_failures f ON f.event_seq = e.seq WHERE e.id = $1 FOR UPDATE OF e`, id).Scan(&seq, &partition, &status)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("error loading event %q: %w", id, err)
		}
		if status == nil || *status != FailureFailed {
			return ErrNotQuarantined
		}
		if err := fn(tx, seq); err != nil {
			return fmt.Errorf("error updating the failure of event %q: %w", id, err)
		}
		return nil
	})
	return partition, err
}

// RecordDueFailure records that the time-driven changes of a contact failed
// and pushes its next due time back, inside tx: the retry waits backoff
// times two to the power of the consecutive failures so far (at most
// maxBackoff; a failure more than twice maxBackoff after the last one
// starts a new streak). It returns the attempts so far and the time of the
// next one. The row is cleared when the contact's due changes succeed in
// isolation; after a success in a normal batch it stays, and only the
// streak rule above forgets it.
func RecordDueFailure(ctx context.Context, tx pgx.Tx, contactID string, cause error, at time.Time, backoff, maxBackoff time.Duration) (int, time.Time, error) {
	var attempts int
	err := tx.QueryRow(ctx, `INSERT INTO due_failures (contact_id, error, attempts, first_attempt_at, last_attempt_at)
		VALUES ($1, $2, 1, $3, $3)
		ON CONFLICT (contact_id) DO UPDATE SET error = excluded.error,
			attempts = CASE WHEN due_failures.last_attempt_at < $3 - $4::interval THEN 1 ELSE due_failures.attempts + 1 END,
			first_attempt_at = CASE WHEN due_failures.last_attempt_at < $3 - $4::interval THEN $3 ELSE due_failures.first_attempt_at END,
			last_attempt_at = excluded.last_attempt_at
		RETURNING attempts`, contactID, ErrorText(cause), at, 2*maxBackoff).Scan(&attempts)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("error recording the due failure of contact %q: %w", contactID, err)
	}
	wait := backoff
	for i := 1; i < attempts && wait < maxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, maxBackoff)
	next := at.Add(wait)
	if _, err := tx.Exec(ctx, `UPDATE contacts SET next_due_at = $2 WHERE id = $1`, contactID, next); err != nil {
		return 0, time.Time{}, fmt.Errorf("error deferring the due changes of contact %q: %w", contactID, err)
	}
	return attempts, next, nil
}

// ClearDueFailure forgets a contact's due failures after its time-driven
// changes applied.
func ClearDueFailure(ctx context.Context, tx pgx.Tx, contactID string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM due_failures WHERE contact_id = $1`, contactID); err != nil {
		return fmt.Errorf("error clearing the due failures of contact %q: %w", contactID, err)
	}
	return nil
}

// FailRun marks a running or waiting flow run failed with the error that
// stopped it. It reports whether the run was active.
func (s *Store) FailRun(ctx context.Context, runID string, cause error, at time.Time) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `UPDATE flow_runs SET status = 'failed', error = $2, wait_kind = '', wait_event = '',
		wait_until = NULL, updated_at = $3, finished_at = $3 WHERE id = $1 AND status IN ('running', 'waiting')`,
		runID, ErrorText(cause), at)
	if err != nil {
		return false, fmt.Errorf("error failing run %q: %w", runID, err)
	}
	return tag.RowsAffected() == 1, nil
}

// FailOutbox gives up an outbox row Temporal refused for good: it is no
// longer dispatched, and error says why.
func (s *Store) FailOutbox(ctx context.Context, id int64, cause error, at time.Time) error {
	_, err := s.Pool.Exec(ctx, `UPDATE outbox SET dispatched_at = $3, error = $2 WHERE id = $1`, id, ErrorText(cause), at)
	if err != nil {
		return fmt.Errorf("error recording the refused outbox row %d: %w", id, err)
	}
	return nil
}
