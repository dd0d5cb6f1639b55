package preview_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/preview"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

// model gives 5 points a page (pagePoints), has bands at 20 and 40 and an
// MQL threshold creating one CRM task per crossing.
func model(pagePoints, threshold float64) string {
	return fmt.Sprintf(`{"kind": "score_model", "id": "main", "name": "Main",
 "bands": [{"name": "cold", "min": 0, "color": "#3b82f6"}, {"name": "warm", "min": 20, "color": "#f59e0b"}, {"name": "hot", "min": 40, "color": "#ef4444"}],
 "profile": [{"id": "ceo", "when": {"field": "role", "op": "eq", "value": "ceo"}, "points": 3}],
 "engagement": [{"id": "page", "on": {"type": "page_visited"}, "points": %g},
   {"id": "three-pages", "on": {"type": "page_visited"}, "points": 1, "frequency": {"count": 3, "within": "30d"}}],
 "thresholds": [{"id": "mql", "score": %g, "actions": [{"id": "task", "type": "create_crm_task", "title": "MQL {{contact_id}}"}]}]}`, pagePoints, threshold)
}

const signupFlow = `{"kind": "flow", "id": "welcome", "name": "Welcome", "trigger": {"type": "event", "event": "signup"}, "entry": "once",
 "steps": [{"id": "tag", "type": "add_tag", "tag": "new"}, {"id": "bonus", "type": "lead_score", "model": "main", "op": "add", "points": 2}]}`

func decode(t *testing.T, docs ...string) []flows.Document {
	t.Helper()
	var out []flows.Document
	for _, d := range docs {
		parsed, errs := flows.Decode("test.json", []byte(d))
		require.Empty(t, errs)
		out = append(out, parsed...)
	}
	require.Empty(t, flows.Validate("test.json", out, nil))
	return out
}

type bundle struct {
	store *store.Store
	eng   *engine.Engine
	t0    time.Time
	end   time.Time
}

