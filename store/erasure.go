package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadflow/leadflow/contract"
)

// erasureLockClass is the first key of the advisory locks that keep an
// erasure and the appends of its contact's events apart: an erasure takes
// the contact's lock exclusively, an append shares it (erasedIdentifiers).
const erasureLockClass = 7_345_013

// TombstonePrefix starts the id of every erased contact's tombstone.
const TombstonePrefix = "erased:"

// ErasedText replaces the texts of an erased contact (ledger reasons, task
// titles and descriptions).
const ErasedText = "erased"

// ErasureRequest asks to erase one contact.
type ErasureRequest struct {
	ContactID string
	// By says who asked (the key's role: "admin"); recorded in the
	// erasure log with the time, never what was erased.
	By string
	At time.Time
	// RunWorkflowID is the outbox workflow id of a run: the erasure
	// writes a cancel_run row for each run, which cancels its workflow
	// when still going and deletes its history.
	RunWorkflowID func(runID string) string
}

// Erased counts what an erasure erased.
type Erased struct {
	Fields              int `json:"fields"`               // fields and the email cleared
	Tags                int `json:"tags"`                 // tags removed
	Events              int `json:"events"`               // applied events kept anonymised (no properties, traits, email)
	PendingEvents       int `json:"pending_events"`       // events not applied yet (pending or quarantined), deleted
	LedgerEntries       int `json:"ledger_entries"`       // ledger rows whose reason was replaced
	CRMTasks            int `json:"crm_tasks"`            // tasks whose title and description were replaced
	Deliveries          int `json:"deliveries"`           // CRM task and webhook deliveries whose body was erased
	DeliveriesCancelled int `json:"deliveries_cancelled"` // of which still pending, now cancelled
	Runs                int `json:"runs"`                 // flow runs anonymised
	RunsCancelled       int `json:"runs_cancelled"`       // of which still going, now cancelled with their workflows
	SegmentMemberships  int `json:"segment_memberships"`  // memberships kept, anonymised, for the segments' counts
	Identifiers         int `json:"identifiers"`          // contact ids and emails refused from now on
}

// Erasure is what EraseContact did.
type Erasure struct {
	// Tombstone is the anonymous id the contact's counted rows (scores,
	// segment memberships, runs) now carry.
	Tombstone string
	// AlreadyErased: the contact had been erased before (ErasedAt);
	// nothing was done this time and Erased is zero.
	AlreadyErased bool
	ErasedAt      time.Time
	Erased        Erased
	// Partition is the contact's partition, whose outbox now holds the
	// cancel_run rows: wake it so that they are dispatched.
	Partition int
}

// EraseContact erases a contact in one transaction: its email, fields and
// tags, its events' properties and traits (events not applied yet are
// deleted), the texts of its ledger, CRM tasks, deliveries and runs. What
// is left is an anonymous tombstone (TombstonePrefix and a hash) that keeps
// its scores, account and segment memberships, so account roll-ups and
// reports count the same. Runs still going are cancelled, and a cancel_run
// outbox row per run asks Temporal to cancel its workflow and delete its
// history; pending
// deliveries are cancelled. The contact id and every email it was seen with
// are kept only hashed, and events naming them are refused from now on
// (AppendEvents). The erasure log records who and when.
//
// An id merged into another contact (identity merges) erases that
// contact, the person; the ids merged into it are refused from then on too.
//
// Idempotent: a contact erased before comes back with AlreadyErased. A
// contact never seen returns ErrNotFound.
func (s *Store) EraseContact(ctx context.Context, req ErasureRequest) (Erasure, error) {
	var out Erasure
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		out = Erasure{}
		var err error
		out, err = eraseContact(ctx, tx, req)
		return err
	})
	if err != nil {
		return Erasure{}, fmt.Errorf("error erasing contact %q: %w", req.ContactID, err)
	}
	return out, nil
}

