// Package flows is leadflow's flow language: the Go types of the three
// document kinds (flow, segment, score_model), their strict decoding,
// validation, canonical form and the pure evaluation functions the engine
// calls.
//
// This package must stay pure: no I/O, no clock, no environment, no random
// numbers and no iteration over maps where order changes a result. Time is
// always an argument. The engine calls it from activities and its results
// must be reproducible. The one exception is the time zone database, read
// by time.LoadLocation for contacts' time zones (wait_until); a copy is
// embedded (time/tzdata) so that a machine without one gives the same
// results.
//
// Entry points: Decode, Validate, DecodeAndValidate and CheckFiles read
// definitions; Canonical and Hash identify versions; JSONSchema describes
// the files for editors; MatchTrigger, MatchFilters, EvalCondition,
// ConditionChangesAt, ProfileScore, ScoreChange, ApplyCap, CrossThreshold,
// FrequencyReached, DecayedEngagement, ExpiredPoints, NextDecayCrossing,
// WaitUntil, DateTriggerDue and RenderTemplate evaluate them.
package flows

import "time"

// Document kinds.
const (
	KindFlow       = "flow"
	KindSegment    = "segment"
	KindScoreModel = "score_model"
)

// EndStep is the reserved step reference that ends a run.
const EndStep = "end"

// Document is one decoded, validated definition: exactly one of Flow,
// Segment or ScoreModel is set.
type Document struct {
	Flow       *Flow
	Segment    *Segment
	ScoreModel *ScoreModel

	// ref records where Decode found the document, so that validation
	// errors name its file and path; zero for documents built in Go.
	ref docRef
}

// Flow is a trigger leading through steps.
type Flow struct {
	Kind        string  `json:"kind" validate:"required,eq=flow"`
	ID          string  `json:"id" validate:"required,docid"`
	Name        string  `json:"name" validate:"required,max=200"`
	Description string  `json:"description,omitempty"`
	Trigger     Trigger `json:"trigger"`
	// Entry says how often one contact may enter the flow.
	Entry Entry `json:"entry"`
	// Steps run from the first; a step without next continues with the
	// following step in the list, the last one ends the run.
	Steps []Step `json:"steps" validate:"required,min=1,dive"`
}

// Entry policies.
const (
	EntryOnce      = "once"
	EntryEveryTime = "every_time"
	EntryOncePer   = "once_per"
)

// Entry is a flow's entry policy. In JSON it is either the string "once" or
// "every_time", or an object {"once_per": "30d"}.
type Entry struct {
	Policy string   `json:"policy" validate:"required,oneof=once every_time once_per"`
	Period Duration `json:"period,omitzero"`
}

// Trigger types.
const (
	TriggerSegmentEntered        = "segment_entered"
	TriggerSegmentExited         = "segment_exited"
	TriggerEmailOpened           = "email_opened"
	TriggerEmailClicked          = "email_clicked"
	TriggerEmailReplied          = "email_replied"
	TriggerEmailUnsubscribed     = "email_unsubscribed"
	TriggerEmailBounced          = "email_bounced"
	TriggerPageVisited           = "page_visited"
	TriggerEvent                 = "event"
	TriggerFieldChanged          = "field_changed"
	TriggerTagAdded              = "tag_added"
	TriggerTagRemoved            = "tag_removed"
	TriggerFormSubmitted         = "form_submitted"
	TriggerScoreThresholdCrossed = "score_threshold_crossed"
	TriggerDateField             = "date_field"
	// TriggerSchedule starts one run per firing of a calendar schedule (cron
	// in an IANA time zone), not per contact: see schedule.go.
	TriggerSchedule = "schedule"
)

// Event types the engine raises itself that are not trigger types (yet).
const (
	EventContactCreated = "contact_created"
	EventScoreChanged   = "score_changed"
)

// derivedEventTypes are the event types the engine raises itself while it
// applies a change: the consequences of a change (a field changed, a tag
// added, a segment entered, a threshold crossed, a date fell due). They are
// in-memory only — never written to the event log — and the API refuses
// them from clients, so a flow listening to one of them can only be
// started by the engine.
var derivedEventTypes = []string{
	EventContactCreated,
	TriggerFieldChanged,
	TriggerTagAdded,
	TriggerTagRemoved,
	TriggerSegmentEntered,
	TriggerSegmentExited,
	TriggerScoreThresholdCrossed,
	TriggerDateField,
	EventScoreChanged,
}

// DerivedEventTypes returns the event types reserved for the engine, in a
// fixed order.
func DerivedEventTypes() []string { return append([]string(nil), derivedEventTypes...) }

