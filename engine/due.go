package engine

import (
	"fmt"
	"time"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// applyDue applies the time-driven changes of a contact that fell due:
// decay, expiry of engagement points, window conditions of segments and
// profile rules, date_field triggers; and everything a newly published
// model or segment decides (store.MarkReevaluationDue makes every contact
// due once): profile points, bands, thresholds, memberships.
func (a *applier) applyDue() error {
	if !a.st.Exists {
		return nil
	}
	at := a.now.UTC().Format(time.RFC3339Nano)
	eventID := "due/" + escapeIDPart(a.st.Contact.ID) + "/" + at
	a.startChain(eventID, "due", at)
	for _, mv := range a.cat.Models {
		s := a.st.Scores[mv.Model.ID]
		if s == nil || mv.Model.Decay == nil {
			continue
		}
		a.materializeDecay(mv, s, eventID)
		if mv.Model.Decay.ExpireAfter.Duration > 0 {
			if err := a.expire(mv, s, eventID); err != nil {
				return err
			}
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
		a.pushDerived(flows.TriggerDateField, map[string]any{"field": t.Field}, "date", t.Field, fv.Flow.ID)
	}
	return a.drain()
}

// expire removes engagement points whose expiry has come.
func (a *applier) expire(mv *ModelVersion, s *store.ScoreRow, eventID string) error {
	rows, err := a.tx.Query(a.ctx, `SELECT id, points::float8, at FROM score_ledger
		WHERE contact_id = $1 AND model = $2 AND expires_at <= $3 AND NOT expired ORDER BY id`, a.st.Contact.ID, mv.Model.ID, a.now)
	if err != nil {
		return fmt.Errorf("error loading expiring points: %w", err)
	}
	type grantRow struct {
		id     int64
		points float64
		at     time.Time
	}
	var grants []grantRow
	for rows.Next() {
		var g grantRow
		if err := rows.Scan(&g.id, &g.points, &g.at); err != nil {
			rows.Close()
			return err
		}
		grants = append(grants, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, g := range grants {
		a.ch.ExpiredLedger = append(a.ch.ExpiredLedger, g.id)
		// The grant's points go, within the score bound (see
		// flows.ClampScoreDelta): the ledger records what was taken.
		delta := flows.ClampScoreDelta(s.Score, s.Score, flows.RoundPoints(-g.points))
		s.Engagement = flows.RoundPoints(s.Engagement + delta)
		s.Score = flows.RoundPoints(s.Profile + s.Engagement)
		a.ch.TouchScore(a.st, mv.Model.ID)
		a.ch.Ledger = append(a.ch.Ledger, store.LedgerRow{
			ContactID: a.st.Contact.ID, Model: mv.Model.ID, Points: delta, Kind: "expiry",
			Reason:       fmt.Sprintf("%g points given %s expired after %s", g.points, g.at.UTC().Format(time.RFC3339), mv.Model.Decay.ExpireAfter.Duration),
			ModelVersion: mv.Version, EventID: eventID, At: a.now, IdemKey: fmt.Sprintf("expire:%d", g.id),
		})
	}
	return nil
}

// scheduleNextDue records when this contact next changes because time passes.
func (a *applier) scheduleNextDue() error {
	if !a.st.Exists {
		return nil
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
			if t, ok := flows.NextDecayCrossing(m, s.Profile, s.Engagement, s.EngagementAsOf); ok {
				consider(t)
			}
		}
		if m.Decay.ExpireAfter.Duration > 0 {
			var t *time.Time
			err := a.tx.QueryRow(a.ctx, `SELECT min(expires_at) FROM score_ledger WHERE contact_id = $1 AND model = $2 AND NOT expired AND expires_at > $3`,
				a.st.Contact.ID, m.ID, a.now).Scan(&t)
			if err != nil {
				return fmt.Errorf("error reading next expiry: %w", err)
			}
			if t != nil {
				consider(*t)
			}
			for _, l := range a.ch.Ledger {
				if l.ContactID == a.st.Contact.ID && l.Model == m.ID && l.ExpiresAt != nil {
					consider(*l.ExpiresAt)
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
	for _, fv := range a.cat.Flows {
		if fv.Flow.Trigger.Type != flows.TriggerDateField {
			continue
		}
		if t, ok := flows.DateTriggerDue(&fv.Flow.Trigger, snap); ok {
			consider(t)
		}
	}
	cur := a.st.Contact.NextDueAt
	if (cur == nil) != (next == nil) || (cur != nil && !cur.Equal(*next)) {
		a.st.Contact.NextDueAt = next
		a.ch.TouchContact(a.st)
	}
	return nil
}
