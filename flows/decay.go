package flows

import (
	"math"
	"time"
)

// DecayedEngagement returns engagement points E held at asOf as they stand
// at now under a half-life decay H: E·2^(−(now−asOf)/H), rounded with
// RoundPoints. Without a half-life (nil decay, or expiry decay), or when now
// is not after asOf, it returns E rounded.
func DecayedEngagement(d *Decay, engagement float64, asOf, now time.Time) float64 {
	if d == nil || d.HalfLife.Duration <= 0 || !now.After(asOf) {
		return RoundPoints(engagement)
	}
	elapsed := now.Sub(asOf)
	return RoundPoints(engagement * math.Exp2(-float64(elapsed)/float64(d.HalfLife.Duration)))
}

// Grant is engagement points given at a time, for expiry decay.
type Grant struct {
	Points float64
	At     time.Time
}

// ExpiredPoints applies expiry decay (ExpireAfter E): expired is the sum of
// the grants with At+E <= now (rounded), and next the earliest At+E after
// now, with ok false when no grant expires later. Without an expiry (nil
// decay or half-life decay) nothing expires.
func ExpiredPoints(d *Decay, grants []Grant, now time.Time) (expired float64, next time.Time, ok bool) {
	if d == nil || d.ExpireAfter.Duration <= 0 {
		return 0, time.Time{}, false
	}
	for _, g := range grants {
		at := g.At.Add(d.ExpireAfter.Duration)
		if !at.After(now) {
			expired += g.Points
			continue
		}
		if !ok || at.Before(next) {
			next, ok = at, true
		}
	}
	return RoundPoints(expired), next, ok
}

// NextDecayCrossing returns, for a half-life model, the earliest whole
// second after asOf at which the total the engine computes,
// RoundPoints(profile + DecayedEngagement(decay, engagement, asOf, t)),
// crosses the nearest mark: a band's min, a threshold's score or its re-arm
// mark, or one of the extra marks (the scores flows and segments compare
// with) — so that the engine can set a timer to move the contact's band,
// fire or re-arm the threshold, raise the crossing or change the segment at
// that exact time. Positive engagement decays down: the crossing is when
// the total falls below the highest mark at or below it. Negative
// engagement decays up, towards the profile part: the crossing is when the
// total reaches the lowest mark above it. It returns false for no
// half-life, no engagement, or no mark the total ever crosses.
func NextDecayCrossing(m *ScoreModel, profile, engagement float64, asOf time.Time, marks ...float64) (time.Time, bool) {
	return NextDecayCrossingAfter(m, profile, engagement, asOf, asOf, marks...)
}

// NextDecayCrossingAfter is NextDecayCrossing from the time from (at or
// after asOf) on: the engagement is still as of asOf, and the crossing is
// that of the nearest mark to the total at from.
func NextDecayCrossingAfter(m *ScoreModel, profile, engagement float64, asOf, from time.Time, marks ...float64) (time.Time, bool) {
	if m == nil || m.Decay == nil || m.Decay.HalfLife.Duration <= 0 || engagement == 0 {
		return time.Time{}, false
	}
	if from.Before(asOf) {
		from = asOf
	}
	total := func(t time.Time) float64 {
		return RoundPoints(profile + DecayedEngagement(m.Decay, engagement, asOf, t))
	}
	now := total(from)
	up := engagement < 0
	mark, found := 0.0, false
	consider := func(x float64) {
		switch {
		case !up && x <= now && (!found || x > mark):
			mark, found = x, true
		case up && x > now && (!found || x < mark):
			mark, found = x, true
		}
	}
	for _, b := range m.Bands {
		consider(b.Min)
	}
	for _, th := range m.Thresholds {
		consider(th.Score)
		if th.RearmBelow != nil {
			consider(*th.RearmBelow)
		}
	}
	for _, x := range marks {
		consider(x)
	}
	if !found || (!up && RoundPoints(profile) >= mark) || (up && RoundPoints(profile) < mark) {
		return time.Time{}, false
	}
	base := from.Truncate(time.Second)
	at := func(k int64) time.Time { return base.Add(time.Duration(k) * time.Second) }
	crossed := func(k int64) bool {
		if up {
			return total(at(k)) >= mark
		}
		return total(at(k)) < mark
	}
	const maxSeconds = int64(math.MaxInt64/int64(time.Second)) / 2
	hi := int64(1)
	for !crossed(hi) {
		if hi > maxSeconds {
			return time.Time{}, false
		}
		hi *= 2
	}
	lo := hi / 2 // crossed(lo) is false, or lo == 0
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if crossed(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return at(hi), true
}
