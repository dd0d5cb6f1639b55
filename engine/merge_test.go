package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store"
)

const mergeModel = `{"kind": "score_model", "id": "web", "name": "Web",
 "profile": [{"id": "ceo", "when": {"field": "role", "op": "eq", "value": "ceo"}, "points": 10}],
 "engagement": [{"id": "page", "on": {"type": "page_visited"}, "points": 1}],
 "thresholds": [{"id": "mql", "score": 5, "actions": [{"id": "task", "type": "create_crm_task", "title": "MQL {{contact_id}}"}]}]}`

func (b *testBundle) ledgerSum(t *testing.T, contactID, model string) float64 {
	t.Helper()
	var sum float64
	require.NoError(t, b.store.Pool.QueryRow(context.Background(),
		`SELECT coalesce(sum(points), 0)::float8 FROM score_ledger WHERE contact_id = $1 AND model = $2`, contactID, model).Scan(&sum))
	return sum
}

func pages(contactID string, from, n int) []store.EventRow {
	var out []store.EventRow
	for i := from; i < from+n; i++ {
		out = append(out, store.EventRow{ID: fmt.Sprintf("pv-%s-%d", contactID, i), ContactID: contactID, Type: "page_visited",
			Properties: map[string]any{"url": "/p"}})
	}
	return out
}

// An anonymous visitor's history joins the identified contact: the score
// is re-derived from both histories (the ledger still sums to it), the
// anonymous contact's events and tasks move, no task is created twice,
// the merged id's later events land on the survivor, and merging again
// changes nothing.
func TestMergeAnonymousIntoKnown(t *testing.T) {
	t.Parallel()
	b := setup(t, mergeModel)
	ctx := context.Background()
	b.send(t, pages("anon-1", 0, 4)...)
	b.send(t, store.EventRow{ID: "id-kim", ContactID: "kim", Type: "identify", Traits: map[string]any{"role": "ceo"}})
	b.applyAll(t)
	s, _ := b.score(t, "anon-1", "web")
	require.Equal(t, 4.0, s)
	s, _ = b.score(t, "kim", "web")
	require.Equal(t, 10.0, s)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM crm_tasks WHERE contact_id = 'kim'`))

	res, err := b.engine.Merge(ctx, "anon-1", "kim", store.MergeManual, b.now)
	require.NoError(t, err)
	require.True(t, res.Merged)
	require.Equal(t, 4, res.Events)
	require.Equal(t, 14.0, res.Scores["web"])
	s, _ = b.score(t, "kim", "web")
	require.Equal(t, 14.0, s)
	require.Equal(t, 14.0, b.ledgerSum(t, "kim", "web"), "the explanation sums to the score")
	require.Equal(t, 4, b.count(t, `SELECT count(*) FROM score_ledger WHERE contact_id = 'kim' AND rule_id = 'page'`))
	require.Zero(t, b.count(t, `SELECT count(*) FROM contacts WHERE id = 'anon-1'`))
	require.Zero(t, b.count(t, `SELECT count(*) FROM score_ledger WHERE contact_id = 'anon-1'`))
	require.Equal(t, 5, b.count(t, `SELECT count(*) FROM events WHERE contact_id = 'kim'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM crm_tasks`), "the replay creates no task: the crossing already had one")
	require.Equal(t, 1, b.count(t, `SELECT crossings FROM threshold_states WHERE contact_id = 'kim'`))

	again, err := b.engine.Merge(ctx, "anon-1", "kim", store.MergeManual, b.now)
	require.NoError(t, err)
	require.False(t, again.Merged)
	require.Equal(t, "kim", again.AlreadyInto)

	// A late event with the anonymous id lands on the survivor.
	b.send(t, pages("anon-1", 4, 1)...)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM events WHERE id = 'pv-anon-1-4' AND contact_id = 'kim'`))
	b.applyAll(t)
	s, _ = b.score(t, "kim", "web")
	require.Equal(t, 15.0, s)
	require.Zero(t, b.count(t, `SELECT count(*) FROM contacts WHERE id = 'anon-1'`))
	into, err := b.store.MergedInto(ctx, "anon-1")
	require.NoError(t, err)
	require.Equal(t, "kim", into)
}

