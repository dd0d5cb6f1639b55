package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// WriteJSON writes the results to path (directories created).
func (r *Results) WriteJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func ms(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 1000:
		return fmt.Sprintf("%.0fms", v)
	default:
		return fmt.Sprintf("%.1fs", v/1000)
	}
}

// Print writes the human-readable report.
func (r *Results) Print(w io.Writer) {
	m := r.Machine
	s := r.Settings
	fmt.Fprintf(w, "\nleadflow bench — %d CPUs, %s RAM, %s, PostgreSQL %s, load at start %s, build %s\n", m.CPUs, mib(m.MemoryBytes), m.GoVersion, m.PostgresVersion, m.LoadAvgAtStart, m.Build)
	fmt.Fprintf(w, "%d contacts, %d events per distribution, Temporal store %s, workers %v, %d HTTP clients × %d events per request\n\n",
		s.Contacts, s.Events, s.TemporalStore, s.Workers, s.Senders, s.BatchSize)
	if c := r.Contacts; c != nil {
		fmt.Fprintf(w, "contacts: %d created and applied in %.1fs; all %d holding the 60-day wait of %s (run workflow started) after %.1fs (%.0f contacts/s)\n\n",
			c.Count, c.AppliedSeconds, c.Waiting, WaitFlowID, c.WaitsSeconds, c.PerSecond)
	}
	if len(r.Phases) > 0 {
		fmt.Fprintf(w, "%-24s %8s %9s %11s %11s %8s %8s %8s %10s %8s  %s\n", "phase", "events", "seconds", "accepted/s", "processed/s",
			"p50", "p90", "p99", "steps/s", "tasks", "CPU seconds")
		for _, p := range r.Phases {
			lat := p.LatencySeen
			if p.System != "leadflow" {
				lat = p.LatencyDB
			}
			fmt.Fprintf(w, "%-24s %8d %9.1f %11.0f %11.1f %8s %8s %8s %10.0f %8d  %s\n", p.Name, p.Events, p.Seconds, p.AcceptedPerSec, p.ProcessedPerSec,
				ms(lat.P50), ms(lat.P90), ms(lat.P99), p.FlowStepsPerSec, p.CRMTasks, cpuLine(p.CPU))
			if p.Note != "" {
				fmt.Fprintf(w, "%-24s %s\n", "", p.Note)
			}
			if per := per1000(p.CPU, p.Events); len(per) > 0 {
				fmt.Fprintf(w, "%-24s CPU seconds per 1,000 events: %s\n", "", per1000Line(per))
			}
			if p.LongestStall != nil {
				fmt.Fprintf(w, "%-24s longest stretch of a partition with pending events and nothing applied: %.2fs (partition %d, at %.1fs)\n", "",
					p.LongestStall.Seconds, p.LongestStall.Partition, p.LongestStall.AtSeconds)
			}
			if p.System == "leadflow" && p.Events > 0 && (len(p.TemporalWork) > 0 || p.ApplyBatches > 0) {
				fmt.Fprintf(w, "%-24s %.0f events per apply batch; Temporal work per 1,000 events: %s\n", "",
					float64(p.Events)/max(p.ApplyBatches, 1), workLine(p.TemporalWork, p.Events))
			}
		}
		fmt.Fprintln(w, "latency: leadflow = API acknowledgement → applied visible in PostgreSQL (sampled, ±10ms); baselines = sent → applied (their own tables)")
		fmt.Fprintln(w)
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintf(w, "%-10s %-10s %12s %12s %9s %8s\n", "dist", "vs", "leadflow/s", "baseline/s", "ratio", "target")
		for _, x := range r.Ratios {
			mark := "met"
			if !x.Met {
				mark = "MISSED"
			}
			fmt.Fprintf(w, "%-10s %-10s %12.0f %12.1f %8.2f× %7.2g× %s\n", x.Dist, x.Baseline, x.Leadflow, x.Other, x.Ratio, x.Target, mark)
		}
		for _, p := range r.Phases {
			if p.System == "leadflow" && strings.HasSuffix(p.Name, "-half") {
				mark := "met"
				if p.LatencySeen.P99 >= TargetP99Ms {
					mark = "MISSED"
				}
				fmt.Fprintf(w, "%-10s p99 acceptance→score at half the max rate: %s (target < %dms) %s\n", p.Dist, ms(p.LatencySeen.P99), TargetP99Ms, mark)
			}
			if p.System == "leadflow" && strings.HasSuffix(p.Name, "/s") && p.TargetRate > 0 {
				mark := "met"
				if p.LatencySeen.P99 >= TargetP99FixedMs {
					mark = "MISSED"
				}
				fmt.Fprintf(w, "%-10s p99 acceptance→score at a fixed %.0f events/s: %s (target < %dms) %s\n", p.Dist, p.TargetRate, ms(p.LatencySeen.P99), TargetP99FixedMs, mark)
			}
		}
		fmt.Fprintln(w)
	}
	for _, f := range r.Fleet {
		fmt.Fprintf(w, "fleet: %d worker(s): %.0f events/s processed, p99 %s;", f.Workers, f.ProcessedPerSec, ms(f.LatencyP99Ms))
		for _, pw := range f.PerWorker {
			fmt.Fprintf(w, "  %s: %d partitions, %.0f events in %.0f batches, %.1f CPU s", pw.Name, pw.Partitions, pw.EventsApplied, pw.Batches, pw.CPUSeconds)
		}
		fmt.Fprintln(w)
		if f.SpreadError != "" {
			fmt.Fprintf(w, "  NOT SPREAD: %s\n", f.SpreadError)
		}
		if fo := f.Failover; fo != nil {
			mark := "met"
			if !fo.OK {
				mark = "MISSED"
			}
			fmt.Fprintf(w, "  failover: kill -9 %s (%d partitions): every partition owned again after %.1fs (target ≤ %.0fs) %s; owners %v %s\n",
				fo.Killed, fo.Partitions, fo.Seconds, TargetFailover.Seconds(), mark, fo.Owners, fo.Error)
		}
	}
	if len(r.Fleet) > 0 {
		fmt.Fprintln(w)
	}
	for _, f := range r.Faults {
		if f.Skipped != "" {
			fmt.Fprintf(w, "fault at %5.1fs: %-58s SKIPPED: %s\n", f.AtSeconds, f.Fault, f.Skipped)
			continue
		}
		fmt.Fprintf(w, "fault at %5.1fs: %-58s down %5.1fs, events applied again after %5.1fs, backlog (max %d) drained after %5.1fs, %d requests resent\n",
			f.AtSeconds, f.Fault, f.DownSeconds, f.RecoveredSeconds, f.MaxPending, f.DrainedSeconds, f.ClientRetries)
	}
	if s := r.Stalls; s != nil {
		fmt.Fprintf(w, "%s\n", s.summary())
		fmt.Fprintf(w, "  longest per partition (s): %s\n", secondsList(s.PerPartition))
		fmt.Fprintf(w, "  outside the fault windows: %s\n", secondsList(s.OutsidePerPartition))
		if s.OverLimitCount > 0 {
			fmt.Fprintf(w, "  %d stretches outside the windows over %.0fs; the longest:\n", s.OverLimitCount, s.LimitSeconds)
			for _, o := range s.OverLimit {
				after := ""
				if o.After != "" {
					after = fmt.Sprintf(", %.1fs after the window of %s closed", o.AfterSeconds, o.After)
				}
				fmt.Fprintf(w, "    partition %d: %.1fs from %.1fs%s\n", o.Partition, o.Seconds, o.AtSeconds, after)
			}
		}
	}
	if p := r.Poison; p != nil {
		r.printPoison(w)
	}
	if p := r.Probe; p != nil {
		fmt.Fprintf(w, "probe waits (%d, started before the Temporal and the full restart, due while down): %d fired, lateness p50 %s, max %s\n",
			p.Probes, p.Fired, ms(p.LatenessP50Ms), ms(p.LatenessMaxMs))
	}
	if len(r.Faults) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%-36s %12s %14s %9s\n", "process", "CPU seconds", "peak RSS", "restarts")
	for _, p := range r.Processes {
		rss := "-"
		if p.PeakRSSBytes > 0 {
			rss = mib(p.PeakRSSBytes)
			if p.PeakRSSBytes >= MaxRSSBytes {
				rss += " (>1GiB)"
			}
		}
		fmt.Fprintf(w, "%-36s %12.1f %14s %9d\n", p.Name, p.CPUSeconds, rss, p.Restarts)
	}
	fmt.Fprintf(w, "webhook sink: %d deliveries, %d distinct idempotency keys\n\n", r.Webhooks.Received, r.Webhooks.DistinctKeys)
	if c := r.Check; c != nil {
		status := "PASSED"
		if !c.OK {
			status = "FAILED"
		}
		fmt.Fprintf(w, "correctness check %s: %d contacts, %d events replayed by the reference\n", status, c.Contacts, c.Events)
		for _, x := range c.Compared {
			fmt.Fprintf(w, "  compared exactly: %s\n", x)
		}
		keys := make([]string, 0, len(c.TasksExpected))
		for k := range c.TasksExpected {
			keys = append(keys, k)
		}
		for k := range c.TasksFound {
			if _, ok := c.TasksExpected[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  CRM tasks %-22s expected %6d, found %6d\n", k, c.TasksExpected[k], c.TasksFound[k])
		}
		fmt.Fprintf(w, "  CRM tasks of time-dependent flows (not compared): %d\n", c.TasksOther)
		for _, inv := range c.Invariants {
			mark := "ok"
			if !inv.OK {
				mark = "VIOLATED"
			}
			fmt.Fprintf(w, "  invariant %-58s %s %s\n", inv.Name, mark, inv.Detail)
		}
		if c.DifferenceCount > 0 {
			fmt.Fprintf(w, "  %d differences; the first:\n", c.DifferenceCount)
			for _, d := range c.Differences {
				fmt.Fprintf(w, "    %s\n", d)
			}
		}
	}
	names := make([]string, 0, len(r.Baselines))
	for n := range r.Baselines {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b := r.Baselines[n]
		mark := "ok"
		if !b.OK {
			mark = "FAILED"
		}
		fmt.Fprintf(w, "baseline check %-18s %s: %s\n", n, mark, b.Detail)
	}
	if !r.Passed && r.FailReason != "" {
		fmt.Fprintf(w, "\nRUN FAILED: %s\n", r.FailReason)
	}
}

func cpuLine(cpu map[string]float64) string {
	keys := make([]string, 0, len(cpu))
	for k := range cpu {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if cpu[k] >= 0.05 {
			parts = append(parts, fmt.Sprintf("%s %.1f", strings.TrimPrefix(k, "baseline-"), cpu[k]))
		}
	}
	return strings.Join(parts, ", ")
}

func per1000Line(per map[string]float64) string {
	keys := make([]string, 0, len(per))
	for k := range per {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.3f", strings.TrimPrefix(k, "baseline-"), per[k]))
	}
	return strings.Join(parts, ", ")
}

func workLine(work map[string]int64, events int) string {
	keys := make([]string, 0, len(work))
	for k := range work {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, float64(work[k])*1000/float64(events)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// printPoison writes what became of the poison events, kind by kind.
func (r *Results) printPoison(w io.Writer) {
	p := r.Poison
	mark := "ok"
	if !p.OK {
		mark = "FAILED"
	}
	ratio := "-"
	if p.PoisonEvents > 0 {
		ratio = fmt.Sprintf("1 in %.0f", float64(p.LoadEvents+p.PoisonEvents)/float64(p.PoisonEvents))
	}
	fmt.Fprintf(w, "poison: %d poison requests among %d load events (%s; one per %d asked, every kind at least once): %d refused (400), %d conflicts (409), %d resends counted as duplicates, %d formerly colliding pairs applied once each, %d quarantined: %s\n",
		p.PoisonEvents, p.LoadEvents, ratio, p.Every, p.Refused, p.Conflicts, p.Duplicates, p.CollidingPairs, p.Quarantined, mark)
	if p.UnnamedPaths > 0 {
		fmt.Fprintf(w, "  %d refusals did not name the expected path (see the kinds)\n", p.UnnamedPaths)
	}
	fmt.Fprintf(w, "  %-92s %-12s %-11s %5s %5s %6s\n", "kind", "expect", "route", "sent", "ok", "failed")
	for _, k := range p.Kinds {
		fmt.Fprintf(w, "  %-92s %-12s %-11s %5d %5d %6d\n", truncate(k.Kind, 92), k.Expect, k.Route, k.Sent, k.OK, k.Failed)
		if k.Detail != "" && (k.Failed > 0 || k.Expect == ExpectQuarantined) {
			fmt.Fprintf(w, "  %-92s %s\n", "", truncate(k.Detail, 300))
		}
	}
	for _, f := range p.Failures {
		fmt.Fprintf(w, "  FAILED: %s\n", truncate(f, 500))
	}
}
