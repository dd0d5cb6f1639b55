// Package bench is leadflow's benchmark: it starts a stack of its own (the
// embedded Temporal server, the API and workers as child processes, a fresh
// PostgreSQL database) or aims at a running one, creates contacts, sends a
// realistic mix of events over the HTTP API, measures throughput, latency,
// flow steps, CPU and memory, runs the three baselines every claim is a
// ratio against (one workflow per event; one entity workflow per contact;
// the database alone), checks the outcome exactly against an independent
// reference, and can inject faults (kill -9 a worker, the API, the Temporal
// server) while events flow.
//
// `leadflow bench` is its command; BENCHMARKS.md holds the latest figures.
// This package owns only the bench's own tables (in a database of their
// own); it changes leadflow's database through the HTTP API alone.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Config configures a run. Zero values take the defaults of Defaults.
type Config struct {
	// DatabaseURL names the PostgreSQL server; the run's databases are
	// created there (Database, Database_baselines, Database_temporal*). With
	// Target, it is the running stack's database, read for the checks.
	DatabaseURL string
	Database    string
	// Target is the URL of a running leadflow API to aim at instead of
	// starting a stack; AdminKey and IngestKey are its keys.
	Target              string
	AdminKey, IngestKey string
	// TemporalAddress uses a running Temporal server (for the baselines
	// with Target, or instead of starting one).
	TemporalAddress string
	Namespace       string
	TaskQueue       string
	// TemporalStore is the embedded server's store: postgres or sqlite.
	TemporalStore string

	Contacts int
	// Events per distribution for leadflow at full speed (the baselines
	// get the same events, capped by BaselineTime).
	Events int
	Dists  []string
	// Rate, when set, replaces the full-speed leadflow phase by one at this
	// rate (events/s).
	Rate float64
	// HalfRateTime is how long leadflow runs at half its measured rate
	// (the latency phase); negative skips it.
	HalfRateTime time.Duration
	// FixedRate (events/s, default 500) for FixedRateTime (default 20s,
	// 4s with Quick): the latency phase at a fixed rate; FixedRateTime
	// negative skips it.
	FixedRate     float64
	FixedRateTime time.Duration
	// Failover: with several worker counts (Workers), kill -9 one worker
	// after each step of two or more and measure how long until its
	// partitions are owned by the others.
	Failover     bool
	Baselines    []string
	BaselineTime time.Duration
	// Senders concurrent HTTP clients, BatchSize events per request.
	Senders   int
	BatchSize int
	// Workers: the number of worker processes; several values make a
	// fleet run (uniform traffic with each count).
	Workers []int

	// Faults kills processes while events flow (see faults.go);
	// FaultsWithPhases also runs the throughput phases first.
	Faults           bool
	FaultsWithPhases bool
	FaultRate        float64
	ProbeWait        time.Duration
	// PoisonEvery: with Faults, one poison request per this many events of
	// the load (0: DefaultPoisonEvery; negative: none); Poison selects the
	// kinds (see selectPoison; "" or "all": every kind).
	PoisonEvery int
	Poison      string

	CRMWebhook   bool
	ProfileDir   string
	ProfileTime  time.Duration
	DrainTimeout time.Duration
	Seed         uint64
	Quick        bool
	// WorkDir holds the processes' logs and the SQLite file.
	WorkDir string
	Command CommandFunc
	Log     io.Writer
}

