package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/leadflow/leadflow/store"
)

// StallLimit is the longest a partition may hold pending events without
// applying any, outside the fault windows, in a fault run.
const StallLimit = 5 * time.Second

// StallResult measures partition stalls during the fault run: the times a
// partition had events pending and applied none. A stall's length is from
// the later of the partition's previous application and the arrival of
// the oldest event still pending, to its next application. The part of a
// stall inside a fault window (from the fault until the backlog drained)
// is the fault's; the part outside must stay under StallLimit.
type StallResult struct {
	LimitSeconds float64 `json:"limit_seconds"`
	// Longest stall of all, fault windows included.
	Longest Stall `json:"longest"`
	// LongestOutside: the longest stretch of a stall outside every fault window.
	LongestOutside Stall `json:"longest_outside_fault_windows"`
	// PerPartition: the longest stall of each partition (seconds).
	PerPartition []float64 `json:"longest_per_partition_seconds"`
	// OutsidePerPartition: the same, outside the fault windows.
	OutsidePerPartition []float64 `json:"longest_outside_per_partition_seconds"`
	// OverLimit: the stretches outside the windows longer than the limit,
	// longest first (at most maxOverLimit).
	OverLimit []Stall `json:"over_limit,omitempty"`
	// OverLimitCount: how many there were in all.
	OverLimitCount int           `json:"over_limit_count"`
	Windows        []FaultWindow `json:"fault_windows"`
	Events         int           `json:"events"`
	OK             bool          `json:"ok"`
}

// Stall is one stretch of a partition without applications.
type Stall struct {
	Partition int     `json:"partition"`
	AtSeconds float64 `json:"at_seconds"` // from the start of the fault run
	Seconds   float64 `json:"seconds"`
	// Fault: the fault whose window the stall overlaps, if any.
	Fault string `json:"fault,omitempty"`
	// After (stretches outside the windows): the last fault whose window
	// closed before the stretch began, and how long before.
	After        string  `json:"after,omitempty"`
	AfterSeconds float64 `json:"after_seconds,omitempty"`
}

// FaultWindow is a fault's time, from its injection until the backlog drained.
type FaultWindow struct {
	Fault       string  `json:"fault"`
	FromSeconds float64 `json:"from_seconds"`
	ToSeconds   float64 `json:"to_seconds"`
}

type interval struct{ from, to time.Time }

// stallEvent is an event's arrival and application.
type stallEvent struct{ received, applied time.Time }

// stalls reads every event of the run since start (but those the poison
// wrote straight into the log) and measures the partitions' stalls.
func (r *runner) stalls(ctx context.Context, start time.Time, faults []*FaultResult) (*StallResult, error) {
	parts, err := r.stallEvents(ctx, `WHERE contact_id LIKE $1 AND received_at >= $2 AND applied_at IS NOT NULL AND NOT (id = ANY($3))`,
		r.w.Prefix+"%", start, r.st.excludedIDs())
	if err != nil {
		return nil, fmt.Errorf("reading the events of the fault run: %w", err)
	}
	return measureStalls(start, parts, faults), nil
}

