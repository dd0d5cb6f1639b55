// Package engine applies events and flow steps to contacts. Every change to a
// contact is one PostgreSQL transaction that locks the contact, applies the
// change, evaluates its consequences with the pure flows package (rules,
// caps, profile score, thresholds with re-arm, segment membership, flows to
// start) and records the effects (ledger rows, CRM tasks, webhooks, outbox
// work for Temporal). Nothing is decided outside a transaction, so effects
// are exactly once whatever crashes.
//
// The engine does no Temporal calls: what Temporal must do next (start a run
// workflow, signal a waiting run, deliver a webhook) is written to the outbox
// and dispatched by activities after commit.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
)

// Engine applies changes to contacts.
type Engine struct {
	Store *store.Store
	// CRMWebhookURL receives every CRM task as JSON when set.
	CRMWebhookURL string
	Log           zerolog.Logger
	cache         catalogCache
}

// New returns an engine over s.
func New(s *store.Store, crmWebhookURL string, log zerolog.Logger) *Engine {
	return &Engine{Store: s, CRMWebhookURL: crmWebhookURL, Log: log}
}

// reevaluationShare: a batch re-evaluates at most 1/reevaluationShare of
// its limit in existing contacts, so that a publish never holds up events.
const reevaluationShare = 4

// Backoff of a contact whose time-driven changes fail: the first retry
// after dueRetryBackoff, doubling up to dueRetryMaxBackoff.
const (
	dueRetryBackoff    = 30 * time.Second
	dueRetryMaxBackoff = time.Hour
)

// ApplyPartition applies, in one transaction, the contacts of a partition
// whose time-driven changes are due at now and up to limit pending events in
// arrival order.
//
// A batch is never hostage to one event. When it fails for a reason
// retrying cannot fix (see Transient), it is applied again in a new
// transaction, bisected over its contacts with a savepoint per part, down
// to one savepoint per event of the contacts that still fail: exactly the
// events that fail are quarantined (store.QuarantineEvent, logged and
// counted), the rest commit. A contact whose due changes fail has them
// retried later with a backoff. Transient errors are returned, for the
// caller to retry the batch.
func (e *Engine) ApplyPartition(ctx context.Context, partition int, now time.Time, limit int) (contract.BatchResult, error) {
	res := contract.BatchResult{Partition: partition}
	start := time.Now()
	var rep applyReport
	err := e.Store.InTx(ctx, func(tx pgx.Tx) error {
		return protect(func() error {
			rep = applyReport{}
			b, err := e.loadBatch(ctx, tx, partition, now, limit, &res, &rep)
			if err != nil || b == nil {
				return err
			}
			if err := e.applyUnits(ctx, tx, b, b.units); err != nil {
				return err
			}
			rep.appliedUnits(b.units)
			return nil
		})
	})
	if err != nil && !Transient(err) {
		e.Log.Warn().Err(err).Int("partition", partition).Msg("batch failed; applying it again part by part to set aside the events that fail")
		err = e.Store.InTx(ctx, func(tx pgx.Tx) error {
			return protect(func() error {
				rep = applyReport{}
				b, err := e.loadBatch(ctx, tx, partition, now, limit, &res, &rep)
				if err != nil || b == nil {
					return err
				}
				return e.isolate(ctx, tx, b, b.units, &rep)
			})
		})
	}
	if err != nil {
		return res, err
	}
	e.report(partition, &rep)
	res.Failed = len(rep.quarantined)
	metrics.EventsApplied.Add(float64(len(rep.applied)))
	if len(rep.applied) > 0 {
		metrics.ApplyBatchEvents.Observe(float64(len(rep.applied)))
		metrics.ApplyBatchSeconds.Observe(time.Since(start).Seconds())
	}
	next, err := e.Store.NextDue(ctx, partition)
	if err != nil {
		return res, err
	}
	res.NextDue = next
	return res, nil
}

// unit is the work of one contact in a batch: its due changes and its
// pending events, in arrival order.
type unit struct {
	contactID string
	due       bool
	events    []store.EventRow
}

// batch is what one ApplyPartition transaction works on.
type batch struct {
	cat   *Catalog
	now   time.Time
	units []unit
}

// applyReport is what a batch did, reported once it is committed.
type applyReport struct {
	now         time.Time // the batch's time
	applied     []store.EventRow
	quarantined []quarantinedEvent
	dueFailed   []dueFailure
}

type quarantinedEvent struct {
	ev  store.EventRow
	err error
}

type dueFailure struct {
	contactID string
	err       error
	attempts  int
	next      time.Time
}

func (r *applyReport) appliedUnits(units []unit) {
	for _, u := range units {
		r.applied = append(r.applied, u.events...)
	}
}

