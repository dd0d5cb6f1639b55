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
// falls below the highest mark at or below the current total — a band's
// min, a threshold's score or its re-arm mark — so that the engine can set
// a timer to move the contact's band or re-arm the threshold at that exact
// time. It returns false for no half-life, no positive engagement, no mark
// below the total, or a mark the score never falls below (the profile part
// alone reaches it).
func NextDecayCrossing(m *ScoreModel, profile, engagement float64, asOf time.Time) (time.Time, bool) {
	if m == nil || m.Decay == nil || m.Decay.HalfLife.Duration <= 0 || engagement <= 0 {
		return time.Time{}, false
	}
	total := func(t time.Time) float64 {
		return RoundPoints(profile + DecayedEngagement(m.Decay, engagement, asOf, t))
	}
	now := total(asOf)
	mark, found := math.Inf(-1), false
	consider := func(x float64) {
		if x <= now && x > mark {
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
	if !found || RoundPoints(profile) >= mark {
		return time.Time{}, false
	}
	base := asOf.Truncate(time.Second)
	at := func(k int64) time.Time { return base.Add(time.Duration(k) * time.Second) }
	below := func(k int64) bool { return total(at(k)) < mark }
	const maxSeconds = int64(math.MaxInt64/int64(time.Second)) / 2
	hi := int64(1)
	for !below(hi) {
		if hi > maxSeconds {
			return time.Time{}, false
		}
		hi *= 2
	}
	lo := hi / 2 // below(lo) is false, or lo == 0
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if below(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return at(hi), true
}