// measureStalls measures the stalls of each partition's events (applied
// ones) since start, against the windows of the faults.
func measureStalls(start time.Time, parts [][]stallEvent, faults []*FaultResult) *StallResult {
	res := &StallResult{LimitSeconds: StallLimit.Seconds(), PerPartition: make([]float64, len(parts)),
		OutsidePerPartition: make([]float64, len(parts))}
	var windows []interval
	var names []string
	for _, f := range faults {
		if f.Skipped != "" || f.from.IsZero() {
			continue
		}
		windows = append(windows, interval{f.from, f.until})
		names = append(names, f.Fault)
		res.Windows = append(res.Windows, FaultWindow{Fault: f.Fault, FromSeconds: f.from.Sub(start).Seconds(), ToSeconds: f.until.Sub(start).Seconds()})
	}
	for p, evs := range parts {
		res.Events += len(evs)
		// By application, newest first, so that the earliest arrival
		// among the events applied at or after each application is known.
		sort.Slice(evs, func(i, j int) bool { return evs[i].applied.After(evs[j].applied) })
		type app struct{ at, oldest time.Time }
		var apps []app // newest first
		for i := 0; i < len(evs); {
			at := evs[i].applied
			oldest := evs[i].received
			for ; i < len(evs) && evs[i].applied.Equal(at); i++ {
				if evs[i].received.Before(oldest) {
					oldest = evs[i].received
				}
			}
			if n := len(apps); n > 0 && apps[n-1].oldest.Before(oldest) {
				oldest = apps[n-1].oldest
			}
			apps = append(apps, app{at, oldest})
		}
		prev := start
		for i := len(apps) - 1; i >= 0; i-- {
			a := apps[i]
			from := a.oldest
			if from.Before(prev) {
				from = prev
			}
			prev = a.at
			if !from.Before(a.at) {
				continue
			}
			s := Stall{Partition: p, AtSeconds: from.Sub(start).Seconds(), Seconds: a.at.Sub(from).Seconds()}
			for wi, w := range windows {
				if from.Before(w.to) && a.at.After(w.from) {
					s.Fault = names[wi]
					break
				}
			}
			if s.Seconds > res.PerPartition[p] {
				res.PerPartition[p] = s.Seconds
			}
			if s.Seconds > res.Longest.Seconds {
				res.Longest = s
			}
			for _, piece := range outside(interval{from, a.at}, windows) {
				d := piece.to.Sub(piece.from).Seconds()
				if d > res.OutsidePerPartition[p] {
					res.OutsidePerPartition[p] = d
				}
				if d <= res.LongestOutside.Seconds && d <= StallLimit.Seconds() {
					continue
				}
				st := Stall{Partition: p, AtSeconds: piece.from.Sub(start).Seconds(), Seconds: d}
				for wi, w := range windows {
					if !w.to.After(piece.from) && (st.After == "" || piece.from.Sub(w.to).Seconds() < st.AfterSeconds) {
						st.After, st.AfterSeconds = names[wi], piece.from.Sub(w.to).Seconds()
					}
				}
				if d > res.LongestOutside.Seconds {
					res.LongestOutside = st
				}
				if d > StallLimit.Seconds() {
					res.OverLimit = append(res.OverLimit, st)
				}
			}
		}
	}
	res.OverLimitCount = len(res.OverLimit)
	sort.SliceStable(res.OverLimit, func(i, j int) bool { return res.OverLimit[i].Seconds > res.OverLimit[j].Seconds })
	if len(res.OverLimit) > maxOverLimit {
		res.OverLimit = res.OverLimit[:maxOverLimit]
	}
	res.OK = res.LongestOutside.Seconds <= StallLimit.Seconds()
	return res
}

// maxOverLimit bounds the stalls over the limit a result lists.
const maxOverLimit = 10

// outside returns the parts of iv outside every window.
func outside(iv interval, windows []interval) []interval {
	out := []interval{iv}
	for _, w := range windows {
		var next []interval
		for _, x := range out {
			if !x.from.Before(w.to) || !x.to.After(w.from) {
				next = append(next, x)
				continue
			}
			if x.from.Before(w.from) {
				next = append(next, interval{x.from, w.from})
			}
			if x.to.After(w.to) {
				next = append(next, interval{w.to, x.to})
			}
		}
		out = next
	}
	return out
}

func (s *StallResult) summary() string {
	mark := "ok"
	if !s.OK {
		mark = "EXCEEDED"
	}
	in := ""
	if s.Longest.Fault != "" {
		in = ", during " + s.Longest.Fault
	}
	after := ""
	if o := s.LongestOutside; o.After != "" && o.Seconds > 0 {
		after = fmt.Sprintf(", %.1fs after the window of %s closed", o.AfterSeconds, o.After)
	}
	return fmt.Sprintf("partition stalls (events pending, none applied) over %d events: longest %.1fs (partition %d at %.1fs%s); longest outside the fault windows %.1fs (partition %d at %.1fs%s), limit %.0fs: %s",
		s.Events, s.Longest.Seconds, s.Longest.Partition, s.Longest.AtSeconds, in, s.LongestOutside.Seconds, s.LongestOutside.Partition, s.LongestOutside.AtSeconds,
		after, s.LimitSeconds, mark)
}

func secondsList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("p%d %.1f", i, x)
	}
	return strings.Join(parts, ", ")
}

// stallEvents reads, per partition, the arrival and application times of
// the applied events that where selects.
func (r *runner) stallEvents(ctx context.Context, where string, args ...any) ([][]stallEvent, error) {
	parts := make([][]stallEvent, store.Partitions)
	err := retryDB(ctx, func() error {
		for i := range parts {
			parts[i] = nil
		}
		rows, err := r.st.pool.Query(ctx, `SELECT partition, received_at, applied_at FROM events `+where, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p int
			var e stallEvent
			if err := rows.Scan(&p, &e.received, &e.applied); err != nil {
				return err
			}
			if p >= 0 && p < len(parts) {
				parts[p] = append(parts[p], e)
			}
		}
		return rows.Err()
	})
	return parts, err
}
