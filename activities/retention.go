package activities

import (
	"context"
	"errors"
	"time"

	"github.com/leadflow/leadflow/retention"
	"github.com/leadflow/leadflow/workflows"
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
func (a *Activities) SweepEvents(ctx context.Context, in workflows.RetentionInput) (workflows.SweepResult, error) {
	if err := a.checkDeployment(workflows.ActivitySweepEvents, in.Deployment); err != nil {
		return workflows.SweepResult{}, err
	}
	if a.EventRetention <= 0 {
		return workflows.SweepResult{}, nil
	}
	defer heartbeat(ctx)()
	defs, err := a.Store.Definitions(ctx)
	if err != nil {
		return workflows.SweepResult{}, err
	}
	var short *retention.TooShortError
	if err := retention.CheckDefinitions(a.EventRetention, defs); errors.As(err, &short) {
		a.Log.Error().Str("error", err.Error()).Msg("event retention sweep skipped: a published definition reads events older than the horizon")
		return workflows.SweepResult{Refused: err.Error()}, nil
	}
	start := time.Now()
	n, err := a.Store.SweepEvents(ctx, a.EventRetention, a.now(), sweepBatch, sweepBatches)
	if err != nil {
		return workflows.SweepResult{Deleted: n}, err
	}
	if n > 0 {
		a.Log.Info().Int64("deleted", n).Dur("took", time.Since(start)).Str("horizon", a.EventRetention.String()).
			Msg("event retention: applied events older than the horizon deleted")
	}
	return workflows.SweepResult{Deleted: n}, nil
}
