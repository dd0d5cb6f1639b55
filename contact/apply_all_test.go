package contact_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/contact"
	"github.com/leadflow/leadflow/definitions"
	"github.com/leadflow/leadflow/flows"
)

// BenchmarkApplyShipped applies page visits, opens and clicks to one
// contact under every shipped definition: the core's own cost per event,
// without the database.
func BenchmarkApplyShipped(b *testing.B) {
	var published []contact.Published
	for _, name := range definitions.Names() {
		data, err := definitions.FS.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		docs, errs := flows.Decode(name, data)
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		for _, d := range docs {
			published = append(published, contact.Published{Doc: d, Version: 1})
		}
	}
	cat := contact.NewCatalog(published)
	st := contact.NewState("bench")
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	types := []string{"page_visited", "email_opened", "email_clicked"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := t0.Add(time.Duration(i) * time.Minute)
		ev := contact.Event{ID: fmt.Sprintf("e%d", i), Type: types[i%3], OccurredAt: now,
			Properties: map[string]any{"url": "https://acme.example/pricing", "campaign": "nurture"}}
		if _, err := contact.Apply(st, cat, ev, now); err != nil {
			b.Fatal(err)
		}
		if len(st.Activity) > 200 { // the store loads a bounded window
			st.Activity = st.Activity[len(st.Activity)-200:]
		}
		if len(st.CapGrants) > 200 {
			st.CapGrants = st.CapGrants[len(st.CapGrants)-200:]
		}
	}
}

// ApplyAll of a contact's inputs at one time ends in the state and effects
// of Apply on each in turn (the next due time is worked out once).
func TestApplyAllIsApplyInTurn(t *testing.T) {
	t.Parallel()
	var published []contact.Published
	for _, name := range definitions.Names() {
		data, err := definitions.FS.ReadFile(name)
		require.NoError(t, err)
		docs, errs := flows.Decode(name, data)
		require.Empty(t, errs)
		for _, d := range docs {
			published = append(published, contact.Published{Doc: d, Version: 1})
		}
	}
	cat := contact.NewCatalog(published)
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	role := "student"
	first := []contact.Input{
		contact.Event{ID: "id1", Type: "identify", OccurredAt: t0, Traits: map[string]any{"employees": 40.0, "owner": "sam"}},
		contact.Event{ID: "t1", Type: "trial_started", OccurredAt: t0},
		contact.Event{ID: "c1", Type: "calendly_booked", OccurredAt: t0},
		contact.Event{ID: "p1", Type: "page_visited", OccurredAt: t0, Properties: map[string]any{"url": "https://x.example/contact"}},
	}
	later := t0.Add(3 * 24 * time.Hour)
	second := []contact.Input{
		contact.Due{},
		contact.Event{ID: "u1", Type: "email_unsubscribed", OccurredAt: later},
		contact.Event{ID: "id2", Type: "identify", OccurredAt: later, Traits: map[string]any{"role": role}},
	}
	one, all := contact.NewState("ada"), contact.NewState("ada")
	for _, step := range []struct {
		at     time.Time
		inputs []contact.Input
	}{{t0, first}, {later, second}} {
		for _, in := range step.inputs {
			_, err := contact.Apply(one, cat, in, step.at)
			require.NoError(t, err)
		}
		_, err := contact.ApplyAll(all, cat, step.inputs, step.at)
		require.NoError(t, err)
	}
	require.Equal(t, one, all)
	require.NotEmpty(t, all.Contact.Tags)
	require.True(t, all.Contact.Disqualified)
}
