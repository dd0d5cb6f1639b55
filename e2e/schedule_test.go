package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/leadflow/leadflow/activities"
	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/egress"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/temporallog"
)

// morningFlow is a schedule flow sending the top 4 hot leads of model m,
// grouped by owner, to url and as one CRM task per owner.
func morningFlow(cron, url string) string {
	return `{"kind": "flow", "id": "morning", "name": "Morning hot list",
 "trigger": {"type": "schedule", "cron": "` + cron + `", "timezone": "Europe/Rome"},
 "entry": "every_time",
 "steps": [{"id": "hot", "type": "digest", "model": "m", "band": ["hot"], "top": 4,
   "group_by_owner": true, "owner_field": "owner", "url": "` + url + `"}]}`
}

const hotModel = `{"kind": "score_model", "id": "m", "name": "M",
 "bands": [{"name": "cold", "min": 0, "color": "#3b82f6"}, {"name": "warm", "min": 20, "color": "#f59e0b"}, {"name": "hot", "min": 50, "color": "#ef4444"}],
 "engagement": [{"id": "big", "on": {"type": "event", "event": "big"}, "points": 50},
                {"id": "small", "on": {"type": "event", "event": "small"}, "points": 10}]}`

const dqFlow = `{"kind": "flow", "id": "dq", "name": "DQ", "trigger": {"type": "event", "event": "dq"}, "entry": "once",
 "steps": [{"id": "dq", "type": "disqualify", "reason": "test"}]}`

// hotLeads makes the contacts of the schedule tests. Hot (50+) and not
// disqualified, by score: a1 100 (ann), n1 70 (no owner), b1 60 (bob),
// a2 50 (ann), c1 50 (carol; after a2 on the tie by id, so beyond the top
// 4); w1 20 is only warm; d1 150 is disqualified.
func hotLeads(st *stack) {
	st.t.Helper()
	owners := map[string]string{"a1": "ann", "a2": "ann", "b1": "bob", "c1": "carol", "w1": "bob", "d1": "ann", "n1": ""}
	points := map[string][]string{"a1": {"big", "big"}, "a2": {"big"}, "b1": {"big", "small"}, "c1": {"big"},
		"w1": {"small", "small"}, "d1": {"big", "big", "big", "dq"}, "n1": {"big", "small", "small"}}
	for _, id := range []string{"a1", "a2", "b1", "c1", "w1", "d1", "n1"} {
		fields := map[string]any{}
		if owners[id] != "" {
			fields["owner"] = owners[id]
		}
		code := st.do("POST", "/v1/contacts", adminKey, map[string]any{"contact_id": id, "email": id + "@example.com", "fields": fields}, nil)
		require.Contains(st.t, []int{200, 202}, code)
		for i, typ := range points[id] {
			st.send(ev(fmt.Sprintf("%s-%d", id, i), typ, id, nil))
		}
	}
	st.settled()
	st.eventually("d1", 10*time.Second, func(c contact) bool { return c.Disqualified && c.Scores["m"].Score == 150 })
	st.eventually("n1", 10*time.Second, func(c contact) bool { return c.Scores["m"].Score == 70 })
}

// schedule waits until the flow's Temporal Schedule matches cond.
func (st *stack) schedule(flowID string, timeout time.Duration, cond func(d *client.ScheduleDescription, err error) bool) *client.ScheduleDescription {
	st.t.Helper()
	h := st.Client.ScheduleClient().GetHandle(context.Background(), activities.ScheduleID(st.TaskQueue, flowID))
	deadline := time.Now().Add(timeout)
	var (
		d   *client.ScheduleDescription
		err error
	)
	for time.Now().Before(deadline) {
		d, err = h.Describe(context.Background())
		if cond(d, err) {
			return d
		}
		time.Sleep(100 * time.Millisecond)
	}
	st.t.Fatalf("the schedule of %s did not reach the expected state within %s; last: %+v, %v", flowID, timeout, d, err)
	return nil
}