// loadBatch reads the catalog, the due contacts and the pending events of a
// partition inside tx. Events that cannot be decoded are quarantined at
// once. It returns nil when there is nothing to do.
func (e *Engine) loadBatch(ctx context.Context, tx pgx.Tx, partition int, now time.Time, limit int, res *contract.BatchResult, rep *applyReport) (*batch, error) {
	cat, err := e.cache.load(ctx, tx)
	if err != nil {
		return nil, err
	}
	// A newly published model or segment re-evaluates the partition's
	// existing contacts a slice per batch: they fall due now, and this
	// batch applies their due changes with the rest.
	_, walking, err := store.MarkReevaluationDue(ctx, tx, partition, now, max(1, limit/reevaluationShare))
	if err != nil {
		return nil, err
	}
	due, err := store.DueContacts(ctx, tx, partition, now, limit)
	if err != nil {
		return nil, err
	}
	events, err := store.PendingEvents(ctx, tx, partition, limit)
	if err != nil {
		return nil, err
	}
	// Events committed after the caller read the clock (moments ago) are
	// applied at or after their arrival, so that windows count them. A
	// clock far behind (a test's) is left alone.
	for _, ev := range events {
		if d := ev.ReceivedAt.Sub(now); d > 0 && d < time.Minute {
			now = ev.ReceivedAt
		}
	}
	rep.now = now
	res.Events, res.Due = len(events), len(due)
	res.More = len(events) == limit || len(due) == limit || walking
	b := &batch{cat: cat, now: now}
	index := map[string]int{}
	unitOf := func(id string) *unit {
		i, ok := index[id]
		if !ok {
			i = len(b.units)
			index[id] = i
			b.units = append(b.units, unit{contactID: id})
		}
		return &b.units[i]
	}
	for _, id := range due {
		unitOf(id).due = true
	}
	for _, ev := range events {
		if ev.DecodeErr != nil {
			if err := store.QuarantineEvent(ctx, tx, ev.Seq, ev.DecodeErr, now); err != nil {
				return nil, err
			}
			rep.quarantined = append(rep.quarantined, quarantinedEvent{ev: ev, err: ev.DecodeErr})
			continue
		}
		u := unitOf(ev.ContactID)
		u.events = append(u.events, ev)
	}
	if len(b.units) == 0 {
		return nil, nil
	}
	return b, nil
}

// applyUnits applies the due changes and events of some units of a batch
// and writes them inside tx.
func (e *Engine) applyUnits(ctx context.Context, tx pgx.Tx, b *batch, units []unit) error {
	ids := make([]string, 0, len(units))
	var events []store.EventRow
	for _, u := range units {
		ids = append(ids, u.contactID)
		events = append(events, u.events...)
	}
	// Arrival order across contacts (a contact's own events already are).
	sort.SliceStable(events, func(i, j int) bool { return events[i].Seq < events[j].Seq })
	states, err := store.LoadStates(ctx, tx, ids, b.cat.activityQuery(b.now), b.cat.capQuery(b.now))
	if err != nil {
		return err
	}
	ch := store.NewChanges(b.now)
	for _, u := range units {
		if !u.due {
			continue
		}
		a := e.newApplier(ctx, tx, b.cat, ch, states[u.contactID], b.now)
		if err := a.applyDue(); err != nil {
			return fmt.Errorf("error applying due changes of contact %q: %w", u.contactID, err)
		}
	}
	for _, ev := range events {
		a := e.newApplier(ctx, tx, b.cat, ch, states[ev.ContactID], b.now)
		if err := a.applyEvent(ev); err != nil {
			return fmt.Errorf("error applying event %q: %w", ev.ID, err)
		}
		ch.AppliedEvents = append(ch.AppliedEvents, ev.Seq)
	}
	for _, id := range ids {
		a := e.newApplier(ctx, tx, b.cat, ch, states[id], b.now)
		if err := a.scheduleNextDue(); err != nil {
			return err
		}
	}
	return ch.Write(ctx, tx)
}

// isolate applies units after their batch failed for good: halves of them
// in a savepoint each, recursively, down to one contact, whose due changes
// and events are then applied one savepoint each (isolateContact).
func (e *Engine) isolate(ctx context.Context, tx pgx.Tx, b *batch, units []unit, rep *applyReport) error {
	if len(units) == 1 {
		return e.isolateContact(ctx, tx, b, units[0], rep)
	}
	mid := len(units) / 2
	for _, part := range [][]unit{units[:mid], units[mid:]} {
		err := e.savepoint(ctx, tx, b, part)
		switch {
		case err == nil:
			rep.appliedUnits(part)
		case Transient(err):
			return err
		default:
			if err := e.isolate(ctx, tx, b, part, rep); err != nil {
				return err
			}
		}
	}
	return nil
}

