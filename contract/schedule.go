package contract

import "time"

// Names of the workflow a schedule flow's Temporal Schedule starts at each
// firing, and of its one activity.
const (
	DigestWorkflowName = "DigestWorkflow"
	ActivityRunDigest  = "RunDigest"
)

// OutboxSyncSchedule asks the dispatcher to make a flow's Temporal Schedule
// match its definition (created, updated, paused or deleted); payload
// ScheduleSync. Queued by the store when a flow that has or had a schedule
// trigger is published, paused, resumed or archived.
const OutboxSyncSchedule OutboxKind = "sync_schedule"

// ScheduleSync is the payload of a sync_schedule outbox row.
type ScheduleSync struct {
	FlowID     string `json:"flow_id"`
	Deployment string `json:"deployment,omitempty"` // see Wait
}

// ScheduleWorkflowPrefix starts the outbox workflow_id of a flow's schedule
// syncs (rows of one flow are dispatched in order); the flow id follows.
const ScheduleWorkflowPrefix = "schedule-"

// DigestInput is the input of DigestWorkflow (fixed in the schedule's
// action) and of the RunDigest activity (with FiredAt set).
type DigestInput struct {
	FlowID string `json:"flow_id"`
	// FiredAt is the firing's nominal time (its scheduled time), the same
	// on every retry: the idempotency keys of what the digest writes are
	// derived from it.
	FiredAt    time.Time `json:"fired_at,omitzero"`
	Deployment string    `json:"deployment,omitempty"` // see Wait
}

// DigestResult says what one digest run wrote.
type DigestResult struct {
	Leads    int `json:"leads"`
	Tasks    int `json:"tasks"`
	Webhooks int `json:"webhooks"`
	// Skipped says why nothing was sent (the flow is no longer published).
	Skipped string `json:"skipped,omitempty"`
}
