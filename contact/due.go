package contact

import (
	"fmt"
	"time"

	"github.com/leadflow/leadflow/flows"
)

// applyDue applies the time-driven changes of a contact that fell due:
// decay, expiry of engagement points, window conditions of segments and
// profile rules, date_field triggers and rules; and everything a newly
// published model or segment decides (the shell makes every contact due
// once after a publish): profile points, bands, thresholds, memberships.
func (a *applier) applyDue() error {
	if !a.st.Exists {
		return nil
	}
	at := a.now.UTC().Format(time.RFC3339Nano)
	eventID := "due/" + EscapeIDPart(a.st.Contact.ID) + "/" + at
	a.startChain(eventID, "due", at)
	for _, mv := range a.cat.Models {
		s := a.st.Scores[mv.Model.ID]
		if s == nil || mv.Model.Decay == nil {
			continue
		}
		a.materializeDecay(mv, s, eventID)
		if mv.Model.Decay.ExpireAfter.Duration > 0 {
			a.expire(mv, s, eventID)
		}
	}
	a.stateDirty, a.profileDirty = true, true
	for _, fv := range a.cat.Flows {
		t := &fv.Flow.Trigger
		if t.Type != flows.TriggerDateField {
			continue
		}
		due, ok := flows.DateTriggerDue(t, a.snapshot())
		if !ok || due.After(a.now) {
			continue
		}
		if e := a.st.Entries[fv.Flow.ID]; e != nil && !e.LastEnteredAt.Before(due) {
			continue // already fired for this date
		}
		if a.now.Sub(due) > 24*time.Hour && a.st.Contact.CreatedAt.After(due) {
			continue // the date was already past when the contact arrived
		}
		a.pushDerived(flows.TriggerDateField, map[string]any{"field": t.Field, "flow": fv.Flow.ID}, "date", t.Field, fv.Flow.ID)
	}
	// An engagement rule on a date field fires once per date: at the due
	// time that covers it (its date was in the future when the contact was
	// last scheduled, and has come).
	snap := a.snapshot()
	for _, rr := range a.cat.dateRules {
		if d, ok := a.dateRuleDue(rr, snap); ok && !d.After(a.now) {
			a.pushDerived(flows.TriggerDateField, map[string]any{"field": rr.rule.On.Field, "model": rr.model.Model.ID, "rule": rr.rule.ID},
				"date-rule", rr.model.Model.ID, rr.rule.ID)
		}
	}
	return a.drain()
}

// dateRuleDue is when an engagement rule on a date field fires, if it has
// not yet: its date plus offset, when that is no earlier than the time the
// contact was scheduled at when this application began (an earlier date
// fired then, or was already past when it was set).
func (a *applier) dateRuleDue(rr ruleRef, snap *flows.Contact) (time.Time, bool) {
	d, ok := flows.DateTriggerDue(&rr.rule.On, snap)
	if !ok {
		return time.Time{}, false
	}
	if !d.After(a.now) && (a.scheduled == nil || d.Before(*a.scheduled)) {
		return time.Time{}, false
	}
	return d, true
}

// expire removes engagement points whose expiry has come: the state's
// expiring grants of the model due at now, oldest first.
func (a *applier) expire(mv *ModelVersion, s *Score, eventID string) {
	kept := a.st.ExpiringGrants[:0:0]
	for _, g := range a.st.ExpiringGrants {
		if g.Model != mv.Model.ID || g.ExpiresAt.After(a.now) || g.LedgerID == 0 {
			kept = append(kept, g)
			continue
		}
		a.fx.Expired = append(a.fx.Expired, g.LedgerID)
		// The grant's points go, within the score bound (see
		// flows.ClampScoreDelta): the ledger records what was taken.
		delta := flows.ClampScoreDelta(s.Score, s.Score, flows.RoundPoints(-g.Points))
		s.Engagement = flows.RoundPoints(s.Engagement + delta)
		s.Score = flows.RoundPoints(s.Profile + s.Engagement)
		a.fx.Ledger = append(a.fx.Ledger, LedgerEntry{
			Model: mv.Model.ID, Points: delta, Kind: "expiry",
			Reason:       fmt.Sprintf("%g points given %s expired after %s", g.Points, g.At.UTC().Format(time.RFC3339), mv.Model.Decay.ExpireAfter.Duration),
			ModelVersion: mv.Version, EventID: eventID, At: a.now, IdemKey: fmt.Sprintf("expire:%d", g.LedgerID),
		})
	}
	a.st.ExpiringGrants = kept
}

// scheduleNextDue records when this contact next changes because time passes.
func (a *applier) scheduleNextDue() {
	if !a.st.Exists {
		return
	}
	var next *time.Time
	consider := func(t time.Time) {
		if t.After(a.now) && (next == nil || t.Before(*next)) {
			tt := t
			next = &tt
		}
	}
	for _, mv := range a.cat.Models {
		m := mv.Model
		s := a.st.Scores[m.ID]
		if s == nil || m.Decay == nil {
			continue
		}
		if m.Decay.HalfLife.Duration > 0 {
			if t, ok := flows.NextDecayCrossingAfter(m, s.Profile, s.Engagement, s.EngagementAsOf, a.now, a.cat.marks[m.ID]...); ok {
				consider(t)
			}
		}
		if m.Decay.ExpireAfter.Duration > 0 {
			for _, g := range a.st.ExpiringGrants {
				if g.Model == m.ID {
					consider(g.ExpiresAt)
				}
			}
		}
	}
	snap := a.snapshot()
	for _, sv := range a.cat.Segments {
		if t, ok := flows.ConditionChangesAt(&sv.Segment.Rule, snap, a.now, a.cat.Pure); ok {
			consider(t)
		}
	}
	for _, mv := range a.cat.Models {
		if !a.cat.dynamicProfile[mv.Model.ID] {
			continue
		}
		for i := range mv.Model.Profile {
			if t, ok := flows.ConditionChangesAt(&mv.Model.Profile[i].When, snap, a.now, a.cat.Pure); ok {
				consider(t)
			}
		}
	}
	for _, rr := range a.cat.dateRules {
		d, ok := a.dateRuleDue(rr, snap)
		switch {
		case !ok:
		case d.After(a.now):
			consider(d)
		case !a.due:
			// Its date came while this application was not the due
			// changes (an event applied first): due at once.
			consider(a.now.Add(time.Second))
		}
	}
	for _, fv := range a.cat.Flows {
		if fv.Flow.Trigger.Type != flows.TriggerDateField {
			continue
		}
		if t, ok := flows.DateTriggerDue(&fv.Flow.Trigger, snap); ok {
			consider(t)
		}
	}
	a.st.Contact.NextDueAt = next
	a.fx.NextDue = next
}