func eraseContact(ctx context.Context, tx pgx.Tx, req ErasureRequest) (Erasure, error) {
	var out Erasure
	id := req.ContactID
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, erasureLockClass, id); err != nil {
		return out, fmt.Errorf("error locking the contact: %w", err)
	}
	// Any identifier of a person erased before (its id, an id merged into
	// it, an email-derived id) answers already erased.
	err := tx.QueryRow(ctx, `SELECT l.erased_at FROM erased_identifiers i JOIN erasure_log l ON l.id = i.erasure_id
		WHERE i.hash = erasure_hash($1)`, id).Scan(&out.ErasedAt)
	if err == nil {
		out.AlreadyErased = true
		return out, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return out, fmt.Errorf("error reading the erasure log: %w", err)
	}
	// An id merged into another contact is that contact: erase the survivor.
	for range 10 {
		var into string
		err := tx.QueryRow(ctx, `SELECT into_id FROM contact_merges WHERE merged_id = $1`, id).Scan(&into)
		if errors.Is(err, pgx.ErrNoRows) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("error resolving merged contact %q: %w", id, err)
		}
		id = into
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, erasureLockClass, id); err != nil {
			return out, fmt.Errorf("error locking the contact: %w", err)
		}
	}
	req.ContactID = id
	var hash string
	if err := tx.QueryRow(ctx, `SELECT erasure_hash($1)`, id).Scan(&hash); err != nil {
		return out, fmt.Errorf("error hashing the contact id: %w", err)
	}
	out.Tombstone = TombstonePrefix + hash[:24]

	var email string
	var nFields, nTags int
	exists := true
	err = tx.QueryRow(ctx, `SELECT email, (SELECT count(*) FROM jsonb_object_keys(fields)), cardinality(tags), partition
		FROM contacts WHERE id = $1 FOR UPDATE`, id).Scan(&email, &nFields, &nTags, &out.Partition)
	if errors.Is(err, pgx.ErrNoRows) {
		exists = false
		var events int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM events WHERE contact_id = $1`, id).Scan(&events); err != nil {
			return out, fmt.Errorf("error counting the contact's events: %w", err)
		}
		if events == 0 {
			return out, ErrNotFound
		}
		out.Partition = PartitionOf(id)
	} else if err != nil {
		return out, fmt.Errorf("error loading the contact: %w", err)
	}
	if email != "" {
		nFields++
	}
	out.Erased.Fields, out.Erased.Tags = nFields, nTags
	out.ErasedAt = req.At

	var logID int64
	if err := tx.QueryRow(ctx, `INSERT INTO erasure_log (contact_hash, erased_by, erased_at) VALUES ($1, $2, $3) RETURNING id`,
		hash, req.By, req.At).Scan(&logID); err != nil {
		return out, fmt.Errorf("error writing the erasure log: %w", err)
	}
	// Every identifier the person was known by: the contact id, the
	// tombstone's (so that no event lands on it), every email.
	tag, err := tx.Exec(ctx, `INSERT INTO erased_identifiers (hash, erasure_id)
		SELECT DISTINCT erasure_hash(v), $3::bigint FROM (
			SELECT $1::text AS v
			UNION SELECT $2::text
			UNION SELECT lower(btrim(email)) FROM contacts WHERE id = $1
			UNION SELECT lower(btrim(email)) FROM events WHERE contact_id = $1 AND email IS NOT NULL
			UNION SELECT lower(btrim(traits->>'email')) FROM events
				WHERE contact_id = $1 AND jsonb_typeof(traits->'email') = 'string'
			UNION SELECT merged_id FROM contact_merges WHERE into_id = $1
			UNION SELECT from_id FROM merge_requests WHERE into_id = $1
		) ids WHERE v <> ''
		ON CONFLICT (hash) DO NOTHING`, id, out.Tombstone, logID)
	if err != nil {
		return out, fmt.Errorf("error recording the erased identifiers: %w", err)
	}
	out.Erased.Identifiers = int(tag.RowsAffected())

	if err := cancelRuns(ctx, tx, req, &out); err != nil {
		return out, err
	}
	if err := eraseTrail(ctx, tx, id, out.Tombstone, req.At, &out.Erased); err != nil {
		return out, err
	}
	if exists {
		if _, err := tx.Exec(ctx, `INSERT INTO contacts (id, email, fields, tags, account_id, stage, disqualified,
				disqualified_reason, partition, next_due_at, created_at, updated_at, erased_at)
			SELECT $2, '', '{}', '{}', account_id, stage, disqualified,
				CASE WHEN disqualified_reason <> '' THEN $4 ELSE '' END, partition, NULL, created_at, $3, $3
			FROM contacts WHERE id = $1`, id, out.Tombstone, req.At, ErasedText); err != nil {
			return out, fmt.Errorf("error writing the tombstone: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE scores SET contact_id = $2 WHERE contact_id = $1`, id, out.Tombstone); err != nil {
			return out, fmt.Errorf("error moving the scores to the tombstone: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM contacts WHERE id = $1`, id); err != nil {
			return out, fmt.Errorf("error deleting the contact: %w", err)
		}
	}
	return out, nil
}

