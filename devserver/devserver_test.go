package devserver

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	pgdriver "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql/driver"
	pgsession "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql/session"
	"go.temporal.io/server/common/resolver"

	"github.com/leadflow/leadflow/temporallog"
)

// TimerWorkflow sleeps d, or until signalled "wake", and returns what woke it.
func TimerWorkflow(ctx workflow.Context, d time.Duration) (string, error) {
	woke := "timer"
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(workflow.NewTimer(ctx, d), func(workflow.Future) {})
	sel.AddReceive(workflow.GetSignalChannel(ctx, "wake"), func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
		woke = "signal"
	})
	sel.Select(ctx)
	return woke, nil
}

func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t))
}

func startServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Logger.GetLevel() == zerolog.DebugLevel { // zero value
		opts.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	began := time.Now()
	s, err := Start(ctx, opts)
	require.NoError(t, err)
	t.Logf("%s server up at %s in %v", s.Store(), s.FrontendHostPort(), time.Since(began).Round(time.Millisecond))
	return s
}

func dial(t testing.TB, s *Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:  s.FrontendHostPort(),
		Namespace: s.Namespace(),
		Logger:    temporallog.New(testLogger(t).Level(zerolog.WarnLevel)),
	})
	require.NoError(t, err)
	return c
}

func runWorker(t testing.TB, c client.Client, queue string) worker.Worker {
	t.Helper()
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(TimerWorkflow)
	require.NoError(t, w.Start())
	return w
}

// runTimerWorkflow runs TimerWorkflow with a 1-second timer to completion.
func runTimerWorkflow(t *testing.T, s *Server) {
	t.Helper()
	c := dial(t, s)
	defer c.Close()
	w := runWorker(t, c, "devserver-test")
	defer w.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "devserver-test"}, TimerWorkflow, time.Second)
	require.NoError(t, err)
	var woke string
	require.NoError(t, run.Get(ctx, &woke))
	require.Equal(t, "timer", woke)
	require.GreaterOrEqual(t, time.Since(began), time.Second)
}

func TestMemoryStore(t *testing.T) {
	s := startServer(t, Options{Store: StoreMemory})
	require.Equal(t, DefaultNamespace, s.Namespace())
	require.Empty(t, s.UIAddress())
	require.EqualValues(t, DefaultHistoryShardsSQLite, s.HistoryShards())
	runTimerWorkflow(t, s)
	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "Stop is idempotent")
}

func TestSQLiteStoreSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, Options{Store: StoreSQLite, DataDir: dir, Namespace: "leadflow-test"})
	c := dial(t, s)
	w := runWorker(t, c, "devserver-restart")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "long-timer", TaskQueue: "devserver-restart"}, TimerWorkflow, time.Hour)
	require.NoError(t, err)
	waitForTimerStarted(t, c, run.GetID())
	w.Stop()
	c.Close()
	require.NoError(t, s.Stop())
	_, err = os.Stat(filepath.Join(dir, SQLiteFileName))
	require.NoError(t, err)

	// Restart in a fresh process, as `leadflow dev` would be: nothing but the
	// files under DataDir carries over.
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSQLiteRestartChild$", "-test.v")
	cmd.Env = append(os.Environ(), "DEVSERVER_RESTART_DATADIR="+dir)
	out, err := cmd.CombinedOutput()
	t.Logf("restarted server:\n%s", out)
	require.NoError(t, err)
	require.Contains(t, string(out), "--- PASS: TestSQLiteRestartChild")
}

