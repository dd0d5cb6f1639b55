package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/store"
)

// dispatchConcurrency is how many Temporal calls one dispatch makes at once.
const dispatchConcurrency = 16

// dispatch hands the partition's outbox to Temporal. Rows of one workflow
// are sent in order (a run's start before its signals); different
// workflows in parallel. Starting a workflow that already exists, and
// signalling or cancelling one that has finished, count as done: outbox
// rows may be dispatched more than once after a crash.
func (a *Activities) dispatch(ctx context.Context, partition int) error {
	for {
		items, err := a.Store.PendingOutbox(ctx, partition, 500)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return nil
		}
		var order []string
		groups := map[string][]store.OutboxItem{}
		for _, it := range items {
			if _, ok := groups[it.WorkflowID]; !ok {
				order = append(order, it.WorkflowID)
			}
			groups[it.WorkflowID] = append(groups[it.WorkflowID], it)
		}
		var (
			mu       sync.Mutex
			done     []int64
			firstErr error
			wg       sync.WaitGroup
			sem      = make(chan struct{}, dispatchConcurrency)
		)
		for _, id := range order {
			wg.Add(1)
			sem <- struct{}{}
			go func(group []store.OutboxItem) {
				defer wg.Done()
				defer func() { <-sem }()
				for _, it := range group {
					err := a.dispatchOne(ctx, it)
					if err != nil && refused(err) {
						// Temporal (or the row itself) refuses it for good:
						// record it and go on, rather than retrying for ever.
						err = a.giveUp(ctx, it, err)
					}
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = fmt.Errorf("error dispatching %s %s: %w", it.Kind, it.WorkflowID, err)
						}
						mu.Unlock()
						return
					}
					mu.Lock()
					done = append(done, it.ID)
					mu.Unlock()
				}
			}(groups[id])
		}
		wg.Wait()
		if err := a.Store.MarkDispatched(ctx, done, a.now()); err != nil {
			return err
		}
		if firstErr != nil {
			return firstErr
		}
		if len(items) < 500 {
			return nil
		}
	}
}

// refused reports whether a dispatch error will not go away by retrying:
// Temporal refused the request as invalid (a workflow id past its limit,
// say), or the outbox row cannot be decoded. Anything else (Temporal
// unavailable, overloaded, a deadline) is retried.
func refused(err error) bool {
	var invalid *serviceerror.InvalidArgument
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var unknown *unknownKindError
	return errors.As(err, &invalid) || errors.As(err, &syntax) || errors.As(err, &typ) || errors.As(err, &unknown)
}

type unknownKindError struct{ kind contract.OutboxKind }

func (e *unknownKindError) Error() string { return fmt.Sprintf("unknown outbox kind %q", e.kind) }

// giveUp records an outbox row Temporal refused: the row is marked with its
// error, and a run whose workflow could not start is failed.
func (a *Activities) giveUp(ctx context.Context, it store.OutboxItem, cause error) error {
	now := a.now()
	cause = fmt.Errorf("temporal refused %s %s: %w", it.Kind, it.WorkflowID, cause)
	a.Log.Error().Int64("outbox_id", it.ID).Str("kind", string(it.Kind)).Str("workflow_id", it.WorkflowID).
		Str("error", store.ErrorText(cause)).Msg("outbox row refused for good; recorded, not retried")
	if it.Kind == contract.OutboxStartRun {
		var w contract.Wait
		if json.Unmarshal(it.Payload, &w) == nil && w.RunID != "" {
			if err := a.Engine.FailRun(ctx, w.RunID, cause, now); err != nil {
				return err
			}
		}
	}
	return a.Store.FailOutbox(ctx, it.ID, cause, now)
}

func (a *Activities) dispatchOne(ctx context.Context, it store.OutboxItem) error {
	id := contract.WorkflowID(a.TaskQueue, it.WorkflowID)
	opts := client.StartWorkflowOptions{
		ID:                    id,
		TaskQueue:             a.TaskQueue,
		WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}
	var err error
	switch it.Kind {
	case contract.OutboxStartRun:
		var w contract.Wait
		if err := json.Unmarshal(it.Payload, &w); err != nil {
			return err
		}
		_, err = a.Client.ExecuteWorkflow(ctx, opts, contract.RunWorkflowName, w)
	case contract.OutboxDeliver:
		var in contract.DeliveryInput
		if err := json.Unmarshal(it.Payload, &in); err != nil {
			return err
		}
		if in.RetryFor == 0 {
			in.RetryFor = a.Deliveries.RetryFor
		}
		_, err = a.Client.ExecuteWorkflow(ctx, opts, contract.DeliveryWorkflowName, in)
	case contract.OutboxSignalRun:
		var s contract.RunSignal
		if err := json.Unmarshal(it.Payload, &s); err != nil {
			return err
		}
		err = a.Client.SignalWorkflow(ctx, id, "", contract.SignalRunEvent, s)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil // the run's workflow already ended
		}
	case contract.OutboxCancelRun:
		return a.cancelRun(ctx, id)
	case contract.OutboxSyncSchedule:
		var s contract.ScheduleSync
		if err := json.Unmarshal(it.Payload, &s); err != nil {
			return err
		}
		return a.SyncSchedule(ctx, s.FlowID)
	default:
		return &unknownKindError{kind: it.Kind}
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	return err
}

// cancelRun stops the workflow of a run whose contact was erased (the run
// is cancelled in the database already; a run workflow ends when its wait
// is cancelled) and deletes its history, which names the contact in the
// run id, rather than leaving it to the namespace's retention. A workflow
// that never started, or is gone already, counts as done.
func (a *Activities) cancelRun(ctx context.Context, id string) error {
	err := a.Client.CancelWorkflow(ctx, id, "")
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return err
	}
	if a.Namespace == "" {
		return nil
	}
	_, err = a.Client.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace: a.Namespace, WorkflowExecution: &common.WorkflowExecution{WorkflowId: id},
	})
	if err != nil && !errors.As(err, &nf) {
		return err
	}
	return nil
}