// cancelRuns cancels the contact's runs still going, queues the
// cancellation of their workflows and drops the outbox rows not sent yet
// that would start or wake them.
func cancelRuns(ctx context.Context, tx pgx.Tx, req ErasureRequest, out *Erasure) error {
	rows, err := tx.Query(ctx, `SELECT id, status IN ('running', 'waiting') FROM flow_runs WHERE contact_id = $1 ORDER BY id FOR UPDATE`, req.ContactID)
	if err != nil {
		return fmt.Errorf("error loading the contact's runs: %w", err)
	}
	type run struct {
		id     string
		active bool
	}
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (run, error) {
		var x run
		return x, r.Scan(&x.id, &x.active)
	})
	if err != nil {
		return fmt.Errorf("error reading the contact's runs: %w", err)
	}
	var all, active []string
	for _, r := range runs {
		wf := r.id
		if req.RunWorkflowID != nil {
			wf = req.RunWorkflowID(r.id)
		}
		all = append(all, wf)
		if r.active {
			active = append(active, wf)
		}
	}
	if len(all) == 0 {
		return nil
	}
	// Rows sent already keep no trace of the person; rows not sent yet for
	// a run that is being cancelled are dropped.
	if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE dispatched_at IS NULL AND kind = ANY($2)
		AND workflow_id = ANY($1)`, all, []string{string(contract.OutboxStartRun), string(contract.OutboxSignalRun)}); err != nil {
		return fmt.Errorf("error dropping the runs' outbox rows: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE outbox SET workflow_id = $2, payload = '{}' WHERE workflow_id = ANY($1)`, all, ErasedText); err != nil {
		return fmt.Errorf("error erasing the runs' outbox rows: %w", err)
	}
	// Every run's workflow: cancelled when still going, its history
	// deleted in any case (it names the contact).
	if _, err := tx.Exec(ctx, `INSERT INTO outbox (partition, kind, workflow_id, payload)
		SELECT $1, $3, w, '{}' FROM unnest($2::text[]) WITH ORDINALITY AS u(w, n) ORDER BY n`,
		out.Partition, all, string(contract.OutboxCancelRun)); err != nil {
		return fmt.Errorf("error queueing the cancellation of the runs' workflows: %w", err)
	}
	out.Erased.RunsCancelled = len(active)
	return nil
}

// erasedID is the SQL of the anonymous id that replaces a run id or an
// idempotency key in an erased contact's rows.
const erasedID = `'` + TombstonePrefix + `' || left(erasure_hash(%s), 24)`

