package store

// The read queries of the console: pages of the hot list with its filters,
// a contact's timeline (events, segments, flow runs) and the per-step
// counts of a flow's runs. They only read, outside of any engine
// transaction.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LeadsPageQuery selects one page of the hot list.
type LeadsPageQuery struct {
	Model string // required
	// Now is the time scores are read at and HalfLife the model's
	// half-life (0: no half-life decay): the list filters, orders and
	// shows the scores as they stand at Now.
	Now      time.Time
	HalfLife time.Duration
	// MinScore keeps scores at or above it and BelowScore scores below it,
	// when not nil (a band is the range of its scores).
	MinScore, BelowScore *float64
	Segment              string // only members of this segment when not empty
	Owner                string // only contacts whose field owner is this, when not empty
	Stage                string // only contacts in this stage, when not empty
	// Search, when not empty, keeps contacts whose id is Search or whose
	// email starts with it (case-insensitive).
	Search string
	// Disqualified filters on the flag when not nil.
	Disqualified *bool
	// After continues after this (score, contact id) of the previous page.
	After *LeadsCursor
	Limit int
}

// LeadsCursor is the position of the last lead of a page: its exact score
// (as the decimal text PostgreSQL holds) and its contact id.
type LeadsCursor struct {
	Score     string `json:"s"`
	ContactID string `json:"c"`
	// At is when the first page read the scores (Unix microseconds):
	// later pages read them at the same time, so that a list whose scores
	// decay neither skips nor repeats a lead. 0 in a cursor made before.
	At int64 `json:"t,omitempty"`
}

// LeadRow is one row of a hot list page.
type LeadRow struct {
	Lead
	ScoreText string // the exact score, for the cursor
	Owner     string
	// LastActivity is when the contact last changed: an event applied to
	// it, or a time-driven change (decay, a date).
	LastActivity *time.Time
}

// leadsPageSQL selects a page of the hot list with the arguments of q. The
// score is read at q.Now. Without a half-life it is the stored score, and
// the page is an index scan on scores_hot_page (model, score DESC,
// contact_id); with one, it is computed once per row of the model (a
// subquery the planner keeps apart, OFFSET 0) and the rows sorted by it.
// Optional bounds are written out only when there are some, so that even a
// generic plan starts the index scan at the cursor.
func leadsPageSQL(q LeadsPageQuery) (string, []any) {
	args := []any{q.Model, q.Segment, q.Disqualified, q.Owner, q.Stage, q.Search}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	from := "scores s"
	if q.HalfLife > 0 {
		clock := ScoreClock{Now: q.Now}
		from = `(SELECT s.contact_id, s.model, s.band, s.updated_at, ` +
			decayedScoreSQL("s", arg(clock.at())+"::timestamptz", arg(float64(q.HalfLife))+"::float8") +
			` AS score FROM scores s WHERE s.model = $1 OFFSET 0) s`
	}
	bounds := ""
	if q.MinScore != nil {
		bounds += " AND s.score >= " + arg(numericText(q.MinScore)) + "::numeric"
	}
	if q.BelowScore != nil {
		bounds += " AND s.score < " + arg(numericText(q.BelowScore)) + "::numeric"
	}
	if q.After != nil {
		at := arg(q.After.Score) + "::numeric"
		bounds += " AND s.score <= " + at + " AND (s.score < " + at + " OR s.contact_id > " + arg(q.After.ContactID) + ")"
	}
	return `SELECT c.id, c.email, s.score::float8, s.score::text, s.band, c.stage, c.disqualified,
		coalesce(c.account_id, ''), s.updated_at, coalesce(c.fields->>'owner', ''), c.updated_at
		FROM ` + from + ` JOIN contacts c ON c.id = s.contact_id
		WHERE s.model = $1 AND c.erased_at IS NULL
		  AND ($2 = '' OR EXISTS (SELECT 1 FROM segment_memberships m WHERE m.contact_id = c.id AND m.segment_id = $2))
		  AND ($3::boolean IS NULL OR c.disqualified = $3)
		  AND ($4 = '' OR c.fields->>'owner' = $4)
		  AND ($5 = '' OR c.stage = $5)
		  AND ($6 = '' OR c.id = $6 OR lower(c.email) LIKE replace(replace(replace(lower($6), '\', '\\'), '%', '\%'), '_', '\_') || '%')
		  ` + bounds + `
		ORDER BY s.score DESC, s.contact_id
		LIMIT ` + arg(q.Limit), args
}

