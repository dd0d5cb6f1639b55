package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMeasureStalls(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ev := func(received, applied float64) stallEvent {
		return stallEvent{received: at(received), applied: at(applied)}
	}
	faults := []*FaultResult{
		{Fault: "kill -9 api", from: at(10), until: at(14)},
		{Fault: "skipped", Skipped: "no pg_ctlcluster"},
	}
	parts := [][]stallEvent{
		// Partition 0: steady, then an event left behind by a batch (received
		// at 2, applied at 9 with a later one): pending 2→3 (the batch at 3
		// did not take it) and 3→9: the stall is 3→9, 6 s, outside every window.
		{ev(1, 1.2), ev(1.5, 3), ev(2, 9), ev(8.5, 9)},
		// Partition 1: pending from 11 (inside the window) to 20: 9 s in
		// all, of which 14→20 (6 s) outside it.
		{ev(0.5, 0.6), ev(11, 20), ev(12, 20)},
		// Partition 2: idle gaps without pending events are no stalls.
		{ev(1, 1.1), ev(30, 30.1)},
	}
	res := measureStalls(t0, parts, faults)
	require.Equal(t, 9, res.Events)
	require.InDelta(t, 6, res.PerPartition[0], 1e-9)
	require.InDelta(t, 9, res.PerPartition[1], 1e-9)
	require.InDelta(t, 0.1, res.PerPartition[2], 1e-9)
	require.Equal(t, 1, res.Longest.Partition)
	require.Equal(t, "kill -9 api", res.Longest.Fault)
	require.InDelta(t, 11, res.Longest.AtSeconds, 1e-9)
	require.InDelta(t, 6, res.OutsidePerPartition[0], 1e-9)
	require.InDelta(t, 6, res.OutsidePerPartition[1], 1e-9)
	require.InDelta(t, 6, res.LongestOutside.Seconds, 1e-9)
	require.Empty(t, res.LongestOutside.After, "partition 0's stall (first of the two 6 s ones) begins before any window closes")
	require.False(t, res.OK, "6 s outside the windows is over the 5 s limit")
	require.Equal(t, 2, res.OverLimitCount)
	require.Equal(t, []int{0, 1}, []int{res.OverLimit[0].Partition, res.OverLimit[1].Partition})
	require.Len(t, res.Windows, 1)

	// With a window over most of partition 0's stall, 0.5 s of it remain
	// outside, less than its 1.5 s stall before (1.5→3).
	faults = append(faults, &FaultResult{Fault: "pause", from: at(3.5), until: at(10)})
	res = measureStalls(t0, parts, faults)
	require.InDelta(t, 1.5, res.OutsidePerPartition[0], 1e-9)
	require.InDelta(t, 6, res.LongestOutside.Seconds, 1e-9)
	require.Equal(t, 1, res.LongestOutside.Partition)
	require.Equal(t, "kill -9 api", res.LongestOutside.After, "partition 1's stretch 14→20 begins as the api window closes")
	require.InDelta(t, 0, res.LongestOutside.AfterSeconds, 1e-9)
}

func TestOutside(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(0, 0)
	s := func(x int) time.Time { return t0.Add(time.Duration(x) * time.Second) }
	got := outside(interval{s(0), s(10)}, []interval{{s(2), s(3)}, {s(5), s(12)}})
	require.Equal(t, []interval{{s(0), s(2)}, {s(3), s(5)}}, got)
	require.Empty(t, outside(interval{s(4), s(6)}, []interval{{s(0), s(10)}}))
}
