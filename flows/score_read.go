package flows

import "time"

// ScoreAt returns a score as it stands at now when its engagement points
// were last brought up to date at asOf: profile plus the engagement points
// decayed by the model's half-life, rounded as the engine rounds
// (RoundPoints). It is the value the engine would materialise at now, and
// the value every read shows. Without a half-life it is profile +
// engagement.
func ScoreAt(m *ScoreModel, profile, engagement float64, asOf, now time.Time) float64 {
	var d *Decay
	if m != nil {
		d = m.Decay
	}
	return RoundPoints(profile + DecayedEngagement(d, engagement, asOf, now))
}

// BandBounds returns the scores that fall in the model's band named name
// (as BandFor places them): from min, inclusive, up to below, exclusive,
// with below nil for the top band. It returns false when the model has no
// band of that name.
func BandBounds(m *ScoreModel, name string) (min float64, below *float64, ok bool) {
	if m == nil {
		return 0, nil, false
	}
	for i, b := range m.Bands {
		if b.Name != name {
			continue
		}
		min, below, ok = b.Min, nil, true
		for _, later := range m.Bands[i+1:] {
			if below == nil || later.Min < *below {
				x := later.Min
				below = &x
			}
		}
	}
	return min, below, ok
}
