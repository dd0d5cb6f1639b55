package flows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBandFor(t *testing.T) {
	t.Parallel()
	m := &ScoreModel{Bands: []Band{{Name: "cold", Min: 0}, {Name: "warm", Min: 20}, {Name: "hot", Min: 50}}}
	cases := []struct {
		score float64
		band  string
		ok    bool
	}{
		{-1, "", false}, {0, "cold", true}, {19.99, "cold", true}, {20, "warm", true}, {49.5, "warm", true}, {50, "hot", true}, {1e6, "hot", true},
	}
	for _, c := range cases {
		b, ok := BandFor(m, c.score)
		require.Equal(t, c.ok, ok, "%v", c.score)
		require.Equal(t, c.band, b.Name, "%v", c.score)
	}
	_, ok := BandFor(&ScoreModel{}, 10)
	require.False(t, ok)
	_, ok = BandFor(nil, 10)
	require.False(t, ok)
}

func TestProfileScore(t *testing.T) {
	t.Parallel()
	m := &ScoreModel{ID: "fit", Profile: []ProfileRule{
		{ID: "director", When: Condition{Field: "role", Op: OpEq, Value: "cto"}, Points: 10},
		{ID: "gmail", When: Condition{Field: "email_domain", Op: OpEq, Value: "gmail.com"}, Points: -5},
		{ID: "big", When: Condition{Field: "employees", Op: OpGte, Value: 100.0}, Points: 7.25},
		{ID: "vip", When: Condition{Tag: "vip"}, Points: 0.1},
		{ID: "vip2", When: Condition{Tag: "vip"}, Points: 0.2},
	}}
	total, matched := ProfileScore(m, testContact(), t0, nil)
	require.Equal(t, 17.55, total)
	require.Equal(t, []string{"director", "big", "vip", "vip2"}, matched)

	total, matched = ProfileScore(m, &Contact{Email: "x@GMAIL.com"}, t0, nil)
	require.Equal(t, -5.0, total)
	require.Equal(t, []string{"gmail"}, matched)

	total, matched = ProfileScore(nil, testContact(), t0, nil)
	require.Zero(t, total)
	require.Nil(t, matched)
}

func TestScoreChange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		op                    string
		points, current, want float64
	}{
		{ScoreAdd, 5, 10, 5},
		{ScoreAdd, 0, 10, 0},
		{ScoreSubtract, 5, 10, -5},
		{ScoreSet, 50, 10, 40},
		{ScoreSet, 0, 10, -10},
		{ScoreSet, -10, 5, -15},
		{ScoreSet, 0.3, 0.1, 0.2},
		{"multiply", 2, 10, 0},
	}
	for _, c := range cases {
		require.Equal(t, c.want, ScoreChange(c.op, c.points, c.current), "%+v", c)
	}
}

func TestApplyCap(t *testing.T) {
	t.Parallel()
	cap := &Cap{Points: 20, Period: Duration{Day}}
	cases := []struct {
		name           string
		delta, granted float64
		cap            *Cap
		want           float64
	}{
		{"no cap", 50, 100, nil, 50},
		{"room left", 5, 10, cap, 5},
		{"limited", 15, 10, cap, 10},
		{"exactly full", 10, 10, cap, 10},
		{"full", 5, 20, cap, 0},
		{"over full never negative", 5, 25, cap, 0},
		{"negative delta unaffected", -5, 25, cap, -5},
		{"zero delta", 0, 0, cap, 0},
		{"fractions", 0.7, 19.5, cap, 0.5},
	}
	for _, c := range cases {
		require.Equal(t, c.want, ApplyCap(c.delta, c.cap, c.granted), c.name)
	}
}

func TestRoundPoints(t *testing.T) {
	t.Parallel()
	cases := map[float64]float64{
		0:         0,
		1:         1,
		1.005:     1.01, // half away from zero on the decimal form, like numeric(12,2)
		1.004:     1,
		-2.675:    -2.68,
		2.675:     2.68,
		0.1 + 0.2: 0.3,
		99.995:    100,
		-0.001:    0,
		-0.005:    -0.01,
		12.34:     12.34,
		1e15 + .5: 1e15 + .5,
		123.456:   123.46,
		9.999:     10,
	}
	for in, want := range cases {
		require.Equal(t, want, RoundPoints(in), "%v", in)
	}
	neg0 := RoundPoints(-0.001)
	require.False(t, neg0 < 0 || 1/neg0 < 0, "no negative zero")
}

