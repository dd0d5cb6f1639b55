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
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

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

// BatchResult is what one ApplyPartition transaction did.
type BatchResult struct {
	Partition int        `json:"partition"`
	Events    int        `json:"events"`
	Due       int        `json:"due"`
	More      bool       `json:"more"`
	NextDue   *time.Time `json:"next_due,omitempty"`
}

// ApplyPartition applies, in one transaction, the contacts of a partition
// whose time-driven changes are due at now and up to limit pending events in
// arrival order.
func (e *Engine) ApplyPartition(ctx context.Context, partition int, now time.Time, limit int) (BatchResult, error) {
	res := BatchResult{Partition: partition}
	start := time.Now()
	err := e.Store.InTx(ctx, func(tx pgx.Tx) error {
		cat, err := e.cache.load(ctx, tx)
		if err != nil {
			return err
		}
		due, err := store.DueContacts(ctx, tx, partition, now, limit)
		if err != nil {
			return err
		}
		events, err := store.PendingEvents(ctx, tx, partition, limit)
		if err != nil {
			return err
		}
		// Events committed after the caller read the clock (moments ago) are
		// applied at or after their arrival, so that windows count them. A
		// clock far behind (a test's) is left alone.
		for _, ev := range events {
			if d := ev.ReceivedAt.Sub(now); d > 0 && d < time.Minute {
				now = ev.ReceivedAt
			}
		}
		res.Events, res.Due = len(events), len(due)
		res.More = len(events) == limit || len(due) == limit
		if len(events) == 0 && len(due) == 0 {
			return nil
		}
		ids := append([]string(nil), due...)
		for _, ev := range events {
			ids = append(ids, ev.ContactID)
		}
		states, err := store.LoadStates(ctx, tx, dedupe(ids), cat.activityQuery(now), cat.capQuery(now))
		if err != nil {
			return err
		}
		ch := store.NewChanges(now)
		for _, id := range due {
			a := e.newApplier(ctx, tx, cat, ch, states[id], now)
			if err := a.applyDue(); err != nil {
				return fmt.Errorf("error applying due changes of contact %q: %w", id, err)
			}
		}
		for _, ev := range events {
			a := e.newApplier(ctx, tx, cat, ch, states[ev.ContactID], now)
			if err := a.applyEvent(ev); err != nil {
				return fmt.Errorf("error applying event %q: %w", ev.ID, err)
			}
			ch.AppliedEvents = append(ch.AppliedEvents, ev.Seq)
			metrics.EventLatencySeconds.Observe(now.Sub(ev.ReceivedAt).Seconds())
		}
		for _, id := range dedupe(ids) {
			a := e.newApplier(ctx, tx, cat, ch, states[id], now)
			if err := a.scheduleNextDue(); err != nil {
				return err
			}
		}
		return ch.Write(ctx, tx)
	})
	if err != nil {
		return res, err
	}
	metrics.EventsApplied.Add(float64(res.Events))
	if res.Events > 0 {
		metrics.ApplyBatchEvents.Observe(float64(res.Events))
		metrics.ApplyBatchSeconds.Observe(time.Since(start).Seconds())
	}
	next, err := e.Store.NextDue(ctx, partition)
	if err != nil {
		return res, err
	}
	res.NextDue = next
	return res, nil
}

// Wait is a durable wait a flow run is in: a timer until Until, or an event
// of type Event before Until.
type Wait struct {
	RunID   string    `json:"run_id"`
	WaitSeq int       `json:"wait_seq"`
	Kind    string    `json:"kind"` // "timer" or "event"
	Event   string    `json:"event,omitempty"`
	Until   time.Time `json:"until"`
}

// Resume outcomes.
const (
	OutcomeElapsed = "elapsed" // a wait or wait_until timer fired
	OutcomeTimeout = "timeout" // wait_for_event timed out
	OutcomeEvent   = "event"   // the awaited event arrived
)

// ResumeRun continues a waiting run after its wait ended (the timer fired,
// or the awaited event arrived). waitSeq must match the run's current wait;
// a stale or repeated wake-up changes nothing. It returns the run's next wait,
// or nil when the run finished.
func (e *Engine) ResumeRun(ctx context.Context, runID string, waitSeq int, outcome, eventID string, now time.Time) (*Wait, error) {
	var next *Wait
	err := e.Store.InTx(ctx, func(tx pgx.Tx) error {
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
		if run == nil || run.Status != "waiting" || run.WaitSeq != waitSeq {
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
	return next, err
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
