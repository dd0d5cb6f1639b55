package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadflow/leadflow/contact"
	"github.com/leadflow/leadflow/store"
)

// MergeResult says what merging one contact into another did.
type MergeResult struct {
	From string `json:"from"`
	Into string `json:"into"`
	// Merged is false when there was nothing to merge: from was merged
	// already (AlreadyInto names where), or is the survivor itself.
	Merged      bool   `json:"merged"`
	AlreadyInto string `json:"already_into,omitempty"`
	store.MergeOutcome
	// Scores: the survivor's scores by model after the merge.
	Scores map[string]float64 `json:"scores"`
}

// ErrMergeSelf is returned for a merge of a contact into itself.
var ErrMergeSelf = errors.New("a contact cannot be merged into itself")

// Merge merges the contact from into the contact into, in one transaction:
// both contacts' events are locked (no batch applies one meanwhile), their
// applied histories are replayed together, in the order they were applied,
// through the core with the published definitions (contact.History), and
// the survivor's record, scores, thresholds, memberships and whole ledger
// become what the replay derived — so its explanation sums to its score
// and holds what the visitor did before signing up. The merged contact's
// events (pending ones too), CRM tasks and runs (active ones exited) move
// to the survivor; the replay creates no task, webhook or run: those
// already happened. The merged id keeps answering (contact_merges) and
// its later events land on the survivor. Merging again changes nothing.
func (e *Engine) Merge(ctx context.Context, from, into, reason string, now time.Time) (MergeResult, error) {
	res := MergeResult{From: from, Into: into}
	if from == into {
		return res, ErrMergeSelf
	}
	err := e.Store.InTx(ctx, func(tx pgx.Tx) error {
		return protect(func() error {
			res = MergeResult{From: from, Into: into}
			survivor, already, fromExists, err := store.MergeParties(ctx, tx, from, into)
			if err != nil {
				return err
			}
			res.Into = survivor
			if already != "" {
				res.AlreadyInto = already
				return nil
			}
			if survivor == from {
				return nil
			}
			if !fromExists {
				// from has applied nothing: its pending events (if any)
				// move, and the link is remembered so that its later
				// events land on the survivor.
				n, err := store.RecordMerge(ctx, tx, from, survivor, reason, now)
				res.Merged, res.Events = err == nil, n
				return err
			}
			m, err := e.replayMerged(ctx, tx, from, survivor, now)
			if err != nil {
				return err
			}
			m.Reason = reason
			out, err := store.WriteMerge(ctx, tx, m.MergedContact)
			if err != nil {
				return err
			}
			if len(m.tasks) > 0 {
				ch := store.NewChanges(now)
				for _, t := range m.tasks {
					ch.Tasks = append(ch.Tasks, e.taskRow(survivor, store.PartitionOf(survivor), t))
				}
				if err := ch.Write(ctx, tx); err != nil {
					return err
				}
				out.Tasks += len(m.tasks)
			}
			res.Merged, res.MergeOutcome = true, out
			res.Scores = map[string]float64{}
			for _, s := range m.Scores {
				res.Scores[s.Model] = s.Score
			}
			return nil
		})
	})
	if err != nil {
		return res, fmt.Errorf("error merging contact %q into %q: %w", from, into, err)
	}
	if res.Merged {
		e.Log.Info().Str("from", from).Str("into", res.Into).Str("reason", reason).Int("events", res.Events).Msg("contacts merged")
	}
	return res, nil
}

// merged is the survivor of a merge as replayed, with the CRM tasks of the
// threshold crossings that only the merged history reaches.
type merged struct {
	store.MergedContact
	tasks []contact.Task
}

