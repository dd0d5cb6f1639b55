package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
)

// The quarantine end to end: an event that cannot be applied is set aside
// (GET /v1/events/failed), everyone else in its partition keeps being
// applied within seconds, and a person can retry or discard it over HTTP.

const quarantineDefs = `[
{"kind": "score_model", "id": "main", "name": "Main",
 "engagement": [{"id": "r", "on": {"type": "event", "event": "visit"}, "points": 1}]},
{"kind": "flow", "id": "nap", "name": "Nap then tag", "trigger": {"type": "event", "event": "nap"}, "entry": "every_time", "steps": [
  {"id": "wait", "type": "wait", "duration": "1s"},
  {"id": "tag", "type": "add_tag", "tag": "rested"}]}]`

func newQuarantineStack(t *testing.T) *stack {
	st := newStack(t, stackOptions{})
	st.publish([]byte(quarantineDefs))
	return st
}

// contactsOf returns n contact ids that fall in partition p.
func contactsOf(p, n int, prefix string) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if store.PartitionOf(id) == p {
			out = append(out, id)
		}
	}
	return out
}

type failedEvent struct {
	ID             string    `json:"id"`
	ContactID      string    `json:"contact_id"`
	Type           string    `json:"type"`
	Status         string    `json:"status"`
	Error          string    `json:"error"`
	Attempts       int       `json:"attempts"`
	FirstAttemptAt time.Time `json:"first_attempt_at"`
	LastAttemptAt  time.Time `json:"last_attempt_at"`
}

type failedPage struct {
	Events     []failedEvent `json:"events"`
	NextCursor string        `json:"next_cursor"`
}

func (st *stack) failed(query string) failedPage {
	st.t.Helper()
	var out failedPage
	code := st.do("GET", "/v1/events/failed"+query, adminKey, nil, &out)
	require.Equal(st.t, 200, code)
	return out
}

// waitFailed waits until the event is listed as quarantined.
func (st *stack) waitFailed(id string) failedEvent {
	st.t.Helper()
	var found failedEvent
	waitFor(st.t, 15*time.Second, "event "+id+" quarantined", func() bool {
		for _, f := range st.failed("").Events {
			if f.ID == id {
				found = f
				return true
			}
		}
		return false
	})
	return found
}

// scored waits until every contact has the given score in model main.
func (st *stack) scored(score float64, within time.Duration, ids ...string) {
	st.t.Helper()
	for _, id := range ids {
		st.eventually(url.PathEscape(id), within, func(c contact) bool { return c.Scores["main"].Score == score })
	}
}

// failedTotal reads leadflow_events_failed_total from /metrics.
func (st *stack) failedTotal() float64 {
	st.t.Helper()
	req, err := http.NewRequest("GET", st.URL+"/metrics", nil)
	require.NoError(st.t, err)
	req.Header.Set("Authorization", "Bearer "+adminKey) // /metrics on the API's address needs it
	resp, err := http.DefaultClient.Do(req)
	require.NoError(st.t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "leadflow_events_failed_total "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(st.t, err)
			return f
		}
	}
	st.t.Fatal("leadflow_events_failed_total is not in /metrics")
	return 0
}

func visits(prefix string, ids ...string) []map[string]any {
	var out []map[string]any
	for i, id := range ids {
		out = append(out, ev(fmt.Sprintf("%s-%d", prefix, i), "visit", id, nil))
	}
	return out
}

