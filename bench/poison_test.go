package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/api"
	"github.com/leadflow/leadflow/store/storetest"
)

// Every kind of poison the fault run sends meets, from the API itself (the
// HTTP handler over a real database), the answer the bench expects of it,
// and nothing of a refused request is stored: the bench's expectations and
// the edge stay in step. (What the engine does with the events it accepts
// is the fault run's to check.)
func TestPoisonKindsMeetTheAPI(t *testing.T) {
	t.Parallel()
	st := storetest.NewStore(t)
	srv := httptest.NewServer(api.New(api.Config{Store: st, AdminKey: "admin-key", IngestKey: "ingest-key", Log: zerolog.Nop()}))
	t.Cleanup(srv.Close)
	r := &runner{cfg: &Config{}, st: &stack{client: newAPIClient(srv.URL, "admin-key", "ingest-key", 1), pool: st.Pool, prefix: "t-"},
		w: &Workload{Prefix: "t-"}, sent: &sentLog{}}
	p := newPoisoner(r, poisonKinds(), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, k := range p.kinds {
		p.send(ctx, k)
	}
	expects := map[string]bool{}
	var failures []string
	for _, kr := range p.res.Kinds {
		expects[kr.Expect] = true
		require.Equal(t, 1, kr.Sent, kr.Kind)
		if kr.Failed > 0 {
			failures = append(failures, fmt.Sprintf("%s (expected %s): %s", kr.Kind, kr.Expect, kr.Detail))
			continue
		}
		switch kr.Expect {
		case ExpectRefused, ExpectConflict, ExpectDuplicate:
			require.Equal(t, 1, kr.OK, kr.Kind)
		}
	}
	require.Empty(t, failures)
	for _, kr := range p.res.Kinds {
		if kr.Detail != "" {
			t.Logf("%s: %s", kr.Kind, kr.Detail)
		}
	}
	require.Zero(t, p.res.UnnamedPaths, "refusals that do not name the path")
	require.Equal(t, map[string]bool{ExpectRefused: true, ExpectConflict: true, ExpectDuplicate: true, ExpectApplied: true, ExpectQuarantined: true}, expects)
	require.Len(t, p.collisions, 1)
	require.Len(t, p.quarantine, 2)
	require.Len(t, r.st.excludedIDs(), 2)

	var stored int
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE id LIKE ANY($1) OR contact_id LIKE ANY($2)`,
		p.refusedIDs, p.refusedConts).Scan(&stored))
	require.Zero(t, stored, "events of refused requests stored")
	// The good events are in the sent log for the reference: the conflicts'
	// and the resend's first events, the colliding pair, the quarantined
	// contacts' identify and next event.
	require.Equal(t, 4+1+2+2*2, r.sent.count())
	// The colliding pair is stored as sent.
	var n int
	require.NoError(t, st.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE (id, contact_id) IN (($1, $2), ($3, $4))`,
		p.collisions[0].a.ID, p.collisions[0].a.ContactID, p.collisions[0].b.ID, p.collisions[0].b.ContactID).Scan(&n))
	require.Equal(t, 2, n)
}

func TestSelectPoison(t *testing.T) {
	t.Parallel()
	all := poisonKinds()
	got, err := selectPoison(all, "all")
	require.NoError(t, err)
	require.Len(t, got, len(all))
	got, err = selectPoison(all, "none")
	require.NoError(t, err)
	require.Empty(t, got)
	got, err = selectPoison(all, "quarantined,reserved")
	require.NoError(t, err)
	require.Len(t, got, 2+len(ReservedTypes)+1)
	_, err = selectPoison(all, "nonsense")
	require.ErrorContains(t, err, "nonsense")
	// Every refused body is JSON (the poison is in the values, not the syntax).
	for _, k := range all {
		if k.body != nil {
			require.True(t, json.Valid([]byte(k.body(poisonIDs{event: "e", contact: "c", now: time.Now()}))), k.name)
		}
	}
}
