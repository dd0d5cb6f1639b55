package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// Merge reasons.
const (
	MergeIdentify = "identify" // an event named both the user and the anonymous id
	MergeAlias    = "alias"    // an alias call linked a previous id to the user
	MergeManual   = "manual"   // POST /v1/contacts/{id}/merge
)

// MergeRequest asks for the contact From to be merged into Into.
type MergeRequest struct {
	From, Into, Reason string
}

// resolveMerged maps ids that were merged to the contacts they were merged
// into.
func resolveMerged(ctx context.Context, q pgx.Tx, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT merged_id, into_id FROM contact_merges WHERE merged_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("error resolving merged contacts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var from, into string
		if err := rows.Scan(&from, &into); err != nil {
			return nil, err
		}
		out[from] = into
	}
	return out, rows.Err()
}

// MergedInto returns the contact id was merged into, or "" when it was not.
func (s *Store) MergedInto(ctx context.Context, id string) (string, error) {
	var into string
	err := s.Pool.QueryRow(ctx, `SELECT into_id FROM contact_merges WHERE merged_id = $1`, id).Scan(&into)
	if err == pgx.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("error reading the merge of %q: %w", id, err)
	}
	return into, nil
}

// queueMerges records, inside the appending transaction, the merges the
// new events ask for.
func queueMerges(ctx context.Context, tx pgx.Tx, reqs []MergeRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, r := range reqs {
		b.Queue(`INSERT INTO merge_requests (from_id, into_id, partition, reason) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			r.From, r.Into, PartitionOf(r.Into), r.Reason)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("error queueing merges: %w", err)
	}
	return nil
}

// PendingMerges returns up to limit merges queued for contacts of a
// partition, oldest first.
func (s *Store) PendingMerges(ctx context.Context, partition, limit int) ([]MergeRequest, error) {
	rows, err := s.Pool.Query(ctx, `SELECT from_id, into_id, reason FROM merge_requests
		WHERE partition = $1 AND done_at IS NULL ORDER BY requested_at, from_id LIMIT $2`, partition, limit)
	if err != nil {
		return nil, fmt.Errorf("error reading queued merges: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (MergeRequest, error) {
		var m MergeRequest
		err := r.Scan(&m.From, &m.Into, &m.Reason)
		return m, err
	})
}

// FinishMergeRequest records what became of a queued merge.
func FinishMergeRequest(ctx context.Context, tx pgx.Tx, r MergeRequest, outcome string, at time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE merge_requests SET done_at = $3, outcome = $4 WHERE from_id = $1 AND into_id = $2`, r.From, r.Into, at, outcome)
	if err != nil {
		return fmt.Errorf("error finishing the merge of %q into %q: %w", r.From, r.Into, err)
	}
	return nil
}

// MergeParties locks, for a merge of from into into, every event of both
// contacts (so that no batch applies one of them meanwhile: batches lock
// events before contacts, and so does this), then both contact rows in id
// order. It resolves into when it was itself merged, and says whether from
// was already merged (mergedTo) and whether it has a contact row.
func MergeParties(ctx context.Context, tx pgx.Tx, from, into string) (survivor, mergedTo string, fromExists bool, err error) {
	survivor = into
	for range 10 {
		m, err := resolveMerged(ctx, tx, []string{survivor, from})
		if err != nil {
			return "", "", false, err
		}
		mergedTo = m[from]
		next, ok := m[survivor]
		if !ok {
			break
		}
		survivor = next
	}
	if mergedTo != "" || survivor == from {
		return survivor, mergedTo, false, nil
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM events WHERE contact_id = ANY($1) ORDER BY seq FOR UPDATE`, []string{from, survivor}); err != nil {
		return "", "", false, fmt.Errorf("error locking the events of %q and %q: %w", from, survivor, err)
	}
	ids := []string{from, survivor}
	sort.Strings(ids)
	rows, err := tx.Query(ctx, `SELECT id FROM contacts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return "", "", false, fmt.Errorf("error locking contacts %q and %q: %w", from, survivor, err)
	}
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", "", false, err
	}
	for _, id := range existing {
		fromExists = fromExists || id == from
	}
	return survivor, "", fromExists, nil
}

