package contract

import "time"

// WaitKind is what a waiting flow run waits for.
type WaitKind string

// Wait kinds.
const (
	WaitTimer WaitKind = "timer" // wait, wait_until: until a time
	WaitEvent WaitKind = "event" // wait_for_event: an event, or a timeout
)

// Outcome says how a run's wait ended.
type Outcome string

// Wait outcomes.
const (
	OutcomeElapsed Outcome = "elapsed" // a wait or wait_until timer fired
	OutcomeTimeout Outcome = "timeout" // wait_for_event timed out
	OutcomeEvent   Outcome = "event"   // the awaited event arrived
)

// Wait is a durable wait a flow run is in: a timer until Until, or an event
// of type Event before Until. The engine returns it, writes it as the
// payload of a start_run outbox row, and RunWorkflow takes it as its input;
// ResumeRun returns the next one (nil when the run finished).
type Wait struct {
	RunID   string    `json:"run_id"`
	WaitSeq int       `json:"wait_seq"`
	Kind    WaitKind  `json:"kind"`
	Event   string    `json:"event,omitempty"`
	Until   time.Time `json:"until"`
	// Deployment is the id of the leadflow deployment (its database) the
	// work belongs to: stamped on outbox payloads by the database; empty in
	// histories from before deployments had one, which the local
	// deployment accepts.
	Deployment string `json:"deployment,omitempty"`
}

// RunSignal tells a waiting run that its event arrived: the payload of a
// signal_run outbox row and of SignalRunEvent.
type RunSignal struct {
	WaitSeq int    `json:"wait_seq"`
	EventID string `json:"event_id"`
}

// ResumeInput is the input of the ResumeRun activity. Now is the workflow's
// time when the wait ended, so that tests that skip time see the time the
// workflow sees.
type ResumeInput struct {
	RunID      string    `json:"run_id"`
	WaitSeq    int       `json:"wait_seq"`
	Outcome    Outcome   `json:"outcome"`
	EventID    string    `json:"event_id,omitempty"`
	Now        time.Time `json:"now"`
	Deployment string    `json:"deployment,omitempty"` // see Wait
}
