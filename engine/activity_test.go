package engine_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// The engine loads only as many past events as counts compare against
// (store.ActivityQuery). Segment membership, frequency rules and the time a
// segment next changes must still come out exactly as evaluation over every
// event: checked here against flows' pure functions over the whole history,
// with filtered and unfiltered counts, events dated in the past, the future
// and outside the window.
func TestBoundedActivityIsExact(t *testing.T) {
	t.Parallel()
	const defs = `[
{"kind": "segment", "id": "pricing-fans", "name": "3 pricing visits in 30 days",
 "rule": {"events": {"type": "page_visited", "filters": [{"property": "url", "op": "contains", "value": "/pricing"}], "within": "30d", "op": "gte", "count": 3}}},
{"kind": "segment", "id": "exactly-five", "name": "exactly 5 pricing visits in 3 days",
 "rule": {"events": {"type": "page_visited", "filters": [{"property": "url", "op": "contains", "value": "/pricing"}], "within": "3d", "op": "eq", "count": 5}}},
{"kind": "segment", "id": "enterprise", "name": "2 enterprise-plan visits in 30 days (rare: read page after page)",
 "rule": {"events": {"type": "page_visited", "filters": [{"property": "plan", "op": "eq", "value": "enterprise"}], "within": "30d", "op": "gte", "count": 2}}},
{"kind": "segment", "id": "quiet-week", "name": "no visit in 7 days",
 "rule": {"events": {"type": "page_visited", "within": "7d", "op": "eq", "count": 0}}},
{"kind": "score_model", "id": "m", "name": "M",
 "engagement": [{"id": "third", "on": {"type": "page_visited", "url": "*/pricing*"}, "points": 10, "frequency": {"count": 3, "within": "2d"}}]}
]`
	b := setup(t, defs)
	docs, errs := flows.Decode("defs.json", []byte(defs))
	require.Empty(t, errs)
	cat := flows.NewCatalog(docs)
	r := rand.New(rand.NewPCG(7, 7))
	for _, c := range []struct {
		id string
		n  int
	}{{"hot", 400}, {"warm", 12}, {"cold", 2}} {
		var evs []store.EventRow
		var all []flows.Activity
		for i := range c.n {
			url := "https://x.example/blog"
			if r.IntN(2) == 0 {
				url = "https://x.example/pricing"
			}
			// From 40 days ago to 20 hours ahead, mostly recent.
			at := b.now.Add(-time.Duration(r.Float64()*r.Float64()*40*24) * time.Hour).Add(20*time.Hour - time.Duration(r.IntN(20))*time.Hour)
			props := map[string]any{"url": url}
			if r.IntN(40) == 0 {
				props["plan"] = "enterprise"
			}
			evs = append(evs, store.EventRow{ID: fmt.Sprintf("%s-%d", c.id, i), ContactID: c.id, Type: "page_visited", Properties: props, OccurredAt: at})
			all = append(all, flows.Activity{Type: "page_visited", At: at, Properties: props})
		}
		b.send(t, evs...)
		b.applyAll(t)

		// Frequency grants, as the engine decides them with every event.
		model := cat.Models["m"]
		wantGrants := 0
		for i := range all {
			at := all[i].At
			if b.now.After(at) {
				at = b.now
			}
			var times []time.Time
			for _, a := range all[:i+1] {
				if flows.MatchTrigger(&model.Engagement[0].On, flows.Event{Type: a.Type, At: a.At, Properties: a.Properties}) {
					times = append(times, a.At)
				}
			}
			on := &model.Engagement[0].On
			if flows.MatchTrigger(on, flows.Event{Type: all[i].Type, Properties: all[i].Properties}) && flows.FrequencyReached(model.Engagement[0].Frequency, times, at) {
				wantGrants++
			}
		}
		require.Equal(t, wantGrants, b.count(t, `SELECT count(*) FROM score_ledger WHERE contact_id = $1 AND rule_id = 'third'`, c.id), c.id)

		// Membership and the next time a segment changes, over every event.
		snap := &flows.Contact{ID: c.id, Fields: map[string]any{}, Scores: map[string]float64{}, Activity: all}
		var next *time.Time
		for _, id := range []string{"enterprise", "exactly-five", "pricing-fans", "quiet-week"} {
			seg := cat.Segments[id]
			want := flows.EvalCondition(&seg.Rule, snap, b.now, cat)
			got := b.count(t, `SELECT count(*) FROM segment_memberships WHERE contact_id = $1 AND segment_id = $2`, c.id, id) == 1
			require.Equal(t, want, got, "%s in %s", c.id, id)
			if at, ok := flows.ConditionChangesAt(&seg.Rule, snap, b.now, cat); ok && (next == nil || at.Before(*next)) {
				next = &at
			}
		}
		var gotNext *time.Time
		require.NoError(t, b.store.Pool.QueryRow(t.Context(), `SELECT next_due_at FROM contacts WHERE id = $1`, c.id).Scan(&gotNext))
		require.NotNil(t, next, c.id)
		require.NotNil(t, gotNext, c.id)
		require.True(t, next.Equal(*gotNext), "%s: next change at %s, engine says %s", c.id, next, gotNext)
	}
}