// IsDerivedEventType reports whether typ is an event type only the engine
// may raise.
func IsDerivedEventType(typ string) bool {
	for _, t := range derivedEventTypes {
		if t == typ {
			return true
		}
	}
	return false
}

// Trigger says which event starts a flow (or, in a score model rule, which
// event gives points). Which fields apply depends on Type.
type Trigger struct {
	Type string `json:"type" validate:"required,oneof=segment_entered segment_exited email_opened email_clicked email_replied email_unsubscribed email_bounced page_visited event field_changed tag_added tag_removed form_submitted score_threshold_crossed date_field schedule"`
	// Segment: segment_entered, segment_exited.
	Segment string `json:"segment,omitempty"`
	// Event: the custom event name for type "event".
	Event string `json:"event,omitempty"`
	// URL: page_visited; a glob ("*/pricing*") or, without '*', a prefix.
	URL string `json:"url,omitempty"`
	// Form: form_submitted; the form id, any form when empty.
	Form string `json:"form,omitempty"`
	// Field: field_changed and date_field.
	Field string `json:"field,omitempty"`
	// From, To: field_changed; the change matches when the old (new) value is
	// one of these, any value when empty.
	From []any `json:"from,omitempty"`
	To   []any `json:"to,omitempty"`
	// Tag: tag_added, tag_removed; any tag when empty.
	Tag string `json:"tag,omitempty"`
	// Model, Score, Direction: score_threshold_crossed.
	Model     string   `json:"model,omitempty"`
	Score     *float64 `json:"score,omitempty"`
	Direction string   `json:"direction,omitempty" validate:"omitempty,oneof=up down"`
	// Offset: date_field; fires at the date plus this offset ("-3d": three
	// days before).
	Offset Duration `json:"offset,omitzero"`
	// Filters narrow any event by its properties.
	Filters []Filter `json:"filters,omitempty" validate:"dive"`
	// Cron, Timezone: schedule; a 5-field cron expression ("0 9 * * 1-5")
	// read in an IANA time zone ("Europe/Rome").
	Cron     string `json:"cron,omitempty"`
	Timezone string `json:"timezone,omitempty"`
}

// Filter operators.
const (
	OpEq         = "eq"
	OpNeq        = "neq"
	OpIn         = "in"
	OpNotIn      = "not_in"
	OpGt         = "gt"
	OpGte        = "gte"
	OpLt         = "lt"
	OpLte        = "lte"
	OpContains   = "contains"
	OpStartsWith = "starts_with"
	OpEndsWith   = "ends_with"
	OpExists     = "exists"
)

// Filter compares one event property with a value.
type Filter struct {
	Property string `json:"property" validate:"required"`
	Op       string `json:"op" validate:"required,oneof=eq neq in not_in gt gte lt lte contains starts_with ends_with exists"`
	Value    any    `json:"value,omitempty"`
}

// Step types.
const (
	StepLeadScore     = "lead_score"
	StepAddTag        = "add_tag"
	StepRemoveTag     = "remove_tag"
	StepDisqualify    = "disqualify"
	StepUpdateField   = "update_field"
	StepSetStage      = "set_stage"
	StepCreateCRMTask = "create_crm_task"
	StepWebhook       = "webhook"
	StepCondition     = "condition"
	StepWait          = "wait"
	StepWaitUntil     = "wait_until"
	StepWaitForEvent  = "wait_for_event"
	StepExit          = "exit"
	// StepDigest sends the current hot list once per run of a schedule
	// flow (the only step such a flow takes): see schedule.go.
	StepDigest = "digest"
)

// Score operations.
const (
	ScoreAdd      = "add"
	ScoreSubtract = "subtract"
	ScoreSet      = "set"
)

