package contact

import (
	"fmt"
	"strconv"
	"time"

	"github.com/leadflow/leadflow/flows"
)

// grant is one change of points with where it came from.
type grant struct {
	model   *ModelVersion
	points  float64
	kind    string // engagement, flow
	reason  string
	ruleID  string
	flowID  string
	flowVer int
	stepID  string
	runID   string
	eventID string
	idemKey string
	capped  bool // the rule or step has a cap: the grant counts towards it
}

func (a *applier) score(model string) *Score {
	s := a.st.Scores[model]
	if s == nil {
		s = &Score{Model: model, EngagementAsOf: a.now, ProfileRules: map[string]float64{}}
		a.st.Scores[model] = s
	}
	return s
}

// materializeDecay brings a model's engagement points to now under half-life
// decay, recording the decay in the ledger.
func (a *applier) materializeDecay(mv *ModelVersion, s *Score, eventID string) {
	m := mv.Model
	if m.Decay == nil || m.Decay.HalfLife.Duration == 0 || !s.EngagementAsOf.Before(a.now) {
		return
	}
	decayed := flows.DecayedEngagement(m.Decay, s.Engagement, s.EngagementAsOf, a.now)
	delta := flows.ClampScoreDelta(s.Score, s.Score, flows.RoundPoints(decayed-s.Engagement))
	since := s.EngagementAsOf
	s.EngagementAsOf = a.now
	if delta == 0 {
		return
	}
	s.Engagement = flows.RoundPoints(s.Engagement + delta)
	s.Score = flows.RoundPoints(s.Profile + s.Engagement)
	a.fx.Ledger = append(a.fx.Ledger, LedgerEntry{
		Model: m.ID, Points: delta, Kind: "decay",
		Reason:       fmt.Sprintf("half-life decay (%s) since %s", m.Decay.HalfLife.Duration, since.UTC().Format(time.RFC3339)),
		ModelVersion: mv.Version, EventID: eventID, At: a.now,
	})
}

// give applies a grant of engagement points. A score stays within
// ±flows.MaxScore: a grant that would take it past the bound gives only the
// points up to it (none at the bound), and the ledger entry records the
// points actually given, so that the ledger still sums to the score.
func (a *applier) give(g grant) {
	if g.points == 0 {
		return
	}
	m := g.model.Model
	s := a.score(m.ID)
	a.materializeDecay(g.model, s, g.eventID)
	points := flows.ClampScoreDelta(s.Score, s.Score, flows.RoundPoints(g.points))
	if points == 0 {
		return
	}
	if points != flows.RoundPoints(g.points) {
		g.reason = fmt.Sprintf("%s (%g of %g points: scores are kept within ±%d)", g.reason, points, flows.RoundPoints(g.points), int64(flows.MaxScore))
	}
	s.Engagement = flows.RoundPoints(s.Engagement + points)
	s.Score = flows.RoundPoints(s.Profile + s.Engagement)
	e := LedgerEntry{
		Model: m.ID, Points: points, Kind: g.kind, Reason: g.reason,
		RuleID: g.ruleID, ModelVersion: g.model.Version, FlowID: g.flowID, FlowVersion: g.flowVer, StepID: g.stepID,
		RunID: g.runID, EventID: g.eventID, At: a.now, IdemKey: g.idemKey,
	}
	if m.Decay != nil && m.Decay.ExpireAfter.Duration > 0 {
		t := a.now.Add(m.Decay.ExpireAfter.Duration)
		e.ExpiresAt = &t
		a.st.ExpiringGrants = append(a.st.ExpiringGrants, ExpiringGrant{Model: m.ID, Points: points, At: a.now, ExpiresAt: t})
	}
	if g.capped && points > 0 {
		a.st.CapGrants = append(a.st.CapGrants, CapGrant{Key: CapKey(m.ID, g.ruleID, g.flowID, g.stepID), Points: points, At: a.now})
	}
	a.fx.Ledger = append(a.fx.Ledger, e)
}

// capUsed is how many points a rule or step gave this contact since since.
func (a *applier) capUsed(model, ruleID, flowID, stepID string, since time.Time) float64 {
	key := CapKey(model, ruleID, flowID, stepID)
	used := 0.0
	for _, g := range a.st.CapGrants {
		if g.Key == key && g.At.After(since) {
			used += g.Points
		}
	}
	return used
}

// engagement gives the points of every engagement rule the event matches;
// n is the event's position in its chain (queued.n).
func (a *applier) engagement(ev flows.Event, n int) {
	for _, mv := range a.cat.Models {
		m := mv.Model
		for i := range m.Engagement {
			r := &m.Engagement[i]
			if !flows.MatchTrigger(&r.On, ev) {
				continue
			}
			if r.On.Type == flows.TriggerDateField && (ev.Properties["model"] != m.ID || ev.Properties["rule"] != r.ID) {
				continue // a date rule fires on its own date (applyDue)
			}
			if r.Frequency != nil && !a.frequencyReached(r, ev.At) {
				continue
			}
			points := r.Points
			if r.Cap != nil {
				points = flows.ApplyCap(points, r.Cap, a.capUsed(m.ID, r.ID, "", "", a.now.Add(-r.Cap.Period.Duration)))
			}
			reason := r.Reason
			if reason == "" {
				reason = fmt.Sprintf("%s: %s", r.ID, ev.Type)
			}
			a.give(grant{model: mv, points: points, kind: "engagement", reason: reason, ruleID: r.ID, eventID: ev.ID,
				idemKey: a.chainKey("rule", n, a.st.Contact.ID, m.ID, r.ID), capped: r.Cap != nil})
		}
	}
}

