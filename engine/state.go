package engine

import (
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/leadflow/leadflow/contact"
	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/store"
)

// loaded is one contact as loaded in a transaction: its rows, the core's
// state before anything was applied (to tell what changed) and the state
// being applied to.
type loaded struct {
	row    *store.ContactState
	before *contact.State
	st     *contact.State
}

// toCore converts a contact's stored rows into the core's state.
func toCore(s *store.ContactState) *contact.State {
	st := contact.NewState(s.Contact.ID)
	st.Exists = s.Exists
	c := s.Contact
	st.Contact = contact.Contact{
		ID: c.ID, Email: c.Email, AccountID: c.AccountID, Stage: c.Stage, Disqualified: c.Disqualified,
		DisqualifiedReason: c.DisqualifiedReason, Fields: c.Fields, Tags: c.Tags, CreatedAt: c.CreatedAt, NextDueAt: c.NextDueAt,
	}
	if st.Contact.Fields == nil {
		st.Contact.Fields = map[string]any{}
	}
	for m, r := range s.Scores {
		st.Scores[m] = &contact.Score{Model: r.Model, Score: r.Score, Profile: r.Profile, Engagement: r.Engagement,
			EngagementAsOf: r.EngagementAsOf, Band: r.Band, BandColor: r.BandColor, ProfileRules: r.ProfileRules}
	}
	for _, r := range s.Thresholds {
		st.Thresholds[contact.ThresholdRef{Model: r.Model, ThresholdID: r.ThresholdID}] = &contact.Threshold{Armed: r.Armed, Crossings: r.Crossings}
	}
	maps.Copy(st.Segments, s.Segments)
	for f, e := range s.Entries {
		st.Entries[f] = &contact.Entry{Entries: e.Entries, LastEnteredAt: e.LastEnteredAt}
	}
	for id, r := range s.Runs {
		st.Runs[id] = &contact.Run{ID: r.ID, FlowID: r.FlowID, FlowVersion: r.FlowVersion, Status: r.Status, StepID: r.StepID,
			WaitSeq: r.WaitSeq, SignalledSeq: r.SignalledSeq, WaitKind: r.WaitKind, WaitEvent: r.WaitEvent, WaitUntil: r.WaitUntil,
			TriggerEventID: r.TriggerEventID, StepsExecuted: r.StepsExecuted, StartedAt: r.StartedAt, UpdatedAt: r.UpdatedAt, FinishedAt: r.FinishedAt}
	}
	st.Activity = s.Activity
	for _, g := range s.CapGrants {
		st.CapGrants = append(st.CapGrants, contact.CapGrant{Key: g.Key, Points: g.Points, At: g.At})
	}
	for _, g := range s.ExpiringGrants {
		st.ExpiringGrants = append(st.ExpiringGrants, contact.ExpiringGrant{LedgerID: g.LedgerID, Model: g.Model, Points: g.Points, At: g.At, ExpiresAt: g.ExpiresAt})
	}
	return st
}

// load converts loaded rows into states to apply to.
func loadStates(rows map[string]*store.ContactState) map[string]*loaded {
	out := make(map[string]*loaded, len(rows))
	for id, r := range rows {
		st := toCore(r)
		out[id] = &loaded{row: r, before: st.Clone(), st: st}
	}
	return out
}

