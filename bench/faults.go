package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// FaultResult is how the system lived through one fault.
type FaultResult struct {
	Fault string `json:"fault"`
	// AtSeconds: when the fault happened, from the start of the load.
	AtSeconds float64 `json:"at_seconds"`
	// DownSeconds: from the kill until the restarted process(es) answered.
	DownSeconds float64 `json:"down_seconds"`
	// RecoveredSeconds: from the kill until the first event received after
	// the kill was applied (events flow end to end again).
	RecoveredSeconds float64 `json:"recovered_seconds"`
	// DrainedSeconds: from the kill until the backlog of pending events was
	// back to its level before the fault.
	DrainedSeconds float64 `json:"drained_seconds"`
	PendingBefore  int     `json:"pending_before"`
	MaxPending     int     `json:"max_pending"`
	// ClientRetries: requests the clients had to resend.
	ClientRetries int64 `json:"client_retries"`
	// Skipped says why the fault was not injected (this machine cannot).
	Skipped string `json:"skipped,omitempty"`

	// from, until: the fault's window (from the fault until drained).
	from, until time.Time
}

// errSkip is a fault this machine cannot inject; the run goes on without it.
type errSkip struct{ reason string }

func (e *errSkip) Error() string { return e.reason }

func skipf(format string, args ...any) error { return &errSkip{fmt.Sprintf(format, args...)} }

// ProbeResult says whether short durable waits fired after restarts.
type ProbeResult struct {
	OK            bool    `json:"ok"`
	Probes        int     `json:"probes"`
	Fired         int     `json:"fired"`
	LatenessP50Ms float64 `json:"lateness_p50_ms"`
	LatenessMaxMs float64 `json:"lateness_max_ms"`
	Detail        string  `json:"detail,omitempty"`
}

const (
	restartDelay  = 2 * time.Second
	probesPerSet  = 25
	faultSettle   = 5 * time.Second
	faultTimeout  = 5 * time.Minute
	faultWarmup   = 10 * time.Second
	pendingSample = 100 * time.Millisecond
	// pauseFor is how long a worker stays stopped (SIGSTOP): longer than
	// the 8 s after which the other workers find it frozen (its lock
	// connection quiet), end its lock connection and have Temporal run its
	// partition owners elsewhere (activities/partition_owners.go).
	pauseFor = 15 * time.Second
)

type pendingSamples struct {
	mu sync.Mutex
	t  []time.Time
	n  []int
}

func (p *pendingSamples) add(t time.Time, n int) {
	p.mu.Lock()
	p.t = append(p.t, t)
	p.n = append(p.n, n)
	p.mu.Unlock()
}

// maxSince is the largest sample since t.
func (p *pendingSamples) maxSince(t time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := 0
	for i := range p.t {
		if !p.t[i].Before(t) && p.n[i] > m {
			m = p.n[i]
		}
	}
	return m
}

func (p *pendingSamples) last() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.n) == 0 {
		return 0
	}
	return p.n[len(p.n)-1]
}

