package api_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

const reportDocs = `[
{"kind": "score_model", "id": "main", "name": "Main",
 "bands": [{"name": "cold", "min": 0, "color": "blue"}, {"name": "hot", "min": 20, "color": "red"}],
 "engagement": [{"id": "pricing", "on": {"type": "page_visited", "url": "*/pricing*"}, "points": 10}],
 "thresholds": [{"id": "mql", "score": 20, "actions": [{"id": "tag", "type": "add_tag", "tag": "mql"}]}]},
{"kind": "segment", "id": "hot", "name": "Hot", "rule": {"band": {"model": "main", "in": ["hot"]}}}
]`

// scriptHistory applies a scripted history with the engine, its clock at
// each event's day: day0 is 2026-01-01 10:00 UTC.
//   - a: pricing on days 0 and 2 (20: crosses mql on day 2), deal won on day 5 (amount 300);
//   - b: pricing on day 0 (10), deal won on day 4;
//   - c: pricing on days 0 and 1 (20), never converts;
//   - d: identified on day 0, no points.
func scriptHistory(t *testing.T, e *env) time.Time {
	t.Helper()
	ctx := context.Background()
	docs, errs := flows.Decode("report.json", []byte(reportDocs))
	require.Empty(t, errs)
	_, err := engine.Publish(ctx, e.store, docs)
	require.NoError(t, err)
	eng := engine.New(e.store, "", zerolog.Nop())
	day0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	pricing := func(id, contact string) store.EventRow {
		return store.EventRow{ID: id, ContactID: contact, Type: "page_visited", Properties: map[string]any{"url": "https://x.example/pricing"}}
	}
	won := func(id, contact string, amount float64) store.EventRow {
		return store.EventRow{ID: id, ContactID: contact, Type: "deal_won", Properties: map[string]any{"amount": amount}}
	}
	days := map[int][]store.EventRow{
		0: {pricing("a0", "a"), pricing("b0", "b"), pricing("c0", "c"), {ID: "d0", ContactID: "d", Type: "identify"}},
		1: {pricing("c1", "c")},
		2: {pricing("a2", "a")},
		4: {won("b4", "b", 100)},
		5: {won("a5", "a", 300)},
	}
	for d := 0; d <= 5; d++ {
		if len(days[d]) == 0 {
			continue
		}
		now := day0.Add(time.Duration(d) * 24 * time.Hour)
		rows := days[d]
		for i := range rows {
			rows[i].OccurredAt = now
		}
		_, parts, err := e.store.InsertEvents(ctx, rows)
		require.NoError(t, err)
		for _, p := range parts {
			_, err := eng.ApplyPartition(ctx, p, now, 100)
			require.NoError(t, err)
		}
	}
	return day0
}

