package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store"
)

const conversionModels = `[
{"kind": "score_model", "id": "main", "name": "Main",
 "bands": [{"name": "cold", "min": 0, "color": "blue"}, {"name": "hot", "min": 30, "color": "red"}],
 "engagement": [
   {"id": "pricing", "on": {"type": "page_visited", "url": "*/pricing*"}, "points": 10},
   {"id": "won", "on": {"type": "event", "event": "deal_won"}, "points": 5}]},
{"kind": "score_model", "id": "trial", "name": "Trial",
 "engagement": [{"id": "pricing", "on": {"type": "page_visited"}, "points": 1}],
 "conversion": {"event": "subscribed", "value_property": "mrr"}}
]`

// TestConversionKeepsFirstWithScoreAndLedger: deal_won converts in the
// default model with the score it has once the event is applied (its own
// points included); the ledger rows up to ledger_through sum to that score;
// a second deal_won changes nothing; a model naming another event converts
// only on it, with the value from its own property.
func TestConversionKeepsFirstWithScoreAndLedger(t *testing.T) {
	t.Parallel()
	b := setup(t, conversionModels)
	ctx := context.Background()
	visit := func(id string) store.EventRow {
		return store.EventRow{ID: id, ContactID: "ada", Type: "page_visited", Properties: map[string]any{"url": "https://x.example/pricing"}}
	}
	b.send(t, visit("v1"), visit("v2"))
	b.applyAll(t)
	b.now = b.now.Add(48 * time.Hour)
	// The visit after the deal in the same batch is not part of the score at conversion.
	b.send(t, store.EventRow{ID: "w1", ContactID: "ada", Type: "deal_won", Properties: map[string]any{"amount": 1200.5}}, visit("v3"))
	b.applyAll(t)
	b.now = b.now.Add(24 * time.Hour)
	b.send(t, store.EventRow{ID: "w2", ContactID: "ada", Type: "deal_won", Properties: map[string]any{"amount": 99.0}})
	b.applyAll(t)

	v, err := b.store.ContactView(ctx, "ada", store.ScoreClock{Now: b.now})
	require.NoError(t, err)
	require.Len(t, v.Conversions, 1, "trial converts on subscribed only; main keeps its first conversion")
	cv := v.Conversions[0]
	require.Equal(t, "main", cv.Model)
	require.Equal(t, "w1", cv.EventID)
	require.Equal(t, "deal_won", cv.EventType)
	require.NotNil(t, cv.Value)
	require.Equal(t, 1200.5, *cv.Value)
	require.Equal(t, 25.0, cv.Score, "two visits (20) and the deal's own rule (5)")
	require.Equal(t, "cold", cv.Band)
	require.True(t, cv.At.Equal(time.Date(2026, 1, 7, 10, 0, 0, 0, time.UTC)), "applied at the batch's time: %s", cv.At)
	require.NotNil(t, cv.LedgerThrough)
	var sum float64
	require.NoError(t, b.store.Pool.QueryRow(ctx, `SELECT sum(points)::float8 FROM score_ledger WHERE contact_id = 'ada' AND model = 'main' AND id <= $1`, *cv.LedgerThrough).Scan(&sum))
	require.Equal(t, cv.Score, sum)
	score, _ := b.score(t, "ada", "main")
	require.Equal(t, 40.0, score, "later points still count now")

	b.send(t, store.EventRow{ID: "s1", ContactID: "ada", Type: "subscribed", Properties: map[string]any{"mrr": 49.0}})
	b.applyAll(t)
	v, err = b.store.ContactView(ctx, "ada", store.ScoreClock{Now: b.now})
	require.NoError(t, err)
	require.Len(t, v.Conversions, 2)
	require.Equal(t, "trial", v.Conversions[1].Model)
	require.Equal(t, 49.0, *v.Conversions[1].Value)
	require.Equal(t, 3.0, v.Conversions[1].Score)
	require.Equal(t, "", v.Conversions[1].Band)
}

// TestConversionOnStage: a model converting on a stage converts when the
// contact's stage is set to it (here by identify traits), with the score it
// has then; setting the stage again or to another value changes nothing,
// and a deal_won event does not convert in that model.
func TestConversionOnStage(t *testing.T) {
	t.Parallel()
	b := setup(t, `[{"kind": "score_model", "id": "sales", "name": "Sales",
 "engagement": [{"id": "pricing", "on": {"type": "page_visited"}, "points": 4}],
 "conversion": {"stage": "customer"}}]`)
	ctx := context.Background()
	b.send(t, store.EventRow{ID: "v1", ContactID: "bo", Type: "page_visited"},
		store.EventRow{ID: "w1", ContactID: "bo", Type: "deal_won"},
		store.EventRow{ID: "i1", ContactID: "bo", Type: "identify", Traits: map[string]any{"stage": "lead"}})
	b.applyAll(t)
	v, err := b.store.ContactView(ctx, "bo", store.ScoreClock{Now: b.now})
	require.NoError(t, err)
	require.Empty(t, v.Conversions)

	b.now = b.now.Add(time.Hour)
	b.send(t, store.EventRow{ID: "v2", ContactID: "bo", Type: "page_visited"},
		store.EventRow{ID: "i2", ContactID: "bo", Type: "identify", Traits: map[string]any{"stage": "customer"}})
	b.applyAll(t)
	b.send(t, store.EventRow{ID: "i3", ContactID: "bo", Type: "identify", Traits: map[string]any{"stage": "churned"}})
	b.applyAll(t)
	b.send(t, store.EventRow{ID: "i4", ContactID: "bo", Type: "identify", Traits: map[string]any{"stage": "customer"}})
	b.applyAll(t)
	v, err = b.store.ContactView(ctx, "bo", store.ScoreClock{Now: b.now})
	require.NoError(t, err)
	require.Len(t, v.Conversions, 1)
	cv := v.Conversions[0]
	require.Equal(t, "field_changed", cv.EventType)
	require.Equal(t, 8.0, cv.Score)
	require.Nil(t, cv.Value)
	require.True(t, cv.At.Equal(b.now))
}
