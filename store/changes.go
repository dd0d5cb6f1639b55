package store

import (
	"sort"
	"time"

	"github.com/leadflow/leadflow/contract"
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
	Headers   map[string]string // extra request headers (rendered)
	IdemKey   string
	CreatedAt time.Time
}

// OutboxRow is work for Temporal decided in a transaction.
type OutboxRow struct {
	Partition  int
	Kind       contract.OutboxKind
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
	Conversions    []ConversionRow // written after Ledger (see Convert)
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
