package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// LedgerRow is one entry of the score ledger.
type LedgerRow struct {
	ContactID    string
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
	IdemKey      string
}

// TaskRow is a CRM task to create, with its delivery when a CRM webhook is set.
type TaskRow struct {
	ContactID   string
	Partition   int
	Title       string
	Description string
	Assignee    string
	DueAt       *time.Time
	Reason      string
	Model       string
	ThresholdID string
	Crossing    int
	FlowID      string
	FlowVersion int
	StepID      string
	RunID       string
	EventID     string
	IdemKey     string
	CreatedAt   time.Time
	// DeliverTo is CRM_WEBHOOK_URL, or empty when none is configured.
	DeliverTo string
	Body      map[string]any
}

// WebhookRow is a webhook step's call to deliver.
type WebhookRow struct {
	Partition int
	URL       string
	Body      any
	IdemKey   string
	CreatedAt time.Time
}

// OutboxRow is work for Temporal decided in a transaction.
type OutboxRow struct {
	Partition  int
	Kind       string // start_run, signal_run
	WorkflowID string
	Payload    any
}

// SegmentChange is a contact entering or leaving a segment.
type SegmentChange struct {
	ContactID string
	SegmentID string
	Entered   bool
	EventID   string
	At        time.Time
}

// Changes accumulates the writes of one transaction; Write sends them.
type Changes struct {
	Contacts       map[string]*ContactState // contacts whose row, scores, thresholds or entries changed
	Ledger         []LedgerRow
	ExpiredLedger  []int64
	Segments       []SegmentChange
	Runs           map[string]*RunRow
	Tasks          []TaskRow
	Webhooks       []WebhookRow
	Outbox         []OutboxRow
	AppliedEvents  []int64
	AppliedAt      time.Time
	ScoresTouched  map[string]map[string]bool // contact -> model
	EntriesTouched map[string]map[string]bool // contact -> flow
	ThreshTouched  map[string]map[string]bool // contact -> threshold key
	// AccountTraits are merged into accounts.fields (a "name" trait also sets the name).
	AccountTraits map[string]map[string]any
}

// NewChanges returns an empty change set.
func NewChanges(now time.Time) *Changes {
	return &Changes{
		Contacts:       map[string]*ContactState{},
		Runs:           map[string]*RunRow{},
		AppliedAt:      now,
		ScoresTouched:  map[string]map[string]bool{},
		EntriesTouched: map[string]map[string]bool{},
		ThreshTouched:  map[string]map[string]bool{},
	}
}

func touch(m map[string]map[string]bool, a, b string) {
	if m[a] == nil {
		m[a] = map[string]bool{}
	}
	m[a][b] = true
}

// TouchContact marks a contact row to be written.
func (c *Changes) TouchContact(st *ContactState) { c.Contacts[st.Contact.ID] = st }

// TouchScore marks a contact's score in a model to be written.
func (c *Changes) TouchScore(st *ContactState, model string) {
	c.TouchContact(st)
	touch(c.ScoresTouched, st.Contact.ID, model)
}

// TouchEntry marks a contact's entry count in a flow to be written.
func (c *Changes) TouchEntry(st *ContactState, flowID string) {
	c.TouchContact(st)
	touch(c.EntriesTouched, st.Contact.ID, flowID)
}

// TouchThreshold marks a threshold state to be written.
func (c *Changes) TouchThreshold(st *ContactState, key string) {
	c.TouchContact(st)
	touch(c.ThreshTouched, st.Contact.ID, key)
}