func scheduleExists(d *client.ScheduleDescription, err error) bool { return err == nil }

func notFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// digestHits decodes the digest webhooks a capture received.
func digestHits(t *testing.T, rcv *capture) []map[string]any {
	var out []map[string]any
	for _, h := range rcv.received() {
		var body map[string]any
		require.NoError(t, json.Unmarshal(h.body, &body))
		out = append(out, body)
	}
	return out
}

// digestTasks lists the digest CRM tasks, by assignee.
func (st *stack) digestTasks() map[string][]task {
	st.t.Helper()
	var out struct {
		Tasks []task `json:"tasks"`
	}
	require.Equal(st.t, 200, st.do("GET", "/v1/tasks?limit=100", adminKey, nil, &out))
	by := map[string][]task{}
	for _, tk := range out.Tasks {
		if tk.Reason == "digest" {
			by[tk.Assignee] = append(by[tk.Assignee], tk)
		}
	}
	return by
}

// Publishing a schedule flow creates its Temporal Schedule (weekdays 09:00
// Europe/Rome); triggering it sends the hot list once: one signed webhook
// delivery with the top 4 hot leads grouped by owner, and one CRM task per
// owner listing exactly their leads. Contacts' events never start the
// schedule flow. Pausing the flow pauses the schedule, resuming resumes it,
// a new cron updates it, archiving deletes it; a retried digest writes
// nothing twice.
func TestScheduleFlowSendsTheHotList(t *testing.T) {
	t.Parallel()
	rcv := newCapture(t, 200)
	secret := egress.NewSecret()
	st := newStack(t, stackOptions{webhookAllow: egress.Loopback, webhookSecret: secret})
	st.publish([]byte(`[` + hotModel + `, ` + dqFlow + `, ` + morningFlow("0 9 * * 1-5", rcv.srv.URL+"/hot") + `]`))
	hotLeads(st)

	d := st.schedule("morning", 20*time.Second, scheduleExists)
	require.False(t, d.Schedule.State.Paused)
	require.Equal(t, enums.SCHEDULE_OVERLAP_POLICY_SKIP, d.Schedule.Policy.Overlap)
	require.Equal(t, activities.ScheduleCatchupWindow, d.Schedule.Policy.CatchupWindow)
	rome, err := time.LoadLocation("Europe/Rome")
	require.NoError(t, err)
	require.NotEmpty(t, d.Info.NextActionTimes)
	for _, at := range d.Info.NextActionTimes {
		local := at.In(rome)
		require.Equal(t, "09:00", local.Format("15:04"), at)
		require.NotContains(t, []time.Weekday{time.Saturday, time.Sunday}, local.Weekday(), at)
	}
	require.Zero(t, d.Info.NumActions, "nothing fired yet")
	for _, id := range []string{"a1", "d1", "n1"} {
		c, _ := st.contact(id)
		for _, r := range c.FlowRuns {
			require.NotEqual(t, "morning", r["flow_id"], "a contact's event never starts a schedule flow")
		}
	}

	h := st.Client.ScheduleClient().GetHandle(context.Background(), activities.ScheduleID(st.TaskQueue, "morning"))
	require.NoError(t, h.Trigger(context.Background(), client.ScheduleTriggerOptions{}))
	st.deliveryOf("webhook", "/hot", "delivered", 30*time.Second)
	hits := rcv.received()
	require.Len(t, hits, 1)
	require.NoError(t, verifyStandardWebhook(secret, hits[0].header, hits[0].body), "signed like every delivery")
	body := digestHits(t, rcv)[0]
	require.Equal(t, "hot_list", body["type"])
	require.Equal(t, "m", body["model"])
	type group struct {
		Owner string `json:"owner"`
		Leads []struct {
			ContactID string  `json:"contact_id"`
			Score     float64 `json:"score"`
			Band      string  `json:"band"`
		} `json:"leads"`
	}
	var groups []group
	raw, _ := json.Marshal(body["owners"])
	require.NoError(t, json.Unmarshal(raw, &groups))
	var got []string
	for _, g := range groups {
		var ids []string
		for _, l := range g.Leads {
			require.Equal(t, "hot", l.Band)
			ids = append(ids, l.ContactID)
		}
		got = append(got, g.Owner+":"+strings.Join(ids, ","))
	}
	require.Equal(t, []string{"ann:a1,a2", ":n1", "bob:b1"}, got, "top 4 hot, not disqualified, grouped by owner in score order")

	tasks := st.digestTasks()
	require.Len(t, tasks, 3, "one task per owner (and one for leads without an owner): %v", tasks)
	require.Len(t, tasks["ann"], 1)
	require.Contains(t, tasks["ann"][0].Description, "1. a1@example.com (a1): 100 points, hot")
	require.Contains(t, tasks["ann"][0].Description, "2. a2@example.com (a2): 50 points, hot")
	require.Equal(t, "Hot list: 2 leads to call today", tasks["ann"][0].Title)
	require.Len(t, tasks["bob"], 1)
	require.Contains(t, tasks["bob"][0].Description, "b1@example.com")
	require.NotContains(t, tasks["bob"][0].Description, "w1", "w1 is only warm")
	require.Equal(t, "Hot list: 1 lead without an owner", tasks[""][0].Title)
	require.NotContains(t, tasks, "carol", "c1 is beyond the top 4")
	for _, ts := range tasks {
		require.NotContains(t, ts[0].Description, "d1", "disqualified leads are left out")
	}

	// A retried digest (same firing time) writes nothing twice.
	acts := &activities.Activities{Engine: engine.New(st.Store, "", st.log), Store: st.Store, Client: st.Client,
		TaskQueue: st.TaskQueue, Log: st.log, Deployment: st.Deployment}
	fired := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	in := contract.DigestInput{FlowID: "morning", FiredAt: fired, Deployment: st.Deployment.ID}
	res, err := acts.RunDigest(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, contract.DigestResult{Leads: 4, Tasks: 3, Webhooks: 1}, res)
	res, err = acts.RunDigest(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, 0, res.Tasks, "the retry finds its tasks written")
	require.Len(t, st.digestTasks()["ann"], 2, "one per firing")
	waitFor(t, 30*time.Second, "the second firing's webhook", func() bool { return len(rcv.received()) == 2 })

	// Pause and resume follow the flow.
	require.Equal(t, 200, st.do("POST", "/v1/definitions/morning/pause", adminKey, nil, nil))
	st.schedule("morning", 20*time.Second, func(d *client.ScheduleDescription, err error) bool {
		return err == nil && d.Schedule.State.Paused
	})
	res, err = acts.RunDigest(context.Background(), contract.DigestInput{FlowID: "morning", FiredAt: fired.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, "flow is paused", res.Skipped, "a run of a paused flow sends nothing")
	require.Equal(t, 200, st.do("POST", "/v1/definitions/morning/resume", adminKey, nil, nil))
	st.schedule("morning", 20*time.Second, func(d *client.ScheduleDescription, err error) bool {
		return err == nil && !d.Schedule.State.Paused
	})

	// A new version's cron updates the schedule.
	st.publish([]byte(morningFlow("30 7 * * *", rcv.srv.URL+"/hot")))
	st.schedule("morning", 20*time.Second, func(d *client.ScheduleDescription, err error) bool {
		return err == nil && len(d.Info.NextActionTimes) > 0 && d.Info.NextActionTimes[0].In(rome).Format("15:04") == "07:30"
	})

	// Archiving deletes it.
	_, err = st.Store.SetDefinitionStatus(context.Background(), "morning", "archived")
	require.NoError(t, err)
	require.NoError(t, acts.SyncSchedules(context.Background()))
	st.schedule("morning", 20*time.Second, func(_ *client.ScheduleDescription, err error) bool { return notFound(err) })
}

// The schedule of "weekdays at 09:00 Europe/Rome", as Temporal itself
// computes its next firings (Describe's NextActionTimes, computed by the
// server from the spec leadflow creates), stays at 09:00 local time across
// both daylight-saving changes of 2027 (Sunday 28 March, Sunday 31
// October): 08:00 UTC before the spring change and 07:00 UTC after it, the
// reverse in the autumn; no firing on a weekend.
func TestScheduleKeepsLocalTimeAcrossDaylightSaving(t *testing.T) {
	t.Parallel()
	c, err := client.Dial(client.Options{HostPort: temporalServer.FrontendHostPort(), Namespace: temporalServer.Namespace(),
		Logger: temporallog.New(zerolog.Nop())})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	f := &flows.Flow{ID: "morning", Trigger: flows.Trigger{Type: flows.TriggerSchedule, Cron: "0 9 * * 1-5", Timezone: "Europe/Rome"}}
	cases := []struct {
		name    string
		startAt time.Time
		want    []string // UTC
	}{
		{"spring", time.Date(2027, 3, 24, 0, 0, 0, 0, time.UTC), []string{
			"2027-03-24 08:00 Wed", "2027-03-25 08:00 Thu", "2027-03-26 08:00 Fri",
			"2027-03-29 07:00 Mon", "2027-03-30 07:00 Tue", "2027-03-31 07:00 Wed", "2027-04-01 07:00 Thu", "2027-04-02 07:00 Fri",
			"2027-04-05 07:00 Mon", "2027-04-06 07:00 Tue"}},
		{"autumn", time.Date(2027, 10, 27, 0, 0, 0, 0, time.UTC), []string{
			"2027-10-27 07:00 Wed", "2027-10-28 07:00 Thu", "2027-10-29 07:00 Fri",
			"2027-11-01 08:00 Mon", "2027-11-02 08:00 Tue", "2027-11-03 08:00 Wed", "2027-11-04 08:00 Thu", "2027-11-05 08:00 Fri",
			"2027-11-08 08:00 Mon", "2027-11-09 08:00 Tue"}},
	}
	for _, tc := range cases {
		queue := fmt.Sprintf("test-dst-%s-%d", tc.name, queueSeq.Add(1))
		opts := activities.ScheduleOptions(queue, "", f, true)
		opts.Spec.StartAt = tc.startAt
		h, err := c.ScheduleClient().Create(context.Background(), opts)
		require.NoError(t, err)
		t.Cleanup(func() { _ = h.Delete(context.Background()) })
		d, err := h.Describe(context.Background())
		require.NoError(t, err)
		var got []string
		for _, at := range d.Info.NextActionTimes {
			got = append(got, at.UTC().Format("2006-01-02 15:04 Mon"))
		}
		require.Equal(t, tc.want, got, tc.name)
	}
}

// "Missed runs while leadflow was down fire once on return", in the two
// ways leadflow can be down:
//
//  1. The worker is down and Temporal is up (a separate Temporal cluster):
//     the schedule fires every second for six seconds (its spec replaced
//     with a one-second interval ending six seconds later, standing for six
//     missed mornings) while no worker runs. Temporal starts one run and,
//     with the overlap policy skip, skips the other firings while it waits;
//     when the worker returns, that one run sends one webhook and one task
//     per owner.
//  2. Temporal itself was down (`leadflow dev`): on return the scheduler
//     buffers every missed firing within the catch-up window and applies
//     the overlap policy to them in one pass. The embedded in-memory server
//     cannot be stopped and restarted inside the test, so this is shown with
//     a backfill of the last seven days (five weekday mornings), which goes
//     through the same buffer and overlap policy in one pass (though not
//     the catch-up window's bound): one run, four skipped.
func TestScheduleFiresOnceAfterAnOutage(t *testing.T) {
	t.Parallel()
	rcv := newCapture(t, 200)
	st := newStack(t, stackOptions{webhookAllow: egress.Loopback})
	st.publish([]byte(`[` + hotModel + `, ` + dqFlow + `, ` + morningFlow("0 9 * * 1-5", rcv.srv.URL+"/hot") + `]`))
	hotLeads(st)
	st.schedule("morning", 20*time.Second, scheduleExists)
	ctx := context.Background()
	h := st.Client.ScheduleClient().GetHandle(ctx, activities.ScheduleID(st.TaskQueue, "morning"))

	// 1. Worker down, Temporal up.
	st.stopWorker()
	start := time.Now().Add(time.Second).Truncate(time.Second)
	end := start.Add(6 * time.Second)
	require.NoError(t, h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := in.Description.Schedule
		s.Spec = &client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Second}}, StartAt: start, EndAt: end}
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}}))
	time.Sleep(time.Until(end.Add(2 * time.Second)))
	d, err := h.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, d.Info.NumActions, "one run started for the whole outage")
	require.GreaterOrEqual(t, d.Info.NumActionsSkippedOverlap, 5, "the other firings were skipped")
	require.Len(t, d.Info.RunningWorkflows, 1, "the run waits for a worker")
	require.Empty(t, rcv.received())

	st.startWorker()
	st.deliveryOf("webhook", "/hot", "delivered", 30*time.Second)
	time.Sleep(2 * time.Second)
	require.Len(t, rcv.received(), 1, "one webhook for the outage")
	for owner, ts := range st.digestTasks() {
		require.Len(t, ts, 1, "one task for %q for the outage", owner)
	}

	// 2. Temporal down: its catch-up over the missed mornings, as a backfill.
	require.NoError(t, h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := in.Description.Schedule
		spec := activities.ScheduleOptions(st.TaskQueue, st.Deployment.ID, &flows.Flow{ID: "morning",
			Trigger: flows.Trigger{Type: flows.TriggerSchedule, Cron: "0 9 * * 1-5", Timezone: "Europe/Rome"}}, false).Spec
		s.Spec = &spec
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}}))
	before, err := h.Describe(ctx)
	require.NoError(t, err)
	now := time.Now()
	require.NoError(t, h.Backfill(ctx, client.ScheduleBackfillOptions{Backfill: []client.ScheduleBackfill{
		{Start: now.Add(-7 * 24 * time.Hour), End: now, Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP}}}))
	waitFor(t, 30*time.Second, "the catch-up's webhook", func() bool { return len(rcv.received()) >= 2 })
	time.Sleep(2 * time.Second)
	after, err := h.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, before.Info.NumActions+1, after.Info.NumActions, "five missed mornings, one run")
	require.Equal(t, before.Info.NumActionsSkippedOverlap+4, after.Info.NumActionsSkippedOverlap, "the four others skipped")
	require.Len(t, rcv.received(), 2)
	for owner, ts := range st.digestTasks() {
		require.Len(t, ts, 2, "one more task for %q", owner)
	}
}

// recordDigestHistory records the history of a DigestWorkflow started by a
// schedule flow's Temporal Schedule (replayed by workflows' tests).
func recordDigestHistory(t *testing.T, path string) {
	rcv := newCapture(t, 200)
	st := newStack(t, stackOptions{webhookAllow: egress.Loopback})
	st.publish([]byte(`[` + hotModel + `, ` + dqFlow + `, ` + morningFlow("0 9 * * 1-5", rcv.srv.URL+"/hot") + `]`))
	hotLeads(st)
	st.schedule("morning", 20*time.Second, scheduleExists)
	h := st.Client.ScheduleClient().GetHandle(context.Background(), activities.ScheduleID(st.TaskQueue, "morning"))
	require.NoError(t, h.Trigger(context.Background(), client.ScheduleTriggerOptions{}))
	st.deliveryOf("webhook", "/hot", "delivered", 30*time.Second)
	d := st.schedule("morning", 20*time.Second, func(d *client.ScheduleDescription, err error) bool {
		return err == nil && len(d.Info.RecentActions) == 1 && len(d.Info.RunningWorkflows) == 0
	})
	writeHistory(t, st.Client, d.Info.RecentActions[0].StartWorkflowResult.WorkflowID, path)
}