// An identify event naming the anonymous id queues the merge; the
// survivor's partition does it before applying the event.
func TestIdentifyQueuesTheMerge(t *testing.T) {
	t.Parallel()
	b := setup(t, mergeModel)
	b.send(t, pages("anon-2", 0, 3)...)
	b.applyAll(t)
	b.send(t, store.EventRow{ID: "id-lee", ContactID: "lee", Type: "identify", Traits: map[string]any{"role": "ceo"},
		MergeFrom: "anon-2", MergeReason: store.MergeIdentify})
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM merge_requests WHERE from_id = 'anon-2' AND into_id = 'lee' AND done_at IS NULL`))
	b.applyAll(t)
	s, _ := b.score(t, "lee", "web")
	require.Equal(t, 13.0, s)
	require.Equal(t, 13.0, b.ledgerSum(t, "lee", "web"))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM merge_requests WHERE outcome = 'merged'`))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM crm_tasks WHERE contact_id = 'lee'`), "13 crosses 5 once: one task, now")
}

// Events for both ids keep arriving while the merge happens and while
// partitions apply: every event is applied exactly once, to the survivor
// in the end, and the exact check holds (score = ledger sum = events).
func TestMergeUnderConcurrentEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, mergeModel)
	ctx := context.Background()
	const n = 60
	b.send(t, pages("anon-3", 0, 5)...)
	b.send(t, pages("uma", 0, 5)...)
	b.applyAll(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 5; i < n; i++ {
			_, _, err := b.store.InsertEvents(ctx, append(pages("anon-3", i, 1), pages("uma", i, 1)...))
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, p := range []int{store.PartitionOf("anon-3"), store.PartitionOf("uma")} {
				if _, err := b.engine.ApplyPartition(ctx, p, b.now, 7); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	res, err := b.engine.Merge(ctx, "anon-3", "uma", store.MergeAlias, b.now)
	require.NoError(t, err)
	require.True(t, res.Merged)
	close(stop)
	wg.Wait()
	// Events appended for the merged id while the merge committed are
	// moved to the survivor's partition by the batch that finds them:
	// apply every partition again for those.
	b.applyAll(t)
	b.applyAll(t)
	s, _ := b.score(t, "uma", "web")
	require.Equal(t, float64(2*n), s)
	require.Equal(t, float64(2*n), b.ledgerSum(t, "uma", "web"))
	require.Equal(t, 2*n, b.count(t, `SELECT count(*) FROM score_ledger WHERE contact_id = 'uma' AND rule_id = 'page'`))
	require.Equal(t, 2*n, b.count(t, `SELECT count(*) FROM events WHERE contact_id = 'uma' AND applied_at IS NOT NULL`))
	require.Zero(t, b.count(t, `SELECT count(*) FROM events WHERE contact_id = 'anon-3'`))
	require.Zero(t, b.count(t, `SELECT count(*) FROM contacts WHERE id = 'anon-3'`))
}

// Two contacts below the MQL threshold (5) whose scores together cross it:
// the crossing happens because of the merge, so its task is created now,
// once; a crossing one of them had already made creates none.
func TestMergeCrossingOnlyTogether(t *testing.T) {
	t.Parallel()
	b := setup(t, mergeModel)
	ctx := context.Background()
	b.send(t, pages("anon-4", 0, 3)...)
	b.send(t, pages("vic", 0, 3)...)
	b.send(t, pages("anon-5", 0, 6)...)
	b.send(t, pages("wes", 0, 1)...)
	b.applyAll(t)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM crm_tasks`), "anon-5 crossed alone")

	res, err := b.engine.Merge(ctx, "anon-4", "vic", store.MergeManual, b.now)
	require.NoError(t, err)
	require.Equal(t, 6.0, res.Scores["web"])
	require.Equal(t, 1, res.Tasks)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM crm_tasks WHERE contact_id = 'vic' AND threshold_id = 'mql' AND crossing = 1`))

	res, err = b.engine.Merge(ctx, "anon-5", "wes", store.MergeManual, b.now)
	require.NoError(t, err)
	require.Equal(t, 7.0, res.Scores["web"])
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM crm_tasks WHERE contact_id = 'wes'`), "the anonymous contact's task moved; none new")
	require.Equal(t, 2, b.count(t, `SELECT count(*) FROM crm_tasks`))
}
