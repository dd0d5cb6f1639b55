package engine_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// A contact pushed past the score bound by many events keeps having its
// events applied; its score stops at ±flows.MaxScore and its ledger, which
// records only the points actually given, sums to the score.
func TestScoreStaysWithinBound(t *testing.T) {
	t.Parallel()
	b := setup(t, `[
{"kind": "score_model", "id": "big", "name": "Big",
 "profile": [{"id": "vip", "when": {"tag": "vip"}, "points": 1000000}],
 "engagement": [
   {"id": "up", "on": {"type": "event", "event": "up"}, "points": 1000000},
   {"id": "down", "on": {"type": "event", "event": "down"}, "points": -1000000}]},
{"kind": "flow", "id": "tagger", "name": "Tag", "trigger": {"type": "event", "event": "vip"}, "entry": "every_time",
 "steps": [{"id": "t", "type": "add_tag", "tag": "vip"}]}
]`)
	sendN := func(typ string, n, from int) {
		var evs []store.EventRow
		for i := range n {
			evs = append(evs, store.EventRow{ID: fmt.Sprintf("%s-%d", typ, from+i), ContactID: "max", Type: typ})
		}
		b.send(t, evs...)
		b.applyAll(t)
	}
	ledger := func() float64 {
		var sum float64
		require.NoError(t, b.store.Pool.QueryRow(t.Context(), `SELECT coalesce(sum(points), 0)::float8 FROM score_ledger WHERE contact_id = 'max' AND model = 'big'`).Scan(&sum))
		return sum
	}

	sendN("up", 1005, 0) // 1,005,000,000 points asked for
	score, _ := b.score(t, "max", "big")
	require.Equal(t, float64(flows.MaxScore), score)
	require.Equal(t, score, ledger())
	require.Equal(t, 1000, b.count(t, `SELECT count(*) FROM score_ledger WHERE contact_id = 'max' AND points > 0`), "grants at the bound give nothing and record nothing")

	// At the bound, events still apply (and a profile rule gives nothing).
	sendN("vip", 1, 0)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM contacts WHERE id = 'max' AND 'vip' = ANY(tags)`))
	score, _ = b.score(t, "max", "big")
	require.Equal(t, float64(flows.MaxScore), score)

	sendN("down", 2010, 0)
	score, _ = b.score(t, "max", "big")
	require.Equal(t, float64(-flows.MaxScore), score)
	require.Equal(t, score, ledger())
	sendN("up", 3, 2000)
	score, _ = b.score(t, "max", "big")
	require.Equal(t, float64(-flows.MaxScore+3_000_000), score)
	require.Equal(t, score, ledger())
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM events WHERE applied_at IS NULL`))
}
