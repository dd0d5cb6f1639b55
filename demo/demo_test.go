package demo_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/api"
	"github.com/leadflow/leadflow/demo"
	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/insight"
	"github.com/leadflow/leadflow/store/storetest"
)

const adminKey = "demo-admin-key"

func get(t *testing.T, h http.Handler, path, accept string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestDemoHistoryReportAndSuggestion generates the demo history (3,000
// contacts over 175 days), applies it with the engine into a real
// PostgreSQL, and checks through the API that
//   - the conversion report shows higher bands converting more (rates rise
//     cold → warm → hot, and hot's interval lies above cold's), the score
//     ranks converters better than chance, and demo requests lift most;
//   - the suggestion recovers the rules that truly matter (pricing, demo
//     requests, big companies: predictive, weights within the stated
//     tolerance of demo.Truth) and names the ones that do not (blog,
//     newsletter, CEO) as candidates to drop, ranks held-out contacts
//     better than the current points, and drafts a valid model;
//   - too few conversions in the window is refused with 422.
func TestDemoHistoryReportAndSuggestion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.NewStore(t)
	e := engine.New(s, "", zerolog.Nop())
	end := time.Date(2026, 6, 30, 23, 59, 59, 0, time.UTC)
	events := demo.Generate(demo.Config{Contacts: 3000, Seed: 1, End: end})
	loaded, err := demo.Load(ctx, s, e, events, nil)
	require.NoError(t, err)
	require.Equal(t, 3000, loaded.Contacts)
	t.Logf("demo history: %d events, %d conversions", loaded.Events, loaded.Conversions)
	h := api.New(api.Config{Store: s, AdminKey: adminKey, Now: func() time.Time { return end.Add(time.Second) }})

	w := get(t, h, "/v1/reports/conversion?model=demo&since=180d", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var rep insight.Report
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &rep))
	require.Equal(t, 3000, rep.Contacts)
	require.Equal(t, loaded.Conversions, rep.Conversions)
	require.Greater(t, rep.Conversions, 150)
	require.Equal(t, insight.ScoreUsed, rep.ScoreUsed)
	rates := map[string]insight.Group{}
	for _, g := range rep.Bands {
		rates[g.Band] = g
		t.Logf("band %-5s contacts %4d conversions %3d rate %.3f [%.3f, %.3f] median days from first touch %.1f",
			g.Band, g.Contacts, g.Conversions, *g.Rate, g.Interval.Low, g.Interval.High, *g.MedianDaysFromFirstTouch)
	}
	cold, warm, hot := rates["cold"], rates["warm"], rates["hot"]
	require.Less(t, *cold.Rate, *warm.Rate)
	require.Less(t, *warm.Rate, *hot.Rate)
	require.Greater(t, hot.Interval.Low, cold.Interval.High, "hot converts more than cold beyond doubt")
	require.NotNil(t, hot.MedianDaysFromThreshold["mql"])
	require.Less(t, *hot.MedianDaysFromThreshold["mql"], *hot.MedianDaysFromFirstTouch, "mql is crossed after the first touch")
	require.Greater(t, *rep.AUC, 0.65)
	t.Logf("AUC %.3f", *rep.AUC)
	require.Len(t, rep.Deciles, 10)
	require.Greater(t, *rep.Deciles[9].Rate, *rep.Deciles[0].Rate)
	lifts := map[string]float64{}
	for _, l := range rep.Rules {
		lifts[l.Rule] = *l.Lift
	}
	t.Logf("lifts %v", lifts)
	for _, r := range []string{"pricing", "big-company", "blog", "newsletter", "ceo"} {
		require.Greater(t, lifts["demo-request"], lifts[r], r)
	}

	w = get(t, h, "/v1/reports/conversion?model=demo", "text/csv")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "text/csv; charset=utf-8", w.Header().Get("Content-Type"))
	rows, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1+1+3+10+6)

	w = get(t, h, "/v1/models/demo/suggestions?since=180d", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var sug insight.Suggestion
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &sug))
	byRule := map[string]insight.SuggestedRule{}
	for _, r := range sug.Rules {
		byRule[r.Rule] = r
		t.Logf("rule %-13s current %5.1f suggested %5.1f weight %6.3f z %6.2f", r.Rule, r.CurrentPoints, r.SuggestedPoints, r.Weight, r.Z)
	}
	t.Logf("held-out AUC suggested %.3f current %.3f", *sug.HeldOutAUC.Suggested, *sug.HeldOutAUC.Current)
	require.ElementsMatch(t, []string{"blog", "newsletter", "ceo"}, sug.DropCandidates)
	// The stated tolerance: each weight within ±0.3 (pricing) and ±0.6
	// (demo request, big company) log-odds of the truth — about 3 standard
	// errors at this size.
	require.InDelta(t, demo.Truth.Pricing, byRule["pricing"].Weight, 0.3)
	require.InDelta(t, demo.Truth.Demo, byRule["demo-request"].Weight, 0.6)
	require.InDelta(t, demo.Truth.BigCompany, byRule["big-company"].Weight, 0.6)
	require.Greater(t, byRule["demo-request"].SuggestedPoints, byRule["big-company"].SuggestedPoints)
	require.Greater(t, byRule["big-company"].SuggestedPoints, byRule["pricing"].SuggestedPoints)
	require.Greater(t, byRule["pricing"].SuggestedPoints, 0.0)
	require.Greater(t, *sug.HeldOutAUC.Suggested, *sug.HeldOutAUC.Current)
	docs, errs := flows.Decode("draft.json", sug.Draft)
	require.Empty(t, errs)
	require.Empty(t, flows.Validate("draft.json", docs, nil))

	w = get(t, h, "/v1/models/demo/suggestions?since=1d", "")
	require.Equal(t, http.StatusUnprocessableEntity, w.Code)
	require.Contains(t, w.Body.String(), "at least 30 converters and 30 non-converters")

	w = get(t, h, "/v1/contacts/"+firstConverter(events), "")
	require.Equal(t, http.StatusOK, w.Code)
	var ct struct {
		Conversions []struct {
			Model     string   `json:"model"`
			EventType string   `json:"event_type"`
			Value     *float64 `json:"value"`
		} `json:"conversions"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &ct))
	require.Len(t, ct.Conversions, 1)
	require.Equal(t, "demo", ct.Conversions[0].Model)
	require.Equal(t, "deal_won", ct.Conversions[0].EventType)
	require.NotNil(t, ct.Conversions[0].Value)
}

func firstConverter(events []demo.Event) string {
	for _, e := range events {
		if e.Row.Type == "deal_won" {
			return e.Row.ContactID
		}
	}
	return ""
}
