package bench

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// runner carries one run.
type runner struct {
	cfg   *Config
	res   *Results
	st    *stack
	w     *Workload
	sent  *sentLog
	ref   *Reference
	tc    client.Client
	sc    *scorer
	extra []*proc // baseline workers
	// poison: the fault run's poison events, checked at the end.
	poison *poisoner
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Log, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (r *runner) run(ctx context.Context) (err error) {
	cfg := r.cfg
	r.ref, err = NewReference()
	if err != nil {
		return err
	}
	r.sc, err = newScorer()
	if err != nil {
		return err
	}
	prefix := "r" + randomHex(3) + "-"
	r.st = &stack{cfg: cfg, dir: cfg.WorkDir, prefix: prefix}
	defer func() {
		r.processes()
		r.st.shutdown()
		for _, p := range r.extra {
			p.stop(5 * time.Second)
		}
		if r.tc != nil {
			r.tc.Close()
		}
	}()
	r.logf("setting up: databases, Temporal (%s store), API, %d worker(s); logs in %s", cfg.TemporalStore, cfg.Workers[0], cfg.WorkDir)
	if err := r.st.setup(ctx); err != nil {
		return err
	}
	if err := r.st.pool.QueryRow(ctx, `SHOW server_version`).Scan(&r.res.Machine.PostgresVersion); err != nil {
		return err
	}
	sctx, stopSampler := context.WithCancel(ctx)
	defer stopSampler()
	go func() {
		for {
			r.st.pg.sample(r.st.dbNames)
			select {
			case <-sctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	r.w = NewWorkload(prefix, cfg.Contacts, cfg.Seed)
	r.sent = &sentLog{}

	if err := r.contacts(ctx); err != nil {
		return err
	}
	if len(cfg.Workers) > 1 {
		if err := r.fleet(ctx); err != nil {
			return err
		}
	} else if !cfg.faultsOnly() {
		for _, d := range cfg.Dists {
			if err := r.distribution(ctx, d); err != nil {
				return err
			}
		}
	}
	if cfg.Faults {
		if err := r.faults(ctx); err != nil {
			return err
		}
	}
	return r.check(ctx)
}

// faultsOnly: a fault run skips the throughput phases unless asked.
func (c *Config) faultsOnly() bool { return c.Faults && !c.FaultsWithPhases }

// contacts creates every contact with an identify, then waits until each is
// applied and holds its 60-day wait.
func (r *runner) contacts(ctx context.Context) error {
	cfg := r.cfg
	evs := make([]Event, len(r.w.Contacts))
	for i := range r.w.Contacts {
		evs[i] = r.w.Contacts[i].IdentifyEvent(fmt.Sprintf("%scontact-%06d", r.w.Prefix, i+1))
	}
	r.logf("creating %d contacts (identify events in batches of %d through /v1/batch)", len(evs), cfg.BatchSize)
	start := time.Now()
	lr := runLoad(ctx, r.st.client, sliceSource(evs), nil, loadOptions{senders: cfg.Senders, batchSize: cfg.BatchSize}, r.sent, nil)
	if lr.err != nil {
		return lr.err
	}
	applied, err := r.st.waitApplied(ctx, cfg.DrainTimeout)
	if err != nil {
		return err
	}
	res := &ContactsResult{Count: len(evs), AppliedSeconds: applied.Sub(start).Seconds()}
	deadline := time.Now().Add(cfg.DrainTimeout)
	for {
		var waiting, undispatched int
		if err := r.st.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM flow_runs WHERE flow_id = $1 AND status = 'waiting' AND contact_id LIKE $2),
			(SELECT count(*) FROM outbox WHERE dispatched_at IS NULL)`, WaitFlowID, r.w.Prefix+"%").Scan(&waiting, &undispatched); err != nil {
			return err
		}
		res.Waiting = waiting
		if waiting >= len(evs) && undispatched == 0 {
			res.WaitsSeconds = time.Since(start).Seconds()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d contacts entered %s (%d outbox rows undispatched) after %s", waiting, len(evs), WaitFlowID, undispatched, cfg.DrainTimeout)
		}
		if err := r.st.checkAlive(); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	res.PerSecond = float64(res.Count) / res.WaitsSeconds
	r.res.Contacts = res
	r.logf("contacts: %d applied in %.1fs; all holding their 60-day wait (workflow started) after %.1fs (%.0f/s)",
		res.Count, res.AppliedSeconds, res.WaitsSeconds, res.PerSecond)
	return nil
}

// distribution runs leadflow and the baselines on one distribution.
func (r *runner) distribution(ctx context.Context, dist string) error {
	cfg := r.cfg
	tag := dist[:1]
	evs := r.w.NewStream(tag, dist, 11).Take(cfg.Events)
	name := "leadflow-" + dist
	var stopProfile func()
	if cfg.ProfileDir != "" && dist == cfg.Dists[0] {
		stopProfile = r.profile(ctx)
	}
	ph, err := r.leadflowPhase(ctx, name, tag, dist, sliceSource(evs), cfg.Rate)
	if stopProfile != nil {
		stopProfile()
	}
	if err != nil {
		return err
	}
	if cfg.Rate == 0 && cfg.HalfRateTime > 0 {
		rate := ph.ProcessedPerSec / 2
		n := int(rate * cfg.HalfRateTime.Seconds())
		if n > 0 {
			half := r.w.NewStream(tag+"h", dist, 12).Take(n)
			if _, err := r.leadflowPhase(ctx, name+"-half", tag+"h", dist, sliceSource(half), rate); err != nil {
				return err
			}
		}
	}
	if cfg.Rate == 0 && cfg.FixedRateTime > 0 {
		n := int(cfg.FixedRate * cfg.FixedRateTime.Seconds())
		fixed := r.w.NewStream(tag+"r", dist, 13).Take(n)
		if _, err := r.leadflowPhase(ctx, fmt.Sprintf("%s-%.0f/s", name, cfg.FixedRate), tag+"r", dist, sliceSource(fixed), cfg.FixedRate); err != nil {
			return err
		}
	}
	for _, b := range cfg.Baselines {
		bp, err := r.baselinePhase(ctx, b, dist, evs)
		if err != nil {
			return err
		}
		if bp.ProcessedPerSec > 0 {
			target := map[string]float64{SystemNaive: TargetVsNaive, SystemEntity: TargetVsEntity, SystemCeiling: TargetVsCeiling}[b]
			ratio := ph.ProcessedPerSec / bp.ProcessedPerSec
			r.res.Ratios = append(r.res.Ratios, Ratio{Dist: dist, Baseline: b, Leadflow: ph.ProcessedPerSec, Other: bp.ProcessedPerSec,
				Ratio: ratio, Target: target, Met: ratio >= target})
		}
	}
	return nil
}

type cpuSnap map[string]time.Duration

func (r *runner) snap() cpuSnap {
	s := cpuSnap{}
	for _, p := range r.st.procs() {
		s[p.name] = p.cpu()
	}
	for _, p := range r.extra {
		if p.alive() {
			s[p.name] = p.cpu()
		}
	}
	s["postgres"] = r.st.pg.sample(r.st.dbNames)
	s["bench"] = selfCPU()
	return s
}

func (a cpuSnap) since(b cpuSnap) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		if d := v - b[k]; d > 0 {
			out[k] = d.Seconds()
		}
	}
	return out
}

// counters are the run's totals that phases report as differences.
type counters struct {
	steps, tasks int64
	outbox       map[string]int64 // Temporal work decided by the engine, by kind
	batches      float64          // ApplyPartition transactions with events (workers' metrics)
}

func (r *runner) counters(ctx context.Context) counters {
	c := counters{outbox: map[string]int64{}}
	_ = r.st.pool.QueryRow(ctx, `SELECT (SELECT coalesce(sum(steps_executed), 0) FROM flow_runs WHERE contact_id LIKE $1),
		(SELECT count(*) FROM crm_tasks WHERE contact_id LIKE $1)`, r.w.Prefix+"%").Scan(&c.steps, &c.tasks)
	if r.cfg.Target == "" {
		if rows, err := r.st.pool.Query(ctx, `SELECT kind, count(*) FROM outbox GROUP BY kind`); err == nil {
			for rows.Next() {
				var k string
				var n int64
				if rows.Scan(&k, &n) == nil {
					c.outbox[k] = n
				}
			}
			rows.Close()
		}
	}
	for _, w := range r.st.workers {
		c.batches += workerMetrics(w.addr)["leadflow_apply_batch_events_count"]
	}
	return c
}

// leadflowPhase sends events over the API (rate 0: as fast as they are
// acknowledged) and waits until every one is applied.
func (r *runner) leadflowPhase(ctx context.Context, name, idTag, dist string, src func() (Event, bool), rate float64) (*Phase, error) {
	cfg := r.cfg
	if rate > 0 {
		r.logf("%s: sending at %.0f events/s", name, rate)
	} else {
		r.logf("%s: sending as fast as acknowledged", name)
	}
	watch := newLatencyWatch(r.st.pool, max(cfg.Events/2000, 1))
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go watch.run(wctx)
	c0 := r.snap()
	k0 := r.counters(ctx)
	linger := 20 * time.Millisecond
	lr := runLoad(ctx, r.st.client, src, nil, loadOptions{senders: cfg.Senders, batchSize: cfg.BatchSize, rate: rate, linger: linger}, r.sent, watch)
	if lr.err != nil {
		return nil, fmt.Errorf("%s: %w", name, lr.err)
	}
	done, err := r.st.waitApplied(ctx, cfg.DrainTimeout)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	watch.waitDone(ctx, 5*time.Second)
	stopWatch()
	c1 := r.snap()
	k1 := r.counters(ctx)
	ph := &Phase{Name: name, System: "leadflow", Dist: dist, Events: lr.events, TargetRate: rate, Drained: true,
		Seconds: done.Sub(lr.first).Seconds(), Requests: lr.requests, Retries: lr.retries, CPU: c1.since(c0),
		FlowSteps: k1.steps - k0.steps, CRMTasks: k1.tasks - k0.tasks, ApplyBatches: k1.batches - k0.batches,
		TemporalWork: map[string]int64{}}
	for k, v := range k1.outbox {
		if d := v - k0.outbox[k]; d > 0 {
			ph.TemporalWork[k] = d
		}
	}
	ph.ProcessedPerSec = float64(lr.events) / ph.Seconds
	if !lr.lastAck.IsZero() {
		ph.AcceptedPerSec = float64(lr.events) / lr.lastAck.Sub(lr.first).Seconds()
	}
	ph.FlowStepsPerSec = float64(ph.FlowSteps) / ph.Seconds
	ph.LatencySeen = watch.percentiles()
	ph.LatencyDB, err = dbLatency(ctx, r.st, r.w.Prefix+idTag+"-%")
	if err != nil {
		return nil, err
	}
	stall, err := r.phaseStall(ctx, r.w.Prefix+idTag+"-%", lr.first)
	if err != nil {
		return nil, err
	}
	ph.LongestStall = &stall
	r.res.Phases = append(r.res.Phases, ph)
	r.logf("%s: %d events, accepted %.0f/s, processed %.0f/s, latency p50 %.0fms p99 %.0fms (observed), %d flow steps, %d CRM tasks, longest partition stall %.2fs",
		name, ph.Events, ph.AcceptedPerSec, ph.ProcessedPerSec, ph.LatencySeen.P50, ph.LatencySeen.P99, ph.FlowSteps, ph.CRMTasks, stall.Seconds)
	return ph, nil
}

// dbLatency is received_at → applied_at of the events whose id matches.
func dbLatency(ctx context.Context, st *stack, like string) (Percentiles, error) {
	var p Percentiles
	var q []float64
	err := st.pool.QueryRow(ctx, `SELECT count(*), percentile_cont(ARRAY[0.5, 0.9, 0.99, 1.0]) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - received_at))
		FROM events WHERE id LIKE $1 AND applied_at IS NOT NULL`, like).Scan(&p.N, &q)
	if err != nil || len(q) < 4 {
		return p, err
	}
	p.P50, p.P90, p.P99, p.Max = q[0]*1000, q[1]*1000, q[2]*1000, q[3]*1000
	return p, nil
}

func toBaseline(e Event) BaselineEvent {
	props := e.Properties
	if e.IsIdentify() {
		props = e.Traits
	}
	return BaselineEvent{ID: e.ID, ContactID: e.ContactID, Type: e.Type, Properties: props}
}

func (r *runner) temporalClient(ctx context.Context) (client.Client, error) {
	if r.tc != nil {
		return r.tc, nil
	}
	if r.st.tAddr == "" {
		return nil, errors.New("no Temporal server for the baselines (set TEMPORAL_ADDRESS with --target)")
	}
	c, err := dialTemporal(ctx, r.st.tAddr, r.cfg.Namespace, zerolog.Nop())
	if err != nil {
		return nil, err
	}
	r.tc = c
	return c, nil
}

// baselineInFlight bounds the events a baseline has accepted and not yet
// applied.
const baselineInFlight = 64

// baselinePhase feeds a baseline the same events for BaselineTime, keeping
// at most baselineInFlight of them accepted and not yet applied, and waits
// until it applied them.
func (r *runner) baselinePhase(ctx context.Context, system, dist string, evs []Event) (*Phase, error) {
	cfg := r.cfg
	pool := r.st.bpool
	if err := baselineSchema(ctx, pool, system); err != nil {
		return nil, err
	}
	name := system + "-" + dist
	ph := &Phase{Name: name, System: system, Dist: dist, Drained: true}
	if system == SystemCeiling {
		return r.ceilingPhase(ctx, ph, evs)
	}
	tc, err := r.temporalClient(ctx)
	if err != nil {
		return nil, err
	}
	tq := "bench-" + system + "-" + dist + "-" + r.w.Prefix
	p := &proc{name: "baseline-" + name, role: "baseline-worker", logPath: filepath.Join(r.st.dir, "baseline-"+name+".log"),
		args: []string{"--database-url", r.st.baseURL, "--temporal-address", r.st.tAddr, "--namespace", cfg.Namespace, "--task-queue", tq}}
	line, err := p.start(cfg.Command)
	if err != nil {
		return nil, err
	}
	r.extra = append(r.extra, p)
	defer p.stop(10 * time.Second)
	if _, err := waitLine(ctx, p, line, time.Minute); err != nil {
		return nil, err
	}
	r.logf("%s: starting %s for up to %s", name, map[string]string{SystemNaive: "one workflow per event", SystemEntity: "one SignalWithStart per event"}[system], cfg.BaselineTime)
	c0 := r.snap()
	var (
		idx      atomic.Int64
		mu       sync.Mutex
		accepted []BaselineEvent
		lastAck  time.Time
		failed   atomic.Int64
		wg       sync.WaitGroup
	)
	// Closed loop: at most baselineInFlight events accepted and not yet
	// applied, so that the phase measures what the design sustains, not how
	// fast Temporal queues work it cannot do.
	slots := make(chan struct{}, baselineInFlight)
	for range baselineInFlight {
		slots <- struct{}{}
	}
	pctx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	go func() {
		released := 0
		for pctx.Err() == nil {
			var n int
			if pool.QueryRow(pctx, `SELECT count(*) FROM `+system+`_events`).Scan(&n) == nil {
				for ; released < n; released++ {
					slots <- struct{}{}
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	start := time.Now()
	stopAt := start.Add(cfg.BaselineTime)
	for range baselineInFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stopAt) && ctx.Err() == nil {
				select {
				case <-slots:
				case <-time.After(time.Until(stopAt)):
					return
				}
				i := int(idx.Add(1) - 1)
				if i >= len(evs) {
					return
				}
				ev := toBaseline(evs[i])
				ev.SentAt = time.Now()
				var err error
				for attempt := 0; attempt < 20; attempt++ {
					err = r.startBaseline(ctx, tc, system, dist, tq, ev)
					if err == nil || ctx.Err() != nil {
						break
					}
					time.Sleep(time.Duration(attempt+1) * 100 * time.Millisecond)
				}
				if err != nil {
					failed.Add(1)
					continue
				}
				mu.Lock()
				accepted = append(accepted, ev)
				lastAck = time.Now()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	ph.Events = len(accepted)
	if ph.Events == 0 {
		return nil, fmt.Errorf("%s: no event accepted (%d failed)", name, failed.Load())
	}
	ph.AcceptedPerSec = float64(ph.Events) / lastAck.Sub(start).Seconds()
	// Wait for the backlog to drain.
	timeout := 4*cfg.BaselineTime + time.Minute
	deadline := time.Now().Add(timeout)
	var applied int
	done := time.Now()
	for {
		done = time.Now()
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+system+`_events`).Scan(&applied); err != nil {
			return nil, err
		}
		if applied >= ph.Events {
			break
		}
		if time.Now().After(deadline) {
			ph.Drained = false
			ph.Note = fmt.Sprintf("backlog not drained after %s: %d of %d applied", timeout, applied, ph.Events)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ph.Seconds = done.Sub(start).Seconds()
	ph.ProcessedPerSec = float64(applied) / ph.Seconds
	ph.CPU = r.snap().since(c0)
	var q []float64
	if err := pool.QueryRow(ctx, `SELECT count(*), percentile_cont(ARRAY[0.5, 0.9, 0.99, 1.0]) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - sent_at))
		FROM `+system+`_events`).Scan(&ph.LatencyDB.N, &q); err == nil && len(q) == 4 {
		ph.LatencyDB.P50, ph.LatencyDB.P90, ph.LatencyDB.P99, ph.LatencyDB.Max = q[0]*1000, q[1]*1000, q[2]*1000, q[3]*1000
	}
	if failed.Load() > 0 {
		ph.Note += fmt.Sprintf(" %d starts failed", failed.Load())
	}
	if ph.Drained {
		chk, err := checkBaseline(ctx, pool, system, accepted, r.sc)
		if err != nil {
			return nil, err
		}
		r.res.Baselines[name] = chk
	}
	r.res.Phases = append(r.res.Phases, ph)
	r.logf("%s: %d events accepted at %.0f/s, processed %.1f/s, latency p50 %.0fms p99 %.0fms %s",
		name, ph.Events, ph.AcceptedPerSec, ph.ProcessedPerSec, ph.LatencyDB.P50, ph.LatencyDB.P99, ph.Note)
	return ph, nil
}

func (r *runner) startBaseline(ctx context.Context, tc client.Client, system, dist, tq string, ev BaselineEvent) error {
	phase := dist + "-" + r.w.Prefix
	switch system {
	case SystemNaive:
		_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: baselineWorkflowID(system, phase, ev.ID), TaskQueue: tq},
			naiveWorkflowName, ScoreInput{System: system, Event: ev})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return nil
		}
		return err
	case SystemEntity:
		_, err := tc.SignalWithStartWorkflow(ctx, baselineWorkflowID(system, phase, ev.ContactID), entitySignal, ev,
			client.StartWorkflowOptions{TaskQueue: tq}, entityWorkflowName, EntityInput{System: system, ContactID: ev.ContactID})
		return err
	}
	return fmt.Errorf("unknown baseline %q", system)
}

// ceilingPhase writes the events with no engine: per event the event row,
// the score upsert and the ledger row, 500 events per transaction, one
// writer per CPU (contacts split between them).
func (r *runner) ceilingPhase(ctx context.Context, ph *Phase, evs []Event) (*Phase, error) {
	const batch = 500
	writers := max(r.res.Machine.CPUs, 1)
	parts := make([][]BaselineEvent, writers)
	now := time.Now()
	for _, e := range evs {
		h := fnv.New32a()
		_, _ = h.Write([]byte(e.ContactID))
		b := toBaseline(e)
		b.SentAt = now
		i := int(h.Sum32() % uint32(writers))
		parts[i] = append(parts[i], b)
	}
	r.logf("%s: %d events, %d writers, %d events per transaction", ph.Name, len(evs), writers, batch)
	c0 := r.snap()
	start := time.Now()
	errs := make(chan error, writers)
	for _, p := range parts {
		go func(p []BaselineEvent) { errs <- ceilingApply(ctx, r.st.bpool, r.sc, p, batch) }(p)
	}
	for range parts {
		if err := <-errs; err != nil {
			return nil, err
		}
	}
	ph.Seconds = time.Since(start).Seconds()
	ph.Events = len(evs)
	ph.ProcessedPerSec = float64(len(evs)) / ph.Seconds
	ph.AcceptedPerSec = ph.ProcessedPerSec
	ph.CPU = r.snap().since(c0)
	var all []BaselineEvent
	for _, p := range parts {
		all = append(all, p...)
	}
	chk, err := checkBaseline(ctx, r.st.bpool, SystemCeiling, all, r.sc)
	if err != nil {
		return nil, err
	}
	r.res.Baselines[ph.Name] = chk
	r.res.Phases = append(r.res.Phases, ph)
	r.logf("%s: processed %.0f/s", ph.Name, ph.ProcessedPerSec)
	return ph, nil
}

// FleetStep is one worker count of a fleet run.
type FleetStep struct {
	Workers         int           `json:"workers"`
	ProcessedPerSec float64       `json:"processed_per_sec"`
	LatencyP99Ms    float64       `json:"latency_p99_ms"`
	PerWorker       []WorkerShare `json:"per_worker"`
	// SpreadError: not every worker owned partitions before the load.
	SpreadError string `json:"spread_error,omitempty"`
	// Failover: the kill -9 of one worker after the load (Config.Failover).
	Failover *Failover `json:"failover,omitempty"`
}

// WorkerShare is one worker's part of a fleet step.
type WorkerShare struct {
	Name          string  `json:"name"`
	EventsApplied float64 `json:"events_applied"`
	Batches       float64 `json:"apply_batches"`
	CPUSeconds    float64 `json:"cpu_seconds"`
	// Partitions it owned at the end of the load.
	Partitions int `json:"partitions"`
}

// fleet runs uniform traffic with each worker count.
func (r *runner) fleet(ctx context.Context) error {
	cfg := r.cfg
	for i, n := range cfg.Workers {
		r.logf("fleet: %d worker process(es)", n)
		if err := r.st.setWorkers(ctx, n); err != nil {
			return err
		}
		spreadErr := ""
		if _, err := r.waitSpread(ctx, 30*time.Second); err != nil {
			if ctx.Err() != nil {
				return err
			}
			spreadErr = err.Error()
			r.logf("fleet: %s", spreadErr)
		}
		m0 := map[string]map[string]float64{}
		for _, w := range r.st.workers {
			m0[w.name] = workerMetrics(w.addr)
		}
		tag := fmt.Sprintf("f%d", i)
		evs := r.w.NewStream(tag, DistUniform, uint64(20+i)).Take(cfg.Events)
		ph, err := r.leadflowPhase(ctx, fmt.Sprintf("fleet-%dw", n), tag, DistUniform, sliceSource(evs), cfg.Rate)
		if err != nil {
			return err
		}
		step := &FleetStep{Workers: n, ProcessedPerSec: ph.ProcessedPerSec, LatencyP99Ms: ph.LatencySeen.P99, SpreadError: spreadErr}
		owned, _, err := r.ownership(ctx)
		if err != nil {
			return err
		}
		for _, w := range r.st.workers {
			m1 := workerMetrics(w.addr)
			step.PerWorker = append(step.PerWorker, WorkerShare{Name: w.name,
				EventsApplied: m1["leadflow_events_applied_total"] - m0[w.name]["leadflow_events_applied_total"],
				Batches:       m1["leadflow_apply_batch_events_count"] - m0[w.name]["leadflow_apply_batch_events_count"],
				CPUSeconds:    ph.CPU[w.name], Partitions: owned[w.name]})
		}
		if cfg.Failover && n >= 2 {
			if step.Failover, err = r.failover(ctx); err != nil {
				return err
			}
		}
		r.res.Fleet = append(r.res.Fleet, step)
	}
	return nil
}

// profile collects CPU profiles of the API, the workers and the Temporal
// server while the first full-speed phase runs; the returned function waits
// for them.
func (r *runner) profile(ctx context.Context) func() {
	cfg := r.cfg
	if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
		r.logf("profile: %v", err)
		return func() {}
	}
	var wg sync.WaitGroup
	for _, p := range r.st.procs() {
		if p.pprofAddr == "" {
			continue
		}
		wg.Add(1)
		go func(p *proc) {
			defer wg.Done()
			secs := int(cfg.ProfileTime.Seconds())
			hc := &http.Client{Timeout: cfg.ProfileTime + 30*time.Second}
			resp, err := hc.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.pprofAddr, secs))
			if err != nil {
				r.logf("profile of %s: %v", p.name, err)
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(filepath.Join(cfg.ProfileDir, p.name+".cpu.pprof"))
			if err != nil {
				return
			}
			defer f.Close()
			_, _ = io.Copy(f, resp.Body)
		}(p)
	}
	f, err := os.Create(filepath.Join(cfg.ProfileDir, "bench.cpu.pprof"))
	if err == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer f.Close()
			_ = startSelfProfile(f, cfg.ProfileTime)
		}()
	}
	return wg.Wait
}

// check waits for the system to settle and compares it with the reference.
func (r *runner) check(ctx context.Context) error {
	r.logf("checking: replaying %d events in the reference", r.sent.count())
	if _, err := r.st.waitApplied(ctx, r.cfg.DrainTimeout); err != nil {
		return err
	}
	r.sent.mu.Lock()
	events := append([]Event(nil), r.sent.events...)
	r.sent.mu.Unlock()
	for _, e := range events {
		r.ref.Apply(e)
	}
	want := r.ref.Expected()
	// Runs complete asynchronously (a signal, then a workflow task and an
	// activity): allow them time.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, err := checkLeadflow(ctx, r.st.pool, r.w.Prefix, r.ref, want, events, r.st.excludedIDs())
		if err != nil {
			return err
		}
		if res.OK || !res.settling || time.Now().After(deadline) {
			r.res.Check = &res
			break
		}
		time.Sleep(time.Second)
	}
	r.res.Passed = r.res.Check.OK
	if !r.res.Check.OK {
		r.res.FailReason = "the correctness check found differences"
	}
	for name, b := range r.res.Baselines {
		if !b.OK {
			r.res.Passed = false
			r.res.FailReason = "baseline " + name + " check: " + b.Detail
		}
	}
	if r.res.Probe != nil && !r.res.Probe.OK {
		r.res.Passed = false
		r.res.FailReason = "probe waits did not fire: " + r.res.Probe.Detail
	}
	if err := r.checkFaults(ctx); err != nil {
		return err
	}
	if r.st.sink != nil {
		r.res.Webhooks.Received, r.res.Webhooks.DistinctKeys = r.st.sink.stats()
	}
	return nil
}

// processes records every process's CPU and peak memory.
func (r *runner) processes() {
	var out []ProcResult
	for _, p := range r.st.procs() {
		out = append(out, ProcResult{Name: p.name, CPUSeconds: p.cpu().Seconds(), PeakRSSBytes: p.peak(), Restarts: p.restarts})
	}
	for _, p := range r.extra {
		out = append(out, ProcResult{Name: p.name, CPUSeconds: p.cpu().Seconds(), PeakRSSBytes: p.peak()})
	}
	if r.st.pg != nil {
		out = append(out, ProcResult{Name: "postgres (our backends)", CPUSeconds: r.st.pg.sample(r.st.dbNames).Seconds()})
	}
	out = append(out, ProcResult{Name: "bench", CPUSeconds: selfCPU().Seconds(), PeakRSSBytes: selfPeakRSS()})
	r.res.Processes = out
}