func TestDecayedEngagement(t *testing.T) {
	t.Parallel()
	hl := &Decay{HalfLife: Duration{30 * Day}}
	cases := []struct {
		name    string
		d       *Decay
		e       float64
		elapsed time.Duration
		want    float64
	}{
		{"one half-life", hl, 100, 30 * Day, 50},
		{"two half-lives", hl, 100, 60 * Day, 25},
		{"half a half-life", hl, 100, 15 * Day, 70.71},
		{"no time", hl, 100, 0, 100},
		{"clock behind", hl, 100, -time.Hour, 100},
		{"negative engagement decays too", hl, -40, 30 * Day, -20},
		{"rounded", hl, 33.333, 0, 33.33},
		{"no decay", nil, 100, 30 * Day, 100},
		{"expiry is not half-life", &Decay{ExpireAfter: Duration{Day}}, 100, 30 * Day, 100},
		{"long gone", hl, 100, 3650 * Day, 0},
	}
	for _, c := range cases {
		require.Equal(t, c.want, DecayedEngagement(c.d, c.e, t0, t0.Add(c.elapsed)), c.name)
	}
}

func TestExpiredPoints(t *testing.T) {
	t.Parallel()
	d := &Decay{ExpireAfter: Duration{90 * Day}}
	grants := []Grant{
		{Points: 10, At: t0.Add(-100 * Day)},
		{Points: 5, At: t0.Add(-90 * Day)}, // expires exactly now
		{Points: 3, At: t0.Add(-10 * Day)},
		{Points: 2.5, At: t0.Add(-20 * Day)},
	}
	expired, next, ok := ExpiredPoints(d, grants, t0)
	require.Equal(t, 15.0, expired)
	require.True(t, ok)
	require.Equal(t, t0.Add(70*Day), next)

	expired, next, ok = ExpiredPoints(d, grants, t0.Add(100*Day))
	require.Equal(t, 20.5, expired)
	require.False(t, ok)
	require.True(t, next.IsZero())

	expired, _, ok = ExpiredPoints(d, nil, t0)
	require.Zero(t, expired)
	require.False(t, ok)

	expired, _, ok = ExpiredPoints(&Decay{HalfLife: Duration{Day}}, grants, t0)
	require.Zero(t, expired)
	require.False(t, ok)
	expired, _, ok = ExpiredPoints(nil, grants, t0)
	require.Zero(t, expired)
	require.False(t, ok)
}

func TestNextDecayCrossing(t *testing.T) {
	t.Parallel()
	rearm := 40.0
	m := &ScoreModel{
		Bands:      []Band{{Name: "cold", Min: 0}, {Name: "warm", Min: 20}, {Name: "hot", Min: 50}},
		Thresholds: []Threshold{{ID: "mql", Score: 60, RearmBelow: &rearm}},
		Decay:      &Decay{HalfLife: Duration{30 * Day}},
	}
	asOf := t0.Add(123 * time.Millisecond)
	total := func(profile, e float64, at time.Time) float64 {
		return RoundPoints(profile + DecayedEngagement(m.Decay, e, asOf, at))
	}
	cases := []struct {
		name          string
		profile, e    float64
		mark          float64
		approx        time.Duration // roughly when
		never         bool
		withinSeconds float64
	}{
		// 10 + 60·2^(−t/30d) < 60 → the threshold score 60 is the highest mark ≤ 70.
		{name: "threshold score", profile: 10, e: 60, mark: 60, approx: time.Duration(float64(30*Day) * 0.263034)},
		// 10 + 45 = 55: highest mark ≤ 55 is the hot band's 50.
		{name: "band min", profile: 10, e: 45, mark: 50, approx: time.Duration(float64(30*Day) * 0.169925)},
		// 0 + 45: re-arm mark 40 is the highest ≤ 45.
		{name: "rearm mark", profile: 0, e: 45, mark: 40, approx: time.Duration(float64(30*Day) * 0.169925)},
		// Exactly on a mark: falls below it within minutes.
		{name: "on the mark", profile: 0, e: 50, mark: 50, approx: 374 * time.Second},
		{name: "profile keeps it above", profile: 65, e: 30, never: true},
		{name: "no engagement", profile: 55, e: 0, never: true},
		{name: "negative engagement", profile: 55, e: -5, never: true},
		{name: "below every mark", profile: -10, e: 5, never: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			at, ok := NextDecayCrossing(m, c.profile, c.e, asOf)
			if c.never {
				require.False(t, ok)
				return
			}
			require.True(t, ok)
			require.True(t, at.After(asOf))
			require.Zero(t, at.Nanosecond(), "whole seconds")
			require.Less(t, total(c.profile, c.e, at), c.mark)
			require.GreaterOrEqual(t, total(c.profile, c.e, at.Add(-time.Second)), c.mark)
			require.InDelta(t, float64(c.approx), float64(at.Sub(asOf)), float64(2*time.Hour))
		})
	}
	_, ok := NextDecayCrossing(&ScoreModel{Bands: m.Bands}, 10, 60, asOf)
	require.False(t, ok, "no decay")
	_, ok = NextDecayCrossing(&ScoreModel{Bands: m.Bands, Decay: &Decay{ExpireAfter: Duration{Day}}}, 10, 60, asOf)
	require.False(t, ok, "expiry decay")
	_, ok = NextDecayCrossing(nil, 10, 60, asOf)
	require.False(t, ok)
}

