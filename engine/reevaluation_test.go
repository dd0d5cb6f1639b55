package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

func (b *testBundle) publish(t *testing.T, docs string) []store.PublishResult {
	t.Helper()
	parsed, errs := flows.Decode("test.json", []byte(docs))
	require.Empty(t, errs)
	require.Empty(t, flows.Validate("test.json", parsed, nil))
	var in []store.DefinitionInput
	for _, d := range parsed {
		body, err := flows.Canonical(d)
		require.NoError(t, err)
		in = append(in, store.DefinitionInput{ID: d.ID(), Kind: d.Kind(), Hash: flows.Hash(d), Body: body})
	}
	res, err := b.store.Publish(context.Background(), in)
	require.NoError(t, err)
	return res
}

// Publishing a new version of a score model or a new segment re-evaluates
// every existing contact in the background, a slice per batch: profile
// points, bands, thresholds with their actions and memberships, with the
// progress readable while it goes on and a finished walk at the end.
func TestPublishReevaluatesExistingContacts(t *testing.T) {
	t.Parallel()
	const v1 = `{"kind": "score_model", "id": "fit", "name": "Fit",
 "profile": [{"id": "ceo", "when": {"field": "role", "op": "eq", "value": "ceo"}, "points": 10}]}`
	const v2 = `[{"kind": "score_model", "id": "fit", "name": "Fit",
 "bands": [{"name": "cold", "min": 0, "color": "#3b82f6"}, {"name": "fit", "min": 5, "color": "#ef4444"}],
 "profile": [{"id": "dev", "when": {"field": "role", "op": "eq", "value": "dev"}, "points": 5}],
 "thresholds": [{"id": "ok", "score": 5, "actions": [{"id": "task", "type": "create_crm_task", "title": "Fit {{contact_id}}"}]}]},
{"kind": "segment", "id": "devs", "name": "Developers", "rule": {"field": "role", "op": "eq", "value": "dev"}}]`
	b := setup(t, v1)
	const n = 400
	for i := range n {
		role := "dev"
		if i%4 == 0 {
			role = "ceo"
		}
		b.send(t, store.EventRow{ID: fmt.Sprintf("i%d", i), ContactID: fmt.Sprintf("c%03d", i), Type: "identify", Traits: map[string]any{"role": role}})
	}
	b.applyAll(t)
	score, _ := b.score(t, "c000", "fit")
	require.Equal(t, 10.0, score)
	score, _ = b.score(t, "c001", "fit")
	require.Equal(t, 0.0, score, "no rule for developers in version 1")

	res := b.publish(t, v2)
	require.Equal(t, 2, res[0].Version)
	re, err := b.store.LatestReevaluation(context.Background(), "fit")
	require.NoError(t, err)
	require.NotNil(t, re)
	require.Equal(t, 2, re.Version)
	require.Equal(t, n, re.Contacts)
	require.Zero(t, re.Done)
	require.Nil(t, re.FinishedAt)

	// One batch of one partition: a slice only (a quarter of the limit).
	_, err = b.engine.ApplyPartition(context.Background(), 0, b.now, 40)
	require.NoError(t, err)
	// Walks go one after the other, oldest first (devs before fit: same
	// start, ids in order).
	done := 0
	for _, id := range []string{"fit", "devs"} {
		re, err = b.store.LatestReevaluation(context.Background(), id)
		require.NoError(t, err)
		done += re.Done
	}
	require.Equal(t, 10, done, "one slice of ten contacts of partition 0")

	b.applyAll(t)
	for i := range n {
		id := fmt.Sprintf("c%03d", i)
		score, band := b.score(t, id, "fit")
		if i%4 == 0 {
			require.Equal(t, 0.0, score, "%s: the ceo rule is gone in version 2", id)
			require.Equal(t, "cold", band, id)
			continue
		}
		require.Equal(t, 5.0, score, id)
		require.Equal(t, "fit", band, id)
	}
	require.Equal(t, n*3/4, b.count(t, `SELECT count(*) FROM segment_memberships WHERE segment_id = 'devs'`))
	require.Equal(t, n*3/4, b.count(t, `SELECT count(*) FROM segment_history WHERE segment_id = 'devs' AND change = 'entered'`))
	require.Equal(t, n*3/4, b.count(t, `SELECT count(*) FROM crm_tasks WHERE threshold_id = 'ok'`), "one task per crossing")
	require.Equal(t, n/4, b.count(t, `SELECT count(*) FROM score_ledger WHERE rule_id = 'ceo' AND points = -10`))
	for _, id := range []string{"fit", "devs"} {
		re, err = b.store.LatestReevaluation(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, n, re.Done, id)
		require.Equal(t, n, re.Contacts, id)
		require.NotNil(t, re.FinishedAt, id)
	}

	// Publishing the same content again re-evaluates nothing; walking again
	// changes nothing either.
	res = b.publish(t, v2)
	require.False(t, res[0].Changed)
	b.applyAll(t)
	require.Equal(t, n*3/4, b.count(t, `SELECT count(*) FROM crm_tasks`))
	require.Equal(t, n*3/4, b.count(t, `SELECT count(*) FROM segment_history WHERE segment_id = 'devs'`))
}
