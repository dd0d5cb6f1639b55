package flows

import (
	"math"
	"strconv"
)

// Numeric bounds. Scores and ledger points are stored as numeric(12, 2)
// (|x| < 10^10, two decimals), so a definition may only hold numbers the
// store keeps exactly, and an accumulated score is clamped well inside the
// column:
//
//   - points of one rule or step (profile, engagement, lead_score add and
//     subtract): |points| <= MaxRulePoints;
//   - score marks (thresholds, rearm_below, band mins, score conditions and
//     score_threshold_crossed triggers, lead_score set values, caps):
//     |x| <= MaxScore;
//   - every one of them has at most two decimals;
//   - a contact's score in a model, and its profile part, stay within
//     ±MaxScore: points that would take them past it are granted only up to
//     the bound (the ledger records the points actually granted, so the
//     ledger still sums to the score).
const (
	MaxRulePoints = 1_000_000
	MaxScore      = 1_000_000_000
)

// hasAtMostTwoDecimals reports whether x is a whole number of hundredths.
func hasAtMostTwoDecimals(x float64) bool {
	return RoundPoints(x) == x
}

// ClampScoreDelta returns the part of delta that keeps a score, and the part
// of it delta goes to (profile or engagement), within ±MaxScore. A score
// already beyond the bound (stored before it existed) may move back towards
// it but not further away.
func ClampScoreDelta(score, part, delta float64) float64 {
	switch {
	case delta > 0:
		room := math.Min(MaxScore-score, MaxScore-part)
		return RoundPoints(math.Min(delta, math.Max(room, 0)))
	case delta < 0:
		room := math.Max(-MaxScore-score, -MaxScore-part)
		return RoundPoints(math.Max(delta, math.Min(room, 0)))
	}
	return 0
}

// bounded reports a number of a definition the store cannot hold exactly:
// beyond ±limit, or with more than two decimals.
func (v *validation) bounded(x float64, p jpath, limit float64, what string) {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > limit:
		v.errf(p, "%s is out of range: %s must be between -%s and %s (scores are kept within ±%s with two decimals)",
			fmtBound(x), what, fmtThousands(limit), fmtThousands(limit), fmtThousands(MaxScore))
	case !hasAtMostTwoDecimals(x):
		v.errf(p, "%s has more than two decimals; scores are kept to the hundredth, e.g. %s", fmtNum(x), fmtNum(RoundPoints(x)))
	}
}

// rulePoints checks the points of one rule or step.
func (v *validation) rulePoints(x float64, p jpath) {
	v.bounded(x, p, MaxRulePoints, "the points of one rule or step")
}

// capPoints checks the points of a cap.
func (v *validation) capPoints(x float64, p jpath) {
	v.bounded(x, p, MaxScore, "the points of a cap")
}

// scoreMark checks a score value a definition compares with or sets.
func (v *validation) scoreMark(x float64, p jpath) {
	v.bounded(x, p, MaxScore, "a score")
}

// fmtThousands writes a whole number with thousands separators.
func fmtThousands(x float64) string {
	s := strconv.FormatFloat(x, 'f', 0, 64)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// fmtBound writes a number in plain form, or in exponent form when huge.
func fmtBound(x float64) string {
	if math.Abs(x) < 1e15 {
		return fmtNum(x)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}
