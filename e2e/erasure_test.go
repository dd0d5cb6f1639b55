package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/egress"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/worker"
)

type erasureAnswer struct {
	ContactID string         `json:"contact_id"`
	Status    string         `json:"status"`
	ErasedAt  time.Time      `json:"erased_at"`
	Erased    map[string]int `json:"erased"`
	Error     string         `json:"error"`
}

type accountAnswer struct {
	Scores map[string]struct {
		Score float64 `json:"score"`
	} `json:"scores"`
	Contacts []struct {
		ContactID string `json:"contact_id"`
		Email     string `json:"email"`
	} `json:"contacts"`
}

// A contact with events, ledger rows, a CRM task and a run waiting on a
// durable timer is erased: the answer counts what went, its reads answer
// 410, its run's workflow is stopped and its history deleted, nothing personal is left in any
// table, the account roll-up is unchanged and the erasure log has who and
// when. Late events with the old id or email are refused and create
// nothing; a second DELETE answers already_erased.
func TestEraseContact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	crm := newReceiver(t, 1_000_000) // refuses every delivery: it stays pending, retried
	st := newStack(t, stackOptions{crmWebhook: crm.srv.URL, webhookAllow: egress.Loopback})
	st.publish([]byte(`[
{"kind": "score_model", "id": "m", "name": "M", "account_rollup": "sum",
 "engagement": [{"id": "visit", "on": {"type": "event", "event": "visit"}, "points": 10, "reason": "visited"}]},
{"kind": "flow", "id": "nurture", "name": "Nurture", "trigger": {"type": "event", "event": "signup"}, "entry": "once", "steps": [
  {"id": "task", "type": "create_crm_task", "title": "Call {{email}}", "description": "works at {{fields.company}}"},
  {"id": "nap", "type": "wait", "duration": "1h"},
  {"id": "later", "type": "add_tag", "tag": "nurtured"}]}
]`))
	const id, email = "eve-erasable-7f3", "eve.erasable@example.com"
	for _, c := range []map[string]any{
		{"contact_id": id, "email": email, "account_id": "acme", "fields": map[string]any{"company": "Secret Corp"}, "tags": []string{"tag-eve-7f3"}},
		{"contact_id": "bob", "email": "bob@example.com", "account_id": "acme"},
	} {
		require.Contains(t, []int{200, 202}, st.do("POST", "/v1/contacts", adminKey, c, nil))
	}
	st.send(ev("v1", "visit", id, map[string]any{"url": "https://example.com/?who=" + email}),
		ev("v2", "visit", id, nil), ev("s1", "signup", id, nil), ev("b1", "visit", "bob", nil))
	c := st.eventually(id, 10*time.Second, func(c contact) bool { return c.Scores["m"].Score == 20 && len(c.FlowRuns) == 1 })
	require.Equal(t, "waiting", c.FlowRuns[0]["status"])
	runID := c.FlowRuns[0]["id"].(string)
	st.eventually("bob", 10*time.Second, func(c contact) bool { return c.Scores["m"].Score == 10 })
	require.Len(t, st.tasks(id), 1)
	waitFor(t, 10*time.Second, "a delivery attempt", func() bool {
		var n int
		require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE status = 'pending' AND attempts > 0`).Scan(&n))
		return n == 1
	})
	var before accountAnswer
	require.Equal(t, 200, st.do("GET", "/v1/accounts/acme", adminKey, nil, &before))
	require.Equal(t, 30.0, before.Scores["m"].Score)

	wfID := contract.WorkflowID(st.TaskQueue, contract.RunWorkflowID(runID))
	waitFor(t, 10*time.Second, "the run's workflow", func() bool {
		d, err := st.Client.DescribeWorkflowExecution(ctx, wfID, "")
		return err == nil && d.WorkflowExecutionInfo.Status == enums.WORKFLOW_EXECUTION_STATUS_RUNNING
	})

	var out erasureAnswer
	require.Equal(t, 200, st.do("DELETE", "/v1/contacts/"+id, adminKey, nil, &out), "%+v", out)
	require.Equal(t, "erased", out.Status)
	require.Equal(t, id, out.ContactID)
	require.Equal(t, 2, out.Erased["fields"]) // company and the email
	require.Equal(t, 1, out.Erased["tags"])
	require.Equal(t, 4, out.Erased["events"]) // the upsert, two visits, the signup
	require.Equal(t, 0, out.Erased["pending_events"])
	require.Equal(t, 2, out.Erased["ledger_entries"])
	require.Equal(t, 1, out.Erased["crm_tasks"])
	require.Equal(t, 1, out.Erased["deliveries"])
	require.Equal(t, 1, out.Erased["deliveries_cancelled"])
	require.Equal(t, 1, out.Erased["runs"])
	require.Equal(t, 1, out.Erased["runs_cancelled"])
	require.Equal(t, 3, out.Erased["identifiers"]) // the id, the email, the tombstone

	// Reads answer 410 Gone.
	var gone map[string]any
	require.Equal(t, 410, st.do("GET", "/v1/contacts/"+id, adminKey, nil, &gone))
	require.Contains(t, gone["error"], "was erased")
	require.Equal(t, 410, st.do("GET", "/v1/contacts/"+id+"/score-history", adminKey, nil, nil))
	require.Equal(t, 410, st.do("GET", "/v1/contacts/"+id+"/timeline", adminKey, nil, nil))

	// The run's workflow is stopped and its history, which names the
	// contact, deleted (through the outbox of its partition).
	waitFor(t, 20*time.Second, "the run's workflow gone", func() bool {
		_, err := st.Client.DescribeWorkflowExecution(ctx, wfID, "")
		var nf *serviceerror.NotFound
		return errors.As(err, &nf)
	})
	waitFor(t, 10*time.Second, "the cancel_run row dispatched", func() bool {
		var n int
		require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE kind = 'cancel_run' AND dispatched_at IS NULL`).Scan(&n))
		return n == 0
	})

	// The account still counts the erased contact's points, anonymously.
	var after accountAnswer
	require.Equal(t, 200, st.do("GET", "/v1/accounts/acme", adminKey, nil, &after))
	require.Equal(t, 30.0, after.Scores["m"].Score)
	require.Len(t, after.Contacts, 2)
	for _, ac := range after.Contacts {
		require.NotEqual(t, id, ac.ContactID)
		require.NotEqual(t, email, ac.Email)
	}
	// ... but the leads board and the contact list no longer show it.
	var leads struct {
		Leads []struct {
			ContactID string `json:"contact_id"`
		} `json:"leads"`
	}
	require.Equal(t, 200, st.do("GET", "/v1/leads?model=m", adminKey, nil, &leads))
	require.Len(t, leads.Leads, 1)
	require.Equal(t, "bob", leads.Leads[0].ContactID)

	// The pending delivery is cancelled and stays so: its workflow's next
	// attempt finds it cancelled and stops.
	calls, _ := crm.received()
	require.Empty(t, calls)
	var delivery string
	require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT status FROM deliveries`).Scan(&delivery))
	require.Equal(t, "cancelled", delivery)

	// The cancelled run keeps its place in the flow's counts.
	var status, step string
	require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT status, step_id FROM flow_runs WHERE flow_id = 'nurture'`).Scan(&status, &step))
	require.Equal(t, "cancelled", status)
	require.Equal(t, "nap", step)

	// The erasure log: who and when, the contact only hashed.
	var by, hash string
	var at time.Time
	require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT erased_by, erased_at, contact_hash FROM erasure_log`).Scan(&by, &at, &hash))
	require.Equal(t, "admin key", by)
	require.WithinDuration(t, out.ErasedAt, at, time.Second)
	require.NotContains(t, hash, id)

	// Nothing of the person is left in any table.
	requireNowhere(t, st, id, email, "Secret Corp", "tag-eve-7f3")

	// Late events with the old id, by the old email, or the old email on
	// another id, are refused and create nothing.
	for _, late := range []map[string]any{
		ev("late-1", "visit", id, nil),
		{"id": "late-2", "type": "visit", "email": strings.ToUpper(email)},
		{"id": "late-3", "type": "visit", "contact_id": "eve-new", "email": email},
	} {
		var refused map[string]any
		require.Equal(t, 410, st.do("POST", "/v1/events", ingestKey, late, &refused), "%v", late)
		require.Contains(t, refused["error"], "erased contact")
	}
	require.Equal(t, 410, st.do("POST", "/v1/contacts", adminKey, map[string]any{"contact_id": id, "email": "other@example.com"}, nil))
	// Segment-style routes acknowledge, as for other events they do not store.
	var seg map[string]any
	require.Equal(t, 200, st.do("POST", "/v1/track", ingestKey, map[string]any{"messageId": "late-4", "userId": id, "event": "visit"}, &seg))
	require.Equal(t, 1.0, seg["erased"])
	require.Equal(t, 0.0, seg["accepted"])
	st.settled()
	_, code := st.contact(id)
	require.Equal(t, 410, code)
	requireNowhere(t, st, id, email)
	var contacts int
	require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM contacts`).Scan(&contacts))
	require.Equal(t, 2, contacts) // bob and the tombstone

	// A new version of the model re-evaluates every contact but the
	// tombstone: its points are frozen as they were at the erasure.
	st.publish([]byte(`{"kind": "score_model", "id": "m", "name": "M", "account_rollup": "sum",
 "profile": [{"id": "everyone", "when": {"not": {"tag": "nope"}}, "points": 100}],
 "engagement": [{"id": "visit", "on": {"type": "event", "event": "visit"}, "points": 10, "reason": "visited"}]}`))
	st.eventually("bob", 20*time.Second, func(c contact) bool { return c.Scores["m"].Score == 110 })
	waitFor(t, 20*time.Second, "the re-evaluation walked every partition", func() bool {
		var left int
		require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM reevaluations WHERE finished_at IS NULL`).Scan(&left))
		return left == 0
	})
	var afterModel accountAnswer
	require.Equal(t, 200, st.do("GET", "/v1/accounts/acme", adminKey, nil, &afterModel))
	require.Equal(t, 130.0, afterModel.Scores["m"].Score, "bob 110 + the tombstone's 20")
	var runs, tasks int
	require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM flow_runs), (SELECT count(*) FROM crm_tasks)`).Scan(&runs, &tasks))
	require.Equal(t, 1, runs)
	require.Equal(t, 1, tasks)

	// Idempotent.
	var again erasureAnswer
	require.Equal(t, 200, st.do("DELETE", "/v1/contacts/"+id, adminKey, nil, &again))
	require.Equal(t, "already_erased", again.Status)
	require.WithinDuration(t, out.ErasedAt, again.ErasedAt, time.Second)
	require.Zero(t, again.Erased["events"])
	var logRows int
	require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM erasure_log`).Scan(&logRows))
	require.Equal(t, 1, logRows)
	require.Equal(t, 404, st.do("DELETE", "/v1/contacts/nobody", adminKey, nil, nil))
	require.Equal(t, 403, st.do("DELETE", "/v1/contacts/bob", ingestKey, nil, nil))
}

// requireNowhere fails when any table holds one of the values.
func requireNowhere(t *testing.T, st *stack, values ...string) {
	t.Helper()
	ctx := context.Background()
	rows, err := st.Store.Pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		tables = append(tables, n)
	}
	require.NoError(t, rows.Err())
	for _, table := range tables {
		for _, v := range values {
			var n int
			require.NoError(t, st.Store.Pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %q x WHERE x::text ILIKE '%%' || $1 || '%%'`, table), v).Scan(&n))
			require.Zero(t, n, "table %s still holds %q", table, v)
		}
	}
}

