//go:build linux

package devserver

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestStoreBench measures workflows started and completed per second on each
// store, with the server, one worker and the load generator in this process
// (as in `leadflow dev`), and the CPU each workflow costs here and in the
// PostgreSQL backends. Skipped unless asked for:
//
//	go test ./devserver -run TestStoreBench -storebench -v -timeout 30m \
//	    [-storebench.cases 'sqlite-wal/shards=1,postgres-sync-commit-off/shards=4']
//
// It uses TEST_DATABASE_URL's server and drops its own temporal_storebench_*
// databases.
var (
	storeBench       = flag.Bool("storebench", false, "run TestStoreBench: workflow throughput per store")
	storeBenchTime   = flag.Duration("storebench.time", 10*time.Second, "measuring time per case and round")
	storeBenchConc   = flag.Int("storebench.conc", 32, "workflows in flight")
	storeBenchCases  = flag.String("storebench.cases", "", "comma-separated case names to run (default all)")
	storeBenchRounds = flag.Int("storebench.rounds", 3, "rounds over all cases")
)

// EmptyWorkflow completes at once: one workflow task.
func EmptyWorkflow(ctx workflow.Context) error { return nil }

// ActivityWorkflow runs one activity.
func ActivityWorkflow(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	return workflow.ExecuteActivity(ctx, NoopActivity).Get(ctx, nil)
}

// NoopActivity does nothing.
func NoopActivity(context.Context) error { return nil }

type benchCase struct {
	name   string
	opts   Options
	before func(t *testing.T) // once, before the first round
	tune   func() (restore func())
}