// LeadsPage returns one page of contacts with a score in q.Model, highest
// score at q.Now first, ties by contact id. For a model without half-life
// decay, pages are keyset-paginated on scores_hot_page: a page costs the
// same at the start and at the end of 100,000 contacts. With one, every
// page computes and sorts the model's scores at q.Now.
func (s *Store) LeadsPage(ctx context.Context, q LeadsPageQuery) ([]LeadRow, error) {
	sql, args := leadsPageSQL(q)
	rows, err := s.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("error loading leads: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LeadRow, error) {
		var l LeadRow
		err := r.Scan(&l.ContactID, &l.Email, &l.Score, &l.ScoreText, &l.Band, &l.Stage, &l.Disqualified, &l.AccountID,
			&l.UpdatedAt, &l.Owner, &l.LastActivity)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("error loading leads: %w", err)
	}
	return out, nil
}

// TimelineEvent is one event of a contact's timeline.
type TimelineEvent struct {
	ID          string          `json:"id"`
	Type        string          `json:"type"`
	Properties  json.RawMessage `json:"properties"`
	OccurredAt  time.Time       `json:"occurred_at"`
	ReceivedAt  time.Time       `json:"received_at"`
	AppliedAt   *time.Time      `json:"applied_at"`
	Quarantined bool            `json:"quarantined"`
}

// SegmentMembership is a segment a contact is in, since when.
type SegmentMembership struct {
	SegmentID string    `json:"segment_id"`
	EnteredAt time.Time `json:"entered_at"`
}

// SegmentHistoryEntry is one entry or exit of a contact in a segment.
type SegmentHistoryEntry struct {
	SegmentID string    `json:"segment_id"`
	Change    string    `json:"change"`
	EventID   string    `json:"event_id"`
	At        time.Time `json:"at"`
}

