package flows

import "time"

// ThresholdState is what the engine keeps per contact and threshold. New
// contacts start armed (ThresholdState{Armed: true}).
type ThresholdState struct {
	Armed bool
}

// RearmMark returns the score below which a fired threshold re-arms:
// RearmBelow, or the threshold's score when unset.
func (th *Threshold) RearmMark() float64 {
	if th.RearmBelow != nil {
		return *th.RearmBelow
	}
	return th.Score
}

// CrossThreshold applies a score change from old to new to a threshold's
// state. It fires when the threshold is armed and old < Score <= new, and
// then disarms it; a disarmed threshold re-arms when new falls below its
// re-arm mark (RearmBelow, default Score). So a threshold fires once per
// crossing, and again only after the score has dropped below the mark.
func CrossThreshold(th *Threshold, st ThresholdState, old, new float64) (fire bool, next ThresholdState) {
	next = st
	if st.Armed {
		if old < th.Score && th.Score <= new {
			return true, ThresholdState{Armed: false}
		}
		return false, next
	}
	if new < th.RearmMark() {
		next.Armed = true
	}
	return false, next
}

// FrequencyReached reports whether an engagement rule with a frequency
// gives its points for the event happening at now. matchingTimes are the
// times of the contact's events matching the rule INCLUDING the current
// one (at now); it counts those in the window (now−Within, now] — any time
// up to now when Within is zero; times after now are ignored — and is true
// when that count equals f.Count exactly, so "3 visits → +10" pays on the
// third visit and not on the fourth. A nil frequency is always reached.
func FrequencyReached(f *Frequency, matchingTimes []time.Time, now time.Time) bool {
	if f == nil {
		return true
	}
	n := 0
	from := now.Add(-f.Within.Duration)
	for _, t := range matchingTimes {
		if t.After(now) {
			continue
		}
		if f.Within.Duration > 0 && !t.After(from) {
			continue
		}
		n++
	}
	return n == f.Count
}
