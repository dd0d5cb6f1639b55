package insight

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/flows"
)

var day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func day(d float64) time.Time { return day0.Add(time.Duration(d * 24 * float64(time.Hour))) }

func scriptedModel() *flows.ScoreModel {
	return &flows.ScoreModel{Kind: flows.KindScoreModel, ID: "main", Name: "Main",
		Bands:      []flows.Band{{Name: "cold", Min: 0, Color: "blue"}, {Name: "hot", Min: 20, Color: "red"}},
		Profile:    []flows.ProfileRule{{ID: "ceo", When: flows.Condition{Field: "role", Op: "eq", Value: "CEO"}, Points: 5}},
		Engagement: []flows.EngagementRule{{ID: "pricing", On: flows.Trigger{Type: flows.TriggerPageVisited}, Points: 10}},
		Thresholds: []flows.Threshold{{ID: "mql", Score: 20, Actions: []flows.Step{{ID: "t", Type: flows.StepAddTag, Tag: "mql"}}}},
	}
}

func ptr[T any](v T) *T { return &v }

// scriptedHistory: six contacts whose numbers are worked out by hand in
// TestConversionReportScripted.
func scriptedHistory() []Contact {
	ceo := func(id int64, d float64) LedgerEntry {
		return LedgerEntry{ID: id, At: day(d), Points: 5, Kind: "profile", RuleID: "ceo"}
	}
	pricing := func(id int64, d float64) LedgerEntry {
		return LedgerEntry{ID: id, At: day(d), Points: 10, Kind: "engagement", RuleID: "pricing"}
	}
	return []Contact{
		// a: 5, 15, 25 (crosses mql on day 2), converts on day 5 at 25.
		{ID: "a", CreatedAt: day(0), Score: 25, Conversion: &Conversion{At: day(5), Score: 25, Value: ptr(100.0), LedgerThrough: ptr(int64(3))},
			Ledger: []LedgerEntry{ceo(1, 0), pricing(2, 1), pricing(3, 2)}},
		// b: 10, 20 (crosses on day 3), converts on day 13 at 20; a
		// later visit (day 20) is after its conversion and not counted.
		{ID: "b", CreatedAt: day(0), Score: 30, Conversion: &Conversion{At: day(13), Score: 20, LedgerThrough: ptr(int64(5))},
			Ledger: []LedgerEntry{pricing(4, 1), pricing(5, 3), pricing(6, 20)}},
		// c: one visit, no conversion, 10 now.
		{ID: "c", CreatedAt: day(0), Score: 10, Ledger: []LedgerEntry{pricing(7, 1)}},
		// d: nothing at all.
		{ID: "d", CreatedAt: day(0), Score: 0},
		// e: CEO and two visits, 25 now, never converts.
		{ID: "e", CreatedAt: day(0), Score: 25, Ledger: []LedgerEntry{ceo(8, 0), pricing(9, 1), pricing(10, 2)}},
		// f: created on day 2, one visit, converts on day 4 at 10.
		{ID: "f", CreatedAt: day(2), Score: 10, Conversion: &Conversion{At: day(4), Score: 10, Value: ptr(50.0), LedgerThrough: ptr(int64(11))},
			Ledger: []LedgerEntry{pricing(11, 2)}},
	}
}

