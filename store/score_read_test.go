package store_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

// The score a read computes in SQL is the one the engine computes in Go
// (flows.ScoreAt: what it would materialise at that time), to the cent,
// for any profile, engagement, age and half-life — through the hot list,
// the contact view and the account roll-up.
func TestScoreReadAgreesWithTheEngine(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 8, 30, 15, 123456000, time.UTC)
	rng := rand.New(rand.NewPCG(9, 3))
	type row struct {
		profile, engagement float64
		asOf                time.Time
	}
	halfLife := 30*24*time.Hour + 7*time.Second + 3*time.Microsecond
	model := &flows.ScoreModel{ID: "main", Decay: &flows.Decay{HalfLife: flows.Duration{Duration: halfLife}}}
	cents := func(max int) float64 { return float64(rng.IntN(2*max*100+1)-max*100) / 100 }
	rows := map[string]row{}
	var ids []string
	var profiles, engagements []float64
	var asOfs []time.Time
	for i := 0; i < 3000; i++ {
		r := row{profile: cents(500), engagement: cents(1000)}
		switch i % 6 {
		case 0: // whole half-lives: exact powers of two, halves of cents
			r.asOf = now.Add(-time.Duration(rng.IntN(12)) * halfLife)
			r.engagement = float64(rng.IntN(200)-100) / 100
		case 1: // within a second of asOf
			r.asOf = now.Add(-time.Duration(rng.IntN(1_000_000)) * time.Microsecond)
		case 2: // after now: as stored
			r.asOf = now.Add(time.Duration(rng.IntN(1000)) * time.Second)
		case 3: // far past: the profile only
			r.asOf = now.Add(-time.Duration(100+rng.IntN(1000)) * halfLife)
		default:
			r.asOf = now.Add(-time.Duration(rng.Int64N(int64(20*halfLife/time.Microsecond))) * time.Microsecond)
		}
		if i%50 == 0 {
			r.engagement = 1e8 + cents(1000)
		}
		id := fmt.Sprintf("c%04d", i)
		rows[id] = r
		ids = append(ids, id)
		profiles = append(profiles, r.profile)
		engagements = append(engagements, r.engagement)
		asOfs = append(asOfs, r.asOf)
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO accounts (id) VALUES ('acme')`)
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `INSERT INTO contacts (id, partition, account_id) SELECT u, 0, 'acme' FROM unnest($1::text[]) u`, ids)
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `INSERT INTO scores (contact_id, model, score, profile, engagement, engagement_as_of)
		SELECT u.c, 'main', u.p + u.e, u.p, u.e, u.a FROM unnest($1::text[], $2::numeric[], $3::numeric[], $4::timestamptz[]) AS u(c, p, e, a)`,
		ids, profiles, engagements, asOfs)
	require.NoError(t, err)

	want := func(id string) float64 {
		r := rows[id]
		return flows.ScoreAt(model, r.profile, r.engagement, r.asOf, now)
	}
	page, err := s.LeadsPage(ctx, store.LeadsPageQuery{Model: "main", Now: now, HalfLife: halfLife, Limit: 100000})
	require.NoError(t, err)
	require.Len(t, page, len(ids))
	var totalCents int64 // the sum of the cents, exact
	mismatches := 0
	for i, l := range page {
		if l.Score != want(l.ContactID) {
			mismatches++
			t.Errorf("%s (profile %v, engagement %v, %s before now): read %v, the engine %v", l.ContactID, rows[l.ContactID].profile,
				rows[l.ContactID].engagement, now.Sub(rows[l.ContactID].asOf), l.Score, want(l.ContactID))
		}
		if i > 0 {
			require.True(t, page[i-1].Score > l.Score || (page[i-1].Score == l.Score && page[i-1].ContactID < l.ContactID), "highest first, ties by id")
		}
		totalCents += int64(math.Round(l.Score * 100))
	}
	require.Zero(t, mismatches)

	clock := store.ScoreClock{Now: now, HalfLives: map[string]time.Duration{"main": halfLife}}
	for _, id := range ids[:300] {
		v, err := s.ContactView(ctx, id, clock)
		require.NoError(t, err)
		require.Len(t, v.Scores, 1)
		require.Equal(t, want(id), v.Scores[0].Score, id)
		require.Equal(t, flows.RoundPoints(want(id)-rows[id].profile), v.Scores[0].Engagement, id)
		require.Equal(t, flows.RoundPoints(rows[id].profile+rows[id].engagement), v.Scores[0].StoredScore, id)
	}

	// The account sums the same values (exactly, in numeric).
	acc, err := s.AccountView(ctx, "acme", 10, clock, []string{"main"})
	require.NoError(t, err)
	require.Equal(t, totalCents, int64(math.Round(acc.Scores["main"]*100)))
	list, err := s.AccountsByScore(ctx, "main", 10, clock)
	require.NoError(t, err)
	require.Equal(t, acc.Scores["main"], list[0].Score)
}
