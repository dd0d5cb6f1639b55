package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/store/storetest"
)

// Two databases served one after the other by `leadflow dev` (the same data
// directory, the same task queue and namespace): each keeps its Temporal
// state in databases named after it, so the second sees none of the first's
// workflows, and the first finds its waiting run again when it comes back.
// While the first runs, `leadflow worker` on the second database refuses
// its task queue.
func TestDevEnvironmentsDoNotShareTemporalState(t *testing.T) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := "leadflow_devtest_" + hex.EncodeToString(b[:])
	dbA, dbB := prefix+"_a", prefix+"_b"
	dropDatabasesAfter(t, dbA, dbA+"_temporal", dbA+"_temporal_visibility", dbB, dbB+"_temporal", dbB+"_temporal_visibility")
	dataDir := t.TempDir()
	const runWorkflow = "leadflow/run/dead-end-no-opens:eve:1"

	// A: a new contact waits 60 days for an email open.
	a := startDev(t, databaseURL(t, dbA), dataDir)
	require.Contains(t, a.banner, "PostgreSQL databases "+dbA+"_temporal and "+dbA+"_temporal_visibility")
	depA := a.deployment(t)
	a.post(t, "/v1/events", `{"id": "e1", "type": "page_visited", "contact_id": "eve", "properties": {"url": "https://example.com/"}}`)
	ca := a.temporal(t)
	waitUntil(t, 30*time.Second, "A's run workflow", func() bool {
		d, err := ca.DescribeWorkflowExecution(context.Background(), runWorkflow, "")
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
	var runsA map[string]string
	waitUntil(t, 30*time.Second, "A's 16 partitions and its run in visibility", func() bool {
		runsA = listWorkflows(t, ca)
		run := false
		for _, id := range runsA {
			run = run || id == runWorkflow
		}
		return run && len(runsA) >= 17
	})
	require.Equal(t, depA, startInput(t, ca, runWorkflow).Deployment, "the run's input names A")

	// `leadflow worker` of another database refuses A's task queue.
	var out, errOut bytes.Buffer
	require.Equal(t, 0, runMigrate([]string{"--database-url", databaseURL(t, dbB)}, &out, &errOut), errOut.String())
	errOut.Reset()
	code := runWorker([]string{"--database-url", databaseURL(t, dbB), "--temporal-address", a.temporalAddr,
		"--log-format", "json"}, &out, &errOut)
	require.Equal(t, 1, code, errOut.String())
	require.Contains(t, errOut.String(), "another leadflow deployment ("+depA)
	require.Contains(t, errOut.String(), `task queue \"leadflow\"`)
	ca.Close()
	a.stop(t)

	// B, on the same machine and data directory: none of A's workflows.
	bdev := startDev(t, databaseURL(t, dbB), dataDir)
	require.Contains(t, bdev.banner, "PostgreSQL databases "+dbB+"_temporal and "+dbB+"_temporal_visibility")
	depB := bdev.deployment(t)
	require.NotEqual(t, depA, depB)
	cb := bdev.temporal(t)
	var runsB map[string]string
	waitUntil(t, 30*time.Second, "B's partitions in visibility", func() bool {
		runsB = listWorkflows(t, cb)
		return len(runsB) >= 16
	})
	for runID, id := range runsB {
		_, seen := runsA[runID]
		require.False(t, seen, "B's Temporal lists A's workflow %s", id)
		require.False(t, strings.Contains(id, "/run/"), "B's Temporal lists a run: %s", id)
	}
	_, err := cb.DescribeWorkflowExecution(context.Background(), runWorkflow, "")
	var nf *serviceerror.NotFound
	require.True(t, errors.As(err, &nf), "B's Temporal knows A's run: %v", err)
	require.Equal(t, depB, startInput(t, cb, contract.PartitionWorkflowID("leadflow", 0)).Deployment)
	cb.Close()
	bdev.stop(t)

	// A again: its run waits where it was.
	a = startDev(t, databaseURL(t, dbA), dataDir)
	require.Equal(t, depA, a.deployment(t))
	ca = a.temporal(t)
	d, err := ca.DescribeWorkflowExecution(context.Background(), runWorkflow, "")
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, d.GetWorkflowExecutionInfo().GetStatus())
	_, known := runsA[d.GetWorkflowExecutionInfo().GetExecution().GetRunId()]
	require.True(t, known, "the same execution as before")
	ca.Close()
	a.stop(t)
}