// recordEffects adds what one application caused to the transaction's writes.
func (e *Engine) recordEffects(ch *store.Changes, l *loaded, fx *contact.Effects) {
	id, part := l.st.Contact.ID, l.row.Contact.Partition
	// Conversions go in their place among the ledger rows (Changes.Convert
	// counts the rows before them).
	conv := fx.Conversions
	convertUpTo := func(i int) {
		for len(conv) > 0 && conv[0].LedgerBefore <= i {
			c := conv[0]
			conv = conv[1:]
			ch.Convert(store.ConversionRow{ContactID: id, Model: c.Model, EventID: c.EventID, EventType: c.EventType,
				Value: c.Value, OccurredAt: c.OccurredAt, At: c.At, Score: c.Score, Band: c.Band})
		}
	}
	for i, le := range fx.Ledger {
		convertUpTo(i)
		ch.Ledger = append(ch.Ledger, store.LedgerRow{ContactID: id, Model: le.Model, Points: le.Points, Kind: le.Kind, Reason: le.Reason,
			RuleID: le.RuleID, ModelVersion: le.ModelVersion, FlowID: le.FlowID, FlowVersion: le.FlowVersion, StepID: le.StepID,
			RunID: le.RunID, EventID: le.EventID, At: le.At, ExpiresAt: le.ExpiresAt, IdemKey: le.IdemKey})
	}
	convertUpTo(len(fx.Ledger))
	ch.ExpiredLedger = append(ch.ExpiredLedger, fx.Expired...)
	for _, s := range fx.Segments {
		ch.Segments = append(ch.Segments, store.SegmentChange{ContactID: id, SegmentID: s.SegmentID, Entered: s.Entered, EventID: s.EventID, At: s.At})
	}
	for _, t := range fx.Tasks {
		ch.Tasks = append(ch.Tasks, e.taskRow(id, part, t))
	}
	for _, w := range fx.Webhooks {
		ch.Webhooks = append(ch.Webhooks, store.WebhookRow{Partition: part, URL: w.URL, Body: w.Body, Headers: w.Headers, IdemKey: w.IdemKey, CreatedAt: w.CreatedAt})
	}
	for _, r := range fx.RunsStarted {
		if r.Wait != nil {
			ch.Outbox = append(ch.Outbox, store.OutboxRow{Partition: part, Kind: contract.OutboxStartRun, WorkflowID: contract.RunWorkflowID(r.RunID), Payload: r.Wait})
		}
	}
	for _, s := range fx.RunsSignalled {
		ch.Outbox = append(ch.Outbox, store.OutboxRow{Partition: part, Kind: contract.OutboxSignalRun, WorkflowID: contract.RunWorkflowID(s.RunID),
			Payload: contract.RunSignal{WaitSeq: s.WaitSeq, EventID: s.EventID}})
	}
	for _, r := range fx.RunsFinished {
		ch.Runs[r.ID] = runRow(id, &r)
	}
	for _, a := range fx.AccountTraits {
		if ch.AccountTraits == nil {
			ch.AccountTraits = map[string]map[string]any{}
		}
		merged := ch.AccountTraits[a.AccountID]
		if merged == nil {
			merged = map[string]any{}
			ch.AccountTraits[a.AccountID] = merged
		}
		maps.Copy(merged, a.Traits)
	}
	e.observe(id, fx)
}

// recordState adds the rows of a contact whose state changed since it was
// loaded to the transaction's writes, once all its inputs are applied:
// only what changed is written.
func recordState(ch *store.Changes, l *loaded) {
	before, st, row := l.before, l.st, l.row
	id := st.Contact.ID
	touched := st.Exists != before.Exists || !sameContact(before.Contact, st.Contact)
	for _, m := range sortedKeys(st.Scores) {
		s, old := st.Scores[m], before.Scores[m]
		if old != nil && sameScore(old, s) {
			continue
		}
		row.Scores[m] = &store.ScoreRow{Model: m, Score: s.Score, Profile: s.Profile, Engagement: s.Engagement,
			EngagementAsOf: s.EngagementAsOf, Band: s.Band, BandColor: s.BandColor, ProfileRules: s.ProfileRules}
		ch.TouchScore(row, m)
		touched = true
	}
	for ref, t := range st.Thresholds {
		old := before.Thresholds[ref]
		if (old != nil && *old == *t) || (old == nil && *t == contact.Threshold{Armed: true}) {
			continue
		}
		key := store.ThresholdKey(ref.Model, ref.ThresholdID)
		row.Thresholds[key] = &store.ThresholdRow{Model: ref.Model, ThresholdID: ref.ThresholdID, Armed: t.Armed, Crossings: t.Crossings}
		ch.TouchThreshold(row, key)
		touched = true
	}
	for f, e := range st.Entries {
		if old := before.Entries[f]; old != nil && *old == *e {
			continue
		}
		row.Entries[f] = &store.EntryRow{FlowID: f, Entries: e.Entries, LastEnteredAt: e.LastEnteredAt}
		ch.TouchEntry(row, f)
		touched = true
	}
	for rid, r := range st.Runs {
		if old := before.Runs[rid]; old != nil && sameRun(old, r) {
			continue
		}
		ch.Runs[rid] = runRow(id, r)
	}
	if touched {
		c := st.Contact
		row.Exists = st.Exists
		row.Contact.Email, row.Contact.AccountID, row.Contact.Stage = c.Email, c.AccountID, c.Stage
		row.Contact.Disqualified, row.Contact.DisqualifiedReason = c.Disqualified, c.DisqualifiedReason
		row.Contact.Fields, row.Contact.Tags, row.Contact.NextDueAt = c.Fields, c.Tags, c.NextDueAt
		if !before.Exists {
			row.Contact.CreatedAt = c.CreatedAt
		}
		ch.TouchContact(row)
	}
}

