package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/store/storetest"
)

func strp(s string) *string { return &s }

// Events naming an erased contact, by its id or by any email it was seen
// with (any case), are refused as a whole with ConflictRefuse and skipped
// with ConflictSkip; the others are appended.
func TestAppendRefusesEventsOfErasedContacts(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	_, err := s.Pool.Exec(ctx, `INSERT INTO contacts (id, email, partition) VALUES ('u1', 'Ann@Example.com', $1)`, store.PartitionOf("u1"))
	require.NoError(t, err)
	// An old email, seen only in an event's traits.
	_, err = s.AppendEvents(ctx, []store.EventRow{{ID: "e0", ContactID: "u1", Type: "identify", OccurredAt: now,
		Traits: map[string]any{"email": "ann.old@example.com"}}}, store.ConflictRefuse)
	require.NoError(t, err)

	// A re-evaluation walk that stopped at the contact.
	p := store.PartitionOf("u1")
	_, err = s.Pool.Exec(ctx, `INSERT INTO contacts (id, partition) VALUES ('a-before', $1), ('z-after', $1)`, p)
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `INSERT INTO reevaluations (definition_id, version, partition, total, done, cursor) VALUES ('m', 2, $1, 3, 2, 'u1')`, p)
	require.NoError(t, err)
	// A conversion, which the conversion report counts.
	_, err = s.Pool.Exec(ctx, `INSERT INTO conversions (contact_id, model, event_id, event_type, occurred_at, at, score)
		VALUES ('u1', 'm', 'buy-1', 'purchase', $1, $1, 42)`, now)
	require.NoError(t, err)

	res, err := s.EraseContact(ctx, store.ErasureRequest{ContactID: "u1", By: "admin key", At: now})
	require.NoError(t, err)
	require.False(t, res.AlreadyErased)
	var converted string
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT contact_id FROM conversions`).Scan(&converted))
	require.Equal(t, res.Tombstone, converted, "the conversion is kept, anonymous, for the report's counts")
	var cursor string
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT cursor FROM reevaluations`).Scan(&cursor))
	require.Equal(t, "a-before", cursor, "the walk goes on with the same next contact")
	require.Equal(t, 1, res.Erased.PendingEvents, "the identify was never applied: deleted")
	require.Equal(t, 4, res.Erased.Identifiers) // u1, the tombstone, two emails

	late := []store.EventRow{
		{ID: "ok", ContactID: "u2", Type: "visit", OccurredAt: now},
		{ID: "by-id", ContactID: "u1", Type: "visit", OccurredAt: now},
		{ID: "by-email", ContactID: "ann@example.com", Type: "visit", OccurredAt: now, Email: strp("ANN@example.com ")},
		{ID: "by-old-email", ContactID: "u3", Type: "identify", OccurredAt: now, Traits: map[string]any{"email": "Ann.Old@example.com"}},
		{ID: "on-tombstone", ContactID: res.Tombstone, Type: "visit", OccurredAt: now},
	}
	_, err = s.AppendEvents(ctx, late, store.ConflictRefuse)
	var erased *store.ErasedContactError
	require.True(t, errors.As(err, &erased), "%v", err)
	require.Equal(t, []int{1, 2, 3, 4}, erased.Indexes)
	require.Equal(t, []string{"contact_id", "contact_id", "email", "contact_id"}, erased.Fields)
	var n int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n))
	require.Zero(t, n, "nothing of a refused append is stored")

	out, err := s.AppendEvents(ctx, late, store.ConflictSkip)
	require.NoError(t, err)
	require.Equal(t, 1, out.Inserted)
	require.Equal(t, 4, out.Erased)
	require.Equal(t, []store.EventOutcome{store.EventInserted, store.EventErased, store.EventErased, store.EventErased, store.EventErased}, out.Outcomes)

	again, err := s.EraseContact(ctx, store.ErasureRequest{ContactID: "u1", By: "admin key", At: now.Add(time.Hour)})
	require.NoError(t, err)
	require.True(t, again.AlreadyErased)
	require.Equal(t, now, again.ErasedAt.UTC())
	require.Equal(t, store.Erased{}, again.Erased)
	at, ok, err := s.ContactErasure(ctx, "u1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, now, at.UTC())

	_, err = s.EraseContact(ctx, store.ErasureRequest{ContactID: "nobody", By: "admin key", At: now})
	require.ErrorIs(t, err, store.ErrNotFound)
}

