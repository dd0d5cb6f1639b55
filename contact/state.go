package contact

import (
	"maps"
	"slices"
	"time"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/flows"
)

// State is everything the core needs to decide what happens to one
// contact. Apply changes it in place; Clone keeps a copy.
type State struct {
	// Exists is false for a contact not seen yet (its first event creates it).
	Exists  bool
	Contact Contact
	// Scores by model id.
	Scores map[string]*Score
	// Thresholds: the re-arm state of each threshold reached so far.
	Thresholds map[ThresholdRef]*Threshold
	// Segments the contact is in, with the time it entered.
	Segments map[string]time.Time
	// Entries into flows, by flow id.
	Entries map[string]*Entry
	// Runs: the active (running or waiting) flow runs, by run id.
	Runs map[string]*Run
	// Activity: the past events evaluation needs (Catalog.ActivityNeeds),
	// oldest first; Apply appends the events it applies.
	Activity []flows.Activity
	// CapGrants: positive grants of capped rules and steps within the
	// longest cap period (Catalog.CapWindow); Apply appends the ones it gives.
	CapGrants []CapGrant
	// ExpiringGrants: the unexpired grants of models with expire_after
	// decay, oldest first. Grants Apply gives have LedgerID 0 until stored.
	ExpiringGrants []ExpiringGrant
}

// Contact is the contact's own record.
type Contact struct {
	ID                 string
	Email              string
	AccountID          string
	Stage              string
	Disqualified       bool
	DisqualifiedReason string
	// Fields: custom attributes (JSON values).
	Fields map[string]any
	// Tags, sorted.
	Tags      []string
	CreatedAt time.Time
	// NextDueAt is when the contact next changes because time passes.
	NextDueAt *time.Time
}

// Score is a contact's score in one model: profile (fit) points recomputed
// from attributes plus engagement points that accumulate (and decay).
type Score struct {
	Model      string
	Score      float64
	Profile    float64
	Engagement float64
	// EngagementAsOf: the time Engagement is decayed to.
	EngagementAsOf time.Time
	Band           string
	// BandColor is the colour of Band.
	BandColor string
	// ProfileRules: the points each matching profile rule holds.
	ProfileRules map[string]float64
}

// ThresholdRef names a threshold of a model.
type ThresholdRef struct {
	Model       string
	ThresholdID string
}

// Threshold is the re-arm state of one threshold for the contact.
type Threshold struct {
	Armed     bool
	Crossings int
}

// Entry counts the contact's entries into one flow.
type Entry struct {
	Entries       int
	LastEnteredAt time.Time
}

// Run is a flow run of the contact.
type Run struct {
	ID          string
	FlowID      string
	FlowVersion int
	Status      contract.RunStatus
	StepID      string
	WaitSeq     int
	// SignalledSeq is the wait the run was last signalled for.
	SignalledSeq   int
	WaitKind       contract.WaitKind
	WaitEvent      string
	WaitUntil      *time.Time
	TriggerEventID string
	StepsExecuted  int
	StartedAt      time.Time
	UpdatedAt      time.Time
	FinishedAt     *time.Time
}

// CapGrant is a positive grant of a capped rule or step.
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

// ExpiringGrant is an unexpired grant of engagement points that lapses at
// ExpiresAt (expire_after decay).
type ExpiringGrant struct {
	LedgerID  int64 // 0: given by this Apply, not stored yet
	Model     string
	Points    float64
	At        time.Time
	ExpiresAt time.Time
}

// NewState returns the state of a contact not seen yet.
func NewState(id string) *State {
	return &State{
		Contact:    Contact{ID: id, Fields: map[string]any{}},
		Scores:     map[string]*Score{},
		Thresholds: map[ThresholdRef]*Threshold{},
		Segments:   map[string]time.Time{},
		Entries:    map[string]*Entry{},
		Runs:       map[string]*Run{},
	}
}

// Clone returns a copy of st that Apply on either does not change. Field
// values are shared (Apply replaces them, never changes them in place).
func (st *State) Clone() *State {
	c := *st
	c.Contact.Fields = maps.Clone(st.Contact.Fields)
	c.Contact.Tags = slices.Clone(st.Contact.Tags)
	if st.Contact.NextDueAt != nil {
		t := *st.Contact.NextDueAt
		c.Contact.NextDueAt = &t
	}
	c.Scores = make(map[string]*Score, len(st.Scores))
	for k, v := range st.Scores {
		s := *v
		s.ProfileRules = maps.Clone(v.ProfileRules)
		c.Scores[k] = &s
	}
	c.Thresholds = make(map[ThresholdRef]*Threshold, len(st.Thresholds))
	for k, v := range st.Thresholds {
		t := *v
		c.Thresholds[k] = &t
	}
	c.Segments = maps.Clone(st.Segments)
	c.Entries = make(map[string]*Entry, len(st.Entries))
	for k, v := range st.Entries {
		e := *v
		c.Entries[k] = &e
	}
	c.Runs = make(map[string]*Run, len(st.Runs))
	for k, v := range st.Runs {
		r := *v
		c.Runs[k] = &r
	}
	c.Activity = slices.Clone(st.Activity)
	c.CapGrants = slices.Clone(st.CapGrants)
	c.ExpiringGrants = slices.Clone(st.ExpiringGrants)
	return &c
}
