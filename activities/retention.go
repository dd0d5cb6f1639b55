package activities

import (
	"context"
	"errors"
	"time"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/retention"
)

// Sweep sizes: events deleted per statement, statements per sweep. A
// sweep deletes at most sweepBatch × sweepBatches events; the next one
// goes on.
const (
	sweepBatch   = 1000
	sweepBatches = 500
)

// SweepEvents deletes the applied events older than the horizon
// (Activities.EventRetention; nothing when zero). It checks the published
// definitions against the horizon first, as the commands do at start: a
// definition published since by a process with another setting that reads
// further back stops the sweep (logged, returned in Refused), it is never
// cut short.
func (a *Activities) SweepEvents(ctx context.Context, in contract.RetentionInput) (contract.SweepResult, error) {
	if err := a.checkDeployment(contract.ActivitySweepEvents, in.Deployment); err != nil {
		return contract.SweepResult{}, err
	}
	if a.EventRetention <= 0 {
		return contract.SweepResult{}, nil
	}
	defer heartbeat(ctx)()
	defs, err := a.Store.Definitions(ctx)
	if err != nil {
		return contract.SweepResult{}, err
	}
	var short *retention.TooShortError
	if err := retention.CheckDefinitions(a.EventRetention, defs); errors.As(err, &short) {
		a.Log.Error().Str("error", err.Error()).Msg("event retention sweep skipped: a published definition reads events older than the horizon")
		return contract.SweepResult{Refused: err.Error()}, nil
	}
	start := time.Now()
	n, err := a.Store.SweepEvents(ctx, a.EventRetention, a.now(), sweepBatch, sweepBatches)
	if err != nil {
		return contract.SweepResult{Deleted: n}, err
	}
	if n > 0 {
		a.Log.Info().Int64("deleted", n).Dur("took", time.Since(start)).Str("horizon", a.EventRetention.String()).
			Msg("event retention: applied events older than the horizon deleted")
	}
	return contract.SweepResult{Deleted: n}, nil
}