// faults sends events at a steady rate while it kills, in turn, a worker,
// the API, the Temporal server and then everything at once (kill -9), and
// restarts them; the clients resend what was not acknowledged.
func (r *runner) faults(ctx context.Context) error {
	cfg, st := r.cfg, r.st
	if st.api == nil || st.temporal == nil {
		return fmt.Errorf("faults need the bench's own stack (no --target, no TEMPORAL_ADDRESS)")
	}
	rate := cfg.FaultRate
	for _, ph := range r.res.Phases {
		if ph.System == "leadflow" && ph.Dist == DistUniform && ph.TargetRate == 0 {
			rate = ph.ProcessedPerSec / 2
		}
	}
	r.logf("faults: events at %.0f/s while processes are killed (kill -9) and restarted", rate)
	stream := r.w.NewStream("x", DistUniform, 30)
	src := func() (Event, bool) { return stream.Next(), true }
	stop := make(chan struct{})
	loadDone := make(chan *loadResult, 1)
	lctx, cancelLoad := context.WithCancel(ctx)
	defer cancelLoad()
	start := time.Now()
	live := &loadResult{}
	kinds, err := selectPoison(poisonKinds(), cfg.Poison)
	if err != nil {
		return err
	}
	var pz *poisoner
	if cfg.PoisonEvery > 0 && len(kinds) > 0 {
		pz = newPoisoner(r, kinds, cfg.PoisonEvery)
		r.poison = pz
		src = pz.source(src)
		go pz.run(lctx)
		r.logf("faults: %d kinds of poison events mixed in, one per %d events", len(kinds), cfg.PoisonEvery)
	}
	go func() {
		loadDone <- runLoad(lctx, st.client, src, stop, loadOptions{senders: cfg.Senders, batchSize: cfg.BatchSize, rate: rate,
			linger: 20 * time.Millisecond, progress: live}, r.sent, nil)
	}()
	samples := &pendingSamples{}
	sctx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go func() {
		for sctx.Err() == nil {
			if n, err := st.pending(sctx); err == nil {
				samples.add(time.Now(), n)
			}
			time.Sleep(pendingSample)
		}
	}()
	sleep := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	if err := sleep(faultWarmup); err != nil {
		return err
	}
	var probeIDs []string
	type fault struct {
		name   string
		probes bool
		// kill injects the fault (an *errSkip: this machine cannot);
		// start ends it, after hold (restartDelay when zero).
		kill  func() error
		hold  time.Duration
		start func() error
		// stays: no process is taken down (PostgreSQL restart, pause).
		stays bool
	}
	killing := func(ps ...*proc) func() error {
		return func() error {
			for _, p := range ps {
				p.kill()
			}
			return nil
		}
	}
	restartAll := func() error {
		if err := st.restartTemporal(ctx); err != nil {
			return err
		}
		for _, w := range st.workers {
			if _, err := w.start(cfg.Command); err != nil {
				return err
			}
		}
		for _, w := range st.workers {
			if err := waitHTTP(ctx, "http://"+w.addr+"/metrics", w, time.Minute); err != nil {
				return err
			}
		}
		if _, err := st.api.start(cfg.Command); err != nil {
			return err
		}
		return st.waitAPI(ctx, 2*time.Minute)
	}
	w0 := st.workers[0]
	wp := st.workers[len(st.workers)-1]
	defer func() { _ = wp.resume() }() // never leave it stopped
	var pgStarted time.Time
	faults := []fault{
		{name: "kill -9 " + w0.name, kill: killing(w0), start: func() error {
			if _, err := w0.start(cfg.Command); err != nil {
				return err
			}
			return waitHTTP(ctx, "http://"+w0.addr+"/metrics", w0, time.Minute)
		}},
		{name: fmt.Sprintf("SIGSTOP %s for %s (frozen after 8s), SIGCONT", wp.name, pauseFor), stays: true, hold: pauseFor,
			kill: wp.pause, start: wp.resume},
		{name: "kill -9 api", kill: killing(st.api), start: func() error {
			if _, err := st.api.start(cfg.Command); err != nil {
				return err
			}
			return st.waitAPI(ctx, 2*time.Minute)
		}},
		{name: "restart PostgreSQL (pg_ctlcluster restart)", stays: true, hold: time.Millisecond,
			kill: func() error {
				var err error
				if pgStarted, err = postmasterStart(ctx, st); err != nil {
					return skipf("cannot read the server's start time: %v", err)
				}
				return restartPostgres(ctx, cfg.DatabaseURL)
			},
			start: func() error {
				t, err := waitPostgres(ctx, st, 2*time.Minute)
				if err != nil {
					return err
				}
				if !t.After(pgStarted) {
					return fmt.Errorf("pg_ctlcluster restarted a server, but not the one at DATABASE_URL (its start time is still %s)", t)
				}
				return st.waitAPI(ctx, 2*time.Minute)
			}},
		{name: "kill -9 temporal server (SQLite), restart on the same file", probes: true, kill: killing(st.temporal),
			start: func() error { return st.restartTemporal(ctx) }},
		{name: "full restart: kill -9 api, workers and temporal together", probes: true,
			kill: killing(append([]*proc{st.api, st.temporal}, st.workers...)...), start: restartAll},
	}
	for _, f := range faults {
		if f.probes {
			ids, err := r.sendProbes(ctx, len(probeIDs))
			if err != nil {
				return err
			}
			probeIDs = append(probeIDs, ids...)
			// Kill just before the probes' waits fall due, so that they fall
			// due while the system is down.
			if err := sleep(cfg.ProbeWait - 3*time.Second); err != nil {
				return err
			}
		}
		fr := &FaultResult{Fault: f.name, PendingBefore: samples.maxSince(time.Now().Add(-5 * time.Second))}
		var seq int64
		if err := retryDB(ctx, func() error {
			return st.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&seq)
		}); err != nil {
			return err
		}
		retries0 := atomic.LoadInt64(&live.retries)
		t0 := time.Now()
		fr.AtSeconds = t0.Sub(start).Seconds()
		fr.from = t0
		r.logf("fault: %s", f.name)
		if !f.stays {
			for _, p := range st.procs() {
				p.expectDown.Store(true)
			}
		}
		if err := f.kill(); err != nil {
			var skip *errSkip
			if !errors.As(err, &skip) {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			fr.Skipped = skip.reason
			r.res.Faults = append(r.res.Faults, fr)
			r.logf("fault: %s: SKIPPED: %s", f.name, skip.reason)
			continue
		}
		hold := f.hold
		if hold == 0 {
			hold = restartDelay
		}
		if err := sleep(hold); err != nil {
			return err
		}
		if err := f.start(); err != nil {
			return fmt.Errorf("restarting after %q: %w", f.name, err)
		}
		for _, p := range st.procs() {
			p.expectDown.Store(false)
		}
		fr.DownSeconds = time.Since(t0).Seconds()
		// Recovered: an event received after the kill has been applied.
		deadline := t0.Add(faultTimeout)
		for {
			var at *time.Time
			err := st.pool.QueryRow(ctx, `SELECT min(applied_at) FROM events WHERE seq > $1`, seq).Scan(&at)
			if err == nil && at != nil {
				fr.RecoveredSeconds = max(at.Sub(t0).Seconds(), 0)
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if aerr := st.checkAlive(); aerr != nil {
				return fmt.Errorf("%s: %w", f.name, aerr)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: no event applied %s after the fault (last error: %v)", f.name, faultTimeout, err)
			}
			if err := sleep(100 * time.Millisecond); err != nil {
				return err
			}
		}
		// Drained: the backlog is back to where it was.
		level := max(fr.PendingBefore, int(rate/2)) + 10
		for {
			if n := samples.last(); n <= level {
				fr.DrainedSeconds = time.Since(t0).Seconds()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: backlog of %d events not drained after %s", f.name, samples.last(), faultTimeout)
			}
			if err := sleep(pendingSample); err != nil {
				return err
			}
		}
		fr.until = time.Now()
		fr.MaxPending = samples.maxSince(t0)
		fr.ClientRetries = atomic.LoadInt64(&live.retries) - retries0
		r.res.Faults = append(r.res.Faults, fr)
		r.logf("fault: %s: down %.1fs, events applied again after %.1fs, backlog (max %d) drained after %.1fs",
			f.name, fr.DownSeconds, fr.RecoveredSeconds, fr.MaxPending, fr.DrainedSeconds)
		if err := sleep(faultSettle); err != nil {
			return err
		}
	}
	if pz != nil {
		r.logf("faults: sending the poison kinds not reached yet")
		pz.flush(ctx)
	}
	close(stop)
	lr := <-loadDone
	if lr.err != nil {
		return fmt.Errorf("faults: %w", lr.err)
	}
	r.logf("faults: %d events sent at %.0f/s, %d requests resent", lr.events, rate, lr.retries)
	note := "events sent while processes were killed and restarted"
	if pz != nil {
		note += fmt.Sprintf(", with %d poison requests", pz.res.PoisonEvents)
	}
	r.res.Phases = append(r.res.Phases, &Phase{Name: "leadflow-faults", System: "leadflow", Dist: DistUniform, Events: lr.events,
		TargetRate: rate, Seconds: time.Since(start).Seconds(), Requests: lr.requests, Retries: lr.retries, Drained: true,
		Note: note})
	if err := r.waitProbes(ctx, probeIDs); err != nil {
		return err
	}
	if _, err := st.waitApplied(ctx, cfg.DrainTimeout); err != nil {
		return fmt.Errorf("faults: %w", err)
	}
	sr, err := r.stalls(ctx, start, r.res.Faults)
	if err != nil {
		return err
	}
	r.res.Stalls = sr
	r.logf("faults: %s", sr.summary())
	return nil
}

// retryDB runs a query of the bench's own until it succeeds or 30 s pass
// (the bench's pool meets a restarting PostgreSQL too).
func retryDB(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := fn()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// sendProbes starts the probe flow (a short wait, then a tag) on a few contacts.
func (r *runner) sendProbes(ctx context.Context, offset int) ([]string, error) {
	// Disqualified contacts enter no flow: probe the others.
	rows, err := r.st.pool.Query(ctx, `SELECT id FROM contacts WHERE id LIKE $1 AND NOT disqualified ORDER BY md5(id) LIMIT $2 OFFSET $3`,
		r.w.Prefix+"%", probesPerSet, offset)
	if err != nil {
		return nil, err
	}
	var contacts []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		contacts = append(contacts, id)
	}
	rows.Close()
	var evs []Event
	var ids []string
	for i, c := range contacts {
		id := fmt.Sprintf("%sprobe-%04d", r.w.Prefix, offset+i)
		evs = append(evs, Event{ID: id, ContactID: c, Type: ProbeEvent, Properties: map[string]any{}})
		ids = append(ids, id)
	}
	sent, _, err := r.st.client.sendBatch(ctx, evs)
	if err != nil {
		return nil, err
	}
	r.sent.add(sent)
	r.logf("faults: %d probe runs started (a %s wait each)", len(ids), r.cfg.ProbeWait)
	return ids, nil
}

// waitProbes waits until every probe's wait fired and measures how late.
func (r *runner) waitProbes(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	pr := &ProbeResult{Probes: len(ids)}
	r.res.Probe = pr
	deadline := time.Now().Add(r.cfg.ProbeWait + 3*time.Minute)
	for {
		var q []float64
		err := r.st.pool.QueryRow(ctx, `SELECT count(*), percentile_cont(ARRAY[0.5, 1.0]) WITHIN GROUP (ORDER BY extract(epoch FROM r.finished_at - r.started_at) - $3)
			FROM flow_runs r WHERE r.flow_id = $1 AND r.trigger_event_id = ANY($2) AND r.status = 'completed'`, ProbeFlowID, ids, r.cfg.ProbeWait.Seconds()).Scan(&pr.Fired, &q)
		if err != nil {
			return err
		}
		if len(q) == 2 {
			pr.LatenessP50Ms, pr.LatenessMaxMs = q[0]*1000, q[1]*1000
		}
		if pr.Fired == len(ids) {
			pr.OK = true
			break
		}
		if time.Now().After(deadline) {
			pr.Detail = fmt.Sprintf("%d of %d probe waits fired", pr.Fired, len(ids))
			break
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
	r.logf("faults: %d of %d probe waits fired, lateness p50 %.0fms max %.0fms", pr.Fired, pr.Probes, pr.LatenessP50Ms, pr.LatenessMaxMs)
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