// TimelineRun is one flow run of a contact, finished or not.
type TimelineRun struct {
	ID          string     `json:"id"`
	FlowID      string     `json:"flow_id"`
	FlowVersion int        `json:"flow_version"`
	Status      string     `json:"status"`
	StepID      string     `json:"step_id"`
	WaitKind    string     `json:"wait_kind"`
	WaitEvent   string     `json:"wait_event"`
	WaitUntil   *time.Time `json:"wait_until"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	Error       string     `json:"error"`
}

// ContactTimeline is what happened to a contact: its newest events, its
// segments and their history, its flow runs (newest first).
type ContactTimeline struct {
	Events         []TimelineEvent       `json:"events"`
	Segments       []SegmentMembership   `json:"segments"`
	SegmentHistory []SegmentHistoryEntry `json:"segment_history"`
	FlowRuns       []TimelineRun         `json:"flow_runs"`
}

// ContactTimeline loads up to limit of each list for one contact.
func (s *Store) ContactTimeline(ctx context.Context, id string, limit int) (ContactTimeline, error) {
	t := ContactTimeline{Events: []TimelineEvent{}, Segments: []SegmentMembership{}, SegmentHistory: []SegmentHistoryEntry{}, FlowRuns: []TimelineRun{}}
	b := &pgx.Batch{}
	// The newest applied events through events_activity (index-only, then
	// by primary key), the pending ones through events_pending (the
	// contact's partition) and the quarantined ones through event_failures:
	// no read of the whole log, and a contact with 100,000 events costs a
	// scan of its index entries only.
	b.Queue(`SELECT id, type, properties, occurred_at, received_at, applied_at, quarantined_at IS NOT NULL FROM (
			SELECT * FROM events WHERE seq IN (SELECT seq FROM events WHERE contact_id = $1 AND applied_at IS NOT NULL
				ORDER BY occurred_at DESC, seq DESC LIMIT $2)
			UNION ALL
			SELECT * FROM events WHERE partition = (SELECT partition FROM contacts WHERE id = $1) AND contact_id = $1
				AND applied_at IS NULL AND quarantined_at IS NULL
			UNION ALL
			SELECT e.* FROM event_failures f JOIN events e ON e.seq = f.event_seq WHERE f.status = 'failed' AND e.contact_id = $1
		) ev ORDER BY occurred_at DESC, seq DESC LIMIT $2`, id, limit).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var e TimelineEvent
			if err := rows.Scan(&e.ID, &e.Type, &e.Properties, &e.OccurredAt, &e.ReceivedAt, &e.AppliedAt, &e.Quarantined); err != nil {
				return err
			}
			t.Events = append(t.Events, e)
		}
		return rows.Err()
	})
	b.Queue(`SELECT segment_id, entered_at FROM segment_memberships WHERE contact_id = $1 ORDER BY entered_at DESC, segment_id`, id).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var m SegmentMembership
				if err := rows.Scan(&m.SegmentID, &m.EnteredAt); err != nil {
					return err
				}
				t.Segments = append(t.Segments, m)
			}
			return rows.Err()
		})
	b.Queue(`SELECT segment_id, change, event_id, at FROM segment_history WHERE contact_id = $1 ORDER BY id DESC LIMIT $2`, id, limit).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var c SegmentHistoryEntry
				if err := rows.Scan(&c.SegmentID, &c.Change, &c.EventID, &c.At); err != nil {
					return err
				}
				t.SegmentHistory = append(t.SegmentHistory, c)
			}
			return rows.Err()
		})
	b.Queue(`SELECT id, flow_id, flow_version, status, step_id, wait_kind, wait_event, wait_until, started_at, finished_at, error
		FROM flow_runs WHERE contact_id = $1 ORDER BY started_at DESC, id LIMIT $2`, id, limit).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var r TimelineRun
			if err := rows.Scan(&r.ID, &r.FlowID, &r.FlowVersion, &r.Status, &r.StepID, &r.WaitKind, &r.WaitEvent, &r.WaitUntil,
				&r.StartedAt, &r.FinishedAt, &r.Error); err != nil {
				return err
			}
			t.FlowRuns = append(t.FlowRuns, r)
		}
		return rows.Err()
	})
	if err := s.Pool.SendBatch(ctx, b).Close(); err != nil {
		return t, fmt.Errorf("error loading the timeline of contact %q: %w", id, err)
	}
	return t, nil
}

// StepCount is how many runs of a flow are in one status at one step.
type StepCount struct {
	StepID string `json:"step_id"`
	Status string `json:"status"`
	Runs   int64  `json:"runs"`
}

// DefinitionStats counts a flow's runs by status and step: running and
// waiting runs are at the step they are on, finished runs (completed,
// exited, failed) at the step they ended on.
func (s *Store) DefinitionStats(ctx context.Context, flowID string) ([]StepCount, error) {
	rows, err := s.Pool.Query(ctx, `SELECT step_id, status, count(*) FROM flow_runs WHERE flow_id = $1
		GROUP BY step_id, status ORDER BY step_id, status`, flowID)
	if err != nil {
		return nil, fmt.Errorf("error counting the runs of flow %q: %w", flowID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StepCount, error) {
		var c StepCount
		err := r.Scan(&c.StepID, &c.Status, &c.Runs)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("error counting the runs of flow %q: %w", flowID, err)
	}
	return out, nil
}

// TasksQuery selects CRM tasks, newest first.
type TasksQuery struct {
	ContactID string // only this contact's, when not empty
	Assignee  string // only this assignee's, when not empty
	// Status is a delivery status (none, pending, delivered, failed) when
	// not empty.
	Status string
	Limit  int
}

// Tasks returns CRM tasks newest first with the filters of q.
func (s *Store) Tasks(ctx context.Context, q TasksQuery) ([]Task, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, contact_id, title, description, assignee, due_at, reason, model,
		threshold_id, crossing, flow_id, flow_version, step_id, run_id, event_id, idem_key, delivery_status, created_at
		FROM crm_tasks WHERE ($1 = '' OR contact_id = $1) AND ($2 = '' OR assignee = $2) AND ($3 = '' OR delivery_status = $3)
		ORDER BY created_at DESC, id DESC LIMIT $4`, q.ContactID, q.Assignee, q.Status, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("error loading CRM tasks: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Task, error) {
		var t Task
		err := r.Scan(&t.ID, &t.ContactID, &t.Title, &t.Description, &t.Assignee, &t.DueAt, &t.Reason, &t.Model,
			&t.ThresholdID, &t.Crossing, &t.FlowID, &t.FlowVersion, &t.StepID, &t.RunID, &t.EventID, &t.IdemKey,
			&t.DeliveryStatus, &t.CreatedAt)
		return t, err
	})
}

