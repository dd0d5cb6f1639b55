package bench

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/leadflow/leadflow/activities"
	"github.com/leadflow/leadflow/api"
	"github.com/leadflow/leadflow/egress"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
	"github.com/leadflow/leadflow/worker"
)

// The smoke test runs the bench's processes as this test binary started
// again with LEADFLOW_BENCH_TEST_ROLE set: the Temporal server and the
// baselines' worker through the package's own entry points, the API and
// the worker wired as `leadflow api` and `leadflow worker` wire them.
const roleEnv = "LEADFLOW_BENCH_TEST_ROLE"

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runTestRole(role, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func runTestRole(role string, args []string) int {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	var err error
	switch role {
	case "temporal-server":
		var o TemporalServerOptions
		fs := flag.NewFlagSet(role, flag.ContinueOnError)
		o.BindFlags(fs)
		if err = fs.Parse(args); err == nil {
			err = RunTemporalServer(ctx, o, os.Stdout, os.Stderr)
		}
	case "baseline-worker":
		var o BaselineWorkerOptions
		fs := flag.NewFlagSet(role, flag.ContinueOnError)
		o.BindFlags(fs)
		if err = fs.Parse(args); err == nil {
			err = RunBaselineWorker(ctx, o, os.Stderr)
		}
	case "api":
		err = testAPI(ctx)
	case "worker":
		err = testWorker(ctx)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, role+":", err)
		return 1
	}
	return 0
}

func roleLog() zerolog.Logger { return zerolog.New(os.Stderr).Level(zerolog.WarnLevel) }

func testAPI(ctx context.Context) error {
	log := roleLog()
	s, err := store.Open(ctx, os.Getenv("DATABASE_URL"), false)
	if err != nil {
		return err
	}
	defer s.Close()
	h := api.New(api.Config{Store: s, Waker: worker.NewWaker(s, log), InsertsNotify: true,
		AdminKey: os.Getenv("LEADFLOW_ADMIN_KEY"), IngestKey: os.Getenv("LEADFLOW_INGEST_KEY"), Log: log})
	l, err := net.Listen("tcp", os.Getenv("LEADFLOW_HTTP_ADDR"))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	<-ctx.Done()
	return srv.Close()
}

func testWorker(ctx context.Context) error {
	log := roleLog()
	s, err := store.Open(ctx, os.Getenv("DATABASE_URL"), false)
	if err != nil {
		return err
	}
	defer s.Close()
	tc, err := dialTemporal(ctx, os.Getenv("TEMPORAL_ADDRESS"), os.Getenv("TEMPORAL_NAMESPACE"), log)
	if err != nil {
		return err
	}
	defer tc.Close()
	go func() { _ = http.ListenAndServe(os.Getenv("LEADFLOW_METRICS_ADDR"), metrics.Handler()) }()
	tq := os.Getenv("LEADFLOW_TASK_QUEUE")
	dep, err := s.Deployment(ctx)
	if err != nil {
		return err
	}
	allow, err := egress.ParseAllow(os.Getenv("LEADFLOW_WEBHOOK_ALLOW"))
	if err != nil {
		return err
	}
	acts := &activities.Activities{Engine: engine.New(s, os.Getenv("CRM_WEBHOOK_URL"), log), Store: s, Client: tc, TaskQueue: tq, Log: log,
		HTTP: egress.NewClient(allow, 0), Deployment: dep}
	w := worker.New(tc, tq, acts, sdkworker.Options{Identity: worker.Identity(dep.ID)})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	if err := worker.EnsurePartitions(ctx, tc, tq, dep.ID); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// A short run of the whole bench on the real stack (processes, PostgreSQL,
// the embedded Temporal server): it must pass its own correctness check.
func TestSmokeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a stack of processes")
	}
	name := "leadflow_bench_test_" + randomHex(4)
	server := storetest.ServerURL()
	t.Cleanup(func() {
		_ = dropDatabases(context.Background(), server, name, name+"_baselines", name+"_temporal", name+"_temporal_visibility")
	})
	exe, err := os.Executable()
	require.NoError(t, err)
	var out strings.Builder
	cfg := Config{
		DatabaseURL:   server,
		Database:      name,
		TemporalStore: "memory",
		Contacts:      40,
		Events:        300,
		Dists:         []string{DistUniform, DistZipf},
		HalfRateTime:  time.Second,
		BaselineTime:  time.Second,
		Senders:       2,
		BatchSize:     50,
		WorkDir:       t.TempDir(),
		DrainTimeout:  time.Minute,
		Log:           &out,
		Command: func(role string, _ bool, args ...string) *exec.Cmd {
			cmd := exec.Command(exe, args...)
			cmd.Env = append(os.Environ(), roleEnv+"="+role)
			return cmd
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if res != nil {
		res.Print(&out)
	}
	t.Log(out.String())
	require.NoError(t, err)
	require.True(t, res.Passed, "correctness check: %s", res.FailReason)
	require.Equal(t, 40, res.Contacts.Waiting)
	systems := map[string]bool{}
	for _, p := range res.Phases {
		systems[p.System] = true
		require.Greater(t, p.ProcessedPerSec, 0.0, p.Name)
	}
	require.Equal(t, map[string]bool{"leadflow": true, SystemNaive: true, SystemEntity: true, SystemCeiling: true}, systems)
	require.Len(t, res.Ratios, 6)
	for _, p := range res.Processes {
		if p.Name == "api" || strings.HasPrefix(p.Name, "worker") || p.Name == "temporal" {
			require.Greater(t, p.PeakRSSBytes, int64(0), p.Name)
		}
	}
}