// history publishes the model and the flow and applies a scripted history
// through the engine on the real database, at the events' own times:
// contact cI visits I+1 pages, one a day; contacts with an even I sign up
// first, those with I divisible by 3 are CEOs.
func history(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	s := storetest.NewStore(t)
	b := &bundle{store: s, eng: engine.New(s, "", zerolog.Nop()), t0: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	_, err := engine.Publish(ctx, s, decode(t, model(5, 20), signupFlow))
	require.NoError(t, err)
	apply := func(at time.Time, evs ...store.EventRow) {
		for i := range evs {
			evs[i].OccurredAt = at
		}
		_, _, err := s.InsertEvents(ctx, evs)
		require.NoError(t, err)
		for p := 0; p < store.Partitions; p++ {
			for {
				res, err := b.eng.ApplyPartition(ctx, p, at, 100)
				require.NoError(t, err)
				if !res.More {
					break
				}
			}
		}
	}
	for i := range 10 {
		id := fmt.Sprintf("c%d", i)
		traits := map[string]any{"role": "dev"}
		if i%3 == 0 {
			traits["role"] = "ceo"
		}
		apply(b.t0.Add(time.Duration(i)*time.Minute), store.EventRow{ID: "id-" + id, ContactID: id, Type: "identify", Traits: traits})
		if i%2 == 0 {
			apply(b.t0.Add(time.Hour+time.Duration(i)*time.Minute), store.EventRow{ID: "su-" + id, ContactID: id, Type: "signup"})
		}
	}
	for day := range 10 {
		var evs []store.EventRow
		for i := day; i < 10; i++ {
			evs = append(evs, store.EventRow{ID: fmt.Sprintf("pv-c%d-%d", i, day), ContactID: fmt.Sprintf("c%d", i), Type: "page_visited",
				Properties: map[string]any{"url": "https://x.example/pricing"}})
		}
		b.end = b.t0.Add(time.Duration(day+1) * 24 * time.Hour)
		apply(b.end, evs...)
	}
	return b
}

func (b *bundle) count(t *testing.T, sql string) int {
	t.Helper()
	var n int
	require.NoError(t, b.store.Pool.QueryRow(context.Background(), sql).Scan(&n))
	return n
}

// A preview of the published model, unchanged, equals what the engine
// stored over the same history exactly: scores (mean, bands), threshold
// crossings, CRM tasks, flow entries, and both sides agree.
func TestPreviewOfUnchangedModelEqualsStored(t *testing.T) {
	t.Parallel()
	b := history(t)
	ctx := context.Background()
	rep, err := preview.Run(ctx, b.store, decode(t, model(5, 20), signupFlow), preview.Options{Since: b.t0.Add(-time.Hour), Until: b.end.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 10, rep.Contacts)
	require.EqualValues(t, b.count(t, `SELECT count(*) FROM events`), rep.Events)
	require.Len(t, rep.Models, 1)
	m := rep.Models[0]
	require.Equal(t, 1, m.PublishedVersion)
	require.Equal(t, m.Figures.Published, m.Figures.Draft, "the same model gives the same figures")
	require.Zero(t, m.BandChanges.Contacts)

	var mean float64
	require.NoError(t, b.store.Pool.QueryRow(ctx, `SELECT round(avg(score), 2)::float8 FROM scores WHERE model = 'main'`).Scan(&mean))
	require.Equal(t, mean, m.Figures.Published.Mean)
	require.Equal(t, 10, m.Figures.Published.Contacts)
	rows, err := b.store.Pool.Query(ctx, `SELECT band, count(*)::int FROM scores WHERE model = 'main' GROUP BY band`)
	require.NoError(t, err)
	stored := map[string]int{}
	for rows.Next() {
		var band string
		var n int
		require.NoError(t, rows.Scan(&band, &n))
		stored[band] = n
	}
	require.Equal(t, stored, m.Figures.Published.Bands)
	tasks := b.count(t, `SELECT count(*) FROM crm_tasks`)
	require.Equal(t, tasks, rep.Tasks.Published.Total)
	require.Equal(t, tasks, m.Figures.Published.Tasks.Total)
	require.Equal(t, b.count(t, `SELECT coalesce(sum(crossings), 0)::int FROM threshold_states`), m.Figures.Published.Thresholds["mql"].Crossings)
	require.Len(t, rep.Flows, 1)
	require.Equal(t, b.count(t, `SELECT count(*) FROM flow_runs WHERE flow_id = 'welcome'`), rep.Flows[0].Figures.Published.Entries)
	require.Equal(t, rep.Flows[0].Figures.Published, rep.Flows[0].Figures.Draft)
	var engagement float64
	require.NoError(t, b.store.Pool.QueryRow(ctx, `SELECT sum(points)::float8 FROM score_ledger WHERE rule_id = 'page'`).Scan(&engagement))
	require.Equal(t, "page", m.Figures.Published.TopRules[0].Rule)
	require.Equal(t, engagement, m.Figures.Published.TopRules[0].Points)
}

// Doubling the threshold: by hand, contact cI ends with 5·(I+1) page
// points, +1 on its third visit, +3 when a CEO (I divisible by 3), +2 when
// it signed up (I even). The MQL threshold at 20 is crossed by c3…c9 (7
// tasks); at 40 only by the contacts reaching 40: c6 (35+1+3+2 = 41), c7
// (40+1 = 41), c8 (45+1+2 = 48), c9 (50+1+3 = 54). The published side is
// what is stored.
func TestPreviewOfDoubledThreshold(t *testing.T) {
	t.Parallel()
	b := history(t)
	rep, err := preview.Run(context.Background(), b.store, decode(t, model(5, 40)), preview.Options{Since: b.t0.Add(-time.Hour), Until: b.end.Add(time.Hour)})
	require.NoError(t, err)
	m := rep.Models[0]
	require.Equal(t, 7, m.Figures.Published.Thresholds["mql"].Crossings)
	require.Equal(t, 7, m.Figures.Published.Tasks.Total)
	require.Equal(t, 4, m.Figures.Draft.Thresholds["mql"].Crossings)
	require.Equal(t, 4, m.Figures.Draft.Tasks.Total)
	require.Equal(t, 4, rep.Tasks.Draft.Total)
	// Tasks per day: the k-th visit is on day k; c6 has 5k+1+3+2 and reaches
	// 41 on day 7; c7 (5k+1), c8 (5k+3) and c9 (5k+4) are below 40 on day 7
	// (36, 38, 39) and reach it on day 8.
	day := func(n int) string { return b.t0.Add(time.Duration(n) * 24 * time.Hour).Format(time.DateOnly) }
	require.Equal(t, map[string]int{day(7): 1, day(8): 3}, m.Figures.Draft.Tasks.PerDay)
	// Scores do not change with the threshold: no band changes.
	require.Equal(t, m.Figures.Published.Bands, m.Figures.Draft.Bands)
	require.Zero(t, m.BandChanges.Contacts)
}

// Doubling the page points moves contacts up the bands; the changes are
// counted and listed, and the histogram holds every contact on both sides.
func TestPreviewOfDoubledPoints(t *testing.T) {
	t.Parallel()
	b := history(t)
	rep, err := preview.Run(context.Background(), b.store, decode(t, model(10, 20)), preview.Options{Since: b.t0.Add(-time.Hour), Until: b.end.Add(time.Hour), Sample: 100})
	require.NoError(t, err)
	require.True(t, rep.Sampled)
	m := rep.Models[0]
	// Draft: cI has 10·(I+1) (+1 from the third visit, +3 CEO, +2 signup):
	// c0 = 10+3+2 = 15 cold; c1 = 20 warm; c2 = 30+1+2 = 33 warm; c3 and up ≥ 40 hot.
	require.Equal(t, map[string]int{"cold": 1, "warm": 2, "hot": 7}, m.Figures.Draft.Bands)
	// Published: c0 = 5+3+2 = 10, c1 = 10, c2 = 15+1+2 = 18 cold; c3 = 20+1+3 = 24,
	// c4 = 25+1+2 = 28, c5 = 31, c6 = 35+1+3+2 = 41 hot, c7 = 41, c8 = 48, c9 = 54.
	require.Equal(t, map[string]int{"cold": 3, "warm": 3, "hot": 4}, m.Figures.Published.Bands)
	// c1 and c2 go cold → warm, c3, c4 and c5 warm → hot.
	require.Equal(t, 5, m.BandChanges.Contacts)
	require.Equal(t, map[string]int{"cold → warm": 2, "warm → hot": 3}, m.BandChanges.ByChange)
	require.Len(t, m.BandChanges.Examples, 5)
	require.Equal(t, preview.BandChange{ContactID: "c1", From: "cold", To: "warm", PublishedScore: 10, DraftScore: 20}, m.BandChanges.Examples[0])
	pub, draft := 0, 0
	for _, bk := range m.Histogram {
		pub, draft = pub+bk.Published, draft+bk.Draft
	}
	require.Equal(t, 10, pub)
	require.Equal(t, 10, draft)
}
