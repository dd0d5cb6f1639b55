package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

// A digest's hot list reads each score at the digest's time, half-life
// decay included, and keeps the leads whose score then is in one of the
// bands asked for, highest first, disqualified contacts and other models
// left out; the owner is the field named.
func TestHotListReadsScoresAtItsTime(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	_, err := s.Pool.Exec(ctx, `INSERT INTO contacts (id, email, partition, fields, disqualified) VALUES
		('fresh', 'f@x.io', 0, '{"owner": "ann"}', false),
		('stale', 's@x.io', 0, '{"owner": "bob"}', false),
		('warm', 'w@x.io', 0, '{}', false),
		('gone', 'g@x.io', 0, '{"owner": "ann"}', true)`)
	require.NoError(t, err)
	// Engagement 80 each: fresh as of now (80), stale as of one half-life
	// ago (40 now, though 80 is stored), warm 30 (30), gone 100.
	_, err = s.Pool.Exec(ctx, `INSERT INTO scores (contact_id, model, score, profile, engagement, engagement_as_of, band) VALUES
		('fresh', 'm', 80, 0, 80, $1, 'hot'), ('stale', 'm', 80, 0, 80, $2, 'hot'),
		('warm', 'm', 30, 0, 30, $1, 'warm'), ('gone', 'm', 100, 0, 100, $1, 'hot'),
		('fresh', 'other', 500, 500, 0, $1, '')`, now, now.Add(-10*day))
	require.NoError(t, err)
	model := &flows.ScoreModel{ID: "m", Decay: &flows.Decay{HalfLife: flows.Duration{Duration: 10 * day}},
		Bands: []flows.Band{{Name: "cold", Min: 0}, {Name: "warm", Min: 20}, {Name: "hot", Min: 50}}}
	rng := func(name string) store.ScoreRange {
		min, below, ok := flows.BandBounds(model, name)
		require.True(t, ok)
		return store.ScoreRange{Min: min, Below: below}
	}
	q := store.HotListQuery{Model: "m", Now: now, HalfLife: 10 * day, OwnerField: "owner", Limit: 10}
	ids := func(q store.HotListQuery) []string {
		leads, err := s.HotList(ctx, q)
		require.NoError(t, err)
		var out []string
		for _, l := range leads {
			out = append(out, l.ContactID+"/"+l.Owner+"/"+strconv.FormatFloat(l.Score, 'f', -1, 64))
		}
		return out
	}
	require.Equal(t, []string{"fresh/ann/80", "stale/bob/40", "warm//30"}, ids(q))
	q.Ranges = []store.ScoreRange{rng("hot")}
	require.Equal(t, []string{"fresh/ann/80"}, ids(q), "stale decayed out of hot")
	q.Ranges = []store.ScoreRange{rng("warm")}
	require.Equal(t, []string{"stale/bob/40", "warm//30"}, ids(q))
	q.Ranges, q.HalfLife = []store.ScoreRange{rng("hot")}, 0
	require.Equal(t, []string{"fresh/ann/80", "stale/bob/80"}, ids(q), "without a half-life, as stored")
	q.Ranges, q.Limit = nil, 1
	require.Equal(t, []string{"fresh/ann/80"}, ids(q))
}