// TestConversionReportScripted checks the report on a scripted history
// against numbers worked out by hand:
//   - scores used: a 25, b 20 (at conversion, not 30 now), c 10, d 0,
//     e 25, f 10; converters a, b, f.
//   - cold (0–19): c, d, f → 1 of 3, Wilson(1, 3) = [0.0615, 0.7923],
//     median days from first touch 2 (f), nobody crossed mql.
//   - hot (≥ 20): a, b, e → 2 of 3, days from first touch 5 and 13 →
//     median 9; days from crossing mql 3 (a: day 2 → 5) and 10 (b: day 3
//     → 13) → median 6.5.
//   - AUC: pairs (converter, non-converter) a>c a>d a=e, b>c b>d b<e,
//     f=c f>d f<e → (2.5 + 2 + 1.5) / 9 = 2/3.
//   - pricing: converters 3/3, non-converters 2/3 (c, e) → lift 1.5;
//     ceo: 1/3 and 1/3 → lift 1.
//   - deciles of 6 contacts ranked d, c, f, b, a, e fall in deciles 2, 4,
//     5, 7, 9, 10.
func TestConversionReportScripted(t *testing.T) {
	t.Parallel()
	r := BuildReport(scriptedModel(), scriptedHistory(), day(-180), day(30))
	require.Equal(t, 6, r.Contacts)
	require.Equal(t, 3, r.Conversions)
	require.InDelta(t, 0.5, *r.Rate, 1e-12)
	require.InDelta(t, 2.0/3, *r.AUC, 1e-12)
	require.Equal(t, &ValueSummary{Count: 2, Total: 150}, r.Values)
	require.Equal(t, []string{"mql"}, r.Thresholds)
	require.InDelta(t, 5, *r.MedianDaysFromFirstTouch, 1e-9, "converters after 5, 13 and 2 days")
	require.InDelta(t, 6.5, *r.MedianDaysFromThreshold["mql"], 1e-9)

	require.Len(t, r.Bands, 2)
	cold, hot := r.Bands[0], r.Bands[1]
	require.Equal(t, "cold", cold.Band)
	require.Equal(t, 3, cold.Contacts)
	require.Equal(t, 1, cold.Conversions)
	require.InDelta(t, 1.0/3, *cold.Rate, 1e-12)
	require.InDelta(t, 0.061492, cold.Interval.Low, 1e-6)
	require.InDelta(t, 0.792340, cold.Interval.High, 1e-6)
	require.InDelta(t, 2, *cold.MedianDaysFromFirstTouch, 1e-9)
	require.Nil(t, cold.MedianDaysFromThreshold["mql"])
	require.Equal(t, "hot", hot.Band)
	require.Equal(t, 3, hot.Contacts)
	require.Equal(t, 2, hot.Conversions)
	require.InDelta(t, 0.207660, hot.Interval.Low, 1e-6)
	require.InDelta(t, 9, *hot.MedianDaysFromFirstTouch, 1e-9)
	require.InDelta(t, 6.5, *hot.MedianDaysFromThreshold["mql"], 1e-9)

	var deciles []int
	var conv []int
	for _, g := range r.Deciles {
		deciles = append(deciles, g.Decile)
		conv = append(conv, g.Conversions)
		require.Equal(t, 1, g.Contacts)
	}
	require.Equal(t, []int{2, 4, 5, 7, 9, 10}, deciles)
	require.Equal(t, []int{0, 0, 1, 1, 1, 0}, conv, "d, c, f, b, a, e")
	require.Equal(t, 25.0, *r.Deciles[5].MinScore)

	require.Len(t, r.Rules, 2)
	ceo, pricing := r.Rules[0], r.Rules[1]
	require.Equal(t, "ceo", ceo.Rule)
	require.Equal(t, "profile", ceo.Kind)
	require.Equal(t, 1, ceo.ConvertersTriggered)
	require.Equal(t, 1, ceo.NonConvertersTriggered)
	require.InDelta(t, 1, *ceo.Lift, 1e-12)
	require.Equal(t, "pricing", pricing.Rule)
	require.Equal(t, 3, pricing.ConvertersTriggered)
	require.Equal(t, 3, pricing.Converters)
	require.Equal(t, 2, pricing.NonConvertersTriggered)
	require.Equal(t, 3, pricing.NonConverters)
	require.InDelta(t, 1.5, *pricing.Lift, 1e-12)

	var buf bytes.Buffer
	require.NoError(t, WriteCSV(&buf, r))
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "median_days_from_threshold_mql", rows[0][10])
	require.Equal(t, []string{"total", "main", "", "", "6", "3", "0.5"}, rows[1][:7])
	require.Equal(t, "0.666667", rows[1][11], "the AUC")
	require.Equal(t, []string{"5", "6.5"}, rows[1][9:11], "median days of every converter")
	require.Equal(t, []string{"band", "hot", "20", "", "3", "2"}, rows[3][:6])
	require.Equal(t, "6.5", rows[3][10])
	require.Len(t, rows, 1+1+2+6+2)
	require.Equal(t, []string{"rule", "pricing"}, rows[11][:2])
	require.Equal(t, "1.5", rows[11][len(rows[11])-1])
}

// TestSuggestRefusesTooFewConversions: fewer than 30 converters is refused
// with the counts and the minimum.
func TestSuggestRefusesTooFewConversions(t *testing.T) {
	t.Parallel()
	_, err := Suggest(scriptedModel(), scriptedHistory(), day(-180), day(30))
	var few *ErrTooFewConversions
	require.ErrorAs(t, err, &few)
	require.Equal(t, 3, few.Converters)
	require.Equal(t, 3, few.NonConverters)
	require.Contains(t, err.Error(), "at least 30 converters and 30 non-converters")
}

// TestConversionEventOwnPointsAreNotHits: points the converting event
// itself gives count in the score at conversion, but do not make its rule
// look like a predictor of conversion.
func TestConversionEventOwnPointsAreNotHits(t *testing.T) {
	t.Parallel()
	m := scriptedModel()
	m.Engagement = append(m.Engagement, flows.EngagementRule{ID: "won", On: flows.Trigger{Type: flows.TriggerEvent, Event: "deal_won"}, Points: 50})
	contacts := []Contact{
		{ID: "a", CreatedAt: day(0), Score: 60, Conversion: &Conversion{EventID: "w", At: day(3), Score: 60, LedgerThrough: ptr(int64(2))},
			Ledger: []LedgerEntry{
				{ID: 1, At: day(1), Points: 10, Kind: "engagement", RuleID: "pricing", EventID: "p"},
				{ID: 2, At: day(3), Points: 50, Kind: "engagement", RuleID: "won", EventID: "w"}}},
		{ID: "b", CreatedAt: day(0), Score: 0},
	}
	r := BuildReport(m, contacts, day(-180), day(30))
	won := r.Rules[2]
	require.Equal(t, "won", won.Rule)
	require.Equal(t, 0, won.ConvertersTriggered)
	require.Equal(t, 1, r.Rules[1].ConvertersTriggered, "pricing")
	require.Equal(t, "hot", r.Bands[1].Band)
	require.Equal(t, 1, r.Bands[1].Conversions, "scored at 60, the deal's points included")
	require.InDelta(t, 0, *r.Bands[1].MedianDaysFromThreshold["mql"], 1e-9, "crossed mql with the deal itself")
}