func sameScore(a, b *contact.Score) bool {
	return a.Model == b.Model && a.Score == b.Score && a.Profile == b.Profile && a.Engagement == b.Engagement &&
		a.EngagementAsOf.Equal(b.EngagementAsOf) && a.Band == b.Band && a.BandColor == b.BandColor && maps.Equal(a.ProfileRules, b.ProfileRules)
}

func sameContact(a, b contact.Contact) bool {
	return a.ID == b.ID && a.Email == b.Email && a.AccountID == b.AccountID && a.Stage == b.Stage &&
		a.Disqualified == b.Disqualified && a.DisqualifiedReason == b.DisqualifiedReason &&
		a.CreatedAt.Equal(b.CreatedAt) && sameTime(a.NextDueAt, b.NextDueAt) &&
		slices.Equal(a.Tags, b.Tags) && reflect.DeepEqual(a.Fields, b.Fields)
}

func sameRun(a, b *contact.Run) bool {
	x, y := *a, *b
	if !sameTime(x.WaitUntil, y.WaitUntil) || !sameTime(x.FinishedAt, y.FinishedAt) {
		return false
	}
	x.WaitUntil, y.WaitUntil, x.FinishedAt, y.FinishedAt = nil, nil, nil, nil
	return x == y
}

func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

func runRow(contactID string, r *contact.Run) *store.RunRow {
	return &store.RunRow{ID: r.ID, FlowID: r.FlowID, FlowVersion: r.FlowVersion, ContactID: contactID, Status: r.Status,
		StepID: r.StepID, WaitSeq: r.WaitSeq, SignalledSeq: r.SignalledSeq, WaitKind: r.WaitKind, WaitEvent: r.WaitEvent,
		WaitUntil: r.WaitUntil, TriggerEventID: r.TriggerEventID, StepsExecuted: r.StepsExecuted, StartedAt: r.StartedAt,
		UpdatedAt: r.UpdatedAt, FinishedAt: r.FinishedAt}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// taskRow is the row of a CRM task the core created for contact id.
func (e *Engine) taskRow(id string, part int, t contact.Task) store.TaskRow {
	return store.TaskRow{ContactID: id, Partition: part, Title: t.Title, Description: t.Description,
		Assignee: t.Assignee, DueAt: t.DueAt, Reason: t.Reason, Model: t.Model, ThresholdID: t.ThresholdID, Crossing: t.Crossing,
		FlowID: t.FlowID, FlowVersion: t.FlowVersion, StepID: t.StepID, RunID: t.RunID, EventID: t.EventID, IdemKey: t.IdemKey,
		CreatedAt: t.CreatedAt, DeliverTo: e.CRMWebhookURL, Body: t.Body}
}
