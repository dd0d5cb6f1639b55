package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

// The sweep deletes applied events older than the horizon, in batches, and
// never events not applied yet (pending or quarantined), events with a
// failure record, or younger ones; it records what it did.
func TestSweepEventsDeletesOnlyOldAppliedEvents(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	old, young := now.Add(-100*24*time.Hour), now.Add(-10*24*time.Hour)
	_, err := s.Pool.Exec(ctx, `INSERT INTO events (id, contact_id, partition, type, occurred_at, applied_at, quarantined_at)
		SELECT 'old-applied-' || i, 'c', 0, 'visit', $1::timestamptz, $3::timestamptz, NULL::timestamptz FROM generate_series(1, 25) i
		UNION ALL SELECT 'old-pending', 'c', 0, 'visit', $1, NULL, NULL
		UNION ALL SELECT 'old-quarantined', 'c', 0, 'visit', $1, NULL, $3
		UNION ALL SELECT 'old-retried', 'c', 0, 'visit', $1, $3, NULL
		UNION ALL SELECT 'young-applied', 'c', 0, 'visit', $2, $3, NULL`, old, young, now)
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `INSERT INTO event_failures (event_seq, status, error, first_attempt_at, last_attempt_at)
		SELECT seq, CASE WHEN id = 'old-retried' THEN 'retried' ELSE 'failed' END, 'boom', $1, $1 FROM events
		WHERE id IN ('old-retried', 'old-quarantined')`, now)
	require.NoError(t, err)

	n, err := s.SweepEvents(ctx, 0, now, 10, 100)
	require.NoError(t, err)
	require.Zero(t, n, "no horizon: nothing deleted")

	n, err = s.SweepEvents(ctx, 90*24*time.Hour, now, 10, 2)
	require.NoError(t, err)
	require.Equal(t, int64(20), n, "two batches of ten at most")
	n, err = s.SweepEvents(ctx, 90*24*time.Hour, now, 10, 100)
	require.NoError(t, err)
	require.Equal(t, int64(5), n)
	n, err = s.SweepEvents(ctx, 90*24*time.Hour, now, 10, 100)
	require.NoError(t, err)
	require.Zero(t, n)

	rows, err := s.Pool.Query(ctx, `SELECT id FROM events ORDER BY id`)
	require.NoError(t, err)
	var left []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		left = append(left, id)
	}
	require.Equal(t, []string{"old-pending", "old-quarantined", "old-retried", "young-applied"}, left)

	sweeps, err := s.RetentionSweeps(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, []store.RetentionSweep{
		{SweptAt: now, Horizon: 90 * 24 * time.Hour, Cutoff: now.Add(-90 * 24 * time.Hour), Deleted: 5},
		{SweptAt: now, Horizon: 90 * 24 * time.Hour, Cutoff: now.Add(-90 * 24 * time.Hour), Deleted: 20},
	}, normalize(sweeps))
}

func normalize(sw []store.RetentionSweep) []store.RetentionSweep {
	for i := range sw {
		sw[i].SweptAt, sw[i].Cutoff = sw[i].SweptAt.UTC(), sw[i].Cutoff.UTC()
	}
	return sw
}
