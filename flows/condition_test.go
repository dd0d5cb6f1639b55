package flows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func testContact() *Contact {
	return &Contact{
		ID:        "c1",
		Email:     "Ada@Example.COM",
		AccountID: "acme",
		Stage:     "lead",
		Fields: map[string]any{
			"plan":      "pro",
			"employees": float64(120),
			"company":   map[string]any{"name": "Acme", "size": float64(120)},
			"role":      "cto",
			"signed_up": "2024-05-01T00:00:00Z",
		},
		Tags:     []string{"customer", "vip"},
		Scores:   map[string]float64{"main": 42},
		Segments: []string{"hot-list"},
		Activity: []Activity{
			{Type: "email_opened", At: t0.Add(-50 * Day), Properties: map[string]any{"campaign": "a"}},
			{Type: "email_opened", At: t0.Add(-10 * Day), Properties: map[string]any{"campaign": "b"}},
			{Type: "page_visited", At: t0.Add(-1 * time.Hour), Properties: map[string]any{"url": "/pricing"}},
			{Type: "page_visited", At: t0, Properties: map[string]any{"url": "/contact"}},
		},
	}
}

func testCatalog() *Catalog {
	return NewCatalog([]Document{{ScoreModel: &ScoreModel{ID: "main", Bands: []Band{
		{Name: "cold", Min: 0}, {Name: "warm", Min: 25}, {Name: "hot", Min: 50},
	}}}})
}

func TestEvalCondition(t *testing.T) {
	t.Parallel()
	ct := testContact()
	cat := testCatalog()
	field := func(name, op string, v any) Condition { return Condition{Field: name, Op: op, Value: v} }
	events := func(typ, within, op string, count int, fs ...Filter) Condition {
		d, err := ParseDuration(within)
		require.NoError(t, err)
		return Condition{Events: &EventsCondition{Type: typ, Within: d, Op: op, Count: count, Filters: fs}}
	}
	cases := []struct {
		name string
		c    Condition
		want bool
	}{
		{"field eq", field("plan", OpEq, "pro"), true},
		{"field gt", field("employees", OpGt, 100.0), true},
		{"field nested", field("company.name", OpEq, "Acme"), true},
		{"field date", field("signed_up", OpLt, "2024-05-02"), true},
		{"field missing neq", field("missing", OpNeq, "x"), true},
		{"field missing eq", field("missing", OpEq, "x"), false},
		{"field missing exists", field("missing", OpExists, nil), false},
		{"contact_id", field("contact_id", OpEq, "c1"), true},
		{"email", field("email", OpEq, "Ada@Example.COM"), true},
		{"email_domain lowercased", field("email_domain", OpEq, "example.com"), true},
		{"email_domain in", field("email_domain", OpIn, []any{"gmail.com", "example.com"}), true},
		{"stage", field("stage", OpEq, "lead"), true},
		{"disqualified", field("disqualified", OpEq, false), true},
		{"account_id", field("account_id", OpExists, nil), true},
		{"tag", Condition{Tag: "vip"}, true},
		{"tag absent", Condition{Tag: "partner"}, false},
		{"segment", Condition{Segment: "hot-list"}, true},
		{"segment absent", Condition{Segment: "cold"}, false},
		{"score gte", Condition{Score: &ScoreCondition{Model: "main", Op: OpGte, Value: 42}}, true},
		{"score gt", Condition{Score: &ScoreCondition{Model: "main", Op: OpGt, Value: 42}}, false},
		{"score missing is 0", Condition{Score: &ScoreCondition{Model: "other", Op: OpEq, Value: 0}}, true},
		{"score lt", Condition{Score: &ScoreCondition{Model: "main", Op: OpLt, Value: 50}}, true},
		{"score neq", Condition{Score: &ScoreCondition{Model: "main", Op: OpNeq, Value: 42}}, false},
		{"band", Condition{Band: &BandCondition{Model: "main", In: []string{"warm", "hot"}}}, true},
		{"band not in", Condition{Band: &BandCondition{Model: "main", In: []string{"hot"}}}, false},
		{"band unknown model", Condition{Band: &BandCondition{Model: "nope", In: []string{"hot"}}}, false},
		{"events in window", events("email_opened", "60d", OpEq, 2), true},
		{"events window excludes older", events("email_opened", "30d", OpEq, 1), true},
		{"no opens in 5 days", events("email_opened", "5d", OpEq, 0), true},
		{"events at now counted", events("page_visited", "1m", OpEq, 1), true},
		{"events filtered", events("page_visited", "1d", OpGte, 1, Filter{Property: "url", Op: OpEq, Value: "/pricing"}), true},
		{"events filtered out", events("email_opened", "60d", OpEq, 1, Filter{Property: "campaign", Op: OpEq, Value: "z"}), false},
		{"events gt", events("page_visited", "1d", OpGt, 1), true},
		{"events lt", events("page_visited", "1d", OpLt, 2), false},
		{"events lte", events("page_visited", "1d", OpLte, 2), true},
		{"events neq", events("page_visited", "1d", OpNeq, 2), false},
		{"all", Condition{All: []Condition{{Tag: "vip"}, field("plan", OpEq, "pro")}}, true},
		{"all fails", Condition{All: []Condition{{Tag: "vip"}, field("plan", OpEq, "free")}}, false},
		{"any", Condition{Any: []Condition{{Tag: "nope"}, field("plan", OpEq, "pro")}}, true},
		{"any fails", Condition{Any: []Condition{{Tag: "nope"}, {Segment: "nope"}}}, false},
		{"not", Condition{Not: &Condition{Tag: "nope"}}, true},
		{"nested", Condition{All: []Condition{{Not: &Condition{Any: []Condition{{Tag: "a"}, {Tag: "b"}}}}, {Segment: "hot-list"}}}, true},
		{"empty all", Condition{All: []Condition{}}, true},
		{"empty any", Condition{Any: []Condition{}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.want, EvalCondition(&c.c, ct, t0, cat))
		})
	}
	require.True(t, EvalCondition(nil, ct, t0, cat))
	require.False(t, EvalCondition(&Condition{Tag: "x"}, nil, t0, nil))
	require.False(t, EvalCondition(&Condition{Band: &BandCondition{Model: "main", In: []string{"hot"}}}, ct, t0, nil))
}

