package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
)

// POST /v1/definitions/preview replays the stored events through a draft
// beside the published version, in both request forms, writes nothing, and
// refuses bad drafts and windows with paths.
func TestPreviewRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const published = `{"kind": "score_model", "id": "web", "name": "Web",
 "engagement": [{"id": "page", "on": {"type": "page_visited"}, "points": 5}],
 "thresholds": [{"id": "mql", "score": 20, "actions": [{"id": "task", "type": "create_crm_task", "title": "MQL"}]}]}`
	const draft = `{"kind": "score_model", "id": "web", "name": "Web",
 "engagement": [{"id": "page", "on": {"type": "page_visited"}, "points": 10}],
 "thresholds": [{"id": "mql", "score": 20, "actions": [{"id": "task", "type": "create_crm_task", "title": "MQL"}]}]}`
	r := e.do("POST", "/v1/definitions", adminKey, published)
	require.Equal(t, 201, r.code, string(r.body))
	// Three contacts visit 1, 2 and 3 pages, applied by the engine.
	eng := engine.New(e.store, "", zerolog.Nop())
	ctx := context.Background()
	at := e.now.Add(-10 * 24 * time.Hour)
	for i := range 3 {
		for j := 0; j <= i; j++ {
			_, _, err := e.store.InsertEvents(ctx, []store.EventRow{{ID: fmt.Sprintf("pv%d-%d", i, j), ContactID: fmt.Sprintf("k%d", i),
				Type: "page_visited", OccurredAt: at, Properties: map[string]any{"url": "/"}}})
			require.NoError(t, err)
		}
	}
	for p := 0; p < store.Partitions; p++ {
		_, err := eng.ApplyPartition(ctx, p, at, 100)
		require.NoError(t, err)
	}
	before := e.count(`SELECT count(*) FROM score_ledger`) + e.count(`SELECT count(*) FROM crm_tasks`)

	check := func(r resp) {
		t.Helper()
		require.Equal(t, 200, r.code, string(r.body))
		m := r.json(t)
		require.EqualValues(t, 3, m["contacts"])
		require.EqualValues(t, 6, m["events"])
		model := m["models"].([]any)[0].(map[string]any)
		require.Equal(t, "web", model["id"])
		require.EqualValues(t, 1, model["published_version"])
		figs := model["figures"].(map[string]any)
		// Published: 5, 10, 15 (no crossing); draft: 10, 20, 30 (two tasks).
		require.EqualValues(t, 10, figs["published"].(map[string]any)["mean"])
		require.EqualValues(t, 20, figs["draft"].(map[string]any)["mean"])
		require.EqualValues(t, 0, figs["published"].(map[string]any)["tasks"].(map[string]any)["total"])
		require.EqualValues(t, 2, figs["draft"].(map[string]any)["tasks"].(map[string]any)["total"])
	}
	check(e.do("POST", "/v1/definitions/preview", adminKey, `{"documents": [`+draft+`], "since": "30d"}`))
	check(e.do("POST", "/v1/definitions/preview?since=30d", adminKey, draft))
	require.Equal(t, before, e.count(`SELECT count(*) FROM score_ledger`)+e.count(`SELECT count(*) FROM crm_tasks`), "nothing written")

	// Outside the window: nothing replayed.
	r = e.do("POST", "/v1/definitions/preview?since=5d", adminKey, draft)
	require.Equal(t, 200, r.code, string(r.body))
	require.EqualValues(t, 0, r.json(t)["contacts"])

	// Bad drafts and windows.
	r = e.do("POST", "/v1/definitions/preview", adminKey, `{"documents": {"kind": "score_model", "id": "web"}, "since": "30d"}`)
	require.Equal(t, 422, r.code, string(r.body))
	_, details := r.errBody(t)
	require.Contains(t, detailPaths(details), "documents.name")
	r = e.do("POST", "/v1/definitions/preview", adminKey, `{"documents": [`+draft+`], "since": "soon"}`)
	require.Equal(t, 400, r.code, string(r.body))
	_, details = r.errBody(t)
	require.Equal(t, []string{"since"}, detailPaths(details))
	r = e.do("POST", "/v1/definitions/preview", adminKey, `{"documents": [`+draft+`], "window": "30d"}`)
	require.Equal(t, 400, r.code, string(r.body))
	require.Equal(t, 401, e.do("POST", "/v1/definitions/preview", "", draft).code)
	require.Equal(t, 403, e.do("POST", "/v1/definitions/preview", ingestKey, draft).code)
}