// A number beyond float64 in an event accepted before the edge refused it
// (inserted directly, as an old build stored it): the event is
// quarantined, the partition goes on, and it can be discarded.
func TestPoisonNumberQuarantined(t *testing.T) {
	t.Parallel()
	st := newQuarantineStack(t)
	ctx := context.Background()
	before := st.failedTotal()
	ids := contactsOf(4, 5, "pn")
	_, _, err := st.Store.InsertEvents(ctx, []store.EventRow{{ID: "poison", ContactID: ids[0], Type: "visit",
		Properties: map[string]any{"n": json.Number("1e400")}, OccurredAt: time.Now()}})
	require.NoError(t, err)
	st.send(visits("good", ids...)...)
	st.scored(1, 10*time.Second, ids...)

	f := st.waitFailed("poison")
	require.Equal(t, ids[0], f.ContactID)
	require.Equal(t, "visit", f.Type)
	require.Equal(t, "failed", f.Status)
	require.Equal(t, "properties.n: a number beyond the range leadflow computes with (float64, about ±1.8e308)", f.Error)
	require.Equal(t, 1, f.Attempts)
	require.False(t, f.FirstAttemptAt.IsZero())
	require.Equal(t, f.FirstAttemptAt, f.LastAttemptAt)
	require.GreaterOrEqual(t, st.failedTotal()-before, 1.0)

	// The partition keeps applying what comes next, within seconds.
	st.send(visits("more", ids...)...)
	st.scored(2, 5*time.Second, ids...)

	// Retry puts it back; it fails again, with one more attempt.
	var out map[string]any
	require.Equal(t, 202, st.do("POST", "/v1/events/poison/retry", adminKey, nil, &out))
	require.Equal(t, map[string]any{"event_id": "poison", "status": "pending"}, out)
	waitFor(t, 15*time.Second, "second attempt", func() bool {
		for _, f := range st.failed("").Events {
			if f.ID == "poison" && f.Attempts == 2 {
				return true
			}
		}
		return false
	})

	require.Equal(t, 200, st.do("POST", "/v1/events/poison/discard", adminKey, nil, &out))
	require.Equal(t, map[string]any{"event_id": "poison", "status": "discarded"}, out)
	require.Empty(t, st.failed("").Events)
	disc := st.failed("?status=discarded").Events
	require.Len(t, disc, 1)
	require.Equal(t, "poison", disc[0].ID)
	require.Equal(t, 409, st.do("POST", "/v1/events/poison/discard", adminKey, nil, nil))
	require.Equal(t, 409, st.do("POST", "/v1/events/poison/retry", adminKey, nil, nil))
	require.Equal(t, 409, st.do("POST", "/v1/events/good-1/retry", adminKey, nil, nil), "applied, not quarantined")
	require.Equal(t, 404, st.do("POST", "/v1/events/nope/retry", adminKey, nil, nil))
	require.Equal(t, 403, st.do("POST", "/v1/events/poison/retry", ingestKey, nil, nil))
	require.Equal(t, 403, st.do("GET", "/v1/events/failed", ingestKey, nil, nil))
	require.Equal(t, 400, st.do("GET", "/v1/events/failed?status=lost", adminKey, nil, nil))
	c, _ := st.contact(ids[0])
	require.Equal(t, 2.0, c.Scores["main"].Score, "the discarded event never applied")
}

// An event that breaks a constraint (a ledger row of an old database holds
// the key it writes) is quarantined among a batch of 60; once the cause is
// removed, a retry over HTTP applies it. Failed events are paginated.
func TestQuarantinedEventRetriedAfterFix(t *testing.T) {
	t.Parallel()
	st := newQuarantineStack(t)
	ctx := context.Background()
	ids := contactsOf(9, 60, "cv")
	bad := ids[23]
	// Old rows holding the keys two events will write.
	for _, i := range []int{23, 24} {
		_, err := st.Store.Pool.Exec(ctx, `INSERT INTO score_ledger (contact_id, model, points, kind, reason, at, idem_key)
			VALUES ('old', 'main', 1, 'engagement', 'an old row', now(), $1)`,
			engine.EngagementKey(ids[i], "main", "r", fmt.Sprintf("bump-%d", i)))
		require.NoError(t, err)
	}
	st.send(visits("bump", ids...)...)
	st.scored(1, 10*time.Second, ids[:23]...)
	st.scored(1, 5*time.Second, ids[25:]...)
	st.waitFailed("bump-23")
	st.waitFailed("bump-24")
	page := st.failed("?limit=1")
	require.Len(t, page.Events, 1)
	require.Equal(t, "bump-23", page.Events[0].ID)
	require.Contains(t, page.Events[0].Error, "23505")
	require.NotEmpty(t, page.NextCursor)
	page = st.failed("?limit=1&cursor=" + page.NextCursor)
	require.Len(t, page.Events, 1)
	require.Equal(t, "bump-24", page.Events[0].ID)
	require.Empty(t, page.NextCursor)

	_, err := st.Store.Pool.Exec(ctx, `DELETE FROM score_ledger WHERE contact_id = 'old'`)
	require.NoError(t, err)
	require.Equal(t, 202, st.do("POST", "/v1/events/bump-23/retry", adminKey, nil, nil))
	st.scored(1, 5*time.Second, bad)
	page = st.failed("")
	require.Len(t, page.Events, 1)
	require.Equal(t, "bump-24", page.Events[0].ID)
	retried := st.failed("?status=retried").Events
	require.Len(t, retried, 1)
	require.Equal(t, "bump-23", retried[0].ID)
}

// Ledger keys joined ids with ':': contact "a" + event "b:main:r:c" and
// contact "a:main:r:b" + event "c" gave the same key, and the second could
// never be applied. Both score.
func TestCollidingIDsBothScore(t *testing.T) {
	t.Parallel()
	st := newQuarantineStack(t)
	st.send(ev("b:main:r:c", "visit", "a", nil), ev("c", "visit", "a:main:r:b", nil))
	st.scored(1, 10*time.Second, "a", "a:main:r:b")
	st.settled()
	require.Empty(t, st.failed("").Events)
}