// An append racing with the erasure of its contact either lands before it
// (and is erased with it) or is refused after it: never an event left for
// the engine to recreate the contact with.
func TestAppendRacingAnErasure(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for round := range 20 {
		id := "race-" + string(rune('a'+round))
		_, err := s.Pool.Exec(ctx, `INSERT INTO contacts (id, partition) VALUES ($1, $2)`, id, store.PartitionOf(id))
		require.NoError(t, err)
		var wg sync.WaitGroup
		var appendErr, eraseErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, appendErr = s.AppendEvents(ctx, []store.EventRow{{ID: id + "-ev", ContactID: id, Type: "visit", OccurredAt: now}}, store.ConflictRefuse)
		}()
		go func() {
			defer wg.Done()
			_, eraseErr = s.EraseContact(ctx, store.ErasureRequest{ContactID: id, By: "admin key", At: now})
		}()
		wg.Wait()
		require.NoError(t, eraseErr)
		var erased *store.ErasedContactError
		if appendErr != nil {
			require.True(t, errors.As(appendErr, &erased), "%v", appendErr)
		}
		var n int
		require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE contact_id = $1`, id).Scan(&n))
		require.Zero(t, n, "round %d: an event of the erased contact was left", round)
	}
}

// An id merged into a contact (identity merges) is the same person:
// erasing it erases the survivor, and every merged id is refused after, as
// a contact id or as the anonymous id of an identify.
func TestEraseMergedContact(t *testing.T) {
	t.Parallel()
	s := storetest.NewStore(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	_, err := s.Pool.Exec(ctx, `INSERT INTO contacts (id, email, partition) VALUES ('u9', 'nine@example.com', $1)`, store.PartitionOf("u9"))
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `INSERT INTO contact_merges (merged_id, into_id, reason, merged_at) VALUES ('anon-9', 'u9', 'identify', $1)`, now)
	require.NoError(t, err)
	_, err = s.Pool.Exec(ctx, `INSERT INTO merge_requests (from_id, into_id, partition, reason) VALUES ('anon-9b', 'u9', 0, 'alias')`)
	require.NoError(t, err)

	res, err := s.EraseContact(ctx, store.ErasureRequest{ContactID: "anon-9", By: "admin key", At: now})
	require.NoError(t, err)
	require.False(t, res.AlreadyErased)
	require.Equal(t, 5, res.Erased.Identifiers) // u9, the tombstone, the email, anon-9, anon-9b
	var left int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM contacts WHERE id = 'u9')
		+ (SELECT count(*) FROM contact_merges) + (SELECT count(*) FROM merge_requests)`).Scan(&left))
	require.Zero(t, left)

	for _, id := range []string{"u9", "anon-9", "anon-9b", "nine@example.com"} {
		_, erased, err := s.ContactErasure(ctx, id)
		require.NoError(t, err)
		require.True(t, erased, id)
		again, err := s.EraseContact(ctx, store.ErasureRequest{ContactID: id, By: "admin key", At: now.Add(time.Hour)})
		require.NoError(t, err)
		require.True(t, again.AlreadyErased, id)
	}
	late := []store.EventRow{
		{ID: "l1", ContactID: "anon-9", Type: "visit", OccurredAt: now},
		{ID: "l2", ContactID: "u10", Type: "identify", OccurredAt: now, MergeFrom: "anon-9b", MergeReason: store.MergeIdentify},
	}
	_, err = s.AppendEvents(ctx, late, store.ConflictRefuse)
	var erased *store.ErasedContactError
	require.True(t, errors.As(err, &erased), "%v", err)
	require.Equal(t, []string{"contact_id", "anonymous_id"}, erased.Fields)
	out, err := s.AppendEvents(ctx, late, store.ConflictSkip)
	require.NoError(t, err)
	require.Equal(t, 2, out.Erased)
	var requests int
	require.NoError(t, s.Pool.QueryRow(ctx, `SELECT count(*) FROM merge_requests`).Scan(&requests))
	require.Zero(t, requests, "an erased event asks no merge")
}
