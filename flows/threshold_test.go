package flows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCrossThreshold(t *testing.T) {
	t.Parallel()
	rearm := 40.0
	th := &Threshold{ID: "mql", Score: 50, RearmBelow: &rearm}
	type step struct {
		old, new float64
		fire     bool
		armed    bool
	}
	run := func(th *Threshold, steps []step) {
		st := ThresholdState{Armed: true}
		for i, s := range steps {
			fire, next := CrossThreshold(th, st, s.old, s.new)
			require.Equal(t, s.fire, fire, "step %d: %v → %v", i, s.old, s.new)
			require.Equal(t, s.armed, next.Armed, "step %d: %v → %v", i, s.old, s.new)
			st = next
		}
	}
	run(th, []step{
		{30, 45, false, true}, // below the score
		{45, 50, true, false}, // reaches it: fires once
		{50, 70, false, false},
		{70, 45, false, false}, // above the re-arm mark: stays disarmed
		{45, 55, false, false}, // no second fire
		{55, 40, false, false}, // 40 is not below 40
		{40, 39.99, false, true},
		{39.99, 80, true, false}, // a jump over the score fires again
	})
	// Without rearm_below the mark is the score itself.
	run(&Threshold{ID: "t", Score: 50}, []step{
		{0, 60, true, false},
		{60, 50, false, false},
		{50, 49, false, true},
		{49, 48, false, true},
		{48, 50, true, false},
	})
	// Armed but already above: no fire on a rise; going down does not fire.
	run(th, []step{
		{60, 70, false, true},
		{70, 30, false, true},
		{30, 50.5, true, false},
	})
	require.Equal(t, 40.0, th.RearmMark())
	require.Equal(t, 50.0, (&Threshold{Score: 50}).RearmMark())
}

func TestFrequencyReached(t *testing.T) {
	t.Parallel()
	week := &Frequency{Count: 3, Within: Duration{7 * Day}}
	ever := &Frequency{Count: 3}
	cases := []struct {
		name  string
		f     *Frequency
		times []time.Duration // offsets from now; the current event (0) included
		want  bool
	}{
		{"third in window", week, []time.Duration{-8 * Day, -2 * Day, -time.Hour, 0}, true},
		{"second", week, []time.Duration{-2 * Day, 0}, false},
		{"fourth", week, []time.Duration{-3 * Day, -2 * Day, -time.Hour, 0}, false},
		{"edge of window excluded", week, []time.Duration{-7 * Day, -time.Hour, 0}, false},
		{"just inside the window", week, []time.Duration{-7*Day + time.Second, -time.Hour, 0}, true},
		{"future ignored", week, []time.Duration{-time.Hour, 0, time.Hour, 0}, true},
		{"any time", ever, []time.Duration{-100 * Day, -50 * Day, 0}, true},
		{"any time fourth", ever, []time.Duration{-100 * Day, -60 * Day, -50 * Day, 0}, false},
		{"nil frequency", nil, nil, true},
	}
	for _, c := range cases {
		var times []time.Time
		for _, d := range c.times {
			times = append(times, t0.Add(d))
		}
		require.Equal(t, c.want, FrequencyReached(c.f, times, t0), c.name)
	}
}
