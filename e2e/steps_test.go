package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/egress"
)

// receiver is an HTTP endpoint that records what it was sent; it refuses the
// first failFirst calls with a 503 to exercise retries.
type receiver struct {
	mu        sync.Mutex
	calls     []map[string]any
	keys      []string
	failFirst int
	srv       *httptest.Server
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	r := &receiver{failFirst: failFirst}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.failFirst > 0 {
			r.failFirst--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(req.Body)
		var body map[string]any
		_ = json.Unmarshal(b, &body)
		r.calls = append(r.calls, body)
		r.keys = append(r.keys, req.Header.Get("Idempotency-Key"))
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) received() ([]map[string]any, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.calls...), append([]string(nil), r.keys...)
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// Every step type in one flow, with short durable waits.
func TestEveryStepType(t *testing.T) {
	t.Parallel()
	hook := newReceiver(t, 0)
	crm := newReceiver(t, 2) // the CRM refuses twice, then accepts
	st := newStack(t, stackOptions{crmWebhook: crm.srv.URL, webhookAllow: egress.Loopback})
	st.publish([]byte(`[
{"kind": "score_model", "id": "m", "name": "M", "bands": [{"name": "low", "min": 0, "color": "grey"}, {"name": "high", "min": 5, "color": "red"}]},
{"kind": "flow", "id": "all-steps", "name": "All steps", "trigger": {"type": "event", "event": "go"}, "entry": "every_time", "steps": [
  {"id": "add5", "type": "lead_score", "model": "m", "op": "add", "points": 5, "cap": {"points": 8, "period": "1d"}},
  {"id": "sub1", "type": "lead_score", "model": "m", "op": "subtract", "points": 1},
  {"id": "tag", "type": "add_tag", "tag": "temp"},
  {"id": "untag", "type": "remove_tag", "tag": "temp"},
  {"id": "plan", "type": "update_field", "field": "plan", "value": "enterprise"},
  {"id": "stage", "type": "set_stage", "stage": "sql"},
  {"id": "check", "type": "condition", "if": {"all": [{"field": "plan", "op": "eq", "value": "enterprise"}, {"band": {"model": "m", "in": ["low", "high"]}}]}, "then": "hook", "else": "bad"},
  {"id": "hook", "type": "webhook", "url": "` + hook.srv.URL + `/x", "body": {"who": "{{email}}", "plan": "{{fields.plan}}"}},
  {"id": "task", "type": "create_crm_task", "title": "Call {{email}}", "description": "plan {{fields.plan}}", "assignee": "owner@x", "due_in": "2d"},
  {"id": "nap", "type": "wait", "duration": "2s"},
  {"id": "woke", "type": "add_tag", "tag": "after-wait"},
  {"id": "want-open", "type": "wait_for_event", "event": "email_opened", "timeout": "60s", "on_event": "opened", "on_timeout": "bad"},
  {"id": "opened", "type": "add_tag", "tag": "got-open"},
  {"id": "want-click", "type": "wait_for_event", "event": "email_clicked", "timeout": "2s", "on_event": "bad", "on_timeout": "until"},
  {"id": "until", "type": "wait_until", "field": "follow_up_at", "next": "done"},
  {"id": "bad", "type": "add_tag", "tag": "bad", "next": "end"},
  {"id": "done", "type": "add_tag", "tag": "done"},
  {"id": "leave", "type": "exit"}
]},
{"kind": "flow", "id": "dq", "name": "Disqualify", "trigger": {"type": "event", "event": "dq"}, "entry": "once", "steps": [
  {"id": "dq", "type": "disqualify", "reason": "asked to"}]},
{"kind": "flow", "id": "reset", "name": "Reset", "trigger": {"type": "event", "event": "reset"}, "entry": "every_time", "steps": [
  {"id": "zero", "type": "lead_score", "model": "m", "op": "set", "points": 1}]}
]`))

	followUp := time.Now().Add(6 * time.Second).UTC().Format(time.RFC3339)
	code := st.do("POST", "/v1/contacts", adminKey, map[string]any{"contact_id": "cy", "email": "cy@example.com",
		"fields": map[string]any{"follow_up_at": followUp}}, nil)
	require.Contains(t, []int{200, 202}, code)
	st.send(ev("go-1", "go", "cy", nil))

	c := st.eventually("cy", 10*time.Second, func(c contact) bool { return slices.Contains(c.Tags, "after-wait") })
	require.Equal(t, "sql", c.Stage)
	require.Equal(t, "enterprise", c.Fields["plan"])
	require.NotContains(t, c.Tags, "temp")
	require.Equal(t, 4.0, c.Scores["m"].Score)
	require.Equal(t, "low", c.Scores["m"].Band)
	require.Len(t, c.FlowRuns, 1)

	st.send(ev("open-1", "email_opened", "cy", nil))
	c = st.eventually("cy", 20*time.Second, func(c contact) bool { return slices.Contains(c.Tags, "done") })
	require.Contains(t, c.Tags, "got-open")
	require.NotContains(t, c.Tags, "bad")
	require.Empty(t, c.FlowRuns)

	// Webhook and CRM task delivered, with idempotency keys; the CRM's two refusals were retried.
	waitFor(t, 20*time.Second, "webhook and CRM deliveries", func() bool {
		h, _ := hook.received()
		k, _ := crm.received()
		return len(h) == 1 && len(k) == 1
	})
	calls, keys := hook.received()
	require.Equal(t, map[string]any{"who": "cy@example.com", "plan": "enterprise"}, calls[0]["data"])
	require.NotEmpty(t, keys[0])
	tasks := st.tasks("cy")
	require.Len(t, tasks, 1)
	require.Equal(t, "Call cy@example.com", tasks[0].Title)
	waitFor(t, 5*time.Second, "delivery status", func() bool { return st.tasks("cy")[0].DeliveryStatus == "delivered" })
	crmCalls, crmKeys := crm.received()
	require.Equal(t, "Call cy@example.com", crmCalls[0]["title"])
	require.NotEmpty(t, crmKeys[0])

	// The cap: a second run may only add 3 more (8 a day), then subtracts 1.
	st.send(ev("go-2", "go", "cy", nil))
	st.eventually("cy", 10*time.Second, func(c contact) bool { return c.Scores["m"].Score == 6 })
	// set
	st.send(ev("reset-1", "reset", "cy", nil))
	c = st.eventually("cy", 10*time.Second, func(c contact) bool { return c.Scores["m"].Score == 1 })
	_, totals := st.history("cy")
	require.Equal(t, 1.0, totals["m"])

	st.send(ev("dq-1", "dq", "cy", nil))
	c = st.eventually("cy", 10*time.Second, func(c contact) bool { return c.Disqualified })
	require.Equal(t, "asked to", c.DisqualifiedReason)
	require.Contains(t, c.Tags, "disqualified")
}

// Decay at the time it happens: a half-life model drops a lead from warm to
// cold by itself (the partition's timer), and expiring points lapse; the
// ledger still sums to the score.
func TestDecayAndExpiryOnDurableTimers(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	st.publish([]byte(`[
{"kind": "score_model", "id": "fading", "name": "Fading", "decay": {"half_life": "4s"},
 "bands": [{"name": "cold", "min": 0, "color": "blue"}, {"name": "warm", "min": 10, "color": "orange"}],
 "engagement": [{"id": "click", "on": {"type": "email_clicked"}, "points": 12}]},
{"kind": "score_model", "id": "expiring", "name": "Expiring", "decay": {"expire_after": "3s"},
 "engagement": [{"id": "open", "on": {"type": "email_opened"}, "points": 7}]}]`))
	st.send(ev("k1", "email_clicked", "fay", nil), ev("o1", "email_opened", "fay", nil))
	c := st.eventually("fay", 10*time.Second, func(c contact) bool {
		return c.Scores["fading"].Band == "warm" && c.Scores["expiring"].Score == 7
	})
	start := time.Now()
	c = st.eventually("fay", 15*time.Second, func(c contact) bool { return c.Scores["fading"].Band == "cold" })
	// 12 → below 10 after 4s·log2(1.2) ≈ 1.05s.
	require.Less(t, time.Since(start), 6*time.Second)
	require.Less(t, c.Scores["fading"].Score, 10.0)
	c = st.eventually("fay", 15*time.Second, func(c contact) bool { return c.Scores["expiring"].Score == 0 })
	_, totals := st.history("fay")
	// Both reads show the exact decayed score at their own moment (the
	// explanation ends with the decay not yet recorded): with a 4 s
	// half-life the two requests, milliseconds apart, may differ by a cent.
	require.InDelta(t, c.Scores["fading"].Score, totals["fading"], 0.05)
	require.Equal(t, 0.0, totals["expiring"])
}
