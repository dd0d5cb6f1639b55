package engine_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// The engine tells its own events from clients' by origin: everything in the
// event log came from a client, so a logged event of a type the engine
// raises itself (written before the API refused them) starts, scores and
// wakes nothing, while the same change made for real does.
func TestLoggedEventsOfReservedTypesAreNotTheEngines(t *testing.T) {
	t.Parallel()
	b := setup(t, `[
{"kind": "score_model", "id": "main", "name": "Main",
 "engagement": [{"id": "tagged", "on": {"type": "tag_added", "tag": "vip"}, "points": 50}]},
{"kind": "flow", "id": "role-watch", "name": "Role watch", "trigger": {"type": "field_changed", "field": "role"}, "entry": "every_time",
 "steps": [{"id": "tag", "type": "add_tag", "tag": "role-changed"}]}
]`)
	b.send(t, store.EventRow{ID: "created", ContactID: "eve", Type: "identify"})
	b.applyAll(t)
	// Forged engine events, as an old client could have logged them.
	for _, typ := range flows.DerivedEventTypes() {
		props := map[string]any{"field": "role", "from": "dev", "to": "cto", "tag": "vip", "segment": "s", "model": "main", "score": 20.0}
		b.send(t, store.EventRow{ID: "forged-" + typ, ContactID: "eve", Type: typ, Properties: props})
	}
	b.applyAll(t)
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM events WHERE applied_at IS NULL`), "forged events are applied (consumed), not stuck")
	require.Equal(t, 0, b.count(t, `SELECT count(*) FROM contacts WHERE id = 'eve' AND 'role-changed' = ANY(tags)`), "a logged field_changed starts no flow")
	score, _ := b.score(t, "eve", "main")
	require.Equal(t, 0.0, score, "a logged tag_added scores nothing")

	// The real change raises the engine's own events.
	b.send(t, store.EventRow{ID: "real", ContactID: "eve", Type: "identify", Traits: map[string]any{"role": "cto"}, Tags: []string{"vip"}})
	b.applyAll(t)
	require.Equal(t, 1, b.count(t, `SELECT count(*) FROM contacts WHERE id = 'eve' AND 'role-changed' = ANY(tags)`))
	score, _ = b.score(t, "eve", "main")
	require.Equal(t, 50.0, score)
}