// isolateContact applies a contact's due changes, then each of its events,
// in a savepoint each: an event that fails is quarantined and the next one
// goes on; due changes that fail are retried later (backoff).
func (e *Engine) isolateContact(ctx context.Context, tx pgx.Tx, b *batch, u unit, rep *applyReport) error {
	var dueErr error
	if u.due {
		err := e.savepoint(ctx, tx, b, []unit{{contactID: u.contactID, due: true}})
		switch {
		case err == nil:
			if err := store.ClearDueFailure(ctx, tx, u.contactID); err != nil {
				return err
			}
		case Transient(err):
			return err
		default:
			dueErr = err
		}
	}
	for _, ev := range u.events {
		err := e.savepoint(ctx, tx, b, []unit{{contactID: u.contactID, events: []store.EventRow{ev}}})
		switch {
		case err == nil:
			rep.applied = append(rep.applied, ev)
		case Transient(err):
			return err
		default:
			if err := store.QuarantineEvent(ctx, tx, ev.Seq, err, b.now); err != nil {
				return err
			}
			rep.quarantined = append(rep.quarantined, quarantinedEvent{ev: ev, err: err})
		}
	}
	if dueErr != nil {
		// After the events, whose application reschedules the contact.
		attempts, next, err := store.RecordDueFailure(ctx, tx, u.contactID, dueErr, b.now, dueRetryBackoff, dueRetryMaxBackoff)
		if err != nil {
			return err
		}
		rep.dueFailed = append(rep.dueFailed, dueFailure{contactID: u.contactID, err: dueErr, attempts: attempts, next: next})
	}
	return nil
}

// savepoint applies units inside a savepoint of tx, rolled back when they
// fail (a panic counts as a failure).
func (e *Engine) savepoint(ctx context.Context, tx pgx.Tx, b *batch, units []unit) error {
	return pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		return protect(func() error { return e.applyUnits(ctx, sp, b, units) })
	})
}

// report logs and counts, after commit, what a batch set aside.
func (e *Engine) report(partition int, rep *applyReport) {
	for _, q := range rep.quarantined {
		metrics.EventsFailed.Inc()
		l := e.Log.Error().Int("partition", partition).Str("event_id", q.ev.ID).Str("contact_id", q.ev.ContactID).
			Str("type", q.ev.Type).Str("error", store.ErrorText(q.err))
		var p *PanicError
		if errors.As(q.err, &p) {
			l = l.Bytes("stack", p.Stack)
		}
		l.Msg("event quarantined: its application failed for a reason retrying cannot fix; see GET /v1/events/failed")
	}
	for _, d := range rep.dueFailed {
		metrics.DueFailures.Inc()
		e.Log.Error().Int("partition", partition).Str("contact_id", d.contactID).Str("error", store.ErrorText(d.err)).
			Int("attempts", d.attempts).Time("retry_at", d.next).
			Msg("time-driven changes of a contact failed; retrying later")
	}
	for _, ev := range rep.applied {
		metrics.EventLatencySeconds.Observe(rep.now.Sub(ev.ReceivedAt).Seconds())
	}
}

// ResumeRun continues a waiting run after its wait ended (the timer fired,
// or the awaited event arrived). waitSeq must match the run's current wait;
// a stale or repeated wake-up changes nothing. It returns the run's next wait,
// or nil when the run finished. An error that is not Transient will fail
// again: the caller fails the run (FailRun) rather than retrying.
func (e *Engine) ResumeRun(ctx context.Context, runID string, waitSeq int, outcome contract.Outcome, eventID string, now time.Time) (*contract.Wait, error) {
	var next *contract.Wait
	err := e.Store.InTx(ctx, func(tx pgx.Tx) error {
		return protect(func() error {
			next = nil
			run, err := store.LoadRun(ctx, tx, runID)
			if err != nil {
				return err
			}
			cat, err := e.cache.load(ctx, tx)
			if err != nil {
				return err
			}
			states, err := store.LoadStates(ctx, tx, []string{run.ContactID}, cat.activityQuery(now), cat.capQuery(now))
			if err != nil {
				return err
			}
			st := states[run.ContactID]
			run = st.Runs[runID] // reloaded under the contact lock
			if run == nil || run.Status != contract.RunWaiting || run.WaitSeq != waitSeq {
				return nil // finished or moved on: a stale wake-up
			}
			ch := store.NewChanges(now)
			a := e.newApplier(ctx, tx, cat, ch, st, now)
			a.resuming = runID
			next, err = a.resume(run, outcome, eventID)
			if err != nil {
				return err
			}
			if err := a.scheduleNextDue(); err != nil {
				return err
			}
			return ch.Write(ctx, tx)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("error resuming run %q: %w", runID, err)
	}
	return next, nil
}

// FailRun marks a run failed with the error that stopped it (its resume
// failed for a reason retrying cannot fix, or Temporal refused its
// workflow), logs and counts it. A run that already ended is left alone.
func (e *Engine) FailRun(ctx context.Context, runID string, cause error, now time.Time) error {
	failed, err := e.Store.FailRun(ctx, runID, cause, now)
	if err != nil {
		return err
	}
	if failed {
		metrics.RunsFailed.Inc()
		e.Log.Error().Str("run_id", runID).Str("error", store.ErrorText(cause)).Msg("flow run failed for a reason retrying cannot fix")
	}
	return nil
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
