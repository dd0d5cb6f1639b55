package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/leadflow/leadflow/bench"
)

// runBench is `leadflow bench`: the benchmark against the baselines, with
// its correctness check (see package bench). Its first argument may also
// name one of the processes the bench starts for itself (not listed in
// --help): temporal-server, baseline-worker, or "profiled api|worker" (the
// API or a worker that also serve net/http/pprof).
func runBench(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "temporal-server":
			return runBenchTemporal(args[1:], stdout, stderr)
		case "baseline-worker":
			return runBenchBaselineWorker(args[1:], stderr)
		case "profiled":
			return runProfiled(args[1:], stdout, stderr)
		}
	}
	var (
		c        config
		cfg      bench.Config
		dists    string
		workers  string
		base     string
		out      string
		contacts int
		events   int
		poison   int
		hot      bench.HotConfig
		runHot   bool
	)
	fs := newFlagSet("bench", `Benchmark leadflow against its baselines on this machine, and check the outcome exactly.

It starts its own stack — the embedded Temporal server, "leadflow api" and
"leadflow worker" as child processes, a fresh database on DATABASE_URL's
server (--database, dropped and recreated) — or aims at a running API
(--target). It creates contacts, sends a realistic mix of events over the
HTTP API (uniform and Zipf-skewed over contacts), measures events accepted
and processed per second, acceptance→applied latency, flow steps, CPU and
peak memory of every process, runs the same events through the baselines
(one workflow per event; one entity workflow per contact with a
SignalWithStart per event; plain batched SQL) and prints the ratios. Every
run ends with a correctness check against an independent reference; any
difference fails the run (exit 1). --quick finishes in under two minutes.`, stderr)
	c.bindDatabase(fs)
	fs.StringVar(&cfg.Database, "database", "leadflow_bench", "database created for the run on DATABASE_URL's server (dropped first); also <name>_baselines, <name>_temporal*")
	fs.StringVar(&cfg.Target, "target", "", "URL of a running leadflow API to aim at instead of starting a stack (DATABASE_URL must be its database; keys from LEADFLOW_ADMIN_KEY / LEADFLOW_INGEST_KEY; baselines need TEMPORAL_ADDRESS)")
	fs.StringVar(&cfg.TemporalStore, "temporal-store", "postgres", "the embedded Temporal server's store: postgres or sqlite (--faults uses sqlite)")
	fs.BoolVar(&cfg.Quick, "quick", false, "CI smoke run: 1,000 contacts, 5,000 events per distribution, short phases (under two minutes)")
	fs.IntVar(&contacts, "contacts", 0, "contacts to create (default 10,000; --quick 1,000)")
	fs.IntVar(&events, "events", 0, "events per distribution for leadflow at full speed (default 50,000; --quick 5,000)")
	fs.StringVar(&dists, "dist", "uniform,zipf", "distributions of events over contacts: uniform, zipf (comma-separated)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "send leadflow's events at this rate (events/s) instead of as fast as acknowledged")
	fs.DurationVar(&cfg.HalfRateTime, "half-rate-time", 0, "how long leadflow runs at half its measured rate, for latency (default 30s; --quick 6s; 0: none)")
	fs.StringVar(&base, "baselines", "naive,entity,ceiling", "baselines to run (comma-separated; empty for none)")
	fs.Float64Var(&cfg.FixedRate, "fixed-rate", 500, "rate (events/s) of the fixed-rate latency phase (p99 acceptance→score, target < 100ms)")
	fs.DurationVar(&cfg.FixedRateTime, "fixed-rate-time", 0, "how long the fixed-rate latency phase runs (default 20s; --quick 4s; 0: none)")
	fs.BoolVar(&cfg.Failover, "failover", true, "with a --workers list, kill -9 one worker after each step of two or more and measure how long until its partitions are owned by the others (target ≤ 10s)")
	fs.DurationVar(&cfg.BaselineTime, "baseline-time", 0, "longest a baseline is fed events (default 30s; --quick 5s)")
	fs.IntVar(&cfg.Senders, "clients", 4, "concurrent HTTP clients")
	fs.IntVar(&cfg.BatchSize, "batch", 100, "events per request")
	fs.StringVar(&workers, "workers", "1", "worker processes; a list (1,2,3) makes a fleet run with each count")
	fs.BoolVar(&cfg.Faults, "faults", false, "kill -9 a worker, the API, the Temporal server and everything, pause a worker (SIGSTOP) past its heartbeat timeout and restart PostgreSQL while events flow, with poison events mixed in; check nothing is lost or counted twice, every poison event is refused or quarantined and no partition stalls")
	fs.IntVar(&poison, "poison-every", bench.DefaultPoisonEvery, "with --faults, one poison request per this many events (every kind at least once; 0: none)")
	fs.StringVar(&cfg.Poison, "poison", "all", "with --faults, the poison kinds: all, none, or a comma-separated list of refused, conflict, duplicate, applied, quarantined or words of kind names")
	fs.BoolVar(&cfg.FaultsWithPhases, "faults-with-phases", false, "with --faults, also run the throughput phases first")
	fs.Float64Var(&cfg.FaultRate, "fault-rate", 200, "events/s during --faults when no full-speed phase measured the rate")
	fs.BoolVar(&cfg.CRMWebhook, "crm-webhook", false, "set CRM_WEBHOOK_URL (a sink in the bench): every CRM task is delivered by a workflow")
	fs.StringVar(&cfg.ProfileDir, "profile", "", "write CPU profiles of the API, workers, Temporal server and bench (first full-speed phase) into this directory")
	fs.DurationVar(&cfg.ProfileTime, "profile-time", 20*time.Second, "length of the CPU profiles")
	fs.StringVar(&out, "out", "", "write the figures as JSON here (default bench-results/<timestamp>.json)")
	fs.StringVar(&cfg.WorkDir, "work-dir", "", "directory for the processes' logs and the SQLite file (default bench-results/<timestamp>/)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the generated contacts and events")
	fs.BoolVar(&runHot, "hot", false, "run only the hot-contact scenario: the per-event apply time of a contact with --hot-events events counted by filtered rules, against a quiet contact (engine alone, no HTTP or Temporal)")
	fs.IntVar(&hot.HotEvents, "hot-events", 100_000, "with --hot, the hot contact's events in the window")
	fs.IntVar(&hot.Samples, "hot-samples", 50, "with --hot, events measured per contact")
	fs.BoolVar(&hot.Keep, "hot-keep", false, "with --hot, leave its database (<database>_hot) for inspection")
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	if runHot {
		return runBenchHot(c.DatabaseURL, cfg.Database+"_hot", hot, stdout, stderr)
	}
	cfg.Contacts, cfg.Events = contacts, events
	cfg.PoisonEvery = poison
	if poison <= 0 {
		cfg.PoisonEvery = -1 // none
	}
	if flagSet(fs, "half-rate-time") && cfg.HalfRateTime <= 0 {
		cfg.HalfRateTime = -1 // none
	}
	if flagSet(fs, "fixed-rate-time") && cfg.FixedRateTime <= 0 {
		cfg.FixedRateTime = -1 // none
	}
	if cfg.FixedRate <= 0 {
		fmt.Fprintf(stderr, "leadflow bench: --fixed-rate %g: use a rate above 0 events/s\n", cfg.FixedRate)
		return 2
	}
	cfg.DatabaseURL = c.DatabaseURL
	cfg.Dists = splitList(dists)
	for _, d := range cfg.Dists {
		if d != bench.DistUniform && d != bench.DistZipf {
			fmt.Fprintf(stderr, "leadflow bench: --dist %q: use uniform or zipf\n", d)
			return 2
		}
	}
	cfg.Baselines = append([]string{}, splitList(base)...) // empty: none
	for _, b := range cfg.Baselines {
		if b != bench.SystemNaive && b != bench.SystemEntity && b != bench.SystemCeiling {
			fmt.Fprintf(stderr, "leadflow bench: --baselines %q: use naive, entity, ceiling\n", b)
			return 2
		}
	}
	for _, w := range splitList(workers) {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "leadflow bench: --workers %q: use counts such as 1 or 1,2,3\n", workers)
			return 2
		}
		cfg.Workers = append(cfg.Workers, n)
	}
	if cfg.Target != "" {
		cfg.AdminKey, cfg.IngestKey = os.Getenv("LEADFLOW_ADMIN_KEY"), os.Getenv("LEADFLOW_INGEST_KEY")
		cfg.TemporalAddress = os.Getenv("TEMPORAL_ADDRESS")
		cfg.Namespace = env("TEMPORAL_NAMESPACE", "default")
		if cfg.AdminKey == "" || cfg.IngestKey == "" {
			fmt.Fprintln(stderr, "leadflow bench: --target needs LEADFLOW_ADMIN_KEY and LEADFLOW_INGEST_KEY")
			return 2
		}
		if cfg.TemporalAddress == "" {
			cfg.Baselines = nil
		}
	}
	stamp := time.Now().Format("20060102-150405")
	if out == "" {
		out = filepath.Join("bench-results", stamp+".json")
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = filepath.Join("bench-results", stamp)
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "leadflow bench:", err)
		return 1
	}
	cfg.Command = func(role string, profile bool, args ...string) *exec.Cmd {
		switch {
		case role == "api" || role == "worker":
			if profile {
				return exec.Command(exe, append([]string{"bench", "profiled", role}, args...)...)
			}
			return exec.Command(exe, append([]string{role}, args...)...)
		default:
			return exec.Command(exe, append([]string{"bench", role}, args...)...)
		}
	}
	cfg.Log = stdout
	ctx, cancel := interruptContext()
	defer cancel()
	res, err := bench.Run(ctx, cfg)
	if res != nil {
		res.Print(stdout)
		if werr := res.WriteJSON(out); werr != nil {
			fmt.Fprintln(stderr, "leadflow bench:", werr)
		} else {
			fmt.Fprintf(stdout, "\nfigures written to %s; process logs in %s\n", out, cfg.WorkDir)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "leadflow bench:", err)
		return 1
	}
	if !res.Passed {
		return 1
	}
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// runBenchBaselineWorker runs the baselines' worker (started by the bench).
func runBenchBaselineWorker(args []string, stderr io.Writer) int {
	var o bench.BaselineWorkerOptions
	fs := newFlagSet("bench baseline-worker", "The baselines' Temporal worker, started by leadflow bench.", stderr)
	o.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return flagExit(err)
	}
	ctx, cancel := interruptContext()
	defer cancel()
	if err := bench.RunBaselineWorker(ctx, o, stderr); err != nil {
		fmt.Fprintln(stderr, "leadflow bench baseline-worker:", err)
		return 1
	}
	return 0
}

// runProfiled runs `leadflow api` or `leadflow worker` unchanged, plus
// net/http/pprof on $LEADFLOW_BENCH_PPROF_ADDR, for bench --profile.
func runProfiled(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "api" && args[0] != "worker") {
		fmt.Fprintln(stderr, "leadflow bench profiled: api or worker")
		return 2
	}
	if addr := os.Getenv("LEADFLOW_BENCH_PPROF_ADDR"); addr != "" {
		bench.ServePprof(addr, stderr)
	}
	if args[0] == "api" {
		return runAPI(args[1:], stdout, stderr)
	}
	return runWorker(args[1:], stdout, stderr)
}

// runBenchHot is `leadflow bench --hot`.
func runBenchHot(databaseURL, database string, hot bench.HotConfig, stdout, stderr io.Writer) int {
	hot.DatabaseURL, hot.Database, hot.Log = databaseURL, database, stdout
	ctx, cancel := interruptContext()
	defer cancel()
	res, err := bench.RunHot(ctx, hot)
	if err != nil {
		fmt.Fprintln(stderr, "leadflow bench --hot:", err)
		return 1
	}
	res.Print(stdout)
	return 0
}
