package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadflow/leadflow/definitions"
	"github.com/leadflow/leadflow/store"
)

// stack is the system under test: PostgreSQL databases, the Temporal
// server, the API and the workers, each a child process of the bench (or a
// running stack with --target).
type stack struct {
	cfg       *Config
	dir       string
	prefix    string
	dbURL     string // leadflow's database
	baseURL   string // the baselines' database
	pool      *pgxpool.Pool
	bpool     *pgxpool.Pool
	temporal  *proc
	tAddr     string
	tPort     int
	api       *proc
	apiURL    string
	workers   []*proc
	adminKey  string
	ingestKey string
	client    *apiClient
	sink      *webhookSink
	pg        *pgTracker
	dbNames   []string

	// excluded: events the poison wrote straight into the log, which the
	// engine must quarantine rather than apply (never pending for the bench).
	excludedMu sync.Mutex
	excluded   []string
}

// exclude leaves an event out of the pending count.
func (s *stack) exclude(id string) {
	s.excludedMu.Lock()
	s.excluded = append(s.excluded, id)
	s.excludedMu.Unlock()
}

func (s *stack) excludedIDs() []string {
	s.excludedMu.Lock()
	defer s.excludedMu.Unlock()
	return append([]string{}, s.excluded...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func withDatabase(u, name string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("invalid DATABASE_URL: %w", err)
	}
	p.Path = "/" + name
	return p.String(), nil
}

// recreateDatabase drops a database (closing its connections) and creates
// it empty.
func recreateDatabase(ctx context.Context, serverURL string, names ...string) error {
	admin, err := withDatabase(serverURL, "postgres")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("error connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	for _, n := range names {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("error dropping database %s: %w", n, err)
		}
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{names[0]}.Sanitize()); err != nil {
		return fmt.Errorf("error creating database %s: %w", names[0], err)
	}
	return nil
}

func dropDatabases(ctx context.Context, serverURL string, names ...string) error {
	admin, err := withDatabase(serverURL, "postgres")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, n := range names {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
			return err
		}
	}
	return nil
}

// setup prepares the databases and starts the processes.
func (s *stack) setup(ctx context.Context) error {
	cfg := s.cfg
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	s.pg = newPGTracker()
	var err error
	if cfg.Target == "" {
		s.dbURL, err = withDatabase(cfg.DatabaseURL, cfg.Database)
		if err != nil {
			return err
		}
		if err := recreateDatabase(ctx, cfg.DatabaseURL, cfg.Database); err != nil {
			return err
		}
		st, err := store.Open(ctx, s.dbURL, false)
		if err != nil {
			return err
		}
		_, err = st.Migrate(ctx)
		st.Close()
		if err != nil {
			return err
		}
		s.dbNames = append(s.dbNames, cfg.Database)
	} else {
		s.dbURL = cfg.DatabaseURL
		if p, err := url.Parse(s.dbURL); err == nil {
			s.dbNames = append(s.dbNames, strings.TrimPrefix(p.Path, "/"))
		}
	}
	s.pool, err = pgxpool.New(ctx, s.dbURL)
	if err != nil {
		return err
	}
	if len(cfg.Baselines) > 0 {
		name := cfg.Database + "_baselines"
		if err := recreateDatabase(ctx, cfg.DatabaseURL, name); err != nil {
			return err
		}
		s.baseURL, _ = withDatabase(cfg.DatabaseURL, name)
		s.bpool, err = pgxpool.New(ctx, s.baseURL)
		if err != nil {
			return err
		}
		s.dbNames = append(s.dbNames, name)
	}
	s.sink, err = newWebhookSink()
	if err != nil {
		return err
	}

	// Temporal.
	switch {
	case cfg.TemporalAddress != "":
		s.tAddr = cfg.TemporalAddress
	case cfg.Target != "":
	default:
		if err := s.startTemporal(ctx); err != nil {
			return err
		}
	}
	if cfg.Target != "" {
		s.apiURL = strings.TrimRight(cfg.Target, "/")
		s.adminKey, s.ingestKey = cfg.AdminKey, cfg.IngestKey
		s.client = newAPIClient(s.apiURL, s.adminKey, s.ingestKey, cfg.Senders)
		return s.publish(ctx)
	}

	// API and workers.
	s.adminKey, s.ingestKey = "bench_admin_"+randomHex(8), "bench_ingest_"+randomHex(8)
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s.apiURL = "http://" + addr
	s.api = s.newProc("api", "api", addr)
	if _, err := s.api.start(cfg.Command); err != nil {
		return err
	}
	if err := s.setWorkers(ctx, cfg.Workers[0]); err != nil {
		return err
	}
	s.client = newAPIClient(s.apiURL, s.adminKey, s.ingestKey, cfg.Senders)
	if err := s.waitAPI(ctx, 2*time.Minute); err != nil {
		return err
	}
	return s.publish(ctx)
}

