package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

// The hot list stays fast deep into 100,000 contacts: a page after a
// cursor starts the index scan at the cursor (scores_hot_page), even with a
// generic plan, instead of reading and skipping everything before it.
func TestLeadsPageDeepInAHundredThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 100,000 contacts")
	}
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := context.Background()
	start := time.Now()
	_, err := s.Pool.Exec(ctx, `INSERT INTO contacts (id, email, partition, fields)
		SELECT 'c' || i, 'c' || i || '@example.com', i % 64, jsonb_build_object('owner', 'o' || (i % 7)) FROM generate_series(1, 100000) i`)
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `INSERT INTO scores (contact_id, model, score, band)
		SELECT 'c' || i, 'main', (i * 7919) % 1000 / 10.0, CASE WHEN (i * 7919) % 1000 >= 300 THEN 'hot' ELSE 'cold' END
		FROM generate_series(1, 100000) i`)
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `ANALYZE contacts; ANALYZE scores`)
	require.NoError(t, err)
	t.Logf("100,000 contacts with scores inserted in %s", time.Since(start).Round(time.Millisecond))

	var deep store.LeadsCursor
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT score::text, contact_id FROM scores WHERE model = 'main'
		ORDER BY score DESC, contact_id OFFSET 80000 LIMIT 1`).Scan(&deep.Score, &deep.ContactID))

	timed := func(q store.LeadsPageQuery) ([]store.LeadRow, time.Duration) {
		best := time.Hour
		var rows []store.LeadRow
		for i := 0; i < 5; i++ { // past pgx's and PostgreSQL's first executions
			t0 := time.Now()
			r, err := s.LeadsPage(ctx, q)
			require.NoError(t, err)
			rows = r
			best = min(best, time.Since(t0))
		}
		return rows, best
	}
	first, firstTook := timed(store.LeadsPageQuery{Model: "main", Limit: 50})
	require.Len(t, first, 50)
	page, deepTook := timed(store.LeadsPageQuery{Model: "main", Limit: 50, After: &deep})
	require.Len(t, page, 50)
	require.True(t, page[0].ScoreText < deep.Score || (page[0].ScoreText == deep.Score && page[0].ContactID > deep.ContactID),
		"the page starts after the cursor")
	below := 30.0
	_, filteredTook := timed(store.LeadsPageQuery{Model: "main", Limit: 50, After: &deep, Owner: "o3", BelowScore: &below})
	t.Logf("page of 50: first %s, after 80,000 rows %s, after 80,000 with owner and band filters %s",
		firstTook.Round(time.Microsecond), deepTook.Round(time.Microsecond), filteredTook.Round(time.Microsecond))
	require.Less(t, deepTook, 250*time.Millisecond, "a deep page must not read the rows before it")

	// The plan, generic (as a cached prepared statement may get): an index
	// scan on scores_hot_page bounded by the cursor.
	conn, err := s.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`)
	require.NoError(t, err)
	sql, args := store.LeadsPageSQLForTest(store.LeadsPageQuery{Model: "main", Limit: 50, After: &deep})
	rows, err := conn.Query(ctx, "EXPLAIN "+sql, args...)
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	text := strings.Join(plan, "\n")
	require.Contains(t, text, "scores_hot_page", "plan:\n%s", text)
	require.Regexp(t, `Index Cond: .*score <= `, text, "the cursor bounds the index scan; plan:\n%s", text)
	_, _ = conn.Exec(ctx, `RESET plan_cache_mode`)

	// A model with half-life decay: every page computes the 100,000
	// scores at the read's time and sorts them (no index can hold a value
	// that changes with the clock). Measured here.
	_, err = s.Pool.Exec(ctx, `UPDATE scores SET engagement = score, engagement_as_of = now() - (abs(hashtext(contact_id)) % 5000000) * interval '1 second'`)
	require.NoError(t, err)
	decaying := store.LeadsPageQuery{Model: "main", Limit: 50, Now: time.Now(), HalfLife: 30 * 24 * time.Hour}
	first, firstTook = timed(decaying)
	require.Len(t, first, 50)
	all, err := s.LeadsPage(ctx, store.LeadsPageQuery{Model: "main", Limit: 80001, Now: decaying.Now, HalfLife: decaying.HalfLife})
	require.NoError(t, err)
	last := all[len(all)-1]
	decaying.After = &store.LeadsCursor{Score: last.ScoreText, ContactID: last.ContactID}
	page, deepTook = timed(decaying)
	require.Len(t, page, 50)
	decaying.Owner, decaying.BelowScore = "o3", &below
	_, filteredTook = timed(decaying)
	t.Logf("half-life model, page of 50: first %s, after 80,000 rows %s, after 80,000 with owner and band filters %s",
		firstTook.Round(time.Microsecond), deepTook.Round(time.Microsecond), filteredTook.Round(time.Microsecond))
	require.Less(t, deepTook, 3*time.Second)

	// A contact with 100,000 applied events: its timeline reads its index
	// entries, not the log.
	_, err = s.Pool.Exec(ctx, `INSERT INTO events (id, contact_id, partition, type, occurred_at, applied_at)
		SELECT 'ev' || i, 'c1', 1, 'visit' || (i % 5), now() - make_interval(secs => i), now() FROM generate_series(1, 100000) i;
		INSERT INTO events (id, contact_id, partition, type, occurred_at, applied_at)
		SELECT 'other' || i, 'c' || (i % 1000 + 2), 1, 'visit', now(), now() FROM generate_series(1, 100000) i;
		INSERT INTO events (id, contact_id, partition, type, occurred_at) VALUES ('pending-1', 'c1', 1, 'visit', now() + interval '1 second');
		ANALYZE events`)
	require.NoError(t, err)
	var tl store.ContactTimeline
	best := time.Hour
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		tl, err = s.ContactTimeline(ctx, "c1", 100)
		require.NoError(t, err)
		best = min(best, time.Since(t0))
	}
	require.Len(t, tl.Events, 100)
	require.Equal(t, "pending-1", tl.Events[0].ID, "pending events are shown, newest first")
	require.Nil(t, tl.Events[0].AppliedAt)
	require.Equal(t, "ev1", tl.Events[1].ID)
	t.Logf("timeline of a contact with 100,000 events (of 200,000): %s", best.Round(time.Microsecond))
	require.Less(t, best, 500*time.Millisecond)
}
