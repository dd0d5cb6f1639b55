package bench

import (
	"context"
	"fmt"
	"time"
)

// phaseStall measures the longest stretch during a phase in which a
// partition held pending events of the phase (id LIKE like) and applied
// none (measureStalls, without fault windows).
func (r *runner) phaseStall(ctx context.Context, like string, start time.Time) (Stall, error) {
	parts, err := r.stallEvents(ctx, `WHERE id LIKE $1 AND applied_at IS NOT NULL`, like)
	if err != nil {
		return Stall{}, fmt.Errorf("reading the events of the phase: %w", err)
	}
	return measureStalls(start, parts, nil).Longest, nil
}

// per1000 is CPU seconds per 1,000 events, per process.
func per1000(cpu map[string]float64, events int) map[string]float64 {
	if events <= 0 || len(cpu) == 0 {
		return nil
	}
	out := make(map[string]float64, len(cpu))
	for k, v := range cpu {
		out[k] = v * 1000 / float64(events)
	}
	return out
}

// fillPer1000 sets every phase's CPU seconds per 1,000 events.
func (r *Results) fillPer1000() {
	for _, p := range r.Phases {
		p.CPUPer1000 = per1000(p.CPU, p.Events)
	}
}
