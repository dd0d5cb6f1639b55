package flows

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// BandFor returns the band a score falls in: the last band (in the model's
// ascending order) whose Min the score reaches; false when the score is
// below every band or the model has none.
func BandFor(m *ScoreModel, score float64) (Band, bool) {
	var out Band
	found := false
	if m == nil {
		return out, false
	}
	for _, b := range m.Bands {
		if score >= b.Min {
			out, found = b, true
		}
	}
	return out, found
}

// ProfileScore sums the points of the model's profile rules whose condition
// holds for the contact at now (rounded with RoundPoints) and lists the ids
// of those rules in model order.
func ProfileScore(m *ScoreModel, ct *Contact, now time.Time, cat *Catalog) (total float64, matched []string) {
	if m == nil {
		return 0, nil
	}
	for i := range m.Profile {
		r := &m.Profile[i]
		if EvalCondition(&r.When, ct, now, cat) {
			total += r.Points
			matched = append(matched, r.ID)
		}
	}
	return RoundPoints(total), matched
}

// ScoreChange returns the change a lead_score step makes to a score:
// add → +points, subtract → −points, set → points − current; 0 for an
// unknown op. The result is rounded with RoundPoints.
func ScoreChange(op string, points, current float64) float64 {
	switch op {
	case ScoreAdd:
		return RoundPoints(points)
	case ScoreSubtract:
		return RoundPoints(-points)
	case ScoreSet:
		return RoundPoints(points - current)
	}
	return 0
}

// ApplyCap limits a positive change so that the points granted in the
// cap's current period, grantedInPeriod, plus the result stay within
// cap.Points (never below 0). Negative changes and a nil cap leave delta as
// it is.
func ApplyCap(delta float64, cap *Cap, grantedInPeriod float64) float64 {
	if cap == nil || delta <= 0 {
		return delta
	}
	room := cap.Points - grantedInPeriod
	if room <= 0 {
		return 0
	}
	return min(delta, room)
}

// RoundPoints rounds to 2 decimals, half away from zero, as PostgreSQL's
// numeric(12,2) rounds the shortest decimal form of the number (1.005 →
// 1.01, -2.675 → -2.68).
func RoundPoints(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x + 0 // turns -0 into 0
	}
	s := strconv.FormatFloat(math.Abs(x), 'f', -1, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	if len(frac) <= 2 {
		return x
	}
	digits := []byte(intPart + frac[:2])
	if frac[2] >= '5' {
		i := len(digits) - 1
		for i >= 0 && digits[i] == '9' {
			digits[i] = '0'
			i--
		}
		if i < 0 {
			digits = append([]byte{'1'}, digits...)
		} else {
			digits[i]++
		}
	}
	n := len(digits)
	r, err := strconv.ParseFloat(string(digits[:n-2])+"."+string(digits[n-2:]), 64)
	if err != nil {
		return x
	}
	if x < 0 {
		r = -r
	}
	return r + 0
}
