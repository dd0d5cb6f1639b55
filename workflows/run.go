package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadflow/leadflow/contract"
)

// runMaxHistory bounds a run's history before continue-as-new.
const runMaxHistory = 4000

// RunWorkflow holds the durable waits of one flow run (contact × flow ×
// entry): a Temporal timer for wait and wait_until, a timer raced against
// SignalRunEvent for wait_for_event. When the wait ends it calls ResumeRun,
// which continues the run's steps in one transaction and returns the next
// wait, until the run finishes. The steps themselves, and the flow version
// the run is pinned to, live in the database.
//
// ResumeRun is retried without limit only while it fails transiently
// (database unavailable); a resume that fails for good marks the run failed
// inside the activity and returns no next wait, which ends this workflow.
func RunWorkflow(ctx workflow.Context, w contract.Wait) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    5 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
	events := workflow.GetSignalChannel(ctx, contract.SignalRunEvent)
	for {
		outcome, eventID := waitFor(ctx, events, w)
		var next *contract.Wait
		in := contract.ResumeInput{RunID: w.RunID, WaitSeq: w.WaitSeq, Outcome: outcome, EventID: eventID, Now: workflow.Now(ctx), Deployment: w.Deployment}
		if err := workflow.ExecuteActivity(ctx, contract.ActivityResumeRun, in).Get(ctx, &next); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		w = *next
		if workflow.GetInfo(ctx).GetCurrentHistoryLength() > runMaxHistory {
			// A signal for the new wait cannot be pending yet: the engine
			// only signals waits it has recorded, and this one is recorded
			// by the activity that just returned. Stale signals may be
			// dropped safely.
			return workflow.NewContinueAsNewError(ctx, contract.RunWorkflowName, w)
		}
	}
}

// waitFor blocks until the wait ends and says how.
func waitFor(ctx workflow.Context, events workflow.ReceiveChannel, w contract.Wait) (outcome contract.Outcome, eventID string) {
	timeoutOutcome := contract.OutcomeElapsed
	if w.Kind == contract.WaitEvent {
		timeoutOutcome = contract.OutcomeTimeout
	}
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	fired := false
	sel := workflow.NewSelector(ctx)
	if d := w.Until.Sub(workflow.Now(ctx)); d > 0 {
		sel.AddFuture(workflow.NewTimer(timerCtx, d), func(workflow.Future) { fired = true })
	} else {
		fired = true
	}
	var sig contract.RunSignal
	got := false
	sel.AddReceive(events, func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, &sig)
		if w.Kind == contract.WaitEvent && sig.WaitSeq == w.WaitSeq {
			got = true
		}
	})
	for !fired && !got {
		sel.Select(ctx)
	}
	if got {
		return contract.OutcomeEvent, sig.EventID
	}
	return timeoutOutcome, ""
}