// Negative engagement decays up towards the profile part: the crossing is
// when the total first reaches the lowest mark above it; extra marks (the
// scores flows and segments compare with) are crossed like bands.
func TestNextDecayCrossingUpAndExtraMarks(t *testing.T) {
	t.Parallel()
	asOf := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	m := &ScoreModel{Decay: &Decay{HalfLife: Duration{Day}},
		Bands: []Band{{Name: "cold", Min: -1000}, {Name: "warm", Min: 10}}}
	// -40 rises to -20.00 (rounded) after 86,369 s; warm (10) is never
	// reached with no profile points.
	at, ok := NextDecayCrossing(m, 0, -40, asOf, -20)
	require.True(t, ok)
	require.Equal(t, asOf.Add(86369*time.Second), at)
	_, ok = NextDecayCrossing(m, 0, -40, asOf)
	require.False(t, ok, "no mark between -40 and 0")
	// 5 + 40 falls to 35.00 (so "gt 35" turns false: mark 35.01) after
	// 35,839 s.
	at, ok = NextDecayCrossing(m, 5, 40, asOf, 35.01)
	require.True(t, ok)
	require.Equal(t, asOf.Add(35839*time.Second), at)
	// From a later time the nearest mark is the one below the total then.
	from := asOf.Add(40000 * time.Second)
	at, ok = NextDecayCrossingAfter(m, 5, 40, asOf, from, 35.01)
	require.True(t, ok)
	require.True(t, at.After(from))
	require.Less(t, RoundPoints(5+DecayedEngagement(m.Decay, 40, asOf, at)), 10.0)
}

// A profile rule that depends on its own model's score through another
// model or a segment is refused: the score could never settle.
func TestProfileLoopRefused(t *testing.T) {
	t.Parallel()
	docs, errs := Decode("loop.json", []byte(`[
{"kind": "score_model", "id": "a", "name": "A", "profile": [{"id": "b-high", "when": {"score": {"model": "b", "op": "gte", "value": 10}}, "points": 5}]},
{"kind": "segment", "id": "a-fans", "name": "A fans", "rule": {"score": {"model": "a", "op": "gte", "value": 5}}},
{"kind": "score_model", "id": "b", "name": "B", "profile": [{"id": "fan", "when": {"segment": "a-fans"}, "points": 10}]},
{"kind": "score_model", "id": "c", "name": "C", "profile": [{"id": "b-high", "when": {"band": {"model": "b", "in": ["x"]}}, "points": 1}],
 "bands": [{"name": "x", "min": 0, "color": "red"}]}
]`))
	require.Empty(t, errs)
	verrs := Validate("loop.json", docs, nil)
	var msgs []string
	for _, e := range verrs {
		if strings.Contains(e.Error(), "in a loop") {
			msgs = append(msgs, e.Error())
		}
	}
	require.Len(t, msgs, 2, "%v", verrs)
	require.Contains(t, msgs[0], "model a → model b → segment a-fans → model a")
}
