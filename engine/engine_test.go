package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

type testBundle struct {
	store  *store.Store
	engine *engine.Engine
	now    time.Time
}

func setup(t *testing.T, docs string) *testBundle {
	t.Helper()
	s := storetest.NewStore(t)
	parsed, errs := flows.Decode("test.json", []byte(docs))
	require.Empty(t, errs)
	require.Empty(t, flows.Validate("test.json", parsed, nil))
	var in []store.DefinitionInput
	for _, d := range parsed {
		body, err := flows.Canonical(d)
		require.NoError(t, err)
		in = append(in, store.DefinitionInput{ID: d.ID(), Kind: d.Kind(), Hash: flows.Hash(d), Body: body})
	}
	_, err := s.Publish(context.Background(), in)
	require.NoError(t, err)
	return &testBundle{store: s, engine: engine.New(s, "", zerolog.Nop()), now: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)}
}

func (b *testBundle) send(t *testing.T, events ...store.EventRow) {
	t.Helper()
	for i := range events {
		if events[i].OccurredAt.IsZero() {
			events[i].OccurredAt = b.now
		}
	}
	_, _, err := b.store.InsertEvents(context.Background(), events)
	require.NoError(t, err)
}

// applyAll applies every partition until nothing is pending.
func (b *testBundle) applyAll(t *testing.T) {
	t.Helper()
	for p := 0; p < store.Partitions; p++ {
		for {
			res, err := b.engine.ApplyPartition(context.Background(), p, b.now, 100)
			require.NoError(t, err)
			if !res.More {
				break
			}
		}
	}
}

func (b *testBundle) score(t *testing.T, contact, model string) (float64, string) {
	t.Helper()
	var score float64
	var band string
	err := b.store.Pool.QueryRow(context.Background(), `SELECT score::float8, band FROM scores WHERE contact_id = $1 AND model = $2`, contact, model).Scan(&score, &band)
	if err != nil {
		return 0, ""
	}
	return score, band
}

func (b *testBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.store.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

const model = `[
{"kind": "score_model", "id": "main", "name": "Main",
 "bands": [{"name": "cold", "min": -100, "color": "blue"}, {"name": "warm", "min": 10, "color": "orange"}, {"name": "hot", "min": 30, "color": "red"}],
 "profile": [{"id": "ceo", "when": {"field": "role", "op": "eq", "value": "CEO"}, "points": 5}],
 "engagement": [
   {"id": "page", "on": {"type": "page_visited"}, "points": 1, "cap": {"points": 3, "period": "1d"}},
   {"id": "three-visits", "on": {"type": "page_visited"}, "points": 10, "frequency": {"count": 3, "within": "30d"}},
   {"id": "meeting", "on": {"type": "event", "event": "calendly_booked"}, "points": 20}],
 "thresholds": [{"id": "mql", "score": 20, "rearm_below": 15, "actions": [
   {"id": "tag", "type": "add_tag", "tag": "mql"},
   {"id": "task", "type": "create_crm_task", "title": "MQL {{email}}", "assignee": "{{fields.owner}}", "due_in": "1d"}]}]},
{"kind": "segment", "id": "mql", "name": "MQL", "rule": {"score": {"model": "main", "op": "gte", "value": 20}}}
]`

func TestEngagementCapsFrequencyProfileThreshold(t *testing.T) {
	t.Parallel()
	b := setup(t, model)
	email := "ada@example.com"
	b.send(t, store.EventRow{ID: "i1", ContactID: "ada", Type: "identify", Email: &email, Traits: map[string]any{"role": "CEO", "owner": "sam"}})
	for i, id := range []string{"p1", "p2", "p3", "p4"} {
		_ = i
		b.send(t, store.EventRow{ID: id, ContactID: "ada", Type: "page_visited", Properties: map[string]any{"url": "https://x.example/" + id}})
	}
	b.applyAll(t)
	score, band := b.score(t, "ada", "main")
	// CEO 5 + pages capped at 3 + third visit bonus 10 = 18
	require.Equal(t, 18.0, score)
	require.Equal(t, "warm", band)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM crm_tasks`))

	b.send(t, store.EventRow{ID: "m1", ContactID: "ada", Type: "calendly_booked"})
	b.applyAll(t)
	score, band = b.score(t, "ada", "main")
	require.Equal(t, 38.0, score)
	require.Equal(t, "hot", band)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM crm_tasks WHERE contact_id = 'ada' AND assignee = 'sam' AND title = 'MQL ada@example.com'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM segment_memberships WHERE contact_id = 'ada' AND segment_id = 'mql'`))
	require.Equal(t, 38, b.count(t, `SELECT sum(points)::int FROM score_ledger WHERE contact_id = 'ada' AND model = 'main'`))

	// Duplicate event ids change nothing.
	b.send(t, store.EventRow{ID: "m1", ContactID: "ada", Type: "calendly_booked"})
	b.applyAll(t)
	score, _ = b.score(t, "ada", "main")
	require.Equal(t, 38.0, score)
}

