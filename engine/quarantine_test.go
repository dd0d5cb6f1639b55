package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
)

const pointsModel = `[
{"kind": "score_model", "id": "main", "name": "Main",
 "engagement": [
   {"id": "r", "on": {"type": "event", "event": "visit"}, "points": 1},
   {"id": "vip", "on": {"type": "tag_added", "tag": "vip"}, "points": 5}]},
{"kind": "flow", "id": "flip", "name": "Flip", "trigger": {"type": "event", "event": "flip"}, "entry": "every_time", "steps": [
  {"id": "add1", "type": "add_tag", "tag": "vip"},
  {"id": "rm", "type": "remove_tag", "tag": "vip"},
  {"id": "add2", "type": "add_tag", "tag": "vip"}]}]`

// contactsIn returns n contact ids of the given partition.
func contactsIn(partition, n int, prefix string) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		id := fmt.Sprintf("%s%d", prefix, i)
		if store.PartitionOf(id) == partition {
			out = append(out, id)
		}
	}
	return out
}

func (b *testBundle) failures(t *testing.T) []store.FailedEvent {
	t.Helper()
	f, err := b.store.FailedEvents(context.Background(), store.FailureFailed, 0, 100)
	require.NoError(t, err)
	return f
}

// A number beyond float64 (accepted before the edge refused it) cannot be
// decoded: that event is quarantined, every other event of the batch —
// the same contact's too — is applied.
func TestPoisonNumberIsQuarantined(t *testing.T) {
	t.Parallel()
	b := setup(t, pointsModel)
	ids := contactsIn(3, 4, "n")
	var evs []store.EventRow
	for i, c := range ids {
		evs = append(evs, store.EventRow{ID: fmt.Sprintf("ok-%d", i), ContactID: c, Type: "visit"})
	}
	evs = append(evs,
		store.EventRow{ID: "poison", ContactID: ids[0], Type: "visit", Properties: map[string]any{"n": json.Number("1e400")}},
		store.EventRow{ID: "poison-trait", ContactID: ids[1], Type: "identify", Traits: map[string]any{"n": json.Number("-1e999")}},
		store.EventRow{ID: "after", ContactID: ids[0], Type: "visit"})
	b.send(t, evs...)
	res, err := b.engine.ApplyPartition(context.Background(), 3, b.now, 100)
	require.NoError(t, err)
	require.Equal(t, 2, res.Failed)
	s, _ := b.score(t, ids[0], "main")
	require.Equal(t, 2.0, s, "the contact's other events are applied")
	for _, c := range ids[1:] {
		s, _ := b.score(t, c, "main")
		require.Equal(t, 1.0, s)
	}
	f := b.failures(t)
	require.Len(t, f, 2)
	require.Equal(t, "poison", f[0].ID)
	require.Equal(t, ids[0], f[0].ContactID)
	require.Equal(t, "visit", f[0].Type)
	require.Equal(t, "properties.n: a number beyond the range leadflow computes with (float64, about ±1.8e308)", f[0].Error)
	require.Equal(t, 1, f[0].Attempts)
	require.Equal(t, "poison-trait", f[1].ID)
	n, err := b.store.PendingCount(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	// Not picked up again.
	res, err = b.engine.ApplyPartition(context.Background(), 3, b.now, 100)
	require.NoError(t, err)
	require.Zero(t, res.Events)

	// Retried, it fails again: one more attempt.
	_, err = b.store.RetryEvent(context.Background(), "poison", b.now)
	require.NoError(t, err)
	b.now = b.now.Add(time.Minute)
	_, err = b.engine.ApplyPartition(context.Background(), 3, b.now, 100)
	require.NoError(t, err)
	f = b.failures(t)
	require.Equal(t, 2, f[0].Attempts)
	require.True(t, f[0].LastAttemptAt.After(f[0].FirstAttemptAt))
	_, err = b.store.DiscardEvent(context.Background(), "poison", b.now)
	require.NoError(t, err)
	_, err = b.store.DiscardEvent(context.Background(), "poison", b.now)
	require.ErrorIs(t, err, store.ErrNotQuarantined)
	_, err = b.store.RetryEvent(context.Background(), "ok-1", b.now)
	require.ErrorIs(t, err, store.ErrNotQuarantined)
	_, err = b.store.RetryEvent(context.Background(), "nope", b.now)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// An event whose writes break a constraint (here a ledger row of an old
// database holding the key it would write) is found among a large batch by
// bisection and quarantined; everything else commits. Once the cause is
// gone, a retry applies it.
func TestConstraintViolationIsIsolated(t *testing.T) {
	t.Parallel()
	b := setup(t, pointsModel)
	ctx := context.Background()
	ids := contactsIn(5, 40, "c")
	var evs []store.EventRow
	for i, c := range ids {
		evs = append(evs, store.EventRow{ID: fmt.Sprintf("e-%d", i), ContactID: c, Type: "visit"})
		evs = append(evs, store.EventRow{ID: fmt.Sprintf("f-%d", i), ContactID: c, Type: "visit"})
	}
	b.send(t, evs...)
	bad := ids[17]
	_, err := b.store.Pool.Exec(ctx, `INSERT INTO score_ledger (contact_id, model, points, kind, reason, at, idem_key)
		VALUES ('someone-else', 'main', 1, 'engagement', 'old row', now(), $1)`, engine.EngagementKey(bad, "main", "r", "e-17"))
	require.NoError(t, err)
	res, err := b.engine.ApplyPartition(ctx, 5, b.now, 500)
	require.NoError(t, err)
	require.Equal(t, 80, res.Events)
	require.Equal(t, 1, res.Failed)
	f := b.failures(t)
	require.Len(t, f, 1)
	require.Equal(t, "e-17", f[0].ID)
	require.Contains(t, f[0].Error, "23505")
	for _, c := range ids {
		want := 2.0
		if c == bad {
			want = 1
		}
		s, _ := b.score(t, c, "main")
		require.Equal(t, want, s, c)
	}
	require.Zero(t, b.count(t, `SELECT count(*) FROM events WHERE applied_at IS NULL AND quarantined_at IS NULL`))

	_, err = b.store.Pool.Exec(ctx, `DELETE FROM score_ledger WHERE contact_id = 'someone-else'`)
	require.NoError(t, err)
	p, err := b.store.RetryEvent(ctx, "e-17", b.now)
	require.NoError(t, err)
	require.Equal(t, 5, p)
	_, err = b.engine.ApplyPartition(ctx, 5, b.now, 500)
	require.NoError(t, err)
	s, _ := b.score(t, bad, "main")
	require.Equal(t, 2.0, s)
	require.Empty(t, b.failures(t))
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM event_failures WHERE status = 'retried'`))
}

// Ids joined with ':' collided: contact "a" + event "b:main:r:c" and
// contact "a:main:r:b" + event "c" gave the same ledger key.
func TestCollidingIDsBothScore(t *testing.T) {
	t.Parallel()
	b := setup(t, pointsModel)
	b.send(t, store.EventRow{ID: "b:main:r:c", ContactID: "a", Type: "visit"},
		store.EventRow{ID: "c", ContactID: "a:main:r:b", Type: "visit"})
	b.applyAll(t)
	for _, c := range []string{"a", "a:main:r:b"} {
		s, _ := b.score(t, c, "main")
		require.Equal(t, 1.0, s, c)
	}
	require.Empty(t, b.failures(t))
}

// A chain that adds, removes and adds a tag again raises two tag_added
// events: each has its own id, and each pays its rule.
func TestDerivedEventsOfOneChainAreDistinct(t *testing.T) {
	t.Parallel()
	b := setup(t, pointsModel)
	b.send(t, store.EventRow{ID: "go", ContactID: "tim", Type: "flip"})
	b.applyAll(t)
	require.Empty(t, b.failures(t))
	s, _ := b.score(t, "tim", "main")
	require.Equal(t, 10.0, s)
	require.Equal(t, 2, b.count(t, `SELECT count(DISTINCT event_id) FROM score_ledger WHERE contact_id = 'tim' AND rule_id = 'vip'`))
}

// A contact whose due changes fail (its stored state cannot be read) has
// them pushed back with a backoff; the partition goes on.
func TestDueFailureDoesNotWedge(t *testing.T) {
	t.Parallel()
	b := setup(t, `[{"kind": "score_model", "id": "main", "name": "Main",
 "decay": {"half_life": "1d"},
 "bands": [{"name": "cold", "min": -100, "color": "blue"}, {"name": "warm", "min": 5, "color": "orange"}],
 "engagement": [{"id": "r", "on": {"type": "event", "event": "visit"}, "points": 8}]}]`)
	ctx := context.Background()
	ids := contactsIn(7, 3, "d")
	for i, c := range ids {
		b.send(t, store.EventRow{ID: fmt.Sprintf("v%d", i), ContactID: c, Type: "visit"})
	}
	_, err := b.engine.ApplyPartition(ctx, 7, b.now, 100)
	require.NoError(t, err)
	// Break one contact's row the way an old build could have written it.
	_, err = b.store.Pool.Exec(ctx, `UPDATE contacts SET fields = '{"n": 1e400}' WHERE id = $1`, ids[0])
	require.NoError(t, err)
	later := b.now.Add(3 * 24 * time.Hour)
	b.send(t, store.EventRow{ID: "w1", ContactID: ids[1], Type: "visit", OccurredAt: later},
		store.EventRow{ID: "w0", ContactID: ids[0], Type: "visit", OccurredAt: later})
	res, err := b.engine.ApplyPartition(ctx, 7, later, 100)
	require.NoError(t, err)
	require.Equal(t, 3, res.Due)
	require.Equal(t, 1, res.Failed, "the broken contact's event")
	s, _ := b.score(t, ids[1], "main")
	require.Equal(t, 9.0, s, "decayed to 1 and visited again")
	s, _ = b.score(t, ids[2], "main")
	require.Equal(t, 1.0, s, "decayed")
	require.Equal(t, 1, b.count(t, `SELECT attempts FROM due_failures WHERE contact_id = $1`, ids[0]))
	var next time.Time
	require.NoError(t, b.store.Pool.QueryRow(ctx, `SELECT next_due_at FROM contacts WHERE id = $1`, ids[0]).Scan(&next))
	require.Equal(t, later.Add(30*time.Second), next.UTC())
	// Not due again before its backoff; then again, with a longer one.
	res, err = b.engine.ApplyPartition(ctx, 7, later.Add(10*time.Second), 100)
	require.NoError(t, err)
	require.Zero(t, res.Due)
	_, err = b.engine.ApplyPartition(ctx, 7, later.Add(31*time.Second), 100)
	require.NoError(t, err)
	require.Equal(t, 2, b.count(t, `SELECT attempts FROM due_failures WHERE contact_id = $1`, ids[0]))
	require.NoError(t, b.store.Pool.QueryRow(ctx, `SELECT next_due_at FROM contacts WHERE id = $1`, ids[0]).Scan(&next))
	require.Equal(t, later.Add(31*time.Second+time.Minute), next.UTC())
}