func TestConditionChangesAt(t *testing.T) {
	t.Parallel()
	ct := testContact()
	within := func(s string) Duration { d, _ := ParseDuration(s); return d }
	noOpens60 := &Condition{Events: &EventsCondition{Type: "email_opened", Within: within("60d"), Op: OpEq, Count: 0}}

	// Opens at -50d and -10d: the condition turns true when the last one
	// leaves the window, 60 days after it (not when the first leaves).
	at, ok := ConditionChangesAt(noOpens60, ct, t0, nil)
	require.True(t, ok)
	require.Equal(t, t0.Add(50*Day), at)
	require.False(t, EvalCondition(noOpens60, ct, at.Add(-time.Second), nil))
	require.True(t, EvalCondition(noOpens60, ct, at, nil))

	// At least two opens: changes when the first one leaves (at +10d).
	twoOpens := &Condition{Events: &EventsCondition{Type: "email_opened", Within: within("60d"), Op: OpGte, Count: 2}}
	at, ok = ConditionChangesAt(twoOpens, ct, t0, nil)
	require.True(t, ok)
	require.Equal(t, t0.Add(10*Day), at)

	// Negated and combined: not(no opens) changes at the same time as the
	// inner condition.
	at, ok = ConditionChangesAt(&Condition{Not: noOpens60}, ct, t0, nil)
	require.True(t, ok)
	require.Equal(t, t0.Add(50*Day), at)

	// any(tag vip, no opens): always true while the tag is there, so time
	// never changes it.
	_, ok = ConditionChangesAt(&Condition{Any: []Condition{{Tag: "vip"}, *noOpens60}}, ct, t0, nil)
	require.False(t, ok)

	// all(two opens, page visits in 1h ≥ 1): the page visit at -1h leaves at
	// now (not after now); the one at now leaves in an hour, which turns the
	// condition false before the opens do.
	visits := Condition{Events: &EventsCondition{Type: "page_visited", Within: within("1h"), Op: OpGte, Count: 1}}
	at, ok = ConditionChangesAt(&Condition{All: []Condition{*twoOpens, visits}}, ct, t0, nil)
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Hour), at)

	// Filters narrow what counts.
	onlyB := &Condition{Events: &EventsCondition{Type: "email_opened", Within: within("60d"), Op: OpEq, Count: 0,
		Filters: []Filter{{Property: "campaign", Op: OpEq, Value: "a"}}}}
	at, ok = ConditionChangesAt(onlyB, ct, t0, nil)
	require.True(t, ok)
	require.Equal(t, t0.Add(10*Day), at)

	// An activity dated in the future enters the window at its time.
	future := &Contact{Activity: []Activity{{Type: "email_opened", At: t0.Add(time.Hour)}}}
	at, ok = ConditionChangesAt(noOpens60, future, t0, nil)
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Hour), at)

	// No events condition, or nothing in the activity: never.
	_, ok = ConditionChangesAt(&Condition{Tag: "vip"}, ct, t0, nil)
	require.False(t, ok)
	_, ok = ConditionChangesAt(noOpens60, &Contact{}, t0, nil)
	require.False(t, ok)
	_, ok = ConditionChangesAt(nil, ct, t0, nil)
	require.False(t, ok)
}