// Retention: applied events older than the horizon are deleted by the
// scheduled sweep, scores stay identical, and a definition that reads
// further back than the horizon is refused at publish, named.
func TestEventRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStack(t, stackOptions{eventRetention: 90 * 24 * time.Hour})
	st.publish([]byte(`[
{"kind": "score_model", "id": "m", "name": "M", "engagement": [
  {"id": "visit", "on": {"type": "event", "event": "visit"}, "points": 3},
  {"id": "often", "on": {"type": "event", "event": "visit"}, "points": 5, "frequency": {"count": 2, "within": "60d"}}]},
{"kind": "segment", "id": "recent", "name": "Recent", "rule": {"events": {"type": "visit", "within": "30d", "op": "gte", "count": 1}}}
]`))
	now := time.Now().UTC()
	old := func(days int) string { return now.Add(-time.Duration(days) * 24 * time.Hour).Format(time.RFC3339) }
	st.send(
		map[string]any{"id": "o1", "type": "visit", "contact_id": "ret", "timestamp": old(200)},
		map[string]any{"id": "o2", "type": "visit", "contact_id": "ret", "timestamp": old(120)},
		map[string]any{"id": "n1", "type": "visit", "contact_id": "ret", "timestamp": old(1)},
	)
	st.settled()
	before, code := st.contact("ret")
	require.Equal(t, 200, code)
	require.Equal(t, 9.0, before.Scores["m"].Score) // three visits, no two within 60d
	ledgerBefore, totalsBefore := st.history("ret")

	// A window longer than the horizon, or none at all, is refused, named.
	for _, doc := range []struct{ body, path, want string }{
		{`{"kind": "segment", "id": "yearly", "name": "Yearly", "rule": {"all": [{"tag": "x"}, {"events": {"type": "visit", "within": "365d", "op": "gte", "count": 1}}]}}`,
			"rule.all[1].events.within", `segment "yearly" reads events 365d back`},
		{`[{"kind": "segment", "id": "ok", "name": "OK", "rule": {"tag": "x"}}, {"kind": "score_model", "id": "ever", "name": "Ever", "engagement": [
		  {"id": "third", "on": {"type": "event", "event": "visit"}, "points": 1, "frequency": {"count": 3}}]}]`,
			"[1].engagement[0].frequency.within", `score_model "ever" reads events of any age`},
	} {
		var refused struct {
			Error   string `json:"error"`
			Details []struct {
				Path    string `json:"path"`
				Message string `json:"message"`
			} `json:"details"`
		}
		require.Equal(t, 422, st.do("POST", "/v1/definitions", adminKey, doc.body, &refused))
		require.Len(t, refused.Details, 1)
		require.Equal(t, doc.path, refused.Details[0].Path)
		require.Contains(t, refused.Details[0].Message, doc.want)
		require.Contains(t, refused.Details[0].Message, "LEADFLOW_EVENT_RETENTION")
	}

	// The schedule, triggered now rather than in an hour.
	require.NoError(t, worker.EnsureRetention(ctx, st.Client, st.TaskQueue, st.Deployment.ID, 90*24*time.Hour))
	h := st.Client.ScheduleClient().GetHandle(ctx, contract.RetentionScheduleID(st.TaskQueue))
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{}))
	waitFor(t, 20*time.Second, "the old events deleted", func() bool {
		var ids []string
		rows, err := st.Store.Pool.Query(ctx, `SELECT id FROM events WHERE contact_id = 'ret' ORDER BY id`)
		require.NoError(t, err)
		for rows.Next() {
			var id string
			require.NoError(t, rows.Scan(&id))
			ids = append(ids, id)
		}
		return slices.Equal(ids, []string{"n1"})
	})
	var sweeps []store.RetentionSweep
	waitFor(t, 10*time.Second, "the sweep recorded", func() bool { // after its last delete
		var err error
		sweeps, err = st.Store.RetentionSweeps(ctx, 10)
		require.NoError(t, err)
		return len(sweeps) > 0
	})
	require.Len(t, sweeps, 1)
	require.Equal(t, int64(2), sweeps[0].Deleted)
	require.Equal(t, 90*24*time.Hour, sweeps[0].Horizon)

	after, _ := st.contact("ret")
	require.Equal(t, before.Scores, after.Scores)
	require.Equal(t, before.Segments, after.Segments)
	ledgerAfter, totalsAfter := st.history("ret")
	require.Equal(t, ledgerBefore, ledgerAfter) // the ledger keeps the explanation
	require.Equal(t, totalsBefore, totalsAfter)

	// A new visit is scored as before: the 60d frequency window still has
	// what it needs.
	st.send(map[string]any{"id": "n2", "type": "visit", "contact_id": "ret"})
	st.eventually("ret", 10*time.Second, func(c contact) bool { return c.Scores["m"].Score == 17 })

	// Without a horizon the schedule is removed.
	require.NoError(t, worker.EnsureRetention(ctx, st.Client, st.TaskQueue, st.Deployment.ID, 0))
	_, err := h.Describe(ctx)
	require.Error(t, err)
}