func TestStoreBench(t *testing.T) {
	if !*storeBench {
		t.Skip("throughput measurement: run with -storebench")
	}
	pgURL := testPostgresURL(t)
	dropDB := func(names ...string) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, pgURL)
		require.NoError(t, err)
		defer func() { _ = conn.Close(ctx) }()
		for _, n := range names {
			_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
			require.NoError(t, err)
		}
	}
	pg := func(shards int32, syncCommit string) benchCase {
		db := fmt.Sprintf("temporal_storebench_s%d_sc%s", shards, syncCommit)
		return benchCase{
			name:   fmt.Sprintf("postgres-sync-commit-%s/shards=%d", syncCommit, shards),
			opts:   Options{Store: StorePostgres, PostgresURL: pgURL, PostgresDatabase: db, HistoryShards: shards},
			before: func(*testing.T) { dropDB(db, db+"_visibility") },
			tune: func() func() {
				saved := pgSynchronousCommit
				pgSynchronousCommit = syncCommit
				return func() { pgSynchronousCommit = saved }
			},
		}
	}
	sqlite := func(name string, shards int32, conns int, pragmas map[string]string) benchCase {
		return benchCase{
			name: name,
			opts: Options{Store: StoreSQLite, HistoryShards: shards},
			tune: func() func() {
				savedConns, savedPragmas := sqliteMaxConns, sqlitePragmas
				sqliteMaxConns, sqlitePragmas = conns, pragmas
				return func() { sqliteMaxConns, sqlitePragmas = savedConns, savedPragmas }
			},
		}
	}
	wal := sqlitePragmas
	cases := []benchCase{
		{name: "memory/shards=1", opts: Options{Store: StoreMemory}},
		sqlite("sqlite-rollback-journal(cli-default)/shards=1", 1, 1, map[string]string{}),
		sqlite("sqlite-wal/shards=1", 1, 1, wal),
		sqlite("sqlite-wal/shards=4", 4, 1, wal),
		sqlite("sqlite-wal-4conns/shards=1", 1, 4, wal),
		pg(1, "on"),
		pg(1, "off"),
		pg(4, "off"),
		pg(8, "off"),
	}
	want := map[string]bool{}
	for _, n := range strings.Split(*storeBenchCases, ",") {
		if n != "" {
			want[n] = true
		}
	}
	workloads := []struct {
		name string
		fn   any
	}{{"empty", EmptyWorkflow}, {"1-activity", ActivityWorkflow}}

	// Rounds interleave the cases so that load from elsewhere on the
	// machine spreads over all of them; the best round is the least
	// disturbed. CPU per workflow is the steadier figure.
	type sample struct{ rate, cpuSelf, cpuPG float64 }
	samples := map[string][]sample{}
	dirs := map[string]string{}
	benchDir := t.TempDir()
	for round := 1; round <= *storeBenchRounds; round++ {
		for _, bc := range cases {
			if len(want) > 0 && !want[bc.name] {
				continue
			}
			t.Run(fmt.Sprintf("%s/round=%d", bc.name, round), func(t *testing.T) {
				if bc.before != nil && round == 1 {
					bc.before(t)
				}
				if bc.tune != nil {
					defer bc.tune()()
				}
				if bc.opts.Store == StoreSQLite {
					if dirs[bc.name] == "" {
						dirs[bc.name] = filepath.Join(benchDir, strings.NewReplacer("/", "_", "=", "").Replace(bc.name))
					}
					bc.opts.DataDir = dirs[bc.name]
				}
				bc.opts.LogLevel = "error"
				s := startServer(t, bc.opts)
				defer func() { _ = s.Stop() }()
				c := dial(t, s)
				defer c.Close()
				w := worker.New(c, "storebench", worker.Options{
					MaxConcurrentWorkflowTaskPollers: 4,
					MaxConcurrentActivityTaskPollers: 4,
				})
				w.RegisterWorkflow(EmptyWorkflow)
				w.RegisterWorkflow(ActivityWorkflow)
				w.RegisterActivity(NoopActivity)
				require.NoError(t, w.Start())
				defer w.Stop()

				// What the server costs doing nothing (timers, queue readers,
				// system workflows): a laptop pays it all day.
				if round == 1 {
					time.Sleep(2 * time.Second)
					self0, pg0 := selfCPU(), postgresCPU(pgURL)
					time.Sleep(10 * time.Second)
					idle := selfCPU() - self0 + cpuDelta(pg0, postgresCPU(pgURL))
					t.Logf("idle: %.1f%% of one core", float64(idle)/float64(10*time.Second)*100)
				}
				for _, wl := range workloads {
					runFor(t, c, wl.fn, 2*time.Second) // warm up
					self0, pg0 := selfCPU(), postgresCPU(pgURL)
					n, p50, p99 := runFor(t, c, wl.fn, *storeBenchTime)
					self, pgCPU := selfCPU()-self0, cpuDelta(pg0, postgresCPU(pgURL))
					perWF := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(max(n, 1)) }
					smp := sample{float64(n) / storeBenchTime.Seconds(), perWF(self), perWF(pgCPU)}
					samples[bc.name+" "+wl.name] = append(samples[bc.name+" "+wl.name], smp)
					t.Logf("%-10s %6.1f wf/s  p50 %6v  p99 %6v  cpu/wf %5.1fms + postgres %5.1fms  load %s",
						wl.name, smp.rate, p50, p99, smp.cpuSelf, smp.cpuPG, loadAvg())
				}
			})
		}
	}

	var report []string
	for _, bc := range cases {
		for _, wl := range workloads {
			ss := samples[bc.name+" "+wl.name]
			if len(ss) == 0 {
				continue
			}
			rates := make([]float64, len(ss))
			cpu := make([]float64, len(ss))
			for i, x := range ss {
				rates[i], cpu[i] = x.rate, x.cpuSelf+x.cpuPG
			}
			report = append(report, fmt.Sprintf("%-46s %-10s best %6.1f wf/s  median %6.1f wf/s  cpu/wf (process+postgres) median %5.1fms  rounds %v",
				bc.name, wl.name, slicesMax(rates), median(rates), median(cpu), fmtRates(rates)))
		}
	}
	t.Logf("workflows started and completed per second, %d in flight, %v per round:\n%s",
		*storeBenchConc, *storeBenchTime, strings.Join(report, "\n"))
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func slicesMax(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func fmtRates(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.1f", x)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// runFor keeps storeBenchConc workflows in flight for d and returns how many
// completed and the median and 99th percentile start-to-result latency.
func runFor(t *testing.T, c client.Client, wf any, d time.Duration) (int64, time.Duration, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		done int64
		mu   sync.Mutex
		lats []time.Duration
		wg   sync.WaitGroup
	)
	for range *storeBenchConc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				began := time.Now()
				run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "storebench"}, wf)
				if err != nil {
					continue
				}
				if err := run.Get(ctx, nil); err != nil {
					continue
				}
				atomic.AddInt64(&done, 1)
				mu.Lock()
				lats = append(lats, time.Since(began))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(lats) == 0 {
		return 0, 0, 0
	}
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	q := func(p float64) time.Duration { return lats[int(p*float64(len(lats)-1))].Round(time.Millisecond) }
	return done, q(0.5), q(0.99)
}

// selfCPU is this process's CPU time so far (server, worker and load
// generator all live here).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU is the CPU time of the PostgreSQL backends serving the
// storebench databases (other users of the same server are not counted).
// Backends are keyed by pid so that a sample can be diffed against another.
func postgresCPU(url string) map[int]time.Duration {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil
	}
	defer func() { _ = conn.Close(ctx) }()
	rows, err := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname LIKE 'temporal_storebench%'")
	if err != nil {
		return nil
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil
	}
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		if d, ok := procCPU(int(pid)); ok {
			out[int(pid)] = d
		}
	}
	return out
}

// cpuDelta is the CPU the backends in after used since before.
func cpuDelta(before, after map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, a := range after {
		d += a - before[pid]
	}
	return d
}

// procCPU reads a process's user+system CPU time from /proc (Linux).
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	closing := strings.LastIndexByte(s, ')')
	if closing < 0 || closing+2 > len(s) {
		return 0, false
	}
	fields := strings.Fields(s[closing+2:])
	if len(fields) < 13 {
		return 0, false
	}
	u, _ := strconv.ParseInt(fields[11], 10, 64)          // utime
	k, _ := strconv.ParseInt(fields[12], 10, 64)          // stime
	return time.Duration(u+k) * (time.Second / 100), true // USER_HZ
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
