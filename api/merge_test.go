package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
)

// POST /v1/contacts/{id}/merge by hand; the merged id then redirects; a
// Segment identify with both ids queues the merge.
func TestMergeRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/v1/definitions", adminKey, `{"kind": "score_model", "id": "web", "name": "Web",
 "engagement": [{"id": "page", "on": {"type": "page_visited"}, "points": 1}]}`)
	require.Equal(t, 201, r.code, string(r.body))
	ctx := context.Background()
	eng := engine.New(e.store, "", zerolog.Nop())
	apply := func() {
		for p := 0; p < store.Partitions; p++ {
			_, err := eng.ApplyPartition(ctx, p, e.now, 100)
			require.NoError(t, err)
		}
	}
	_, _, err := e.store.InsertEvents(ctx, []store.EventRow{
		{ID: "a1", ContactID: "dup", Type: "page_visited", OccurredAt: e.now, Properties: map[string]any{"url": "/"}},
		{ID: "a2", ContactID: "dup", Type: "page_visited", OccurredAt: e.now, Properties: map[string]any{"url": "/"}},
		{ID: "b1", ContactID: "main", Type: "page_visited", OccurredAt: e.now, Properties: map[string]any{"url": "/"}},
	})
	require.NoError(t, err)
	apply()

	r = e.do("POST", "/v1/contacts/main/merge", adminKey, `{"from": "dup"}`)
	require.Equal(t, 200, r.code, string(r.body))
	m := r.json(t)
	require.Equal(t, true, m["merged"])
	require.Equal(t, "main", m["into"])
	require.EqualValues(t, 2, m["events"])
	require.EqualValues(t, 3, m["scores"].(map[string]any)["web"])

	r = e.do("GET", "/v1/contacts/dup", adminKey, nil)
	require.Equal(t, http.StatusPermanentRedirect, r.code, string(r.body))
	require.Equal(t, "/v1/contacts/main", r.header.Get("Location"))
	require.Equal(t, "main", r.json(t)["merged_into"])
	r = e.do("GET", "/v1/contacts/dup/score-history", adminKey, nil)
	require.Equal(t, http.StatusPermanentRedirect, r.code, string(r.body))
	require.Equal(t, "/v1/contacts/main/score-history", r.header.Get("Location"))

	r = e.do("POST", "/v1/contacts/main/merge", adminKey, `{"from": "dup"}`)
	require.Equal(t, 200, r.code, string(r.body))
	require.Equal(t, false, r.json(t)["merged"])
	require.Equal(t, "main", r.json(t)["already_into"])

	// Bad requests say what is wrong.
	r = e.do("POST", "/v1/contacts/main/merge", adminKey, `{}`)
	require.Equal(t, 400, r.code)
	r = e.do("POST", "/v1/contacts/main/merge", adminKey, `{"from": "main"}`)
	require.Equal(t, 400, r.code)
	r = e.do("POST", "/v1/contacts/main/merge", adminKey, `{"from": "a", "into": "b"}`)
	require.Equal(t, 400, r.code)
	r = e.do("POST", "/v1/contacts/main/merge", adminKey, `{"form": "x"}`)
	require.Equal(t, 400, r.code)
	require.Equal(t, 404, e.do("POST", "/v1/contacts/main/merge", adminKey, `{"from": "nobody"}`).code)
	require.Equal(t, 403, e.do("POST", "/v1/contacts/main/merge", ingestKey, `{"from": "dup"}`).code)

	// Segment: an identify naming the anonymous id queues the merge.
	_, _, err = e.store.InsertEvents(ctx, []store.EventRow{{ID: "v1", ContactID: "anon-9", Type: "page_visited", OccurredAt: e.now,
		Properties: map[string]any{"url": "/"}}})
	require.NoError(t, err)
	apply()
	r = e.do("POST", "/v1/identify", ingestKey, `{"userId": "sue", "anonymousId": "anon-9", "traits": {"email": "sue@example.com"}, "messageId": "m-1"}`)
	require.Equal(t, 200, r.code, string(r.body))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM merge_requests WHERE from_id = 'anon-9' AND into_id = 'sue'`))
	apply()
	r = e.do("GET", "/v1/contacts/anon-9", adminKey, nil)
	require.Equal(t, http.StatusPermanentRedirect, r.code, string(r.body))
	r = e.do("GET", "/v1/contacts/sue", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	require.EqualValues(t, 1, r.json(t)["scores"].(map[string]any)["web"].(map[string]any)["score"])
	// An alias links a previous id the same way.
	r = e.do("POST", "/v1/alias", ingestKey, `{"userId": "sue", "previousId": "old-sue", "messageId": "m-2"}`)
	require.Equal(t, 200, r.code, string(r.body))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM merge_requests WHERE from_id = 'old-sue' AND into_id = 'sue' AND reason = 'alias'`))
}
