package bench

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// A tiny journey through the shipped definitions, replayed by the
// reference: profile points at creation cross the MQL threshold, the
// careers page and a cancelled meeting take the score back down (re-arm and
// untag), a booking crosses again (a second task), NPS tags and a
// detractor task, page visits with the third-visit bonus, disqualification
// (no threshold actions after it), and the 60-day wait ended by an open.
func TestReferenceJourney(t *testing.T) {
	t.Parallel()
	ref, err := NewReference()
	require.NoError(t, err)
	ada := Contact{ID: "ada", Email: "ada@example.com", Fields: map[string]any{
		"role": "CEO", "employees": float64(30), "decision_maker": true, "country": "IT", "owner": "sam@sales.example"}}
	bob := Contact{ID: "bob", Email: "bob@gmail.com", Fields: map[string]any{"employees": float64(3)}}
	n := 0
	ev := func(contact, typ string, props map[string]any) Event {
		n++
		return Event{ID: "e" + string(rune('a'+n)), ContactID: contact, Type: typ, Properties: props}
	}
	identify := func(contact string, traits map[string]any) Event {
		n++
		return Event{ID: "e" + string(rune('a'+n)), ContactID: contact, Type: "identify", Traits: traits}
	}
	page := func(contact, url string) Event { return ev(contact, "page_visited", map[string]any{"url": url}) }
	for _, e := range []Event{
		ada.IdentifyEvent("ada-created"), // profile 1+5+10+10 = 26: MQL crossing 1
		bob.IdentifyEvent("bob-created"), // employees < 5: -5
		page("ada", "https://example.com/"),
		page("ada", "https://example.com/contact"),
		page("ada", "https://example.com/careers"), // third visit: +10 web; careers: -5 main (21)
		page("ada", "https://example.com/careers"), // once per 30 days: no second -5
		ev("ada", "meeting_cancelled", nil),        // 11: re-arms (below 15), untags mql
		ev("ada", "calendly_booked", nil),          // 31: MQL crossing 2
		identify("ada", map[string]any{"nps": float64(3)}),
		identify("ada", map[string]any{"nps": float64(10)}),
		ev("ada", "email_opened", map[string]any{"campaign": "nurture"}),
		identify("bob", map[string]any{"role": "student"}), // disqualified, stage lost
		ev("bob", "calendly_booked", nil),                  // 15
		ev("bob", "trial_started", nil),                    // 30: crossing, but no task for a disqualified lead
		ev("bob", "task_created", map[string]any{"recurring": true}),
	} {
		ref.Apply(e)
	}
	want := ref.Expected()

	a := want["ada"]
	require.Equal(t, 31.0, a.Scores[ModelMain])
	require.Equal(t, 1.0+(1+4)+(1+10)+1, a.Scores[ModelWeb]) // the contact page: 4 on top of the page point
	require.Equal(t, 2, a.Crossings["main/mql"])
	require.Equal(t, []int{1, 2}, a.ThTasks["main/mql"])
	require.Equal(t, 1, a.FlowTasks["nps"])
	require.Equal(t, []string{"job-seeker", "mql", "promoter"}, a.Tags)
	require.False(t, a.Disqualified)
	require.Equal(t, "completed", a.WaitRun)

	b := want["bob"]
	require.Equal(t, -5.0+20+15+2, b.Scores[ModelMain])
	require.True(t, b.Disqualified)
	require.Equal(t, "lost", b.Stage)
	require.Equal(t, 1, b.Crossings["main/mql"])
	require.Empty(t, b.ThTasks["main/mql"])
	require.Equal(t, []string{"disqualified"}, b.Tags)
	require.Equal(t, "waiting", b.WaitRun)
}

// The checker reports every difference between PostgreSQL and the
// reference for a contact, and none when they agree.
func TestCompareContact(t *testing.T) {
	t.Parallel()
	ref, err := NewReference()
	require.NoError(t, err)
	w := &Expected{ContactID: "c", Scores: map[string]float64{ModelMain: 21, ModelWeb: 13}, Tags: []string{"mql"},
		Crossings: map[string]int{"main/mql": 1}, ThTasks: map[string][]int{"main/mql": {1}}, FlowTasks: map[string]int{}, WaitRun: "waiting"}
	g := &dbContact{scores: map[string]float64{ModelMain: 21, ModelWeb: 13}, tags: []string{"mql", "some-other-tag"},
		crossings: map[string]int{"main/mql": 1}, thTasks: map[string][]int{"main/mql": {1}}, flowTasks: map[string]int{"hot-list-morning": 1},
		waitRuns: []string{"waiting"}}
	require.Empty(t, compareContact("c", w, g, ref))

	g.scores[ModelWeb] = 23
	g.thTasks["main/mql"] = []int{1, 1}
	g.waitRuns = []string{"waiting", "completed"}
	g.tags = nil
	d := compareContact("c", w, g, ref)
	require.Len(t, d, 4, "%v", d)
	require.True(t, slices.ContainsFunc(d, func(s string) bool { return s == "contact c: score web-engagement is 23, expected 13" }), "%v", d)
}

// The workload is deterministic and the Zipf distribution is skewed.
func TestWorkload(t *testing.T) {
	t.Parallel()
	w1 := NewWorkload("p-", 1000, 7)
	w2 := NewWorkload("p-", 1000, 7)
	require.Equal(t, w1.Contacts, w2.Contacts)
	s1 := w1.NewStream("u", DistUniform, 1).Take(500)
	s2 := w2.NewStream("u", DistUniform, 1).Take(500)
	require.Equal(t, s1, s2)
	counts := map[string]int{}
	for _, e := range w1.NewStream("z", DistZipf, 1).Take(20000) {
		counts[e.ContactID]++
	}
	top := 0
	for _, n := range counts {
		top = max(top, n)
	}
	require.Greater(t, top, 20000/100, "the most active lead gets more than 1%% of the events")
	require.Less(t, len(counts), 1000, "many leads stay quiet")
}
