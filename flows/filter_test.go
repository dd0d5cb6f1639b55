package flows

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMatchFilters(t *testing.T) {
	t.Parallel()
	props := map[string]any{
		"plan":    "pro",
		"seats":   float64(12),
		"count":   3, // Go ints compare as numbers too
		"big":     json.Number("1e3"),
		"utm":     map[string]any{"source": "google", "medium": map[string]any{"kind": "cpc"}},
		"a.b":     "literal dotted key",
		"tags":    []any{"enterprise", "eu", float64(7)},
		"strs":    []string{"x", "y"},
		"url":     "https://example.com/pricing?x=1",
		"at":      "2024-03-01T10:00:00Z",
		"day":     "2024-03-01",
		"when":    time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
		"none":    nil,
		"five":    "5",
		"flag":    true,
		"flat":    map[string]string{"k": "v"},
		"obj":     map[string]any{"x": float64(1), "y": []any{"a"}},
		"nothing": "",
	}
	f := func(prop, op string, value any) Filter { return Filter{Property: prop, Op: op, Value: value} }
	cases := []struct {
		name string
		f    Filter
		want bool
	}{
		{"eq string", f("plan", OpEq, "pro"), true},
		{"eq string differs", f("plan", OpEq, "free"), false},
		{"eq number float", f("seats", OpEq, 12.0), true},
		{"eq number int property", f("count", OpEq, float64(3)), true},
		{"eq json.Number", f("big", OpEq, 1000.0), true},
		{"eq string vs number", f("five", OpEq, 5.0), false},
		{"eq number vs string", f("seats", OpEq, "12"), false},
		{"eq bool", f("flag", OpEq, true), true},
		{"eq nested", f("utm.source", OpEq, "google"), true},
		{"eq deeper", f("utm.medium.kind", OpEq, "cpc"), true},
		{"eq literal dotted key", f("a.b", OpEq, "literal dotted key"), true},
		{"eq map[string]string", f("flat.k", OpEq, "v"), true},
		{"eq object", f("obj", OpEq, map[string]any{"y": []any{"a"}, "x": 1}), true},
		{"eq object differs", f("obj", OpEq, map[string]any{"x": 2.0, "y": []any{"a"}}), false},
		{"eq array", f("tags", OpEq, []any{"enterprise", "eu", 7}), true},
		{"eq empty string", f("nothing", OpEq, ""), true},
		{"eq missing", f("nope", OpEq, "x"), false},
		{"eq null property", f("none", OpEq, nil), false},
		{"neq", f("plan", OpNeq, "free"), true},
		{"neq same", f("plan", OpNeq, "pro"), false},
		{"neq missing holds", f("nope", OpNeq, "x"), true},
		{"in", f("plan", OpIn, []any{"free", "pro"}), true},
		{"in numbers", f("seats", OpIn, []any{1.0, 12.0}), true},
		{"in absent", f("plan", OpIn, []any{"free"}), false},
		{"in missing", f("nope", OpIn, []any{"x"}), false},
		{"in not an array", f("plan", OpIn, "pro"), false},
		{"not_in", f("plan", OpNotIn, []any{"free"}), true},
		{"not_in present", f("plan", OpNotIn, []any{"pro"}), false},
		{"not_in missing holds", f("nope", OpNotIn, []any{"x"}), true},
		{"gt", f("seats", OpGt, 10.0), true},
		{"gt equal", f("seats", OpGt, 12.0), false},
		{"gte equal", f("seats", OpGte, 12.0), true},
		{"lt", f("seats", OpLt, 20.0), true},
		{"lte", f("seats", OpLte, 11.0), false},
		{"gt string number", f("five", OpGt, 1.0), false},
		{"gt date", f("at", OpGt, "2024-02-28T00:00:00Z"), true},
		{"lt date", f("at", OpLt, "2024-03-01T09:59:59Z"), false},
		{"gte date only", f("day", OpGte, "2024-03-01"), true},
		{"lt date-time vs date", f("at", OpLt, "2024-03-02"), true},
		{"gt time.Time property", f("when", OpGt, "2024-03-01T11:00:00Z"), true},
		{"gt time with zone", f("at", OpGt, "2024-03-01T10:30:00+01:00"), true},
		{"gt not comparable", f("plan", OpGt, "2024-01-01"), false},
		{"gt missing", f("nope", OpGt, 1.0), false},
		{"contains substring", f("url", OpContains, "/pricing"), true},
		{"contains substring absent", f("url", OpContains, "/contact"), false},
		{"contains element", f("tags", OpContains, "eu"), true},
		{"contains number element", f("tags", OpContains, 7.0), true},
		{"contains typed slice", f("strs", OpContains, "y"), true},
		{"contains element absent", f("tags", OpContains, "us"), false},
		{"contains on number", f("seats", OpContains, 1.0), false},
		{"starts_with", f("url", OpStartsWith, "https://"), true},
		{"starts_with no", f("url", OpStartsWith, "http://"), false},
		{"ends_with", f("url", OpEndsWith, "x=1"), true},
		{"ends_with number", f("seats", OpEndsWith, "2"), false},
		{"exists", f("plan", OpExists, nil), true},
		{"exists empty string", f("nothing", OpExists, nil), true},
		{"exists missing", f("nope", OpExists, nil), false},
		{"exists null", f("none", OpExists, nil), false},
		{"unknown op", f("plan", "like", "pro"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, c.want, MatchFilters([]Filter{c.f}, props))
		})
	}
	require.True(t, MatchFilters(nil, nil))
	require.False(t, MatchFilters([]Filter{f("plan", OpExists, nil)}, nil))
	require.True(t, MatchFilters([]Filter{f("plan", OpEq, "pro"), f("seats", OpGte, 10.0)}, props))
	require.False(t, MatchFilters([]Filter{f("plan", OpEq, "pro"), f("seats", OpGte, 13.0)}, props))
}