// A contact id of 1,000 characters (an id derived from a long email,
// accepted before the edge refused it) reaches a run workflow: its
// workflow id is bounded, so the run starts, waits and completes; and a
// start Temporal refuses anyway is recorded, not retried for ever.
func TestLongContactIDRunsItsFlow(t *testing.T) {
	t.Parallel()
	st := newQuarantineStack(t)
	ctx := context.Background()
	long := strings.Repeat("x", 990) + "@example.com"
	p := store.PartitionOf(long)
	_, _, err := st.Store.InsertEvents(ctx, []store.EventRow{{ID: "long-nap", ContactID: long, Type: "nap", OccurredAt: time.Now()}})
	require.NoError(t, err)
	others := contactsOf(p, 3, "ln")
	var naps []map[string]any
	for i, id := range others {
		naps = append(naps, ev(fmt.Sprintf("nap-%d", i), "nap", id, nil))
	}
	st.send(naps...)
	for _, id := range append(others, long) {
		st.eventually(url.PathEscape(id), 15*time.Second, func(c contact) bool { return len(c.Tags) == 1 && c.Tags[0] == "rested" })
	}

	// A start Temporal refuses (an id past its limit, written by an old
	// build): the outbox row is given up with its error and the run failed.
	runID := "nap:" + long + ":9"
	_, err = st.Store.Pool.Exec(ctx, `INSERT INTO flow_runs (id, flow_id, flow_version, contact_id, status, step_id, wait_seq,
			wait_kind, wait_until, started_at, updated_at)
		VALUES ($1, 'nap', 1, $2, 'waiting', 'wait', 1, 'timer', now(), now(), now())`, runID, long)
	require.NoError(t, err)
	_, err = st.Store.Pool.Exec(ctx, `INSERT INTO outbox (partition, kind, workflow_id, payload) VALUES ($1, 'start_run', $2, $3)`,
		p, "run/"+runID+strings.Repeat("z", 1000), map[string]any{"run_id": runID, "wait_seq": 1, "kind": "timer", "until": time.Now()})
	require.NoError(t, err)
	st.send(visits("after", others...)...)
	st.scored(1, 10*time.Second, others...)
	waitFor(t, 15*time.Second, "refused outbox row recorded", func() bool {
		var n int
		require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE dispatched_at IS NOT NULL AND error LIKE '%refused%'`).Scan(&n))
		return n == 1
	})
	var status, runErr string
	require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT status, error FROM flow_runs WHERE id = $1`, runID).Scan(&status, &runErr))
	require.Equal(t, "failed", status)
	require.Contains(t, runErr, "refused")
	// And the partition still applies what comes next.
	st.send(visits("later", others...)...)
	st.scored(2, 5*time.Second, others...)
}

// A run whose resume fails for a reason retrying cannot fix (it waits at a
// step its flow version does not have) is failed with the error, and its
// workflow ends, instead of retrying for ever.
func TestRunResumeFailingForGoodFailsTheRun(t *testing.T) {
	t.Parallel()
	st := newQuarantineStack(t)
	ctx := context.Background()
	others := contactsOf(2, 2, "rr")
	st.send(visits("first", others...)...) // creates the contacts
	st.scored(1, 10*time.Second, others...)
	runID := "nap:" + others[0] + ":7"
	_, err := st.Store.Pool.Exec(ctx, `INSERT INTO flow_runs (id, flow_id, flow_version, contact_id, status, step_id, wait_seq,
			wait_kind, wait_until, started_at, updated_at)
		VALUES ($1, 'nap', 1, $2, 'waiting', 'ghost', 1, 'timer', now(), now(), now())`, runID, others[0])
	require.NoError(t, err)
	_, err = st.Store.Pool.Exec(ctx, `INSERT INTO outbox (partition, kind, workflow_id, payload) VALUES (2, 'start_run', $1, $2)`,
		contract.RunWorkflowID(runID), map[string]any{"run_id": runID, "wait_seq": 1, "kind": "timer", "until": time.Now()})
	require.NoError(t, err)
	st.send(visits("second", others...)...) // wakes the partition, which dispatches the outbox
	var status, runErr string
	waitFor(t, 15*time.Second, "run failed", func() bool {
		require.NoError(t, st.Store.Pool.QueryRow(ctx, `SELECT status, error FROM flow_runs WHERE id = $1`, runID).Scan(&status, &runErr))
		return status == "failed"
	})
	require.Contains(t, runErr, `unknown step "ghost"`)
	st.scored(2, 5*time.Second, others...)
}