// Write sends every change in one round trip batch, inside tx.
func (c *Changes) Write(ctx context.Context, tx pgx.Tx) error {
	b := &pgx.Batch{}
	for _, st := range sortedStates(c.Contacts) {
		ct := st.Contact
		var account any
		if ct.AccountID != "" {
			account = ct.AccountID
			b.Queue(`INSERT INTO accounts (id) VALUES ($1) ON CONFLICT DO NOTHING`, ct.AccountID)
		}
		tags := ct.Tags
		if tags == nil {
			tags = []string{}
		}
		b.Queue(`INSERT INTO contacts (id, email, fields, tags, account_id, stage, disqualified, disqualified_reason, partition, next_due_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
			ON CONFLICT (id) DO UPDATE SET email = $2, fields = $3, tags = $4, account_id = $5, stage = $6, disqualified = $7,
			disqualified_reason = $8, next_due_at = $10, updated_at = $11`,
			ct.ID, ct.Email, ct.Fields, tags, account, ct.Stage, ct.Disqualified, ct.DisqualifiedReason, ct.Partition, ct.NextDueAt, c.AppliedAt)
		for _, model := range sortedKeys(c.ScoresTouched[ct.ID]) {
			s := st.Scores[model]
			b.Queue(`INSERT INTO scores (contact_id, model, score, profile, engagement, engagement_as_of, band, profile_rules, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (contact_id, model) DO UPDATE SET score = $3, profile = $4, engagement = $5, engagement_as_of = $6,
				band = $7, profile_rules = $8, updated_at = $9`,
				ct.ID, model, s.Score, s.Profile, s.Engagement, s.EngagementAsOf, s.Band, s.ProfileRules, c.AppliedAt)
		}
		for _, key := range sortedKeys(c.ThreshTouched[ct.ID]) {
			t := st.Thresholds[key]
			b.Queue(`INSERT INTO threshold_states (contact_id, model, threshold_id, armed, crossings) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (contact_id, model, threshold_id) DO UPDATE SET armed = $4, crossings = $5`,
				ct.ID, t.Model, t.ThresholdID, t.Armed, t.Crossings)
		}
		for _, flowID := range sortedKeys(c.EntriesTouched[ct.ID]) {
			e := st.Entries[flowID]
			b.Queue(`INSERT INTO flow_entries (flow_id, contact_id, entries, last_entered_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (flow_id, contact_id) DO UPDATE SET entries = $3, last_entered_at = $4`,
				flowID, ct.ID, e.Entries, e.LastEnteredAt)
		}
	}
	for _, id := range sortedKeys(c.AccountTraits) {
		traits := c.AccountTraits[id]
		name, _ := traits["name"].(string)
		b.Queue(`INSERT INTO accounts (id, name, fields, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET name = CASE WHEN $2 = '' THEN accounts.name ELSE $2 END,
			fields = accounts.fields || $3, updated_at = $4`, id, name, traits, c.AppliedAt)
	}
	for _, s := range c.Segments {
		if s.Entered {
			b.Queue(`INSERT INTO segment_memberships (contact_id, segment_id, entered_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
				s.ContactID, s.SegmentID, s.At)
		} else {
			b.Queue(`DELETE FROM segment_memberships WHERE contact_id = $1 AND segment_id = $2`, s.ContactID, s.SegmentID)
		}
		change := "exited"
		if s.Entered {
			change = "entered"
		}
		b.Queue(`INSERT INTO segment_history (contact_id, segment_id, change, event_id, at) VALUES ($1, $2, $3, $4, $5)`,
			s.ContactID, s.SegmentID, change, s.EventID, s.At)
	}
	for _, r := range c.Runs {
		b.Queue(`INSERT INTO flow_runs (`+runColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT (id) DO UPDATE SET status = $5, step_id = $6, wait_seq = $7, wait_kind = $8, wait_event = $9,
			wait_until = $10, steps_executed = $12, updated_at = $14, finished_at = $15`,
			r.ID, r.FlowID, r.FlowVersion, r.ContactID, r.Status, r.StepID, r.WaitSeq, r.WaitKind, r.WaitEvent, r.WaitUntil,
			r.TriggerEventID, r.StepsExecuted, r.StartedAt, r.UpdatedAt, r.FinishedAt)
	}
	if len(c.ExpiredLedger) > 0 {
		b.Queue(`UPDATE score_ledger SET expired = true WHERE id = ANY($1)`, c.ExpiredLedger)
	}
	if len(c.AppliedEvents) > 0 {
		b.Queue(`UPDATE events SET applied_at = $2 WHERE seq = ANY($1)`, c.AppliedEvents, c.AppliedAt)
	}
	for _, t := range c.Tasks {
		b.Queue(`WITH t AS (
				INSERT INTO crm_tasks (contact_id, title, description, assignee, due_at, reason, model, threshold_id, crossing,
					flow_id, flow_version, step_id, run_id, event_id, idem_key, delivery_status, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, CASE WHEN $16 = '' THEN 'none' ELSE 'pending' END, $17)
				ON CONFLICT (idem_key) DO NOTHING RETURNING id),
			d AS (
				INSERT INTO deliveries (kind, crm_task_id, url, body, idem_key, created_at)
				SELECT 'crm_task', t.id, $16, $18::jsonb || jsonb_build_object('id', t.id), 'crm_task:' || $15, $17 FROM t WHERE $16 <> ''
				RETURNING id)
			INSERT INTO outbox (partition, kind, workflow_id, payload)
			SELECT $19, 'deliver', 'delivery-' || d.id, jsonb_build_object('delivery_id', d.id) FROM d`,
			t.ContactID, t.Title, t.Description, t.Assignee, t.DueAt, t.Reason, t.Model, t.ThresholdID, t.Crossing,
			t.FlowID, t.FlowVersion, t.StepID, t.RunID, t.EventID, t.IdemKey, t.DeliverTo, t.CreatedAt, t.Body, t.Partition)
	}
	for _, w := range c.Webhooks {
		b.Queue(`WITH d AS (
				INSERT INTO deliveries (kind, url, body, idem_key, created_at) VALUES ('webhook', $1, $2, $3, $4)
				ON CONFLICT (idem_key) DO NOTHING RETURNING id)
			INSERT INTO outbox (partition, kind, workflow_id, payload)
			SELECT $5, 'deliver', 'delivery-' || d.id, jsonb_build_object('delivery_id', d.id) FROM d`,
			w.URL, w.Body, w.IdemKey, w.CreatedAt, w.Partition)
	}
	for _, o := range c.Outbox {
		b.Queue(`INSERT INTO outbox (partition, kind, workflow_id, payload) VALUES ($1, $2, $3, $4)`,
			o.Partition, o.Kind, o.WorkflowID, o.Payload)
	}
	if len(c.Ledger) > 0 {
		rows := make([][]any, len(c.Ledger))
		for i, l := range c.Ledger {
			var key any
			if l.IdemKey != "" {
				key = l.IdemKey
			}
			rows[i] = []any{l.ContactID, l.Model, l.Points, l.Kind, l.Reason, l.RuleID, l.ModelVersion, l.FlowID,
				l.FlowVersion, l.StepID, l.RunID, l.EventID, l.At, l.ExpiresAt, key}
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("error writing changes: %w", err)
		}
		b = &pgx.Batch{}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"score_ledger"}, []string{"contact_id", "model", "points", "kind", "reason",
			"rule_id", "model_version", "flow_id", "flow_version", "step_id", "run_id", "event_id", "at", "expires_at", "idem_key"},
			pgx.CopyFromRows(rows))
		if err != nil {
			return fmt.Errorf("error writing score ledger: %w", err)
		}
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("error writing changes: %w", err)
		}
	}
	return nil
}

func sortedStates(m map[string]*ContactState) []*ContactState {
	out := make([]*ContactState, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, m[k])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