// frequencyReached counts at the later of now and the event's own time, so
// that the event being applied is always among those counted.
func (a *applier) frequencyReached(r *flows.EngagementRule, at time.Time) bool {
	if a.now.After(at) {
		at = a.now
	}
	var times []time.Time
	for _, act := range a.st.Activity {
		if flows.MatchTrigger(&r.On, flows.Event{Type: act.Type, At: act.At, Properties: act.Properties}) {
			times = append(times, act.At)
		}
	}
	return flows.FrequencyReached(r.Frequency, times, at)
}

// rescoreProfile recomputes profile points of every model (or only of
// those whose rules read events, segments or scores) and records the
// difference per rule.
func (a *applier) rescoreProfile(eventID string, onlyDynamic bool) {
	snap := a.snapshot()
	for _, mv := range a.cat.Models {
		m := mv.Model
		if len(m.Profile) == 0 || onlyDynamic && !a.cat.dynamicProfile[m.ID] {
			continue
		}
		_, matched := flows.ProfileScore(m, snap, a.now, a.cat.Pure)
		want := map[string]float64{}
		for _, id := range matched {
			for _, r := range m.Profile {
				if r.ID == id {
					want[id] = r.Points
				}
			}
		}
		s := a.st.Scores[m.ID]
		if s == nil && len(want) == 0 {
			continue
		}
		s = a.score(m.ID)
		if !sameRules(want, s.ProfileRules) {
			// The score changes: bring its decay to now first, so that the
			// change, and the crossings it causes, start from the exact
			// score (as a grant does).
			a.materializeDecay(mv, s, eventID)
		}
		ids := map[string]bool{}
		for id := range want {
			ids[id] = true
		}
		for id := range s.ProfileRules {
			ids[id] = true
		}
		for _, id := range sortedKeys(ids) {
			// Each rule's entry records the points it actually holds, which
			// the score bound may make less than the rule's points.
			delta := flows.ClampScoreDelta(s.Score, s.Profile, flows.RoundPoints(want[id]-s.ProfileRules[id]))
			if delta == 0 {
				continue
			}
			_, wanted := want[id]
			if held := flows.RoundPoints(s.ProfileRules[id] + delta); wanted || held != 0 {
				s.ProfileRules[id] = held
			} else {
				delete(s.ProfileRules, id)
			}
			s.Profile = flows.RoundPoints(s.Profile + delta)
			s.Score = flows.RoundPoints(s.Profile + s.Engagement)
			reason := fmt.Sprintf("profile rule %s now matches", id)
			if !wanted {
				reason = fmt.Sprintf("profile rule %s no longer matches", id)
			}
			a.fx.Ledger = append(a.fx.Ledger, LedgerEntry{
				Model: m.ID, Points: delta, Kind: "profile", Reason: reason,
				RuleID: id, ModelVersion: mv.Version, EventID: eventID, At: a.now,
			})
		}
	}
}

// thresholds fires the actions of thresholds the score crossed upward, once
// per crossing, and re-arms them below their mark.
func (a *applier) thresholds(mv *ModelVersion, old, new float64, eventID string) error {
	m := mv.Model
	for i := range m.Thresholds {
		th := &m.Thresholds[i]
		ref := ThresholdRef{Model: m.ID, ThresholdID: th.ID}
		row := a.st.Thresholds[ref]
		if row == nil {
			row = &Threshold{Armed: true}
			a.st.Thresholds[ref] = row
		}
		fire, next := flows.CrossThreshold(th, flows.ThresholdState{Armed: row.Armed}, old, new)
		row.Armed = next.Armed
		if !fire {
			continue
		}
		row.Crossings++
		if a.st.Contact.Disqualified {
			continue
		}
		src := source{
			model: m.ID, thresholdID: th.ID, crossing: row.Crossings, eventID: eventID,
			reason:  fmt.Sprintf("score %s reached %g (threshold %s, crossing %d)", m.ID, th.Score, th.ID, row.Crossings),
			keyKind: "threshold", keyParts: []string{a.st.Contact.ID, m.ID, th.ID, strconv.Itoa(row.Crossings)},
		}
		for j := range th.Actions {
			src.stepID = th.Actions[j].ID
			if err := a.action(&th.Actions[j], src); err != nil {
				return err
			}
		}
	}
	return nil
}

// sameRules tells whether the matching profile rules hold the points they
// should.
func sameRules(want, held map[string]float64) bool {
	if len(want) != len(held) {
		return false
	}
	for id, p := range want {
		if h, ok := held[id]; !ok || h != p {
			return false
		}
	}
	return true
}
