package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The seeds' MQL journey on the shipped definitions: a booked meeting is 20
// points on main, which crosses the MQL threshold once: tag, segment and one
// CRM task; a duplicate delivery changes nothing; falling below the re-arm
// mark and crossing again gives a second task.
func TestMQLJourneyOnShippedDefinitions(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{shipped: true})

	code := st.do("POST", "/v1/contacts", adminKey, map[string]any{
		"contact_id": "ada", "email": "ada@example.com",
		"fields": map[string]any{"owner": "sam@sales.example", "company": "Analytical Engines", "role": "CEO"},
	}, nil)
	require.Contains(t, []int{200, 202}, code)
	st.send(ev("ada-1", "calendly_booked", "ada", nil))
	c := st.eventually("ada", 10*time.Second, func(c contact) bool { return len(c.Tags) > 0 && c.Scores["main"].Score >= 25 })
	require.Equal(t, 25.0, c.Scores["main"].Score) // CEO +5 (profile) and +20 (meeting)
	require.Contains(t, c.Tags, "mql")
	require.Contains(t, c.Segments, "mql")
	require.Equal(t, "warm", c.Scores["main"].Band)

	// The same event again (a client retry) changes nothing.
	st.send(ev("ada-1", "calendly_booked", "ada", nil))
	st.settled()
	c, _ = st.contact("ada")
	require.Equal(t, 25.0, c.Scores["main"].Score)
	tasks := st.tasks("ada")
	require.Len(t, tasks, 1)
	require.Equal(t, "sam@sales.example", tasks[0].Assignee)
	require.Contains(t, tasks[0].Title, "ada@example.com")

	// The explanation sums up to the score.
	entries, totals := st.history("ada")
	sum := 0.0
	for _, e := range entries {
		if e.Model == "main" {
			sum += e.Points
		}
	}
	require.Equal(t, 25.0, sum)
	require.Equal(t, 25.0, totals["main"])

	// Two cancelled meetings: 5 points, below the re-arm mark (15).
	st.send(ev("ada-2", "meeting_cancelled", "ada", nil), ev("ada-3", "meeting_cancelled", "ada", nil))
	c = st.eventually("ada", 10*time.Second, func(c contact) bool { return c.Scores["main"].Score == 5 })
	require.NotContains(t, c.Segments, "mql")
	require.Len(t, st.tasks("ada"), 1)

	// Crossing again: a second task, and only one more.
	st.send(ev("ada-4", "calendly_booked", "ada", nil))
	st.eventually("ada", 10*time.Second, func(c contact) bool { return c.Scores["main"].Score == 25 })
	st.settled()
	require.Len(t, st.tasks("ada"), 2)
}

// More of the seeds' journeys on the shipped definitions.
func TestSeedJourneys(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{shipped: true})
	upsert := func(body map[string]any) {
		t.Helper()
		code := st.do("POST", "/v1/contacts", adminKey, body, nil)
		require.Contains(t, []int{200, 202}, code)
	}

	// Dead ends: a student is disqualified and lost.
	upsert(map[string]any{"contact_id": "stu", "email": "stu@uni.example", "fields": map[string]any{"role": "student"}})
	c := st.eventually("stu", 10*time.Second, func(c contact) bool { return c.Disqualified })
	require.Equal(t, "lost", c.Stage)
	require.Contains(t, c.Tags, "disqualified")

	// NPS: a promoter, who then becomes a detractor (a follow-up task for the owner).
	upsert(map[string]any{"contact_id": "nia", "email": "nia@example.com", "fields": map[string]any{"nps": 10, "owner": "sam"}})
	st.eventually("nia", 10*time.Second, func(c contact) bool { return slices.Contains(c.Tags, "promoter") })
	upsert(map[string]any{"contact_id": "nia", "fields": map[string]any{"nps": 3}})
	c = st.eventually("nia", 10*time.Second, func(c contact) bool { return slices.Contains(c.Tags, "detractor") })
	require.NotContains(t, c.Tags, "promoter")
	tasks := st.tasks("nia")
	require.Len(t, tasks, 1)
	require.Equal(t, "sam", tasks[0].Assignee)

	// 1 point a page, 5 the contact page, +10 on the 3rd visit, 2 a video; 50 = prospect.
	var events []map[string]any
	for i := range 8 {
		events = append(events, ev(fmt.Sprintf("w%d", i), "page_visited", "lin", map[string]any{"url": "https://lathes.example/contact"}))
	}
	for i := range 3 {
		events = append(events, ev(fmt.Sprintf("vid%d", i), "video_played", "lin", nil))
	}
	st.send(events...)
	// 8 × 5 + 10 + 3 × 2 = 56
	c = st.eventually("lin", 10*time.Second, func(c contact) bool { return c.Scores["web-engagement"].Score == 56 })
	require.Equal(t, "prospect", c.Stage)
	require.Contains(t, c.Tags, "prospect")
	require.Equal(t, "hot", c.Scores["web-engagement"].Band)

	// Negative scoring: careers page −5 (a flow), unsubscribed −10 (a rule).
	st.send(ev("cal", "calendly_booked", "neg", nil))
	st.eventually("neg", 10*time.Second, func(c contact) bool { return c.Scores["main"].Score == 20 })
	st.send(ev("car", "page_visited", "neg", map[string]any{"url": "https://example.com/careers/open-roles"}),
		ev("uns", "email_unsubscribed", "neg", nil))
	c = st.eventually("neg", 10*time.Second, func(c contact) bool { return c.Scores["main"].Score == 5 })
	require.Contains(t, c.Tags, "job-seeker")
	entries, totals := st.history("neg")
	require.Equal(t, 5.0, totals["main"])
	var kinds []string
	for _, e := range entries {
		if e.Model == "main" {
			kinds = append(kinds, e.Kind)
		}
	}
	require.ElementsMatch(t, []string{"engagement", "flow", "engagement"}, kinds)
}