// eraseTrail erases what the contact left in the other tables, moving the
// rows that reports count to the tombstone. The statements take the
// contact id ($1), the tombstone id ($2) and the time ($3) as they need.
func eraseTrail(ctx context.Context, tx pgx.Tx, id, tomb string, at time.Time, n *Erased) error {
	runID := fmt.Sprintf(`CASE WHEN run_id = '' THEN '' ELSE `+erasedID+` END`, "run_id")
	// Deliveries first: they are found through the contact's tasks.
	err := tx.QueryRow(ctx, `WITH d AS (
			SELECT id, status FROM deliveries
			WHERE crm_task_id IN (SELECT id FROM crm_tasks WHERE contact_id = $1)
				OR (kind = 'webhook' AND body->>'contact_id' = $1)
			FOR UPDATE),
		u AS (UPDATE deliveries x SET status = CASE WHEN d.status = 'pending' THEN 'cancelled' ELSE x.status END,
				body = '{"erased": true}', headers = '{}', url = regexp_replace(x.url, '[?#].*$', ''),
				idem_key = `+fmt.Sprintf(erasedID, "x.idem_key")+`,
				last_error = CASE WHEN x.last_error <> '' THEN 'erased' ELSE '' END,
				failed_at = CASE WHEN d.status = 'pending' THEN $2 ELSE x.failed_at END
			FROM d WHERE x.id = d.id RETURNING d.status)
		SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM u`, id, at).
		Scan(&n.Deliveries, &n.DeliveriesCancelled)
	if err != nil {
		return fmt.Errorf("error erasing the deliveries: %w", err)
	}
	steps := []struct {
		what  string
		sql   string
		count *int
	}{
		{"the runs", `UPDATE flow_runs SET id = ` + fmt.Sprintf(erasedID, "id") + `, contact_id = $2,
			status = CASE WHEN status IN ('running', 'waiting') THEN 'cancelled' ELSE status END,
			finished_at = CASE WHEN status IN ('running', 'waiting') THEN $3 ELSE finished_at END,
			updated_at = $3, wait_kind = '', wait_event = '', wait_until = NULL, trigger_event_id = '',
			error = CASE WHEN error <> '' THEN 'erased' ELSE '' END
			WHERE contact_id = $1`, &n.Runs},
		{"the ledger", `UPDATE score_ledger SET contact_id = $2, reason = 'erased', run_id = ` + runID + `,
			idem_key = ` + fmt.Sprintf(erasedID, "idem_key") + ` WHERE contact_id = $1`, &n.LedgerEntries},
		{"the CRM tasks", `UPDATE crm_tasks SET contact_id = $2, title = 'erased',
			description = CASE WHEN description <> '' THEN 'erased' ELSE '' END, reason = 'erased', run_id = ` + runID + `,
			idem_key = ` + fmt.Sprintf(erasedID, "idem_key") + `,
			delivery_status = CASE WHEN delivery_status = 'pending' THEN 'cancelled' ELSE delivery_status END
			WHERE contact_id = $1`, &n.CRMTasks},
		{"the quarantined events' failures", `DELETE FROM event_failures WHERE event_seq IN
			(SELECT seq FROM events WHERE contact_id = $1 AND applied_at IS NULL)`, nil},
		{"the events not applied yet", `DELETE FROM events WHERE contact_id = $1 AND applied_at IS NULL`, &n.PendingEvents},
		{"the applied events' failures", `UPDATE event_failures SET error = 'erased' WHERE event_seq IN
			(SELECT seq FROM events WHERE contact_id = $1)`, nil},
		{"the events", `UPDATE events SET contact_id = $2, properties = '{}', email = NULL, traits = NULL, tags = NULL
			WHERE contact_id = $1`, &n.Events},
		{"the segment memberships", `UPDATE segment_memberships SET contact_id = $2 WHERE contact_id = $1`, &n.SegmentMemberships},
		{"the segment history", `UPDATE segment_history SET contact_id = $2 WHERE contact_id = $1`, nil},
		{"the threshold states", `UPDATE threshold_states SET contact_id = $2 WHERE contact_id = $1`, nil},
		{"the flow entries", `UPDATE flow_entries SET contact_id = $2 WHERE contact_id = $1`, nil},
		{"the conversions", `UPDATE conversions SET contact_id = $2 WHERE contact_id = $1`, nil},
		// A re-evaluation walk whose cursor is the contact goes on from the
		// contact before it in id order: the same next slice.
		{"the re-evaluation cursors", `UPDATE reevaluations r SET cursor = (SELECT max(c.id) FROM contacts c
			WHERE c.partition = r.partition AND c.id < $1) WHERE r.cursor = $1`, nil},
		{"the merges", `DELETE FROM contact_merges WHERE into_id = $1 OR merged_id = $1`, nil},
		{"the merge requests", `DELETE FROM merge_requests WHERE into_id = $1 OR from_id = $1`, nil},
		{"the due failures", `DELETE FROM due_failures WHERE contact_id = $1`, nil},
	}
	for _, st := range steps {
		args := []any{id}
		switch {
		case strings.Contains(st.sql, "$3"):
			args = append(args, tomb, at)
		case strings.Contains(st.sql, "$2"):
			args = append(args, tomb)
		}
		tag, err := tx.Exec(ctx, st.sql, args...)
		if err != nil {
			return fmt.Errorf("error erasing %s: %w", st.what, err)
		}
		if st.count != nil {
			*st.count = int(tag.RowsAffected())
		}
	}
	return nil
}

// ContactErasure says whether the contact id names an erased person (its
// id, an id merged into it, or an email it was seen with), and when.
func (s *Store) ContactErasure(ctx context.Context, contactID string) (time.Time, bool, error) {
	var at time.Time
	err := s.Pool.QueryRow(ctx, `SELECT l.erased_at FROM erased_identifiers i JOIN erasure_log l ON l.id = i.erasure_id
		WHERE i.hash = erasure_hash($1)`, contactID).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return at, false, nil
	}
	if err != nil {
		return at, false, fmt.Errorf("error reading the erasure log for %q: %w", contactID, err)
	}
	return at, true, nil
}