// replayMerged derives the survivor of a merge by replaying both contacts'
// applied events through the core. The replay sends nothing, except the
// CRM tasks of threshold crossings beyond the most either contact had
// recorded: those crossings happen because of the merge (the two scores
// together reach the threshold), so sales hears of them now, once.
func (e *Engine) replayMerged(ctx context.Context, tx pgx.Tx, from, into string, now time.Time) (merged, error) {
	m := merged{MergedContact: store.MergedContact{From: from, Into: into, At: now}}
	cat, err := e.cache.load(ctx, tx)
	if err != nil {
		return m, err
	}
	crossed, err := store.ThresholdCrossings(ctx, tx, []string{from, into})
	if err != nil {
		return m, err
	}
	events, err := store.MergeHistory(ctx, tx, []string{from, into})
	if err != nil {
		return m, err
	}
	h := contact.NewHistory(cat, into)
	var ledger []contact.LedgerEntry
	var expired []int64
	h.Observe = func(_ time.Time, _ contact.Input, fx *contact.Effects) {
		ledger = append(ledger, fx.Ledger...)
		expired = append(expired, fx.Expired...)
		for _, t := range fx.Tasks {
			if t.ThresholdID != "" && t.Crossing > crossed[store.ThresholdKey(t.Model, t.ThresholdID)] {
				t.CreatedAt = now
				if t.Body != nil {
					t.Body["created_at"] = now.UTC().Format(time.RFC3339)
				}
				m.tasks = append(m.tasks, t)
			}
		}
	}
	for _, ev := range events {
		in := contact.Event{ID: ev.ID, Type: ev.Type, OccurredAt: ev.OccurredAt, Properties: ev.Properties,
			Email: ev.Email, AccountID: ev.AccountID, Traits: ev.Traits, Tags: ev.Tags}
		if err := h.Event(ev.AppliedAt, in); err != nil {
			return m, err
		}
	}
	if err := h.Advance(now, true); err != nil {
		return m, err
	}
	st := h.St
	c := st.Contact
	created := c.CreatedAt
	if created.IsZero() {
		created = now
	}
	m.Contact = store.ContactRow{ID: into, Email: c.Email, Fields: c.Fields, Tags: c.Tags, AccountID: c.AccountID, Stage: c.Stage,
		Disqualified: c.Disqualified, DisqualifiedReason: c.DisqualifiedReason, NextDueAt: c.NextDueAt, CreatedAt: created}
	for _, id := range sortedKeys(st.Scores) {
		s := st.Scores[id]
		m.Scores = append(m.Scores, store.ScoreRow{Model: id, Score: s.Score, Profile: s.Profile, Engagement: s.Engagement,
			EngagementAsOf: s.EngagementAsOf, Band: s.Band, ProfileRules: s.ProfileRules})
	}
	for ref, t := range st.Thresholds {
		m.Thresholds = append(m.Thresholds, store.ThresholdRow{Model: ref.Model, ThresholdID: ref.ThresholdID, Armed: t.Armed, Crossings: t.Crossings})
	}
	m.Segments = st.Segments
	m.Expired = make([]bool, len(ledger))
	for _, id := range expired {
		if id >= 1 && int(id) <= len(ledger) {
			m.Expired[id-1] = true
		}
	}
	for _, l := range ledger {
		m.Ledger = append(m.Ledger, store.LedgerRow{ContactID: into, Model: l.Model, Points: l.Points, Kind: l.Kind, Reason: l.Reason,
			RuleID: l.RuleID, ModelVersion: l.ModelVersion, FlowID: l.FlowID, FlowVersion: l.FlowVersion, StepID: l.StepID,
			RunID: l.RunID, EventID: l.EventID, At: l.At, ExpiresAt: l.ExpiresAt, IdemKey: l.IdemKey})
	}
	return m, nil
}

// mergeQueued does the merges queued for a partition's contacts (by
// identify and alias events), each in its own transaction, before the
// partition applies its events: the survivor's events then apply to the
// merged contact.
func (e *Engine) mergeQueued(ctx context.Context, partition int, now time.Time) error {
	reqs, err := e.Store.PendingMerges(ctx, partition, 100)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		res, err := e.Merge(ctx, r.From, r.Into, r.Reason, now)
		outcome := "merged"
		switch {
		case errors.Is(err, ErrMergeSelf):
			outcome = "same contact"
		case err != nil && Transient(err):
			return err
		case err != nil:
			outcome = "failed: " + store.ErrorText(err)
			e.Log.Error().Str("from", r.From).Str("into", r.Into).Err(err).Msg("merge failed; the contacts stay apart")
		case res.AlreadyInto != "":
			outcome = "already merged into " + res.AlreadyInto
		}
		if err := e.Store.InTx(ctx, func(tx pgx.Tx) error { return store.FinishMergeRequest(ctx, tx, r, outcome, now) }); err != nil {
			return err
		}
	}
	return nil
}
