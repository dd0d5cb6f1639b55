package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/leadflow/leadflow/activities"
	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/egress"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/worker"
)

// A worker handed another deployment's partition, flow run or delivery (two
// deployments on one task queue) refuses it: the workflow fails at once with
// a non-retryable error naming both deployments, and neither the database
// nor the outside world sees anything. The same work without a deployment
// (histories from before deployments had one) is accepted as local.
func TestForeignDeploymentWorkIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var crmCalls atomic.Int64
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		crmCalls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable) // the delivery stays pending
	}))
	t.Cleanup(crm.Close)
	st := newStack(t, stackOptions{shipped: true, crmWebhook: crm.URL, webhookAllow: egress.Loopback})
	require.Regexp(t, `^dep_[0-9a-f]{16}$`, st.Deployment.ID)

	// Work of this deployment in every state: a run waiting 60 days for an
	// email open, a CRM task delivery being retried, an event not applied.
	code := st.do("POST", "/v1/contacts", adminKey, map[string]any{"contact_id": "ada", "email": "ada@example.com",
		"fields": map[string]any{"owner": "sam@sales.example", "role": "CEO"}}, nil)
	require.Contains(t, []int{200, 202}, code)
	st.send(ev("ada-1", "calendly_booked", "ada", nil))
	var runID string
	var waitSeq int
	var deliveryID int64
	waitFor(t, 20*time.Second, "a waiting run and a retried delivery", func() bool {
		err := st.Store.Pool.QueryRow(ctx, `SELECT id, wait_seq FROM flow_runs WHERE contact_id = 'ada' AND flow_id = 'dead-end-no-opens' AND status = 'waiting'`).
			Scan(&runID, &waitSeq)
		if err != nil {
			return false
		}
		err = st.Store.Pool.QueryRow(ctx, `SELECT id FROM deliveries WHERE status = 'pending' AND attempts > 0`).Scan(&deliveryID)
		return err == nil
	})
	// Every outbox row names the deployment that wrote it.
	var unstamped int
	require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE payload->>'deployment' IS DISTINCT FROM $1`,
		st.Deployment.ID).Scan(&unstamped))
	require.Zero(t, unstamped)
	st.stopWorker() // nothing of this deployment runs on its own queue from here on
	st.send(ev("ada-2", "page_visited", "ada", map[string]any{"url": "https://example.com/pricing"}))
	before := stableSnapshot(t, st.Store)
	calls := crmCalls.Load()

	// A worker of this deployment on another queue, where the foreign work lands.
	queue := st.TaskQueue + "-shared"
	acts := &activities.Activities{Engine: engine.New(st.Store, st.CRMURL, st.log), Store: st.Store, Client: st.Client,
		TaskQueue: st.TaskQueue, Log: st.log, Deployment: st.Deployment,
		HTTP: egress.NewClient(egress.MustParseAllow(egress.Loopback), 5*time.Second)}
	w := worker.New(st.Client, queue, acts, sdkworker.Options{Identity: worker.Identity(st.Deployment.ID)})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	const foreign = "dep_0123456789abcdef"
	partition := store.PartitionOf("ada")
	work := func(deployment string) []struct {
		name, workflow string
		input          any
	} {
		return []struct {
			name, workflow string
			input          any
		}{
			{"partition", contract.PartitionWorkflowName, contract.PartitionInput{Partition: partition, Deployment: deployment}},
			// The wait timed out: without the check, ada would be disqualified.
			{"run", contract.RunWorkflowName, contract.Wait{RunID: runID, WaitSeq: waitSeq, Kind: "event", Event: "email_opened",
				Until: time.Now().Add(-time.Minute), Deployment: deployment}},
			{"delivery", contract.DeliveryWorkflowName, contract.DeliveryInput{DeliveryID: deliveryID, Deployment: deployment}},
		}
	}
	for _, wk := range work(foreign) {
		run, err := st.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queue + "/foreign-" + wk.name, TaskQueue: queue},
			wk.workflow, wk.input)
		require.NoError(t, err)
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = run.Get(wctx, nil)
		cancel()
		require.Error(t, err, "%s: the foreign work must fail", wk.name)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "%s: %v", wk.name, err)
		require.Equal(t, contract.ErrForeignDeployment, appErr.Type(), "%s: %v", wk.name, err)
		require.True(t, appErr.NonRetryable(), wk.name)
		require.Contains(t, appErr.Error(), foreign, wk.name)
		require.Contains(t, appErr.Error(), st.Deployment.ID, wk.name)
	}
	require.Equal(t, before, snapshot(t, st.Store), "foreign work changed the database")
	require.Equal(t, calls, crmCalls.Load(), "foreign work called the CRM")

	// The same work naming no deployment is this deployment's own.
	for _, wk := range work("") {
		_, err := st.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queue + "/legacy-" + wk.name, TaskQueue: queue},
			wk.workflow, wk.input)
		require.NoError(t, err)
		t.Cleanup(func() {
			_ = st.Client.TerminateWorkflow(context.Background(), queue+"/legacy-"+wk.name, "", "test over")
		})
	}
	c := st.eventually("ada", 20*time.Second, func(c contact) bool { return c.Disqualified })
	require.Equal(t, "lost", c.Stage)
	waitFor(t, 20*time.Second, "the pending event applied", func() bool {
		n, err := st.Store.PendingCount(ctx)
		return err == nil && n == 0
	})
	waitFor(t, 20*time.Second, "the delivery tried again", func() bool { return crmCalls.Load() > calls })
}

// snapshot fingerprints every table of the database.
func snapshot(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := s.Pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(t, rows.Err())
	out := map[string]string{}
	for _, tb := range tables {
		var fp string
		require.NoError(t, s.Pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '')
			FROM %q x`, tb)).Scan(&fp))
		out[tb] = fp
	}
	return out
}

// stableSnapshot waits for work in flight (a stopping worker's last
// activity) to settle and returns the snapshot.
func stableSnapshot(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	prev := snapshot(t, s)
	for range 20 {
		time.Sleep(500 * time.Millisecond)
		cur := snapshot(t, s)
		if fmt.Sprint(cur) == fmt.Sprint(prev) {
			return cur
		}
		prev = cur
	}
	t.Fatal("the database kept changing after the worker stopped")
	return nil
}

// Temporal tells which deployments poll a task queue: a worker of another
// deployment is refused, one of the same deployment is welcome.
func TestTaskQueuePollersOfAnotherDeployment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStack(t, stackOptions{})
	ns := temporalServer.Namespace()
	var err error
	waitFor(t, 20*time.Second, "Temporal to list the worker's pollers", func() bool {
		_, err = worker.CheckTaskQueue(ctx, st.Client, ns, st.TaskQueue, "dep_0123456789abcdef")
		return err != nil
	})
	var fe *worker.ForeignPollersError
	require.True(t, errors.As(err, &fe), "%v", err)
	require.Equal(t, []string{st.Deployment.ID}, fe.Foreign)
	require.Contains(t, err.Error(), st.TaskQueue)
	require.Contains(t, err.Error(), "dep_0123456789abcdef")

	unknown, err := worker.CheckTaskQueue(ctx, st.Client, ns, st.TaskQueue, st.Deployment.ID)
	require.NoError(t, err)
	require.Empty(t, unknown)
	_, err = worker.CheckTaskQueue(ctx, st.Client, ns, st.TaskQueue+"-nobody", "dep_0123456789abcdef")
	require.NoError(t, err)
}
