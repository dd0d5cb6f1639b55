package e2e

import (
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