func (s *stack) startTemporal(ctx context.Context) error {
	cfg := s.cfg
	port, err := freePort()
	if err != nil {
		return err
	}
	s.tPort = port
	args := []string{"--store", cfg.TemporalStore, "--port", strconv.Itoa(port), "--namespace", cfg.Namespace}
	switch cfg.TemporalStore {
	case "sqlite":
		dir := filepath.Join(s.dir, "temporal")
		_ = os.RemoveAll(dir)
		args = append(args, "--data-dir", dir)
	case "postgres":
		db := cfg.Database + "_temporal"
		if err := dropDatabases(ctx, cfg.DatabaseURL, db, db+"_visibility"); err != nil {
			return err
		}
		pgURL, _ := withDatabase(cfg.DatabaseURL, "postgres")
		args = append(args, "--postgres-url", pgURL, "--postgres-database", db)
		s.dbNames = append(s.dbNames, db, db+"_visibility")
	case "memory":
	default:
		return fmt.Errorf("--temporal-store %q: use postgres, sqlite or memory", cfg.TemporalStore)
	}
	if cfg.ProfileDir != "" {
		pp, err := freePort()
		if err != nil {
			return err
		}
		args = append(args, "--pprof-addr", "127.0.0.1:"+strconv.Itoa(pp))
	}
	s.temporal = &proc{name: "temporal", role: "temporal-server", args: args, logPath: filepath.Join(s.dir, "temporal.log")}
	for i, a := range args {
		if a == "--pprof-addr" {
			s.temporal.pprofAddr = args[i+1]
		}
	}
	s.tAddr = "127.0.0.1:" + strconv.Itoa(port)
	return s.restartTemporal(ctx)
}

// restartTemporal (re)starts the Temporal child on the same port and store.
func (s *stack) restartTemporal(ctx context.Context) error {
	line, err := s.temporal.start(s.cfg.Command)
	if err != nil {
		return err
	}
	l, err := waitLine(ctx, s.temporal, line, 3*time.Minute)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, tailLog(s.temporal.logPath, 20))
	}
	if !strings.HasPrefix(l, "READY ") {
		return fmt.Errorf("temporal server: unexpected first line %q", l)
	}
	return nil
}

// newProc describes a leadflow api or worker process.
func (s *stack) newProc(name, role, addr string) *proc {
	cfg := s.cfg
	env := []string{
		"DATABASE_URL=" + s.dbURL,
		"TEMPORAL_ADDRESS=" + s.tAddr,
		"TEMPORAL_NAMESPACE=" + cfg.Namespace,
		"LEADFLOW_TASK_QUEUE=" + cfg.TaskQueue,
		"LEADFLOW_ADMIN_KEY=" + s.adminKey,
		"LEADFLOW_INGEST_KEY=" + s.ingestKey,
		"LEADFLOW_LOG_LEVEL=warn",
		"LEADFLOW_LOG_FORMAT=json",
	}
	if role == "api" {
		env = append(env, "LEADFLOW_HTTP_ADDR="+addr)
	} else {
		// The sink (CRM tasks, the hot-lead webhook) listens on loopback,
		// which deliveries may not reach unless allowed.
		env = append(env, "LEADFLOW_METRICS_ADDR="+addr, "LEADFLOW_WEBHOOK_ALLOW=127.0.0.0/8,::1/128")
		if cfg.CRMWebhook {
			env = append(env, "CRM_WEBHOOK_URL="+s.sink.url+"/crm")
		} else {
			env = append(env, "CRM_WEBHOOK_URL=")
		}
	}
	p := &proc{name: name, role: role, env: env, addr: addr, logPath: filepath.Join(s.dir, name+".log"), profile: cfg.ProfileDir != ""}
	if p.profile {
		if pp, err := freePort(); err == nil {
			p.pprofAddr = "127.0.0.1:" + strconv.Itoa(pp)
			p.env = append(p.env, "LEADFLOW_BENCH_PPROF_ADDR="+p.pprofAddr)
		}
	}
	return p
}

// setWorkers stops the running workers and starts n new ones.
func (s *stack) setWorkers(ctx context.Context, n int) error {
	for _, w := range s.workers {
		w.stop(30 * time.Second)
	}
	s.workers = nil
	for i := 1; i <= n; i++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		w := s.newProc(fmt.Sprintf("worker-%d", i), "worker", "127.0.0.1:"+strconv.Itoa(port))
		if _, err := w.start(s.cfg.Command); err != nil {
			return err
		}
		s.workers = append(s.workers, w)
	}
	for _, w := range s.workers {
		if err := waitHTTP(ctx, "http://"+w.addr+"/metrics", w, time.Minute); err != nil {
			return err
		}
	}
	return nil
}