// TestConversionReportOnScriptedHistory checks the route on a history
// applied by the engine against numbers worked out by hand:
//   - scores used: a 20 (at conversion), b 10 (at conversion), c 20, d 0;
//   - cold: b, d → 1 of 2, median 4 days from first touch; hot: a, c → 1
//     of 2, 5 days from first touch, 3 from crossing mql (day 2 → 5);
//   - AUC: a~c half, a>d, b<c, b>d → 2.5 / 4 = 0.625;
//   - pricing: converters 2/2, non-converters 1/2 → lift 2.
func TestConversionReportOnScriptedHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	day0 := scriptHistory(t, e)
	e.now = day0.Add(10 * 24 * time.Hour)

	r := e.do("GET", "/v1/reports/conversion?model=main&since=30d", adminKey, nil)
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	m := r.json(t)
	require.Equal(t, 4.0, m["contacts"])
	require.Equal(t, 2.0, m["conversions"])
	require.InDelta(t, 0.625, m["auc"], 1e-12)
	require.Equal(t, map[string]any{"count": 2.0, "total": 400.0}, m["values"])
	bands := m["bands"].([]any)
	require.Len(t, bands, 2)
	cold, hot := bands[0].(map[string]any), bands[1].(map[string]any)
	require.Equal(t, "cold", cold["band"])
	require.Equal(t, 2.0, cold["contacts"])
	require.Equal(t, 1.0, cold["conversions"])
	require.Equal(t, 0.5, cold["rate"])
	require.InDelta(t, 4, cold["median_days_from_first_touch"], 1e-9)
	require.Equal(t, map[string]any{"mql": nil}, cold["median_days_from_threshold"])
	require.Equal(t, "hot", hot["band"])
	require.Equal(t, 2.0, hot["contacts"])
	require.Equal(t, 1.0, hot["conversions"])
	require.InDelta(t, 5, hot["median_days_from_first_touch"], 1e-9)
	require.InDelta(t, 3, hot["median_days_from_threshold"].(map[string]any)["mql"], 1e-9)
	interval := hot["interval"].(map[string]any)
	require.InDelta(t, 0.094531, interval["low"], 1e-6, "Wilson(1, 2)")
	require.InDelta(t, 0.905469, interval["high"], 1e-6)
	rules := m["rules"].([]any)
	require.Len(t, rules, 1)
	pricing := rules[0].(map[string]any)
	require.Equal(t, 2.0, pricing["converters_triggered"])
	require.Equal(t, 1.0, pricing["non_converters_triggered"])
	require.Equal(t, 2.0, pricing["lift"])

	r = e.do("GET", "/v1/contacts/a", adminKey, nil)
	require.Equal(t, http.StatusOK, r.code)
	conv := r.json(t)["conversions"].([]any)
	require.Len(t, conv, 1)
	cv := conv[0].(map[string]any)
	require.Equal(t, "a5", cv["event_id"])
	require.Equal(t, 20.0, cv["score"])
	require.Equal(t, "hot", cv["band"])
	require.Equal(t, 300.0, cv["value"])
	r = e.do("GET", "/v1/contacts/c", adminKey, nil)
	require.Equal(t, []any{}, r.json(t)["conversions"])

	req, _ := http.NewRequest("GET", "/v1/reports/conversion?model=main&since=30d", nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Accept", "text/csv")
	r = e.send(req)
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, "text/csv; charset=utf-8", r.header.Get("Content-Type"))
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"total", "main", "", "", "4", "2", "0.5"}, rows[1][:7])

	// 2 converters are far too few for a suggestion.
	r = e.do("GET", "/v1/models/main/suggestions?since=30d", adminKey, nil)
	require.Equal(t, http.StatusUnprocessableEntity, r.code)
	msg, _ := r.errBody(t)
	require.Equal(t, "too few conversions to suggest points: 2 converters and 2 non-converters in the window; at least 30 converters and 30 non-converters are needed (widen the window with since, or wait for more conversions)", msg)
}

// TestReportRoutesRefuseBadRequests: each bad parameter is named.
func TestReportRoutesRefuseBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	docs, errs := flows.Decode("report.json", []byte(reportDocs))
	require.Empty(t, errs)
	_, err := engine.Publish(context.Background(), e.store, docs)
	require.NoError(t, err)
	for _, tc := range []struct {
		path   string
		status int
		path2  string
		msg    string
	}{
		{"/v1/reports/conversion", 400, "model", "is required"},
		{"/v1/reports/conversion?model=main&since=six-months", 400, "since", "is not a window"},
		{"/v1/reports/conversion?model=main&since=0d", 400, "since", "is not a window"},
		{"/v1/reports/conversion?model=main&modle=x", 400, "modle", ""},
		{"/v1/models/main/suggestions?since=-3d", 400, "since", "is not a window"},
		{"/v1/reports/conversion?model=nope", 404, "", `score model "nope" not found`},
		{"/v1/models/nope/suggestions", 404, "", `score model "nope" not found`},
		{"/v1/reports/conversion?model=hot", 422, "", `"hot" is a segment, not a score model`},
	} {
		r := e.do("GET", tc.path, adminKey, nil)
		require.Equal(t, tc.status, r.code, "%s: %s", tc.path, r.body)
		msg, details := r.errBody(t)
		if tc.path2 != "" {
			require.Contains(t, detailPaths(details), tc.path2, tc.path)
			require.Contains(t, msg, tc.msg, tc.path)
		} else {
			require.Equal(t, tc.msg, msg, tc.path)
		}
	}
	r := e.do("GET", "/v1/reports/conversion?model=main", ingestKey, nil)
	require.Equal(t, http.StatusForbidden, r.code, "the ingest key may not read reports")
}