// Defaults fills the zero values of c.
func (c *Config) Defaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	if c.Quick {
		def(&c.Contacts, 1000)
		def(&c.Events, 5000)
		if c.HalfRateTime == 0 {
			c.HalfRateTime = 6 * time.Second
		}
		if c.BaselineTime == 0 {
			c.BaselineTime = 5 * time.Second
		}
		if c.FixedRateTime == 0 {
			c.FixedRateTime = 4 * time.Second
		}
	}
	if c.FixedRate == 0 {
		c.FixedRate = 500
	}
	if c.FixedRateTime == 0 {
		c.FixedRateTime = 20 * time.Second
	}
	def(&c.Contacts, 10000)
	def(&c.Events, 50000)
	def(&c.Senders, 4)
	def(&c.BatchSize, 100)
	if c.HalfRateTime == 0 {
		c.HalfRateTime = 30 * time.Second
	}
	if c.BaselineTime == 0 {
		c.BaselineTime = 30 * time.Second
	}
	if c.Database == "" {
		c.Database = "leadflow_bench"
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.TaskQueue == "" {
		c.TaskQueue = "leadflow-bench"
	}
	if c.TemporalStore == "" {
		c.TemporalStore = "postgres"
	}
	if len(c.Dists) == 0 {
		c.Dists = []string{DistUniform, DistZipf}
	}
	if c.Baselines == nil {
		c.Baselines = []string{SystemNaive, SystemEntity, SystemCeiling}
	}
	if len(c.Workers) == 0 {
		c.Workers = []int{1}
	}
	if c.FaultRate == 0 {
		c.FaultRate = 200
	}
	if c.PoisonEvery == 0 {
		c.PoisonEvery = DefaultPoisonEvery
	}
	if c.ProbeWait == 0 {
		c.ProbeWait = 15 * time.Second
	}
	if c.ProfileTime == 0 {
		c.ProfileTime = 20 * time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 10 * time.Minute
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.WorkDir == "" {
		c.WorkDir = "bench-results/work"
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Results are the figures of a run (written as JSON).
type Results struct {
	StartedAt  time.Time                `json:"started_at"`
	Seconds    float64                  `json:"seconds"`
	Machine    Machine                  `json:"machine"`
	Settings   Settings                 `json:"settings"`
	Contacts   *ContactsResult          `json:"contacts,omitempty"`
	Phases     []*Phase                 `json:"phases"`
	Ratios     []Ratio                  `json:"ratios,omitempty"`
	Fleet      []*FleetStep             `json:"fleet,omitempty"`
	Faults     []*FaultResult           `json:"faults,omitempty"`
	Probe      *ProbeResult             `json:"probe,omitempty"`
	Poison     *PoisonResult            `json:"poison,omitempty"`
	Stalls     *StallResult             `json:"stalls,omitempty"`
	Check      *CheckResult             `json:"check,omitempty"`
	Baselines  map[string]BaselineCheck `json:"baseline_checks,omitempty"`
	Processes  []ProcResult             `json:"processes"`
	Webhooks   WebhookStats             `json:"webhooks"`
	Passed     bool                     `json:"passed"`
	FailReason string                   `json:"fail_reason,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs            int    `json:"cpus"`
	MemoryBytes     int64  `json:"memory_bytes"`
	GoVersion       string `json:"go_version"`
	PostgresVersion string `json:"postgres_version"`
	Kernel          string `json:"kernel"`
	LoadAvgAtStart  string `json:"loadavg_at_start"`
	// Build is the commit the binary was built from (+dirty when modified).
	Build string `json:"build,omitempty"`
}

// Settings are the run's parameters.
type Settings struct {
	Contacts      int      `json:"contacts"`
	Events        int      `json:"events_per_distribution"`
	Dists         []string `json:"distributions"`
	TemporalStore string   `json:"temporal_store"`
	Workers       []int    `json:"workers"`
	Senders       int      `json:"senders"`
	BatchSize     int      `json:"batch_size"`
	Quick         bool     `json:"quick"`
	Faults        bool     `json:"faults"`
	CRMWebhook    bool     `json:"crm_webhook"`
	Target        string   `json:"target,omitempty"`
	ZipfS         float64  `json:"zipf_s"`
	ZipfV         float64  `json:"zipf_v"`
}

// ContactsResult is the contact-creation phase: identify events creating
// contacts, each entering the 60-day wait of dead-end-no-opens.
type ContactsResult struct {
	Count          int     `json:"count"`
	AppliedSeconds float64 `json:"applied_seconds"`
	// WaitsSeconds is the time until every contact's run was waiting in
	// PostgreSQL with its Temporal workflow started (outbox dispatched).
	WaitsSeconds float64 `json:"waits_seconds"`
	Waiting      int     `json:"waiting_runs"`
	PerSecond    float64 `json:"waits_per_second"`
}

// Phase is one measured load of one system.
type Phase struct {
	Name            string      `json:"name"`
	System          string      `json:"system"` // leadflow, naive, entity, ceiling
	Dist            string      `json:"dist"`
	Events          int         `json:"events"`
	TargetRate      float64     `json:"target_rate,omitempty"`
	Seconds         float64     `json:"seconds"`
	AcceptedPerSec  float64     `json:"accepted_per_sec"`
	ProcessedPerSec float64     `json:"processed_per_sec"`
	Drained         bool        `json:"drained"`
	LatencyDB       Percentiles `json:"latency_db"`
	LatencySeen     Percentiles `json:"latency_observed"`
	FlowSteps       int64       `json:"flow_steps"`
	FlowStepsPerSec float64     `json:"flow_steps_per_sec"`
	CRMTasks        int64       `json:"crm_tasks"`
	// ApplyBatches: partition transactions that applied events.
	ApplyBatches float64 `json:"apply_batches,omitempty"`
	// TemporalWork: what the engine handed Temporal through the outbox
	// (start_run, signal_run, deliver), by kind.
	TemporalWork map[string]int64   `json:"temporal_work,omitempty"`
	Requests     int64              `json:"requests"`
	Retries      int64              `json:"retries"`
	CPU          map[string]float64 `json:"cpu_seconds"`
	// CPUPer1000: CPU seconds per 1,000 events, per process.
	CPUPer1000 map[string]float64 `json:"cpu_seconds_per_1000_events,omitempty"`
	// LongestStall (leadflow phases): the longest a partition held pending
	// events of the phase without applying any.
	LongestStall *Stall `json:"longest_stall,omitempty"`
	Note         string `json:"note,omitempty"`
}

// Ratio compares leadflow's full-speed phase with a baseline.
type Ratio struct {
	Dist     string  `json:"dist"`
	Baseline string  `json:"baseline"`
	Leadflow float64 `json:"leadflow_per_sec"`
	Other    float64 `json:"baseline_per_sec"`
	Ratio    float64 `json:"ratio"`
	Target   float64 `json:"target"`
	Met      bool    `json:"met"`
}

// ProcResult is a process's CPU and peak memory over the whole run.
type ProcResult struct {
	Name         string  `json:"name"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	Restarts     int     `json:"restarts"`
}

// WebhookStats counts what the bench's webhook sink received.
type WebhookStats struct {
	Received     int `json:"received"`
	DistinctKeys int `json:"distinct_idempotency_keys"`
}

// Targets of the issue.
const (
	TargetVsNaive   = 20
	TargetVsEntity  = 3
	TargetVsCeiling = 0.5
	TargetP99Ms     = 250
	// TargetP99FixedMs: p99 acceptance→score at FixedRate (500 events/s).
	TargetP99FixedMs = 100
	// TargetFailover: a killed worker's partitions owned by the others.
	TargetFailover = 10 * time.Second
	MaxRSSBytes    = 1 << 30
)

// Run runs the bench and returns its results; an error means the run
// could not be carried out. A failed correctness check is Results.Passed
// false, not an error.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	cfg.Defaults()
	if cfg.Command == nil && cfg.Target == "" {
		return nil, errors.New("bench: no command to start the stack's processes")
	}
	if cfg.Faults && cfg.Target == "" && cfg.TemporalAddress == "" && cfg.TemporalStore != "sqlite" {
		fmt.Fprintf(cfg.Log, "faults: the Temporal server restarts on its SQLite file: using --temporal-store sqlite\n")
		cfg.TemporalStore = "sqlite"
	}
	r := &runner{cfg: &cfg, res: &Results{StartedAt: time.Now(), Baselines: map[string]BaselineCheck{}}}
	r.res.Machine = machine()
	r.res.Settings = Settings{Contacts: cfg.Contacts, Events: cfg.Events, Dists: cfg.Dists, TemporalStore: cfg.TemporalStore,
		Workers: cfg.Workers, Senders: cfg.Senders, BatchSize: cfg.BatchSize, Quick: cfg.Quick, Faults: cfg.Faults,
		CRMWebhook: cfg.CRMWebhook, Target: cfg.Target, ZipfS: ZipfS, ZipfV: ZipfV}
	if cfg.TemporalAddress != "" || cfg.Target != "" {
		r.res.Settings.TemporalStore = "external"
	}
	err := r.run(ctx)
	r.res.fillPer1000()
	r.res.Seconds = time.Since(r.res.StartedAt).Seconds()
	return r.res, err
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
				m.MemoryBytes = kb * 1024
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision":
				rev = kv.Value
			case "vcs.modified":
				if kv.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if rev != "" {
			m.Build = rev[:min(12, len(rev))] + dirty
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvgAtStart = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}
