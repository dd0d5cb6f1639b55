package flows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestScoreAt(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hl := &ScoreModel{ID: "m", Decay: &Decay{HalfLife: Duration{Duration: 24 * time.Hour}}}
	expiry := &ScoreModel{ID: "m", Decay: &Decay{ExpireAfter: Duration{Duration: 24 * time.Hour}}}
	for _, tc := range []struct {
		name                string
		m                   *ScoreModel
		profile, engagement float64
		now                 time.Time
		want                float64
	}{
		{"one half-life halves the engagement", hl, 10, 40, t0.Add(24 * time.Hour), 30},
		{"two half-lives quarter it", hl, 10, 40, t0.Add(48 * time.Hour), 20},
		{"negative engagement decays towards the profile", hl, 10, -40, t0.Add(24 * time.Hour), -10},
		{"half a half-life, rounded half away from zero", hl, 0, 10, t0.Add(12 * time.Hour), 7.07},
		{"not after asOf: as it is", hl, 1.5, 2.25, t0, 3.75},
		{"before asOf: as it is", hl, 1.5, 2.25, t0.Add(-time.Hour), 3.75},
		{"expiry decay does not decay at read", expiry, 1, 2, t0.Add(48 * time.Hour), 3},
		{"no model", nil, 1, 2, t0.Add(48 * time.Hour), 3},
		{"a thousand half-lives: the profile only", hl, 5, 1e9, t0.Add(1000 * 24 * time.Hour), 5},
	} {
		require.Equal(t, tc.want, ScoreAt(tc.m, tc.profile, tc.engagement, t0, tc.now), tc.name)
	}
}

func TestBandBounds(t *testing.T) {
	t.Parallel()
	m := &ScoreModel{Bands: []Band{{Name: "cold", Min: -1000, Color: "#00f"}, {Name: "warm", Min: 10, Color: "#fa0"}, {Name: "hot", Min: 25.5, Color: "#f00"}}}
	for _, tc := range []struct {
		name  string
		min   float64
		below *float64
		ok    bool
	}{
		{"cold", -1000, ptr(10.0), true},
		{"warm", 10, ptr(25.5), true},
		{"hot", 25.5, nil, true},
		{"lukewarm", 0, nil, false},
	} {
		min, below, ok := BandBounds(m, tc.name)
		require.Equal(t, tc.ok, ok, tc.name)
		require.Equal(t, tc.min, min, tc.name)
		require.Equal(t, tc.below, below, tc.name)
		if ok { // BandFor agrees at both ends
			b, found := BandFor(m, min)
			require.True(t, found)
			require.Equal(t, tc.name, b.Name)
			if below != nil {
				b, _ := BandFor(m, *below)
				require.NotEqual(t, tc.name, b.Name)
			}
		}
	}
	_, _, ok := BandBounds(nil, "hot")
	require.False(t, ok)
}

func ptr[T any](v T) *T { return &v }