// TestSQLiteRestartChild is the second half of TestSQLiteStoreSurvivesRestart.
func TestSQLiteRestartChild(t *testing.T) {
	dir := os.Getenv("DEVSERVER_RESTART_DATADIR")
	if dir == "" {
		t.Skip("run by TestSQLiteStoreSurvivesRestart")
	}
	s := startServer(t, Options{Store: StoreSQLite, DataDir: dir, Namespace: "leadflow-test"})
	defer func() { require.NoError(t, s.Stop()) }()
	c := dial(t, s)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	desc, err := c.DescribeWorkflowExecution(ctx, "long-timer", "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus())
	waitForTimerStarted(t, c, "long-timer")

	// The restarted server still runs it: wake it and see it finish.
	w := runWorker(t, c, "devserver-restart")
	defer w.Stop()
	require.NoError(t, c.SignalWorkflow(ctx, "long-timer", "", "wake", nil))
	var woke string
	require.NoError(t, c.GetWorkflow(ctx, "long-timer", "").Get(ctx, &woke))
	require.Equal(t, "signal", woke)
}

// waitForTimerStarted waits until the workflow's history holds its timer.
func waitForTimerStarted(t *testing.T, c client.Client, id string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			if ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflow %s never started its timer", id)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testPostgresURL is the PostgreSQL server for the postgres store tests.
func testPostgresURL(t testing.TB) string {
	u := os.Getenv("TEST_DATABASE_URL")
	if u == "" {
		u = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("TEST_DATABASE_URL") != "" {
			t.Fatalf("PostgreSQL at TEST_DATABASE_URL unreachable: %v", err)
		}
		t.Skipf("no PostgreSQL at %s (set TEST_DATABASE_URL): %v", u, err)
	}
	_ = conn.Close(ctx)
	return u
}

func TestPostgresStore(t *testing.T) {
	opts := Options{
		Store:            StorePostgres,
		PostgresURL:      testPostgresURL(t),
		PostgresDatabase: "temporal_devserver_test",
	}
	// Twice: the second start finds the databases and schema in place, and
	// keeps the shard count the store was created with whatever is asked.
	var shards int32
	for i := range 2 {
		s := startServer(t, opts)
		if i == 0 {
			shards = s.HistoryShards()
			require.Positive(t, shards)
			opts.HistoryShards = shards + 1
		} else {
			require.Equal(t, shards, s.HistoryShards())
		}
		runTimerWorkflow(t, s)
		require.NoError(t, s.Stop())
	}
}

func TestPostgresSchemaIsCurrent(t *testing.T) {
	u := testPostgresURL(t)
	tgt, err := parsePostgresURL(u)
	require.NoError(t, err)
	ctx := context.Background()
	// Idempotent on an up-to-date database.
	require.NoError(t, setupPostgres(ctx, tgt, "temporal_devserver_test", "temporal_devserver_test_visibility", NewServerLogger(testLogger(t), zerolog.WarnLevel)))

	cfg, err := pgx.ParseConfig(u)
	require.NoError(t, err)
	cfg.Database = "temporal_devserver_test"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer func() { _ = conn.Close(ctx) }()
	var version string
	require.NoError(t, conn.QueryRow(ctx, "SELECT curr_version FROM schema_version WHERE db_name = $1", cfg.Database).Scan(&version))
	require.Equal(t, "1.19", version)
}

// TestPostgresSessionSettings checks that Temporal's own PostgreSQL sessions
// (its pgx driver and DSN building) get synchronous_commit from the URL.
func TestPostgresSessionSettings(t *testing.T) {
	tgt, err := parsePostgresURL(testPostgresURL(t))
	require.NoError(t, err)
	sess, err := pgsession.NewSession(tgt.sqlConfig("postgres", 1), &pgdriver.PGXDriver{}, resolver.NewNoopResolver())
	require.NoError(t, err)
	defer sess.Close()
	var v string
	require.NoError(t, sess.Get(&v, "SHOW synchronous_commit"))
	require.Equal(t, pgSynchronousCommit, v)

	tgt, err = parsePostgresURL(testPostgresURL(t) + "&synchronous_commit=local")
	require.NoError(t, err)
	require.Equal(t, "local", tgt.attrs["synchronous_commit"], "the URL wins")
}

func TestOptionsValidation(t *testing.T) {
	ctx := context.Background()
	_, err := Start(ctx, Options{Store: StoreSQLite})
	require.Error(t, err)
	_, err = Start(ctx, Options{Store: StorePostgres})
	require.True(t, errors.Is(err, errNoPostgresURL))
	_, err = Start(ctx, Options{Store: "cassandra"})
	require.Error(t, err)
	_, err = Start(ctx, Options{LogLevel: "loud"})
	require.Error(t, err)
}

func TestParsePostgresURL(t *testing.T) {
	tgt, err := parsePostgresURL("postgres://lf:s%40cret@db.local:6543/postgres?sslmode=require&application_name=x")
	require.NoError(t, err)
	require.Equal(t, "db.local:6543", tgt.addr)
	require.Equal(t, "lf", tgt.user)
	require.Equal(t, "s@cret", tgt.password)
	require.Equal(t, map[string]string{"sslmode": "require", "application_name": "x", "synchronous_commit": "off"}, tgt.attrs)

	tgt, err = parsePostgresURL("postgresql:///postgres")
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:5432", tgt.addr)
	require.Equal(t, "postgres", tgt.user)
	require.Equal(t, "disable", tgt.attrs["sslmode"])

	_, err = parsePostgresURL("mysql://x")
	require.Error(t, err)
}

func TestCmpVersion(t *testing.T) {
	require.Equal(t, -1, cmpVersion("1.9", "1.10"))
	require.Equal(t, 0, cmpVersion("1.19", "1.19.0"))
	require.Equal(t, 1, cmpVersion("1.2", "0.0"))
}

func TestStateLocation(t *testing.T) {
	o := Options{Store: StorePostgres, PostgresURL: "postgres://u@db.local:6543/postgres", PostgresDatabase: "leadflow_temporal"}
	require.NoError(t, o.applyDefaults())
	require.Equal(t, "PostgreSQL databases leadflow_temporal and leadflow_temporal_visibility on db.local:6543", o.stateLocation())

	dir := t.TempDir()
	o = Options{Store: StoreSQLite, DataDir: dir, SQLiteFile: "leadflow.temporal.db"}
	require.NoError(t, o.applyDefaults())
	require.Equal(t, "SQLite file "+filepath.Join(dir, "leadflow.temporal.db"), o.stateLocation())
	o = Options{Store: StoreSQLite, DataDir: dir}
	require.NoError(t, o.applyDefaults())
	require.Equal(t, SQLiteFileName, o.SQLiteFile)

	require.Contains(t, (&Options{Store: StoreMemory}).stateLocation(), "memory")

	// Names PostgreSQL would cut, and files outside DataDir, are refused.
	long := Options{Store: StorePostgres, PostgresURL: "postgres://u@h/postgres", PostgresDatabase: strings.Repeat("x", 53)}
	require.ErrorContains(t, long.applyDefaults(), "too long")
	escape := Options{Store: StoreSQLite, DataDir: dir, SQLiteFile: "../x.db"}
	require.ErrorContains(t, escape.applyDefaults(), "file name")
}

// A SQLite store lives in the file it is given.
func TestSQLiteFileName(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, Options{Store: StoreSQLite, DataDir: dir, SQLiteFile: "leadflow_a.temporal.db"})
	require.NoError(t, s.Stop())
	require.Equal(t, "SQLite file "+filepath.Join(dir, "leadflow_a.temporal.db"), s.StateLocation())
	_, err := os.Stat(filepath.Join(dir, "leadflow_a.temporal.db"))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, SQLiteFileName))
	require.True(t, errors.Is(err, os.ErrNotExist))
}
