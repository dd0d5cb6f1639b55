package contract

// OutboxKind is the work an outbox row asks of Temporal. The kinds are
// declared here only: the outbox table takes any text (migration 010 drops
// the old CHECK constraint) and the dispatcher refuses, and records, a kind
// it does not know.
type OutboxKind string

// Outbox kinds.
const (
	OutboxStartRun  OutboxKind = "start_run"  // start a RunWorkflow; payload Wait
	OutboxSignalRun OutboxKind = "signal_run" // signal a waiting run; payload RunSignal
	OutboxDeliver   OutboxKind = "deliver"    // start a DeliveryWorkflow; payload DeliveryInput
	// OutboxCancelRun cancels a run's workflow (its contact was erased);
	// payload empty. The row forgets the workflow id once dispatched.
	OutboxCancelRun OutboxKind = "cancel_run"
)

// OutboxKinds lists every outbox kind.
func OutboxKinds() []OutboxKind {
	return []OutboxKind{OutboxStartRun, OutboxSignalRun, OutboxDeliver, OutboxSyncSchedule, OutboxCancelRun}
}
