// Package activities holds leadflow's Temporal activities: every read and
// write a workflow needs. Each activity is idempotent: the engine decides
// inside one PostgreSQL transaction, so a retry after a crash changes nothing
// twice, and what Temporal must do next (start or signal a run, deliver a
// webhook) is taken from the outbox after commit.
package activities

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
)

// Activities carries the dependencies of every activity.
type Activities struct {
	Engine    *engine.Engine
	Store     *store.Store
	Client    client.Client
	TaskQueue string
	HTTP      *http.Client
	Log       zerolog.Logger
	// Clock is the time events are applied at; time.Now by default.
	Clock func() time.Time
	// BatchSize is the most events one ApplyPartition transaction applies.
	BatchSize int
	// Owners is the worker's side of partition ownership (OwnPartition);
	// worker.New makes one when it is nil.
	Owners *PartitionOwners
	// OwnerPoll is how often a partition owner looks for work when nothing
	// woke it (DefaultOwnerPoll when zero).
	OwnerPoll time.Duration
	// Deliveries sign and bound deliveries; HTTP, when set, is the client
	// that makes them (an egress.NewClient with the allow-list; nil:
	// public addresses only).
	Deliveries DeliveryOptions
	// Deployment is this worker's deployment, read from its database when
	// the worker starts: work naming another one is refused (deployment.go).
	Deployment store.Deployment
	// Namespace is Client's Temporal namespace, for the calls the SDK
	// client does not wrap: deleting the workflow histories of an erased
	// contact's runs (empty: they are left to the namespace's retention).
	Namespace string
	// EventRetention is how long applied events are kept
	// (LEADFLOW_EVENT_RETENTION); zero keeps them for ever (retention.go).
	EventRetention time.Duration
}

func (a *Activities) now() time.Time {
	if a.Clock != nil {
		return a.Clock()
	}
	return time.Now()
}

// ApplyPartition applies due changes and pending events of a partition in
// one transaction, then dispatches the outbox.
func (a *Activities) ApplyPartition(ctx context.Context, in contract.ApplyInput) (contract.BatchResult, error) {
	if err := a.checkDeployment(contract.ActivityApplyPartition, in.Deployment); err != nil {
		return contract.BatchResult{}, err
	}
	defer heartbeat(ctx)()
	size := a.BatchSize
	if size <= 0 {
		size = 500
	}
	res, err := a.Engine.ApplyPartition(ctx, in.Partition, a.now(), size)
	if err != nil {
		// Events that fail are quarantined inside; what comes out is either
		// transient (retried) or a failure of the partition as a whole
		// (definitions that cannot load, say), which retrying at once will
		// not cure: the workflow waits and tries again later.
		return contract.BatchResult{}, permanentOr(err, contract.ErrPermanentApply)
	}
	out := res
	if err := a.dispatch(ctx, in.Partition); err != nil {
		// The batch is committed; what was not handed to Temporal stays in
		// the outbox. Come back for it in a moment rather than failing (and
		// retrying) the whole activity.
		a.Log.Warn().Err(err).Int("partition", in.Partition).Msg("outbox dispatch incomplete; retrying shortly")
		retry := a.now().Add(2 * time.Second)
		if out.NextDue == nil || out.NextDue.After(retry) {
			out.NextDue = &retry
		}
	}
	return out, nil
}

// ResumeRun continues a flow run after its wait ended and returns its next wait.
func (a *Activities) ResumeRun(ctx context.Context, in contract.ResumeInput) (*contract.Wait, error) {
	if err := a.checkDeployment(contract.ActivityResumeRun, in.Deployment); err != nil {
		return nil, err
	}
	defer heartbeat(ctx)()
	now := in.Now
	if now.IsZero() {
		now = a.now()
	}
	w, err := a.Engine.ResumeRun(ctx, in.RunID, in.WaitSeq, in.Outcome, in.EventID, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.Log.Warn().Str("run_id", in.RunID).Msg("run to resume does not exist; its workflow ends")
		return nil, nil
	case err != nil && engine.Transient(err):
		return nil, err
	case err != nil:
		// It would fail the same way again: the run fails, its workflow ends.
		if ferr := a.Engine.FailRun(ctx, in.RunID, err, now); ferr != nil {
			return nil, permanentOr(ferr, contract.ErrPermanentResume)
		}
		w = nil
	}
	partition, err := a.Store.RunPartition(ctx, in.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, permanentOr(err, contract.ErrPermanentResume)
	}
	if err := a.dispatch(ctx, partition); err != nil {
		// Committed; the partition's own loop dispatches what is left.
		a.Log.Warn().Err(err).Int("partition", partition).Msg("outbox dispatch incomplete after resuming a run")
	}
	if w == nil {
		return nil, nil
	}
	w.Deployment = cmp.Or(a.Deployment.ID, in.Deployment)
	return w, nil
}

// permanentOr returns err as it is when it is transient (Temporal retries
// it) and as a non-retryable application error of type typ otherwise.
func permanentOr(err error, typ string) error {
	if engine.Transient(err) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), typ, err)
}

// heartbeat records a heartbeat every second until the returned function is
// called, so that Temporal retries the activity elsewhere within seconds
// when its worker dies (the activities' HeartbeatTimeout), instead of after
// the whole start-to-close timeout.
func heartbeat(ctx context.Context) func() {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}
