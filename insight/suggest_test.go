package insight

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/flows"
)

// generatedModel weighs the rules badly on purpose: blog visits, which do
// nothing for conversion, count most.
func generatedModel() *flows.ScoreModel {
	return &flows.ScoreModel{Kind: flows.KindScoreModel, ID: "main", Name: "Main",
		Bands:   []flows.Band{{Name: "cold", Min: 0, Color: "blue"}, {Name: "hot", Min: 40, Color: "red"}},
		Profile: []flows.ProfileRule{{ID: "big-company", When: flows.Condition{Field: "employees", Op: "gte", Value: 200.0}, Points: 5}},
		Engagement: []flows.EngagementRule{
			{ID: "pricing", On: flows.Trigger{Type: flows.TriggerPageVisited, URL: "*/pricing*"}, Points: 5},
			{ID: "demo", On: flows.Trigger{Type: flows.TriggerEvent, Event: "demo_requested"}, Points: 5},
			{ID: "blog", On: flows.Trigger{Type: flows.TriggerPageVisited, URL: "*/blog*"}, Points: 15},
		},
	}
}

// generatedHistory turns knownWeights' contacts into ledgers of the
// generated model: one row per hit, the profile rule's row when big.
func generatedHistory(n int) []Contact {
	x, y, ids := knownWeights(n, 11)
	m := generatedModel()
	var out []Contact
	var id int64
	for i, row := range x {
		c := Contact{ID: ids[i], CreatedAt: day0}
		add := func(kind, rule string, points float64, times float64) {
			for k := 0; k < int(times); k++ {
				id++
				c.Ledger = append(c.Ledger, LedgerEntry{ID: id, At: day(1), Points: points, Kind: kind, RuleID: rule})
				c.Score += points
			}
		}
		add("engagement", "pricing", m.Engagement[0].Points, row[0])
		add("engagement", "demo", m.Engagement[1].Points, row[1])
		add("profile", "big-company", m.Profile[0].Points, row[2])
		add("engagement", "blog", m.Engagement[2].Points, row[3])
		if y[i] {
			through := id
			c.Conversion = &Conversion{At: day(30), Score: c.Score, LedgerThrough: &through}
			if len(c.Ledger) == 0 {
				c.Conversion.LedgerThrough = nil
			}
		}
		out = append(out, c)
	}
	return out
}

// TestSuggestRecoversTheRulesThatMatter: on a history generated from known
// weights (pricing 0.6, demo 1.8, big company 1.2 log-odds, blog 0), the
// suggestion keeps the three that matter with points in the true ratio
// (demo / pricing = 3 and big / pricing = 2, within ±35%), names blog as
// the rule to drop, ranks held-out contacts better than the current
// points, and its draft is a score model that validates.
func TestSuggestRecoversTheRulesThatMatter(t *testing.T) {
	t.Parallel()
	m := generatedModel()
	s, err := Suggest(m, generatedHistory(6000), day(-180), day(60))
	require.NoError(t, err)
	require.Equal(t, []string{"blog"}, s.DropCandidates)
	points := map[string]float64{}
	for _, r := range s.Rules {
		points[r.Rule] = r.SuggestedPoints
		require.Equal(t, r.Rule != "blog", r.Predictive, r.Rule)
	}
	require.Equal(t, 0.0, points["blog"])
	require.Greater(t, points["pricing"], 0.0)
	require.InDelta(t, 3, points["demo"]/points["pricing"], 3*0.35, "points %v", points)
	require.InDelta(t, 2, points["big-company"]/points["pricing"], 2*0.35, "points %v", points)
	require.Equal(t, 6000, s.Contacts)
	require.Equal(t, s.Contacts, s.Training+s.HeldOut)
	require.InDelta(t, 0.3, float64(s.HeldOut)/float64(s.Contacts), 0.03)
	require.NotNil(t, s.HeldOutAUC.Suggested)
	require.NotNil(t, s.HeldOutAUC.Current)
	require.Greater(t, *s.HeldOutAUC.Suggested, *s.HeldOutAUC.Current+0.05, "the current points overweigh blog visits")

	docs, errs := flows.Decode("draft.json", s.Draft)
	require.Empty(t, errs)
	require.Empty(t, flows.Validate("draft.json", docs, nil))
	d := docs[0].ScoreModel
	require.Equal(t, "main", d.ID)
	require.Equal(t, points["big-company"], d.Profile[0].Points)
	require.Equal(t, points["demo"], d.Engagement[1].Points)
	require.Equal(t, m.Bands, d.Bands, "everything but the points is kept")
}