// A wake-up delivered twice (an activity retried after a crash) resumes the
// run once: the second finds the wait already passed and changes nothing.
func TestResumeRunIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, `[
{"kind": "score_model", "id": "m", "name": "M"},
{"kind": "flow", "id": "f", "name": "F", "trigger": {"type": "event", "event": "go"}, "entry": "every_time", "steps": [
  {"id": "nap", "type": "wait", "duration": "1h"},
  {"id": "score", "type": "lead_score", "model": "m", "op": "add", "points": 3},
  {"id": "task", "type": "create_crm_task", "title": "t"}]}]`)
	b.send(t, store.EventRow{ID: "g1", ContactID: "kim", Type: "go"})
	b.applyAll(t)
	ctx := context.Background()
	later := b.now.Add(time.Hour)
	w, err := b.engine.ResumeRun(ctx, "f:kim:1", 1, contract.OutcomeElapsed, "", later)
	require.NoError(t, err)
	require.Nil(t, w)
	w, err = b.engine.ResumeRun(ctx, "f:kim:1", 1, contract.OutcomeElapsed, "", later)
	require.NoError(t, err)
	require.Nil(t, w)
	score, _ := b.score(t, "kim", "m")
	require.Equal(t, 3.0, score)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM crm_tasks`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM flow_runs WHERE status = 'completed'`))
}

func TestEntryPolicies(t *testing.T) {
	t.Parallel()
	b := setup(t, `[
{"kind": "flow", "id": "once", "name": "Once", "trigger": {"type": "event", "event": "go"}, "entry": "once", "steps": [{"id": "s", "type": "set_stage", "stage": "x"}]},
{"kind": "flow", "id": "every", "name": "Every", "trigger": {"type": "event", "event": "go"}, "entry": "every_time", "steps": [{"id": "s", "type": "set_stage", "stage": "y"}]},
{"kind": "flow", "id": "weekly", "name": "Weekly", "trigger": {"type": "event", "event": "go"}, "entry": {"once_per": "7d"}, "steps": [{"id": "s", "type": "set_stage", "stage": "z"}]}]`)
	for i, day := range []int{0, 1, 8} {
		b.now = time.Date(2026, 1, 5+day, 10, 0, 0, 0, time.UTC)
		b.send(t, store.EventRow{ID: "go" + string(rune('0'+i)), ContactID: "lee", Type: "go"})
		b.applyAll(t)
	}
	require.Equal(t, 1, b.count(t, `SELECT entries FROM flow_entries WHERE flow_id = 'once'`))
	require.Equal(t, 3, b.count(t, `SELECT entries FROM flow_entries WHERE flow_id = 'every'`))
	require.Equal(t, 2, b.count(t, `SELECT entries FROM flow_entries WHERE flow_id = 'weekly'`))
}

// A Segment "group" call puts the contact in an account and records its traits;
// the account score is the sum of its contacts'.
func TestGroupSetsAccount(t *testing.T) {
	t.Parallel()
	b := setup(t, model)
	acme := "acme"
	b.send(t,
		store.EventRow{ID: "g1", ContactID: "a1", Type: "group", AccountID: &acme, Properties: map[string]any{"account_traits": map[string]any{"name": "Acme", "plan": "pro"}}},
		store.EventRow{ID: "g2", ContactID: "a2", Type: "group", AccountID: &acme},
		store.EventRow{ID: "m1", ContactID: "a1", Type: "calendly_booked"},
		store.EventRow{ID: "m2", ContactID: "a2", Type: "calendly_booked"})
	b.applyAll(t)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM accounts WHERE id = 'acme' AND name = 'Acme' AND fields->>'plan' = 'pro'`))
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM contacts WHERE account_id = 'acme'`))
}

