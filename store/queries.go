package store

// The read queries of the HTTP API: contact views, the score ledger, the hot
// list, CRM tasks and accounts. They only read, outside of any engine
// transaction.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// EventStatus says whether an event is in the log and whether it has been
// applied.
type EventStatus struct {
	Exists    bool
	ContactID string
	AppliedAt *time.Time
}

// EventStatus looks up one event of the log by id.
func (s *Store) EventStatus(ctx context.Context, id string) (EventStatus, error) {
	var st EventStatus
	err := s.Pool.QueryRow(ctx, `SELECT contact_id, applied_at FROM events WHERE id = $1`, id).Scan(&st.ContactID, &st.AppliedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("error loading event %q: %w", id, err)
	}
	st.Exists = true
	return st, nil
}

// ContactView is a contact as the API shows it: its row, its scores by
// model as they stand at the read's time, its segments and its active flow
// runs.
type ContactView struct {
	Contact  ContactRow
	Scores   []ScoreView // by model id
	Segments []string    // sorted
	Runs     []RunRow    // running or waiting, oldest first
	ReadAt   time.Time   // when the scores were read (microseconds)
	// Conversions are the contact's first conversions, one per model.
	Conversions []ConversionRow
}

// ScoreView is a contact's score in one model as read at a time: the
// scores row with its engagement points decayed to that time.
type ScoreView struct {
	Model      string
	Score      float64 // at the read's time
	Profile    float64
	Engagement float64 // at the read's time
	// StoredScore and StoredEngagement are as the engine last
	// materialised them, at EngagementAsOf: the ledger sums to
	// StoredScore, and Score − StoredScore is the decay not yet recorded.
	StoredScore      float64
	StoredEngagement float64
	EngagementAsOf   time.Time
	// Band is the band the engine last stored (the current model's bands
	// place Score anew; this is for a model no longer published).
	Band      string
	UpdatedAt time.Time
}

// ContactView loads one contact with its scores at clock's time;
// ErrNotFound when there is none.
func (s *Store) ContactView(ctx context.Context, id string, clock ScoreClock) (ContactView, error) {
	var v ContactView
	c := &v.Contact
	err := s.Pool.QueryRow(ctx, `SELECT id, email, fields, tags, coalesce(account_id, ''), stage, disqualified,
		disqualified_reason, partition, next_due_at, created_at, updated_at FROM contacts WHERE id = $1`, id).
		Scan(&c.ID, &c.Email, &c.Fields, &c.Tags, &c.AccountID, &c.Stage, &c.Disqualified,
			&c.DisqualifiedReason, &c.Partition, &c.NextDueAt, &c.CreatedAt, &c.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("error loading contact %q: %w", id, err)
	}
	if c.Fields == nil {
		c.Fields = map[string]any{}
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	models, halfLives := clock.models()
	v.ReadAt = clock.at()
	b := &pgx.Batch{}
	b.Queue(`SELECT s.model, x.score::float8, s.profile::float8, (x.score - s.profile)::float8, s.score::float8,
			s.engagement::float8, s.engagement_as_of, s.band, s.updated_at
		FROM scores s LEFT JOIN unnest($2::text[], $3::float8[]) AS d(model, half_life) ON d.model = s.model
		CROSS JOIN LATERAL (SELECT `+decayedScoreSQL("s", "$4::timestamptz", "coalesce(d.half_life, 0)")+` AS score) x
		WHERE s.contact_id = $1 ORDER BY s.model`, id, models, halfLives, clock.at()).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var sc ScoreView
			if err := rows.Scan(&sc.Model, &sc.Score, &sc.Profile, &sc.Engagement, &sc.StoredScore, &sc.StoredEngagement,
				&sc.EngagementAsOf, &sc.Band, &sc.UpdatedAt); err != nil {
				return err
			}
			v.Scores = append(v.Scores, sc)
		}
		return rows.Err()
	})
	b.Queue(`SELECT segment_id FROM segment_memberships WHERE contact_id = $1 ORDER BY segment_id`, id).Query(func(rows pgx.Rows) error {
		segs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		v.Segments = segs
		return err
	})
	b.Queue(`SELECT `+runColumns+` FROM flow_runs WHERE contact_id = $1 AND status IN ('running', 'waiting')
		ORDER BY started_at, id`, id).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				return err
			}
			v.Runs = append(v.Runs, *r)
		}
		return rows.Err()
	})
	b.Queue(`SELECT `+conversionColumns+` FROM conversions WHERE contact_id = $1 ORDER BY model`, id).Query(func(rows pgx.Rows) error {
		cvs, err := pgx.CollectRows(rows, scanConversion)
		v.Conversions = cvs
		return err
	})
	if err := s.Pool.SendBatch(ctx, b).Close(); err != nil {
		return v, fmt.Errorf("error loading contact %q: %w", id, err)
	}
	return v, nil
}