// Step is one node of a flow. Which fields apply depends on Type; a field
// that does not belong to the type is a validation error.
type Step struct {
	ID   string `json:"id" validate:"required,stepid"`
	Type string `json:"type" validate:"required,oneof=lead_score add_tag remove_tag disqualify update_field set_stage create_crm_task webhook condition wait wait_until wait_for_event exit digest"`
	// Next: the step to go to afterwards (a step id or "end"); by default the
	// following step in the list.
	Next string `json:"next,omitempty"`

	// lead_score
	Model  string   `json:"model,omitempty"`
	Op     string   `json:"op,omitempty" validate:"omitempty,oneof=add subtract set"`
	Points *float64 `json:"points,omitempty"`
	Cap    *Cap     `json:"cap,omitempty"`

	// add_tag, remove_tag
	Tag string `json:"tag,omitempty"`
	// disqualify
	Reason string `json:"reason,omitempty"`
	// update_field (Field, Value); wait_until (Field)
	Field string `json:"field,omitempty"`
	Value any    `json:"value,omitempty"`
	// set_stage
	Stage string `json:"stage,omitempty"`

	// create_crm_task: Title and Description are templates over the contact
	// ("{{email}}", "{{fields.company}}", "{{score.main}}").
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Assignee    string   `json:"assignee,omitempty"`
	DueIn       Duration `json:"due_in,omitzero"`

	// webhook: URL may hold templates in its path and query only (their
	// values are percent-escaped); Body is any JSON value whose strings are
	// templates; Headers are extra request headers whose values are
	// templates. By default Body is sent under "data" in an envelope with
	// the contact, flow and step; with Envelope false it is the whole
	// request body (e.g. Slack's {"text": …}).
	URL      string            `json:"url,omitempty"`
	Body     any               `json:"body,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Envelope *bool             `json:"envelope,omitempty"`

	// condition
	If   *Condition `json:"if,omitempty"`
	Then string     `json:"then,omitempty"`
	Else string     `json:"else,omitempty"`

	// wait
	Duration Duration `json:"duration,omitzero"`
	// wait_until: either Field (a contact date field, plus Offset) or
	// TimeOfDay ("09:00" in the contact's time zone, field "timezone").
	TimeOfDay string   `json:"time_of_day,omitempty"`
	Offset    Duration `json:"offset,omitzero"`

	// wait_for_event
	Event     string   `json:"event,omitempty"`
	Filters   []Filter `json:"filters,omitempty" validate:"dive"`
	Timeout   Duration `json:"timeout,omitzero"`
	OnEvent   string   `json:"on_event,omitempty"`
	OnTimeout string   `json:"on_timeout,omitempty"`

	// digest (with Model, Segment and URL above): the Top leads of Model by
	// score, only those in one of Band or in Segment when given; one CRM
	// task per owner (the contact field OwnerField) listing their leads;
	// GroupByOwner groups the webhook's leads by owner.
	Band         []string `json:"band,omitempty"`
	Segment      string   `json:"segment,omitempty"`
	Top          int      `json:"top,omitempty"`
	GroupByOwner bool     `json:"group_by_owner,omitempty"`
	OwnerField   string   `json:"owner_field,omitempty"`
}

// Cap limits the points one rule or step may give a contact per period.
type Cap struct {
	Points float64  `json:"points"`
	Period Duration `json:"period"`
}

// Condition is a boolean rule over a contact snapshot. Exactly one of its
// forms is set: All, Any, Not, Field (with Op and Value), Tag, Segment,
// Score, Band or Events.
type Condition struct {
	All []Condition `json:"all,omitempty" validate:"dive"`
	Any []Condition `json:"any,omitempty" validate:"dive"`
	Not *Condition  `json:"not,omitempty"`

	// Field compares a contact field with Value using Op. Built-in fields:
	// contact_id, email, email_domain, stage, disqualified, account_id.
	Field string `json:"field,omitempty"`
	Op    string `json:"op,omitempty" validate:"omitempty,oneof=eq neq in not_in gt gte lt lte contains starts_with ends_with exists"`
	Value any    `json:"value,omitempty"`

	// Tag: the contact has this tag.
	Tag string `json:"tag,omitempty"`
	// Segment: the contact is a member of this segment.
	Segment string `json:"segment,omitempty"`
	// Score compares a model's score.
	Score *ScoreCondition `json:"score,omitempty"`
	// Band: the contact's band in a model is one of In.
	Band *BandCondition `json:"band,omitempty"`
	// Events counts events of a type in a trailing window.
	Events *EventsCondition `json:"events,omitempty"`
}

// ScoreCondition compares the score of Model with Value.
type ScoreCondition struct {
	Model string  `json:"model" validate:"required"`
	Op    string  `json:"op" validate:"required,oneof=eq neq gt gte lt lte"`
	Value float64 `json:"value"`
}

// BandCondition holds when the contact's band in Model is one of In.
type BandCondition struct {
	Model string   `json:"model" validate:"required"`
	In    []string `json:"in" validate:"required,min=1"`
}

// EventsCondition counts the contact's events of Type (matching Filters)
// in the last Within and compares the count with Count using Op:
// {"type": "email_opened", "within": "60d", "op": "eq", "count": 0} is
// "no email opens in the last 60 days".
type EventsCondition struct {
	Type    string   `json:"type" validate:"required"`
	Filters []Filter `json:"filters,omitempty" validate:"dive"`
	Within  Duration `json:"within"`
	Op      string   `json:"op" validate:"required,oneof=eq neq gt gte lt lte"`
	Count   int      `json:"count" validate:"gte=0"`
}

// Segment is a named rule over contact state; contacts enter and leave it as
// soon as their state changes.
type Segment struct {
	Kind        string    `json:"kind" validate:"required,eq=segment"`
	ID          string    `json:"id" validate:"required,docid"`
	Name        string    `json:"name" validate:"required,max=200"`
	Description string    `json:"description,omitempty"`
	Rule        Condition `json:"rule"`
}

// ScoreModel is one lead score: profile (fit) rules recomputed from
// attributes, engagement rules that accumulate points from events, decay of
// engagement points, bands and thresholds.
type ScoreModel struct {
	Kind        string `json:"kind" validate:"required,eq=score_model"`
	ID          string `json:"id" validate:"required,docid"`
	Name        string `json:"name" validate:"required,max=200"`
	Description string `json:"description,omitempty"`
	// Bands in ascending order of Min; a score is in the last band whose Min
	// it reaches, or in none when below the first.
	Bands []Band `json:"bands,omitempty" validate:"dive"`
	// Profile rules are recomputed whenever the contact's attributes change.
	Profile []ProfileRule `json:"profile,omitempty" validate:"dive"`
	// Engagement rules give points when an event matches.
	Engagement []EngagementRule `json:"engagement,omitempty" validate:"dive"`
	Decay      *Decay           `json:"decay,omitempty"`
	Thresholds []Threshold      `json:"thresholds,omitempty" validate:"dive"`
	// AccountRollup "sum": an account's score in this model is the sum of
	// its contacts' scores.
	AccountRollup string `json:"account_rollup,omitempty" validate:"omitempty,oneof=sum"`
	// Conversion names the event that makes a contact a customer of this
	// model; without it, a deal_won event (ConversionOf).
	Conversion *Conversion `json:"conversion,omitempty"`
}

// Conversion says what converts a contact in a score model, the first time
// it happens: an event of type Event (with its value in ValueProperty), or
// the contact's stage being set to Stage. Exactly one of Event and Stage.
type Conversion struct {
	Event         string `json:"event,omitempty" validate:"omitempty,max=100"`
	ValueProperty string `json:"value_property,omitempty" validate:"omitempty,max=100"`
	Stage         string `json:"stage,omitempty" validate:"omitempty,max=100"`
}

// Band is a named score range with a colour.
type Band struct {
	Name  string  `json:"name" validate:"required"`
	Min   float64 `json:"min"`
	Color string  `json:"color" validate:"required"`
}

// ProfileRule gives Points while When holds for the contact.
type ProfileRule struct {
	ID     string    `json:"id" validate:"required,stepid"`
	When   Condition `json:"when"`
	Points float64   `json:"points"`
}

// EngagementRule gives Points each time an event matches On, within Cap.
// With Frequency, it gives them once the Count-th matching event within
// Frequency.Within arrives ("3 visits → +10").
type EngagementRule struct {
	ID        string     `json:"id" validate:"required,stepid"`
	On        Trigger    `json:"on"`
	Points    float64    `json:"points"`
	Cap       *Cap       `json:"cap,omitempty"`
	Frequency *Frequency `json:"frequency,omitempty"`
	Reason    string     `json:"reason,omitempty"`
}

// Frequency makes an engagement rule fire on the Count-th matching event
// within Within (any time when Within is zero).
type Frequency struct {
	Count  int      `json:"count" validate:"gte=2"`
	Within Duration `json:"within,omitzero"`
}

// Decay of engagement points: either a half-life or a fixed expiry.
type Decay struct {
	HalfLife    Duration `json:"half_life,omitzero"`
	ExpireAfter Duration `json:"expire_after,omitzero"`
}

// Threshold runs Actions when the score crosses Score upward; it fires again
// only after the score has fallen below RearmBelow (default: Score).
type Threshold struct {
	ID         string   `json:"id" validate:"required,stepid"`
	Score      float64  `json:"score"`
	RearmBelow *float64 `json:"rearm_below,omitempty"`
	// Actions are action steps (lead_score is not allowed here; no waits,
	// conditions or exits); they run in order.
	Actions []Step `json:"actions" validate:"required,min=1,dive"`
}

// Duration is a JSON duration: "90s", "15m", "12h", "60d", "2w" (an integer
// and one unit; a leading '-' only where an offset allows it).
type Duration struct {
	time.Duration
}