func (s *stack) waitAPI(ctx context.Context, timeout time.Duration) error {
	return waitHTTP(ctx, s.apiURL+"/readyz", s.api, timeout)
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, u string, p *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := hc.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if p != nil && !p.alive() {
			return fmt.Errorf("%s exited (see %s):\n%s", p.name, p.logPath, tailLog(p.logPath, 20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s", u, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// publish publishes the shipped definitions (the hot-lead webhook pointed
// at the bench's sink, as a deployment points it at its chat) plus, for a
// fault run, the probe flow.
func (s *stack) publish(ctx context.Context) error {
	var all []map[string]any
	for _, name := range definitions.Names() {
		b, err := definitions.FS.ReadFile(name)
		if err != nil {
			return err
		}
		var many []map[string]any
		if json.Unmarshal(b, &many) != nil {
			var one map[string]any
			if err := json.Unmarshal(b, &one); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			many = []map[string]any{one}
		}
		all = append(all, many...)
	}
	for _, d := range all {
		if d["id"] == "hot-lead-webhook" {
			for _, st := range d["steps"].([]any) {
				if m, ok := st.(map[string]any); ok && m["type"] == "webhook" {
					m["url"] = s.sink.url + "/hooks/hot-lead"
				}
			}
		}
	}
	if s.cfg.Faults {
		all = append(all, probeFlow(s.cfg.ProbeWait))
	}
	body, _ := json.Marshal(all)
	code, ans, err := s.client.post(ctx, "/v1/definitions", s.adminKey, body)
	if err != nil {
		return fmt.Errorf("error publishing the definitions: %w", err)
	}
	if code/100 != 2 {
		return fmt.Errorf("error publishing the definitions: %d %s", code, truncate(string(ans), 2000))
	}
	return nil
}

// procs lists the child processes (live or not).
func (s *stack) procs() []*proc {
	var out []*proc
	if s.temporal != nil {
		out = append(out, s.temporal)
	}
	if s.api != nil {
		out = append(out, s.api)
	}
	out = append(out, s.workers...)
	return out
}

// shutdown stops every child process and closes the pools.
func (s *stack) shutdown() {
	var wg sync.WaitGroup
	if s.api != nil {
		s.api.stop(10 * time.Second)
	}
	for _, w := range s.workers {
		wg.Add(1)
		go func(w *proc) { defer wg.Done(); w.stop(20 * time.Second) }(w)
	}
	wg.Wait()
	if s.temporal != nil {
		s.temporal.stop(20 * time.Second)
	}
	if s.sink != nil {
		s.sink.close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	if s.bpool != nil {
		s.bpool.Close()
	}
}

// pending is how many events of the run are not applied yet.
func (s *stack) pending(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE applied_at IS NULL AND contact_id LIKE $1 AND NOT (id = ANY($2))`,
		s.prefix+"%", s.excludedIDs()).Scan(&n)
	return n, err
}

// waitApplied polls until no event is pending and returns when it saw that.
func (s *stack) waitApplied(ctx context.Context, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		t := time.Now()
		n, err := s.pending(ctx)
		if err != nil {
			return t, err
		}
		if n == 0 {
			return t, nil
		}
		if time.Now().After(deadline) {
			return t, fmt.Errorf("%d events still pending after %s", n, timeout)
		}
		if err := s.checkAlive(); err != nil {
			return t, err
		}
		select {
		case <-ctx.Done():
			return t, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// checkAlive reports a child process that died on its own.
func (s *stack) checkAlive() error {
	for _, p := range s.procs() {
		if p.pid() != 0 && !p.alive() && !p.expectDown.Load() {
			return fmt.Errorf("%s exited (see %s):\n%s", p.name, p.logPath, tailLog(p.logPath, 20))
		}
	}
	return nil
}

// workerMetrics scrapes a worker's /metrics and sums samples by name.
func workerMetrics(addr string) map[string]float64 {
	out := map[string]float64{}
	hc := &http.Client{Timeout: 3 * time.Second}
	resp, err := hc.Get("http://" + addr + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			out[name] += v
		}
	}
	return out
}

// pgTracker accumulates the CPU time of our PostgreSQL backends, following
// backends as they come and go (sampled every second by the bench).
type pgTracker struct {
	mu     sync.Mutex
	inited bool
	last   map[int]time.Duration
	total  time.Duration
}

func newPGTracker() *pgTracker { return &pgTracker{last: map[int]time.Duration{}} }

// sample adds the CPU used since the last sample and returns the total.
func (t *pgTracker) sample(databases []string) time.Duration {
	cur := postgresBackends(databases)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.inited {
		for pid, c := range cur {
			if prev, ok := t.last[pid]; ok {
				t.total += c - prev
			} else {
				t.total += c // born since the last sample
			}
		}
	}
	t.inited = true
	t.last = cur
	return t.total
}

// selfCPU is the bench process's own CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// webhookSink answers the webhooks and CRM deliveries 200 and counts them.
type webhookSink struct {
	url   string
	srv   *http.Server
	count atomic.Int64
	mu    sync.Mutex
	keys  map[string]int
}

func newWebhookSink() (*webhookSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &webhookSink{url: "http://" + l.Addr().String(), keys: map[string]int{}}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		s.count.Add(1)
		s.mu.Lock()
		s.keys[r.Header.Get("Idempotency-Key")]++
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *webhookSink) close() { _ = s.srv.Close() }

// stats returns deliveries received and distinct idempotency keys.
func (s *webhookSink) stats() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.count.Load()), len(s.keys)
}