// SegmentCount is a segment's membership now and its changes since a time.
type SegmentCount struct {
	SegmentID    string
	Members      int64
	EnteredSince int64
	ExitedSince  int64
}

// SegmentCounts counts the members of every segment id given and how many
// entered and exited since the given time.
func (s *Store) SegmentCounts(ctx context.Context, ids []string, since time.Time) ([]SegmentCount, error) {
	rows, err := s.Pool.Query(ctx, `SELECT u.seg,
		(SELECT count(*) FROM segment_memberships m WHERE m.segment_id = u.seg),
		(SELECT count(*) FROM segment_history h WHERE h.segment_id = u.seg AND h.change = 'entered' AND h.at >= $2),
		(SELECT count(*) FROM segment_history h WHERE h.segment_id = u.seg AND h.change = 'exited' AND h.at >= $2)
		FROM unnest($1::text[]) AS u(seg) ORDER BY u.seg`, ids, since)
	if err != nil {
		return nil, fmt.Errorf("error counting segment members: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SegmentCount, error) {
		var c SegmentCount
		err := r.Scan(&c.SegmentID, &c.Members, &c.EnteredSince, &c.ExitedSince)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("error counting segment members: %w", err)
	}
	return out, nil
}

// SegmentDay is one day of a segment's history: entries and exits that day.
type SegmentDay struct {
	Day     time.Time // midnight UTC
	Entered int64
	Exited  int64
}

// SegmentDays returns the entries and exits of a segment per UTC day since
// from (days without any are left out), oldest first.
func (s *Store) SegmentDays(ctx context.Context, segmentID string, from time.Time) ([]SegmentDay, error) {
	rows, err := s.Pool.Query(ctx, `SELECT date_trunc('day', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day,
		count(*) FILTER (WHERE change = 'entered'), count(*) FILTER (WHERE change = 'exited')
		FROM segment_history WHERE segment_id = $1 AND at >= $2 GROUP BY day ORDER BY day`, segmentID, from)
	if err != nil {
		return nil, fmt.Errorf("error loading the history of segment %q: %w", segmentID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SegmentDay, error) {
		var d SegmentDay
		err := r.Scan(&d.Day, &d.Entered, &d.Exited)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("error loading the history of segment %q: %w", segmentID, err)
	}
	return out, nil
}

// AccountSummary is one account with its contacts counted and its score in
// one model (the sum of the scores of its contacts not disqualified).
type AccountSummary struct {
	ID       string
	Name     string
	Contacts int64
	Score    float64
}

// AccountsByScore lists accounts by their rolled-up score in model at
// clock's time, highest first (ties by id): the sum of the scores of their
// contacts that are not disqualified. Contacts counts all of them.
func (s *Store) AccountsByScore(ctx context.Context, model string, limit int, clock ScoreClock) ([]AccountSummary, error) {
	rows, err := s.Pool.Query(ctx, `SELECT a.id, a.name,
		(SELECT count(*) FROM contacts c WHERE c.account_id = a.id),
		coalesce((SELECT sum(`+decayedScoreSQL("s", "$3::timestamptz", "$4::float8")+`)::float8
			FROM contacts c JOIN scores s ON s.contact_id = c.id AND s.model = $1
			WHERE c.account_id = a.id AND NOT c.disqualified), 0) AS score
		FROM accounts a ORDER BY score DESC, a.id LIMIT $2`, model, limit, clock.at(), clock.halfLife(model))
	if err != nil {
		return nil, fmt.Errorf("error listing accounts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AccountSummary, error) {
		var a AccountSummary
		err := r.Scan(&a.ID, &a.Name, &a.Contacts, &a.Score)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("error listing accounts: %w", err)
	}
	return out, nil
}
