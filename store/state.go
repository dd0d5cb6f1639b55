package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/flows"
)

// ContactRow is a row of contacts.
type ContactRow struct {
	ID                 string
	Email              string
	Fields             map[string]any
	Tags               []string
	AccountID          string
	Stage              string
	Disqualified       bool
	DisqualifiedReason string
	Partition          int
	NextDueAt          *time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// ScoreRow is a contact's current score in one model.
type ScoreRow struct {
	Model          string
	Score          float64
	Profile        float64
	Engagement     float64
	EngagementAsOf time.Time
	Band           string
	ProfileRules   map[string]float64
}

// ThresholdRow is the re-arm state of one threshold for one contact.
type ThresholdRow struct {
	Model       string
	ThresholdID string
	Armed       bool
	Crossings   int
}

// EntryRow counts a contact's entries into one flow.
type EntryRow struct {
	FlowID        string
	Entries       int
	LastEnteredAt time.Time
}

// RunRow is a flow run.
type RunRow struct {
	ID             string
	FlowID         string
	FlowVersion    int
	ContactID      string
	Status         contract.RunStatus
	StepID         string
	WaitSeq        int
	SignalledSeq   int // the wait the run was last signalled for
	WaitKind       contract.WaitKind
	WaitEvent      string
	WaitUntil      *time.Time
	TriggerEventID string
	StepsExecuted  int
	StartedAt      time.Time
	UpdatedAt      time.Time
	FinishedAt     *time.Time
}

// ActivityRow is one applied event of a contact, for window conditions:
// the flows package's own type, so evaluation can use it without copying.
type ActivityRow = flows.Activity

// ContactState is everything the engine needs to change one contact.
type ContactState struct {
	Exists     bool
	Contact    ContactRow
	Scores     map[string]*ScoreRow     // by model
	Thresholds map[string]*ThresholdRow // by model + "/" + threshold id
	Segments   map[string]time.Time     // segment id -> entered at
	Entries    map[string]*EntryRow     // by flow id
	Runs       map[string]*RunRow       // active (running or waiting) runs by id
	Activity   []ActivityRow            // oldest first
	// CapGrants are recent positive grants of capped rules and steps.
	CapGrants []CapGrant
}

// CapGrant is a positive ledger entry of a capped rule or step.
type CapGrant struct {
	Key    string // CapKey(model, rule, flow, step)
	Points float64
	At     time.Time
}

// CapKey identifies what a cap limits: a model's rule, or a flow's step
// (ids joined with NUL, which no id holds).
func CapKey(model, ruleID, flowID, stepID string) string {
	return model + "\x00" + ruleID + "\x00" + flowID + "\x00" + stepID
}

// CapRef is a capped rule (Model, RuleID) or flow step (Model, FlowID,
// StepID).
type CapRef struct {
	Model, RuleID, FlowID, StepID string
}

// Key is the ref's CapKey.
func (r CapRef) Key() string { return CapKey(r.Model, r.RuleID, r.FlowID, r.StepID) }

// CapQuery says which capped grants LoadStates loads: the positive grants of
// these rules and steps since Since. The read is served by an index on
// (contact, model, rule, flow, step, at), so it costs what the grants in the
// period are, not what the contact's whole ledger is.
type CapQuery struct {
	Caps  []CapRef
	Since time.Time
}

// ThresholdKey is the key of ContactState.Thresholds.
func ThresholdKey(model, thresholdID string) string { return model + "/" + thresholdID }

// LoadStates locks and loads the contacts with the given ids (contacts that
// do not exist yet come back with Exists false), with the past events and
// capped grants evaluation needs.
func LoadStates(ctx context.Context, tx pgx.Tx, ids []string, activity ActivityQuery, caps CapQuery) (map[string]*ContactState, error) {
	ids = append([]string(nil), ids...)
	sort.Strings(ids) // lock in a fixed order: no deadlocks between transactions
	out := make(map[string]*ContactState, len(ids))
	for _, id := range ids {
		out[id] = &ContactState{
			Contact:    ContactRow{ID: id, Fields: map[string]any{}, Partition: PartitionOf(id)},
			Scores:     map[string]*ScoreRow{},
			Thresholds: map[string]*ThresholdRow{},
			Segments:   map[string]time.Time{},
			Entries:    map[string]*EntryRow{},
			Runs:       map[string]*RunRow{},
		}
	}
	rows, err := tx.Query(ctx, `SELECT id, email, fields, tags, coalesce(account_id, ''), stage, disqualified,
		disqualified_reason, partition, next_due_at, created_at, updated_at
		FROM contacts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("error loading contacts: %w", err)
	}
	for rows.Next() {
		var c ContactRow
		if err := rows.Scan(&c.ID, &c.Email, &c.Fields, &c.Tags, &c.AccountID, &c.Stage, &c.Disqualified,
			&c.DisqualifiedReason, &c.Partition, &c.NextDueAt, &c.CreatedAt, &c.UpdatedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("error reading contact: %w", err)
		}
		if c.Fields == nil {
			c.Fields = map[string]any{}
		}
		st := out[c.ID]
		st.Exists = true
		st.Contact = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("error loading contacts: %w", err)
	}

	batch := &pgx.Batch{}
	batch.Queue(`SELECT contact_id, model, score::float8, profile::float8, engagement::float8, engagement_as_of, band, profile_rules
		FROM scores WHERE contact_id = ANY($1)`, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id string
			s := &ScoreRow{}
			if err := rows.Scan(&id, &s.Model, &s.Score, &s.Profile, &s.Engagement, &s.EngagementAsOf, &s.Band, &s.ProfileRules); err != nil {
				return err
			}
			if s.ProfileRules == nil {
				s.ProfileRules = map[string]float64{}
			}
			out[id].Scores[s.Model] = s
		}
		return rows.Err()
	})
	batch.Queue(`SELECT contact_id, model, threshold_id, armed, crossings FROM threshold_states WHERE contact_id = ANY($1)`, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id string
			t := &ThresholdRow{}
			if err := rows.Scan(&id, &t.Model, &t.ThresholdID, &t.Armed, &t.Crossings); err != nil {
				return err
			}
			out[id].Thresholds[ThresholdKey(t.Model, t.ThresholdID)] = t
		}
		return rows.Err()
	})
	batch.Queue(`SELECT contact_id, segment_id, entered_at FROM segment_memberships WHERE contact_id = ANY($1)`, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id, seg string
			var at time.Time
			if err := rows.Scan(&id, &seg, &at); err != nil {
				return err
			}
			out[id].Segments[seg] = at
		}
		return rows.Err()
	})
	batch.Queue(`SELECT contact_id, flow_id, entries, last_entered_at FROM flow_entries WHERE contact_id = ANY($1)`, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id string
			e := &EntryRow{}
			if err := rows.Scan(&id, &e.FlowID, &e.Entries, &e.LastEnteredAt); err != nil {
				return err
			}
			out[id].Entries[e.FlowID] = e
		}
		return rows.Err()
	})
	batch.Queue(`SELECT `+runColumns+` FROM flow_runs WHERE contact_id = ANY($1) AND status IN ('running', 'waiting')`, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				return err
			}
			out[r.ContactID].Runs[r.ID] = r
		}
		return rows.Err()
	})
	if len(caps.Caps) > 0 {
		var models, rules, flowIDs, steps []string
		for _, c := range caps.Caps {
			models, rules, flowIDs, steps = append(models, c.Model), append(rules, c.RuleID), append(flowIDs, c.FlowID), append(steps, c.StepID)
		}
		// One index probe per contact and capped rule (OFFSET 0 keeps the
		// planner from turning the lateral read into a scan of the contact's
		// whole ledger when its statistics are stale).
		batch.Queue(`SELECT c.id, k.model, k.rule_id, k.flow_id, k.step_id, l.points, l.at
			FROM unnest($1::text[]) AS c(id)
			CROSS JOIN unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS k(model, rule_id, flow_id, step_id)
			CROSS JOIN LATERAL (SELECT points::float8 AS points, at FROM score_ledger
				WHERE contact_id = c.id AND model = k.model AND rule_id = k.rule_id AND flow_id = k.flow_id
				AND step_id = k.step_id AND at > $2 AND points > 0 OFFSET 0) l`,
			ids, caps.Since, models, rules, flowIDs, steps).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id string
				var ref CapRef
				var g CapGrant
				if err := rows.Scan(&id, &ref.Model, &ref.RuleID, &ref.FlowID, &ref.StepID, &g.Points, &g.At); err != nil {
					return err
				}
				g.Key = ref.Key()
				out[id].CapGrants = append(out[id].CapGrants, g)
			}
			return rows.Err()
		})
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, fmt.Errorf("error loading contact state: %w", err)
	}
	if err := loadActivity(ctx, tx, ids, activity, out); err != nil {
		return nil, err
	}
	return out, nil
}

const runColumns = `id, flow_id, flow_version, contact_id, status, step_id, wait_seq, wait_kind, wait_event, wait_until,
	trigger_event_id, steps_executed, started_at, updated_at, finished_at, signalled_seq`

func scanRun(row pgx.Row) (*RunRow, error) {
	r := &RunRow{}
	err := row.Scan(&r.ID, &r.FlowID, &r.FlowVersion, &r.ContactID, &r.Status, &r.StepID, &r.WaitSeq, &r.WaitKind,
		&r.WaitEvent, &r.WaitUntil, &r.TriggerEventID, &r.StepsExecuted, &r.StartedAt, &r.UpdatedAt, &r.FinishedAt, &r.SignalledSeq)
	return r, err
}

// LoadRun reads one flow run.
func LoadRun(ctx context.Context, q pgx.Tx, id string) (*RunRow, error) {
	r, err := scanRun(q.QueryRow(ctx, `SELECT `+runColumns+` FROM flow_runs WHERE id = $1`, id))
	if err == pgx.ErrNoRows {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("error loading flow run %q: %w", id, err)
	}
	return r, nil
}