// ContactExists says whether a contact row exists.
func (s *Store) ContactExists(ctx context.Context, id string) (bool, error) {
	var ok bool
	if err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM contacts WHERE id = $1)`, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("error looking up contact %q: %w", id, err)
	}
	return ok, nil
}

// LedgerEntry is one row of the score ledger as read back.
type LedgerEntry struct {
	ID           int64
	Model        string
	Points       float64
	Kind         string
	Reason       string
	RuleID       string
	ModelVersion int
	FlowID       string
	FlowVersion  int
	StepID       string
	RunID        string
	EventID      string
	At           time.Time
	ExpiresAt    *time.Time
	Expired      bool
}

// ScoreHistory returns a contact's ledger entries oldest first (all models,
// or only model when it is not empty) and the sum of the points per model,
// summed exactly in the database.
func (s *Store) ScoreHistory(ctx context.Context, contactID, model string) ([]LedgerEntry, map[string]float64, error) {
	rows, err := s.Pool.Query(ctx, `SELECT id, model, points::float8, kind, reason, rule_id, model_version, flow_id,
		flow_version, step_id, run_id, event_id, at, expires_at, expired
		FROM score_ledger WHERE contact_id = $1 AND ($2 = '' OR model = $2) ORDER BY id`, contactID, model)
	if err != nil {
		return nil, nil, fmt.Errorf("error loading score history of %q: %w", contactID, err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LedgerEntry, error) {
		var e LedgerEntry
		err := r.Scan(&e.ID, &e.Model, &e.Points, &e.Kind, &e.Reason, &e.RuleID, &e.ModelVersion, &e.FlowID,
			&e.FlowVersion, &e.StepID, &e.RunID, &e.EventID, &e.At, &e.ExpiresAt, &e.Expired)
		return e, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("error loading score history of %q: %w", contactID, err)
	}
	rows, err = s.Pool.Query(ctx, `SELECT model, sum(points)::float8 FROM score_ledger
		WHERE contact_id = $1 AND ($2 = '' OR model = $2) GROUP BY model`, contactID, model)
	if err != nil {
		return nil, nil, fmt.Errorf("error summing score history of %q: %w", contactID, err)
	}
	totals := map[string]float64{}
	for rows.Next() {
		var m string
		var sum float64
		if err := rows.Scan(&m, &sum); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("error summing score history of %q: %w", contactID, err)
		}
		totals[m] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("error summing score history of %q: %w", contactID, err)
	}
	return entries, totals, nil
}

// Lead is one row of the hot list.
type Lead struct {
	ContactID    string
	Email        string
	Score        float64
	Band         string
	Stage        string
	Disqualified bool
	AccountID    string
	UpdatedAt    time.Time // of the score
}

// Task is one row of crm_tasks.
type Task struct {
	ID             int64
	ContactID      string
	Title          string
	Description    string
	Assignee       string
	DueAt          *time.Time
	Reason         string
	Model          string
	ThresholdID    string
	Crossing       int
	FlowID         string
	FlowVersion    int
	StepID         string
	RunID          string
	EventID        string
	IdemKey        string
	DeliveryStatus string
	CreatedAt      time.Time
}

// AccountRow is a row of accounts.
type AccountRow struct {
	ID        string
	Name      string
	Fields    map[string]any
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AccountContact is one contact of an account with its scores.
type AccountContact struct {
	ContactID    string
	Email        string
	Stage        string
	Disqualified bool
	Scores       map[string]float64 // by model, at the read's time
}

// AccountView is an account, its contacts and its score in each model that
// rolls up to accounts: the sum of the scores of its contacts that are not
// disqualified, at the read's time.
type AccountView struct {
	Account       AccountRow
	Contacts      []AccountContact // by contact id, at most the limit asked for
	ContactsTotal int
	Scores        map[string]float64 // by model; only the models asked for
}

// AccountView loads one account with up to contactLimit of its contacts,
// scores read at clock's time; ErrNotFound when there is none. The
// account's score in each model of rollup sums over all its contacts that
// are not disqualified (0 when none has a score in it); other models have
// no account score.
func (s *Store) AccountView(ctx context.Context, id string, contactLimit int, clock ScoreClock, rollup []string) (AccountView, error) {
	var v AccountView
	a := &v.Account
	err := s.Pool.QueryRow(ctx, `SELECT id, name, fields, created_at, updated_at FROM accounts WHERE id = $1`, id).
		Scan(&a.ID, &a.Name, &a.Fields, &a.CreatedAt, &a.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("error loading account %q: %w", id, err)
	}
	if a.Fields == nil {
		a.Fields = map[string]any{}
	}
	v.Scores = map[string]float64{}
	models, halfLives := clock.models()
	now := clock.at()
	b := &pgx.Batch{}
	b.Queue(`SELECT count(*) FROM contacts WHERE account_id = $1`, id).QueryRow(func(row pgx.Row) error {
		return row.Scan(&v.ContactsTotal)
	})
	b.Queue(`SELECT r.model, coalesce((SELECT sum(`+decayedScoreSQL("s", "$5::timestamptz", "coalesce(d.half_life, 0)")+`)::float8
			FROM contacts c JOIN scores s ON s.contact_id = c.id AND s.model = r.model
			LEFT JOIN unnest($3::text[], $4::float8[]) AS d(model, half_life) ON d.model = s.model
			WHERE c.account_id = $1 AND NOT c.disqualified), 0)
		FROM unnest($2::text[]) AS r(model)`, id, rollup, models, halfLives, now).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var m string
			var sum float64
			if err := rows.Scan(&m, &sum); err != nil {
				return err
			}
			v.Scores[m] = sum
		}
		return rows.Err()
	})
	b.Queue(`SELECT c.id, c.email, c.stage, c.disqualified,
		coalesce((SELECT jsonb_object_agg(s.model, `+decayedScoreSQL("s", "$5::timestamptz", "coalesce(d.half_life, 0)")+`)
			FROM scores s LEFT JOIN unnest($3::text[], $4::float8[]) AS d(model, half_life) ON d.model = s.model
			WHERE s.contact_id = c.id), '{}')
		FROM contacts c WHERE c.account_id = $1 ORDER BY c.id LIMIT $2`, id, contactLimit, models, halfLives, now).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var c AccountContact
			if err := rows.Scan(&c.ContactID, &c.Email, &c.Stage, &c.Disqualified, &c.Scores); err != nil {
				return err
			}
			v.Contacts = append(v.Contacts, c)
		}
		return rows.Err()
	})
	if err := s.Pool.SendBatch(ctx, b).Close(); err != nil {
		return v, fmt.Errorf("error loading account %q: %w", id, err)
	}
	return v, nil
}