// Caps count grants already committed in earlier transactions, and a new
// period frees the cap again.
func TestCapAcrossTransactions(t *testing.T) {
	t.Parallel()
	b := setup(t, model)
	for i, id := range []string{"p1", "p2", "p3", "p4", "p5"} {
		b.now = b.now.Add(time.Minute)
		b.send(t, store.EventRow{ID: id, ContactID: "max", Type: "page_visited", Properties: map[string]any{"url": "/" + id}})
		b.applyAll(t)
		_ = i
	}
	// 3 a day from the page rule, plus the third-visit bonus.
	score, _ := b.score(t, "max", "main")
	require.Equal(t, 13.0, score)
	b.now = b.now.Add(25 * time.Hour)
	b.send(t, store.EventRow{ID: "p6", ContactID: "max", Type: "page_visited", Properties: map[string]any{"url": "/p6"}})
	b.applyAll(t)
	score, _ = b.score(t, "max", "main")
	require.Equal(t, 14.0, score)
}

// Events stamped slightly after the batch's clock (committed while it
// started) still count: the third visit pays the bonus, once.
func TestFrequencyCountsEventsNewerThanTheClock(t *testing.T) {
	t.Parallel()
	b := setup(t, model)
	for i := range 5 {
		b.send(t, store.EventRow{ID: fmt.Sprintf("v%d", i), ContactID: "ned", Type: "page_visited",
			OccurredAt: b.now.Add(time.Duration(i+1) * time.Second), Properties: map[string]any{"url": "/"}})
	}
	b.applyAll(t)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM score_ledger WHERE rule_id = 'three-visits'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM score_ledger WHERE rule_id = 'three-visits' AND event_id = 'v2'`))
}

// A frequency rule with no window counts events of any age: the store loads
// past events bounded by how many the count needs, not by a year. The band
// a score falls in is stored with its colour.
func TestFrequencyWithoutWindowCountsAnyTimeAndBandColour(t *testing.T) {
	t.Parallel()
	b := setup(t, `[{"kind": "score_model", "id": "loyal", "name": "Loyal",
 "bands": [{"name": "new", "min": -100, "color": "grey"}, {"name": "loyal", "min": 50, "color": "gold"}],
 "engagement": [
   {"id": "order", "on": {"type": "event", "event": "order"}, "points": 1},
   {"id": "third-order-ever", "on": {"type": "event", "event": "order"}, "points": 100, "frequency": {"count": 3}}]}]`)
	start := b.now
	for i, age := range []time.Duration{900 * 24 * time.Hour, 500 * 24 * time.Hour, 0} {
		b.now = start.Add(-age)
		b.send(t, store.EventRow{ID: fmt.Sprintf("o%d", i), ContactID: "liv", Type: "order", OccurredAt: b.now})
		b.applyAll(t)
	}
	b.now = start
	score, band := b.score(t, "liv", "loyal")
	require.Equal(t, 103.0, score, "the third order pays, with the first two 900 and 500 days old")
	require.Equal(t, "loyal", band)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM scores WHERE contact_id = 'liv' AND band_color = 'gold'`))
}

// The decay of a score crossing a mark that only a flow trigger names (no
// band or threshold there) is timed: the contact falls due at the exact
// second the score drops below 20, and the flow runs then.
func TestDecayCrossingOfAFlowTriggerIsTimed(t *testing.T) {
	t.Parallel()
	b := setup(t, `[
{"kind": "score_model", "id": "m", "name": "M", "decay": {"half_life": "1d"},
 "engagement": [{"id": "demo", "on": {"type": "event", "event": "demo"}, "points": 40}]},
{"kind": "flow", "id": "cooling", "name": "Cooling", "trigger": {"type": "score_threshold_crossed", "model": "m", "score": 20, "direction": "down"},
 "entry": "every_time", "steps": [{"id": "tag", "type": "add_tag", "tag": "cooling"}]}]`)
	b.send(t, store.EventRow{ID: "d1", ContactID: "dan", Type: "demo"})
	b.applyAll(t)
	// 40·2^(−t/1d) rounds below 20 (to 19.99) first at t = 86,432 s.
	want := b.now.Add(86432 * time.Second)
	var next time.Time
	require.NoError(t, b.store.Pool.QueryRow(context.Background(), `SELECT next_due_at FROM contacts WHERE id = 'dan'`).Scan(&next))
	require.Equal(t, want, next.UTC())
	b.now = want
	b.applyAll(t)
	score, _ := b.score(t, "dan", "m")
	require.Equal(t, 19.99, score)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM contacts WHERE id = 'dan' AND 'cooling' = ANY(tags)`))
}
