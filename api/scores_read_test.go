package api_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// decayModels: "main" halves its engagement points every day and rolls up
// to accounts; "flat" neither decays nor rolls up.
const decayModels = `[{"kind": "score_model", "id": "main", "name": "Main", "account_rollup": "sum",
	"bands": [{"name": "cold", "min": 0, "color": "#3b82f6"}, {"name": "warm", "min": 20, "color": "#f59e0b"},
		{"name": "hot", "min": 40, "color": "#ef4444"}],
	"engagement": [{"id": "click", "on": {"type": "email_clicked"}, "points": 5}],
	"decay": {"half_life": "1d"}},
	{"kind": "score_model", "id": "flat", "name": "Flat",
	"bands": [{"name": "any", "min": -100, "color": "#888888"}],
	"engagement": [{"id": "click", "on": {"type": "email_clicked"}, "points": 5}]}]`

// Scores are read at the request's time: the engine last materialised
// them at engagement_as_of, and every read decays the engagement points
// since then — the contact, its explanation, the hot list (filters, order,
// pages), CSV exports, contacts and accounts.
func TestScoresDecayAtReadTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("POST", "/v1/definitions", adminKey, decayModels)
	require.Equal(t, 201, r.code, string(r.body))
	t0 := e.now // 2025-03-01 12:00 UTC
	day := 24 * time.Hour
	score := func(id, model string, profile, engagement float64, asOf time.Time, band string) {
		e.exec(`INSERT INTO scores (contact_id, model, score, profile, engagement, engagement_as_of, band, updated_at)
			VALUES ($1, $2, $3::numeric + $4::numeric, $3, $4, $5, $6, $5)`, id, model, profile, engagement, asOf, band)
	}
	e.addContact("ana", "ana@acme.io", "acme")
	e.addContact("bob", "bob@acme.io", "acme")
	e.addContact("dan", "dan@acme.io", "acme")
	e.addContact("carl", "carl@beta.io", "beta")
	// As stored: carl 100, dan 80, ana 50, bob 35.
	score("ana", "main", 10, 40, t0, "hot")
	score("bob", "main", 35, 0, t0.Add(-30*day), "warm")
	score("carl", "main", 0, 100, t0.Add(-2*day), "hot")
	score("dan", "main", 0, 80, t0, "hot")
	score("ana", "flat", 5, 2, t0.Add(-30*day), "any")
	e.exec(`UPDATE contacts SET disqualified = true WHERE id = 'dan'`)
	for _, l := range []struct {
		points float64
		kind   string
	}{{10, "profile"}, {25, "engagement"}, {15, "engagement"}} {
		e.exec(`INSERT INTO score_ledger (contact_id, model, points, kind, reason, at) VALUES ('ana', 'main', $1, $2, 'because', $3)`,
			l.points, l.kind, t0)
	}

	// One half-life later: ana 10 + 40/2 = 30, bob 35, carl 100/8 = 12.5,
	// dan 80/2 = 40. Exact, in the bands those values fall in.
	e.now = t0.Add(day)
	r = e.do("GET", "/v1/contacts/ana", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	require.Equal(t, map[string]any{
		"main": map[string]any{"score": 30.0, "band": "warm", "color": "#f59e0b", "profile": 10.0, "engagement": 20.0},
		"flat": map[string]any{"score": 7.0, "band": "any", "color": "#888888", "profile": 5.0, "engagement": 2.0},
	}, r.json(t)["scores"])

	// The explanation: the ledger (50) and the decay not yet recorded
	// (−20) sum to the score shown.
	r = e.do("GET", "/v1/contacts/ana/score-history?model=main", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	var hist struct {
		Entries []map[string]any   `json:"entries"`
		Totals  map[string]float64 `json:"totals"`
	}
	require.NoError(t, json.Unmarshal(r.body, &hist))
	require.Equal(t, map[string]float64{"main": 30}, hist.Totals)
	require.Len(t, hist.Entries, 4)
	pending := hist.Entries[3]
	require.Equal(t, -20.0, pending["points"])
	require.Equal(t, "decay", pending["kind"])
	require.Equal(t, true, pending["pending"])
	require.Equal(t, "half-life decay (24h0m0s) since 2025-03-01T12:00:00Z, not yet recorded", pending["reason"])
	require.Equal(t, "2025-03-02T12:00:00Z", pending["at"])
	sum := 0.0
	for _, en := range hist.Entries {
		sum += en["points"].(float64)
	}
	require.Equal(t, 30.0, sum)

	// The hot list orders and filters by the decayed scores.
	ids := func(query string) ([]string, []float64, []string) {
		p := e.leads(query)
		var out []string
		var scores []float64
		var colors []string
		for _, l := range p.Leads {
			out = append(out, l.ContactID)
			scores = append(scores, l.Score)
			colors = append(colors, l.Band+" "+l.BandColor)
		}
		return out, scores, colors
	}
	got, scores, colors := ids("")
	require.Equal(t, []string{"dan", "bob", "ana", "carl"}, got)
	require.Equal(t, []float64{40, 35, 30, 12.5}, scores)
	require.Equal(t, []string{"hot #ef4444", "warm #f59e0b", "warm #f59e0b", "cold #3b82f6"}, colors)
	got, _, _ = ids("?min_score=31")
	require.Equal(t, []string{"dan", "bob"}, got)
	got, _, _ = ids("?band=warm")
	require.Equal(t, []string{"bob", "ana"}, got)
	got, _, _ = ids("?band=hot")
	require.Equal(t, []string{"dan"}, got)
	got, _, _ = ids("?band=cold&disqualified=false")
	require.Equal(t, []string{"carl"}, got)

	// Pages read the scores when the first page did: the clock moving on
	// between pages neither skips nor repeats a lead (a day on, carl would
	// still be last but dan 20 and ana 20 would tie).
	var seen []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		q := "?limit=1"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		p := e.leads(q)
		for _, l := range p.Leads {
			seen = append(seen, l.ContactID)
		}
		cursor = p.NextCursor
		e.now = e.now.Add(day)
		if cursor == "" {
			break
		}
	}
	require.Equal(t, []string{"dan", "bob", "ana", "carl"}, seen)
	e.now = t0.Add(day)

	// CSV exports show the same values, with the band's colour.
	rows := csvRows(t, e, "/v1/leads")
	require.Equal(t, []string{"contact_id", "email", "score", "band", "band_color", "stage", "owner", "disqualified",
		"account_id", "score_updated_at", "last_activity"}, rows[0])
	require.Equal(t, []string{"dan", "40", "hot", "#ef4444"}, []string{rows[1][0], rows[1][2], rows[1][3], rows[1][4]})
	require.Equal(t, []string{"carl", "12.5", "cold", "#3b82f6"}, []string{rows[4][0], rows[4][2], rows[4][3], rows[4][4]})
	rows = csvRows(t, e, "/v1/contacts?account_id=acme")
	require.Equal(t, []string{"contact_id", "email", "account_id", "stage", "disqualified", "tags", "score", "band", "band_color",
		"fields", "created_at", "updated_at"}, rows[0])
	require.Equal(t, []string{"ana", "30", "warm", "#f59e0b"}, []string{rows[1][0], rows[1][6], rows[1][7], rows[1][8]})

	// GET /v1/contacts (JSON) too.
	r = e.do("GET", "/v1/contacts?q=carl", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	c := r.json(t)["contacts"].([]any)[0].(map[string]any)
	require.Equal(t, []any{12.5, "cold", "#3b82f6"}, []any{c["score"], c["band"], c["band_color"]})

	// Accounts: acme is ana 30 + bob 35 (dan is disqualified) in main,
	// hot; flat does not roll up. Its contacts show their decayed scores.
	r = e.do("GET", "/v1/accounts/acme", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	m := r.json(t)
	require.Equal(t, map[string]any{"main": map[string]any{"score": 65.0, "band": "hot", "color": "#ef4444"}}, m["scores"])
	ana := m["contacts"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"score": 30.0, "band": "warm", "color": "#f59e0b"}, ana["scores"].(map[string]any)["main"])
	r = e.do("GET", "/v1/accounts", adminKey, nil)
	require.Equal(t, 200, r.code, string(r.body))
	var accs struct {
		Accounts []struct {
			AccountID string  `json:"account_id"`
			Score     float64 `json:"score"`
			Band      string  `json:"band"`
			Color     string  `json:"color"`
		} `json:"accounts"`
	}
	require.NoError(t, json.Unmarshal(r.body, &accs))
	require.Len(t, accs.Accounts, 2)
	require.Equal(t, "acme", accs.Accounts[0].AccountID)
	require.Equal(t, 65.0, accs.Accounts[0].Score)
	require.Equal(t, "#ef4444", accs.Accounts[0].Color)
	require.Equal(t, "beta", accs.Accounts[1].AccountID)
	require.Equal(t, 12.5, accs.Accounts[1].Score)
	require.Equal(t, "cold", accs.Accounts[1].Band)

	// A year on, only the profile points remain.
	e.now = t0.Add(365 * day)
	got, scores, _ = ids("")
	require.Equal(t, []string{"bob", "ana", "carl", "dan"}, got)
	require.Equal(t, []float64{35, 10, 0, 0}, scores)
}

func csvRows(t *testing.T, e *env, path string) [][]string {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	req.Header.Set("Accept", "text/csv")
	r := e.send(req)
	require.Equal(t, 200, r.code, string(r.body))
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	require.NoError(t, err)
	return rows
}