func TestDevTemporalStateNames(t *testing.T) {
	pg, file, err := devTemporalState("postgres://u@h:5432/leadflow_demo?sslmode=disable", "")
	require.NoError(t, err)
	require.Equal(t, "leadflow_demo_temporal", pg)
	require.Equal(t, "leadflow_demo.temporal.db", file)

	pg, file, err = devTemporalState("postgres://u@h:5432/leadflow_demo", "temporal")
	require.NoError(t, err)
	require.Equal(t, "temporal", pg, "told otherwise: the old shared databases")
	require.Equal(t, "temporal.db", file)

	_, _, err = devTemporalState("postgres://u@h:5432/"+strings.Repeat("x", 50), "")
	require.ErrorContains(t, err, "--temporal-database")
	_, _, err = devTemporalState("postgres://u@h:5432", "")
	require.Error(t, err)
	_, _, err = devTemporalState("postgres://u@h/db", "../elsewhere")
	require.Error(t, err)
}

// devRun is `leadflow dev` running in the test's process.
type devRun struct {
	cancel       context.CancelFunc
	done         chan int
	stderr       *syncBuffer
	banner       string
	apiURL       string
	temporalAddr string
}

func startDev(t *testing.T, dbURL, dataDir string) *devRun {
	t.Helper()
	tport, hport := freeTCPPort(t), freeTCPPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	d := &devRun{cancel: cancel, done: make(chan int, 1), stderr: &syncBuffer{},
		apiURL: "http://127.0.0.1:" + strconv.Itoa(hport), temporalAddr: "127.0.0.1:" + strconv.Itoa(tport)}
	stdout := &syncBuffer{}
	args := []string{"--database-url", dbURL, "--data-dir", dataDir, "--temporal-port", strconv.Itoa(tport), "--ui-port", "0",
		"--http-addr", "127.0.0.1:" + strconv.Itoa(hport), "--admin-key", "adm", "--ingest-key", "ing",
		"--log-level", "warn", "--log-format", "json"}
	go func() { d.done <- dev(ctx, args, stdout, d.stderr) }()
	t.Cleanup(func() { d.cancel(); <-d.done; d.done <- 0 })
	deadline := time.After(3 * time.Minute)
	for !strings.Contains(stdout.String(), "leadflow is running") {
		select {
		case code := <-d.done:
			d.done <- code
			t.Fatalf("leadflow dev exited with %d:\n%s", code, d.stderr.String())
		case <-deadline:
			t.Fatalf("leadflow dev did not start within 3 minutes:\n%s", d.stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	d.banner = stdout.String()
	return d
}

func (d *devRun) stop(t *testing.T) {
	t.Helper()
	d.cancel()
	code := <-d.done
	d.done <- code
	require.Equal(t, 0, code, d.stderr.String())
}

var deploymentLine = regexp.MustCompile(`Deployment\s+(dep_[0-9a-f]+) \(database `)

func (d *devRun) deployment(t *testing.T) string {
	t.Helper()
	m := deploymentLine.FindStringSubmatch(d.banner)
	require.NotNil(t, m, "the banner names the deployment:\n%s", d.banner)
	return m[1]
}

func (d *devRun) post(t *testing.T, path, body string) {
	t.Helper()
	req, err := http.NewRequest("POST", d.apiURL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer ing")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 202, resp.StatusCode)
}

func (d *devRun) temporal(t *testing.T) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: d.temporalAddr, Namespace: "default", Logger: sdkLogger(zerolog.Nop())})
	require.NoError(t, err)
	return c
}

// listWorkflows is every execution Temporal's visibility lists: run id → workflow id.
func listWorkflows(t *testing.T, c client.Client) map[string]string {
	t.Helper()
	out := map[string]string{}
	var token []byte
	for {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{PageSize: 100, NextPageToken: token})
		require.NoError(t, err)
		for _, e := range resp.GetExecutions() {
			out[e.GetExecution().GetRunId()] = e.GetExecution().GetWorkflowId()
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out
		}
	}
}

// startInput decodes the input a workflow was started with.
func startInput(t *testing.T, c client.Client, workflowID string) struct{ Deployment string } {
	t.Helper()
	it := c.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	require.True(t, it.HasNext())
	ev, err := it.Next()
	require.NoError(t, err)
	var in struct{ Deployment string }
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(ev.GetWorkflowExecutionStartedEventAttributes().GetInput(), &in))
	return in
}

func databaseURL(t *testing.T, name string) string {
	u, err := url.Parse(storetest.ServerURL())
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

func dropDatabasesAfter(t *testing.T, names ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, storetest.ServerURL())
		if err != nil {
			t.Logf("dropping test databases: %v", err)
			return
		}
		defer conn.Close(ctx)
		for _, n := range names {
			if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)"); err != nil {
				t.Logf("dropping %s: %v", n, err)
			}
		}
	})
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