// MergeHistory reads the applied events of some contacts in the order they
// were applied.
func MergeHistory(ctx context.Context, tx pgx.Tx, ids []string) ([]HistoryEvent, error) {
	rows, err := tx.Query(ctx, `SELECT seq, id, contact_id, partition, type, properties::text, email, traits::text, tags, account_id,
			occurred_at, received_at, applied_at
		FROM events WHERE contact_id = ANY($1) AND applied_at IS NOT NULL ORDER BY applied_at, seq`, ids)
	if err != nil {
		return nil, fmt.Errorf("error reading the histories to merge: %w", err)
	}
	defer rows.Close()
	var out []HistoryEvent
	for rows.Next() {
		var e HistoryEvent
		var props string
		var traits *string
		if err := rows.Scan(&e.Seq, &e.ID, &e.ContactID, &e.Partition, &e.Type, &props, &e.Email, &traits,
			&e.Tags, &e.AccountID, &e.OccurredAt, &e.ReceivedAt, &e.AppliedAt); err != nil {
			return nil, fmt.Errorf("error reading a stored event: %w", err)
		}
		if decodeObject(props, "properties", &e.Properties) != nil {
			continue
		}
		if traits != nil && decodeObject(*traits, "traits", &e.Traits) != nil {
			continue
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// MergedContact is the survivor of a merge as re-derived from the merged
// history: its record, scores, thresholds, memberships and the whole
// ledger that explains its scores.
type MergedContact struct {
	From, Into string
	Reason     string
	At         time.Time
	Contact    ContactRow
	Scores     []ScoreRow
	Thresholds []ThresholdRow
	Segments   map[string]time.Time
	// Ledger replaces both contacts' ledgers; Expired[i] marks entries whose
	// points have expired since.
	Ledger  []LedgerRow
	Expired []bool
}

// MergeOutcome says what a merge moved.
type MergeOutcome struct {
	Events   int `json:"events"`
	Tasks    int `json:"tasks"`
	Runs     int `json:"runs"`
	Segments int `json:"segments"`
}

// WriteMerge writes a merge inside the transaction that locked its parties
// (MergeParties): the survivor's re-derived state replaces both contacts'
// scores, thresholds, memberships (entries and exits recorded) and
// ledgers; the merged contact's events (pending ones too), tasks, runs
// (active ones exited) and flow entries move to the survivor; the merged
// contact's row goes, and contact_merges remembers it.
func WriteMerge(ctx context.Context, tx pgx.Tx, m MergedContact) (MergeOutcome, error) {
	var out MergeOutcome
	ids := []string{m.From, m.Into}
	c := m.Contact
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	fields, err := json.Marshal(c.Fields)
	if err != nil {
		return out, err
	}
	var oldSegments []string
	rows, err := tx.Query(ctx, `SELECT segment_id FROM segment_memberships WHERE contact_id = $1`, m.Into)
	if err != nil {
		return out, fmt.Errorf("error reading memberships of %q: %w", m.Into, err)
	}
	if oldSegments, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return out, err
	}
	step := func(what, sql string, args ...any) (int64, error) {
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return 0, fmt.Errorf("error merging %q into %q (%s): %w", m.From, m.Into, what, err)
		}
		return tag.RowsAffected(), nil
	}
	if c.AccountID != "" {
		if _, err := step("account", `INSERT INTO accounts (id) VALUES ($1) ON CONFLICT DO NOTHING`, c.AccountID); err != nil {
			return out, err
		}
	}
	if _, err := step("contact", `INSERT INTO contacts (id, email, fields, tags, account_id, stage, disqualified, disqualified_reason,
			partition, next_due_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, nullif($5, ''), $6, $7, $8, $9, $10,
			least($11::timestamptz, coalesce((SELECT created_at FROM contacts WHERE id = $12), $11::timestamptz)), $13)
		ON CONFLICT (id) DO UPDATE SET email = excluded.email, fields = excluded.fields, tags = excluded.tags,
			account_id = excluded.account_id, stage = excluded.stage, disqualified = excluded.disqualified,
			disqualified_reason = excluded.disqualified_reason, next_due_at = excluded.next_due_at,
			created_at = least(contacts.created_at, excluded.created_at), updated_at = excluded.updated_at`,
		m.Into, c.Email, fields, tags, c.AccountID, c.Stage, c.Disqualified, c.DisqualifiedReason,
		PartitionOf(m.Into), c.NextDueAt, c.CreatedAt, m.From, m.At); err != nil {
		return out, err
	}
	for _, q := range []struct{ what, sql string }{
		{"scores", `DELETE FROM scores WHERE contact_id = ANY($1)`},
		{"thresholds", `DELETE FROM threshold_states WHERE contact_id = ANY($1)`},
		{"memberships", `DELETE FROM segment_memberships WHERE contact_id = ANY($1)`},
		{"ledger", `DELETE FROM score_ledger WHERE contact_id = ANY($1)`},
	} {
		if _, err := step(q.what, q.sql, ids); err != nil {
			return out, err
		}
	}
	b := &pgx.Batch{}
	for _, s := range m.Scores {
		rules, _ := json.Marshal(s.ProfileRules)
		b.Queue(`INSERT INTO scores (contact_id, model, score, profile, engagement, engagement_as_of, band, profile_rules, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, m.Into, s.Model, s.Score, s.Profile, s.Engagement, s.EngagementAsOf, s.Band, rules, m.At)
	}
	for _, t := range m.Thresholds {
		b.Queue(`INSERT INTO threshold_states (contact_id, model, threshold_id, armed, crossings) VALUES ($1, $2, $3, $4, $5)`,
			m.Into, t.Model, t.ThresholdID, t.Armed, t.Crossings)
	}
	segs := make([]string, 0, len(m.Segments))
	for seg := range m.Segments {
		segs = append(segs, seg)
	}
	sort.Strings(segs)
	was := map[string]bool{}
	for _, seg := range oldSegments {
		was[seg] = true
	}
	eventID := "merge/" + m.From
	for _, seg := range segs {
		b.Queue(`INSERT INTO segment_memberships (contact_id, segment_id, entered_at) VALUES ($1, $2, $3)`, m.Into, seg, m.Segments[seg])
		if !was[seg] {
			b.Queue(`INSERT INTO segment_history (contact_id, segment_id, change, event_id, at) VALUES ($1, $2, 'entered', $3, $4)`, m.Into, seg, eventID, m.At)
			out.Segments++
		}
		delete(was, seg)
	}
	for _, seg := range oldSegments {
		if was[seg] {
			b.Queue(`INSERT INTO segment_history (contact_id, segment_id, change, event_id, at) VALUES ($1, $2, 'exited', $3, $4)`, m.Into, seg, eventID, m.At)
			out.Segments++
		}
	}
	for i, l := range m.Ledger {
		var key *string
		if l.IdemKey != "" {
			k := l.IdemKey
			key = &k
		}
		b.Queue(`INSERT INTO score_ledger (contact_id, model, points, kind, reason, rule_id, model_version, flow_id, flow_version,
				step_id, run_id, event_id, at, expires_at, expired, idem_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (idem_key) DO NOTHING`,
			m.Into, l.Model, l.Points, l.Kind, l.Reason, l.RuleID, l.ModelVersion, l.FlowID, l.FlowVersion, l.StepID, l.RunID, l.EventID,
			l.At, l.ExpiresAt, i < len(m.Expired) && m.Expired[i], key)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return out, fmt.Errorf("error writing the merged state of %q: %w", m.Into, err)
	}
	n, err := step("events", `UPDATE events SET contact_id = $2, partition = $3 WHERE contact_id = $1`, m.From, m.Into, PartitionOf(m.Into))
	if err != nil {
		return out, err
	}
	out.Events = int(n)
	if n, err = step("tasks", `UPDATE crm_tasks SET contact_id = $2 WHERE contact_id = $1`, m.From, m.Into); err != nil {
		return out, err
	}
	out.Tasks = int(n)
	if n, err = step("runs", `UPDATE flow_runs SET contact_id = $2,
			status = CASE WHEN status IN ('running', 'waiting') THEN 'exited' ELSE status END,
			finished_at = CASE WHEN status IN ('running', 'waiting') THEN $3 ELSE finished_at END,
			wait_kind = CASE WHEN status IN ('running', 'waiting') THEN '' ELSE wait_kind END,
			wait_until = CASE WHEN status IN ('running', 'waiting') THEN NULL ELSE wait_until END,
			updated_at = $3
		WHERE contact_id = $1`, m.From, m.Into, m.At); err != nil {
		return out, err
	}
	out.Runs = int(n)
	if _, err := step("flow entries", `INSERT INTO flow_entries (flow_id, contact_id, entries, last_entered_at)
			SELECT flow_id, $2, entries, last_entered_at FROM flow_entries WHERE contact_id = $1
		ON CONFLICT (flow_id, contact_id) DO UPDATE SET entries = flow_entries.entries + excluded.entries,
			last_entered_at = greatest(flow_entries.last_entered_at, excluded.last_entered_at)`, m.From, m.Into); err != nil {
		return out, err
	}
	for _, q := range []string{
		`DELETE FROM flow_entries WHERE contact_id = $1`,
		`DELETE FROM due_failures WHERE contact_id = $1`,
		`DELETE FROM contacts WHERE id = $1`,
	} {
		if _, err := step("the merged contact", q, m.From); err != nil {
			return out, err
		}
	}
	if _, err := step("record", `INSERT INTO contact_merges (merged_id, into_id, reason, events, merged_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (merged_id) DO NOTHING`, m.From, m.Into, m.Reason, out.Events, m.At); err != nil {
		return out, err
	}
	// Ids merged into the merged contact before now follow it.
	if _, err := step("earlier merges", `UPDATE contact_merges SET into_id = $2 WHERE into_id = $1`, m.From, m.Into); err != nil {
		return out, err
	}
	return out, nil
}

// RecordMerge merges a contact that has applied nothing (no row): its
// pending events, if any, move to into, and contact_merges remembers it.
func RecordMerge(ctx context.Context, tx pgx.Tx, from, into, reason string, at time.Time) (int, error) {
	tag, err := tx.Exec(ctx, `UPDATE events SET contact_id = $2, partition = $3 WHERE contact_id = $1`, from, into, PartitionOf(into))
	if err != nil {
		return 0, fmt.Errorf("error moving the events of %q to %q: %w", from, into, err)
	}
	n := int(tag.RowsAffected())
	if _, err := tx.Exec(ctx, `INSERT INTO contact_merges (merged_id, into_id, reason, events, merged_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (merged_id) DO NOTHING`, from, into, reason, n, at); err != nil {
		return 0, fmt.Errorf("error recording the merge of %q into %q: %w", from, into, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE contact_merges SET into_id = $2 WHERE into_id = $1`, from, into); err != nil {
		return 0, fmt.Errorf("error recording the merge of %q into %q: %w", from, into, err)
	}
	return n, nil
}

// RedirectMerged moves the pending events among events whose contact was
// merged into another (appended while the merge was committing) to the
// survivor and its partition, and returns the others. The events are the
// ones PendingEvents locked.
func RedirectMerged(ctx context.Context, tx pgx.Tx, events []EventRow) ([]EventRow, error) {
	if len(events) == 0 {
		return events, nil
	}
	ids := make([]string, 0, len(events))
	for _, e := range events {
		ids = append(ids, e.ContactID)
	}
	// Lock the contacts first (in id order, as LoadStates does): a merge
	// of one of them that is committing holds its row, and once it has
	// committed the check below sees it.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM contacts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
		return nil, fmt.Errorf("error locking the contacts of pending events: %w", err)
	}
	merged, err := resolveMerged(ctx, tx, ids)
	if err != nil || len(merged) == 0 {
		return events, err
	}
	kept := events[:0:0]
	for _, e := range events {
		into, ok := merged[e.ContactID]
		if !ok {
			kept = append(kept, e)
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE events SET contact_id = $2, partition = $3 WHERE seq = $1`, e.Seq, into, PartitionOf(into)); err != nil {
			return nil, fmt.Errorf("error moving event %q to %q, which %q was merged into: %w", e.ID, into, e.ContactID, err)
		}
	}
	return kept, nil
}

// ThresholdCrossings returns, per model and threshold ("model/threshold"),
// the most crossings any of the contacts has recorded.
func ThresholdCrossings(ctx context.Context, tx pgx.Tx, ids []string) (map[string]int, error) {
	rows, err := tx.Query(ctx, `SELECT model, threshold_id, max(crossings) FROM threshold_states
		WHERE contact_id = ANY($1) GROUP BY model, threshold_id`, ids)
	if err != nil {
		return nil, fmt.Errorf("error reading threshold crossings: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var model, th string
		var n int
		if err := rows.Scan(&model, &th, &n); err != nil {
			return nil, err
		}
		out[ThresholdKey(model, th)] = n
	}
	return out, rows.Err()
}
