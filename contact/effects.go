package contact

import (
	"encoding/json"
	"time"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/flows"
)

// Effects is what one application caused, in the order it happened. The
// changed State is the rest: a shell writes the ledger, tasks, webhooks,
// segment history and run work from here and the contact's rows from the
// state.
type Effects struct {
	// Ledger: points given, decayed, expired or recomputed.
	Ledger []LedgerEntry
	// Expired: ledger ids of the grants that expired (their points are
	// taken back by an "expiry" entry of Ledger).
	Expired  []int64
	Tasks    []Task
	Webhooks []Webhook
	// RunsStarted: runs started, with their first wait (nil when the run
	// finished without waiting; it is then in RunsFinished too).
	RunsStarted []RunStarted
	// RunWaits: the next wait of the resumed run (Resume input).
	RunWaits []contract.Wait
	// RunsSignalled: waiting runs whose awaited event arrived.
	RunsSignalled []RunSignalled
	// RunsFinished: runs that completed or exited, as they ended (they are
	// no longer in State.Runs).
	RunsFinished []Run
	Segments     []SegmentChange
	// Derived: the events the application raised (contact_created,
	// field_changed, tag_added, segment_entered, score_threshold_crossed…).
	Derived []flows.Event
	// Conversions: the models the contact converted in (the store keeps
	// the first per model).
	Conversions []Conversion
	// AccountTraits: traits of group events to merge into accounts.
	AccountTraits []AccountTraits
	// NextDue: when the contact next changes because time passes (also in
	// State.Contact.NextDueAt); nil: never.
	NextDue *time.Time
	// StepsExecuted: the type of every flow step executed, in order.
	StepsExecuted []string
	// Notes: what a shell should log (a step skipped, a chain cut short).
	Notes []string
}

// LedgerEntry is one entry of the score ledger.
type LedgerEntry struct {
	Model        string
	Points       float64
	Kind         string // engagement, flow, profile, decay, expiry
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

// Task is a CRM task to create.
type Task struct {
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
	// Body is what the CRM receives (the shell adds the task's id).
	Body map[string]any
}

// Webhook is a webhook step's call to deliver.
type Webhook struct {
	URL       string
	Body      json.RawMessage
	Headers   map[string]string // extra request headers (rendered)
	IdemKey   string
	CreatedAt time.Time
}

// RunStarted is a run started by the application.
type RunStarted struct {
	RunID string
	Wait  *contract.Wait
}

// RunSignalled tells a waiting run that its event arrived.
type RunSignalled struct {
	RunID   string
	WaitSeq int
	EventID string
}

// SegmentChange is the contact entering or leaving a segment.
type SegmentChange struct {
	SegmentID string
	Entered   bool
	EventID   string
	At        time.Time
}

// Conversion is the contact converting in a model: the event that did it,
// its value, and the score and band the contact had once it was applied.
type Conversion struct {
	Model      string
	EventID    string
	EventType  string
	Value      *float64
	OccurredAt time.Time
	At         time.Time
	Score      float64
	Band       string
	// LedgerBefore is how many entries of Effects.Ledger came before it.
	LedgerBefore int
}

// AccountTraits are traits to merge into an account's fields.
type AccountTraits struct {
	AccountID string
	Traits    map[string]any
}
