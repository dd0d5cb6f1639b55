package contact

import (
	"fmt"
	"sort"
	"time"

	"github.com/leadflow/leadflow/contract"
)

// History replays a contact's inputs through the core the way the engine
// and Temporal apply them, with no database and no server: before each
// input, every timer that falls due first — the contact's due time, its
// runs' waits — fires in time order, and a run whose awaited event arrives
// is resumed at once. It plays the store's part too: ledger entries of
// expiring grants get ids, so that expiry finds them. Previews of a change
// replay stored events through a draft catalog with it.
type History struct {
	Cat *Catalog
	St  *State
	// Now is the time of the last input applied.
	Now time.Time
	// Observe, when set, sees every application: its time, the input and
	// what it caused (after the state changed).
	Observe func(at time.Time, in Input, fx *Effects)

	ledgerIDs int64
	maxTimers int
}

// NewHistory starts the history of a contact not seen yet.
func NewHistory(cat *Catalog, contactID string) *History {
	return &History{Cat: cat, St: NewState(contactID), maxTimers: 100_000}
}

// Event applies an event of the log at the time it was applied (at), after
// the timers due before it.
func (h *History) Event(at time.Time, ev Event) error {
	if err := h.Advance(at, false); err != nil {
		return err
	}
	return h.apply(at, ev)
}

// Advance fires, in time order, every timer due before until (and at it
// when inclusive).
func (h *History) Advance(until time.Time, inclusive bool) error {
	for i := 0; ; i++ {
		if i >= h.maxTimers {
			return fmt.Errorf("contact %q: timers keep firing before %s (a loop?)", h.St.Contact.ID, until.UTC().Format(time.RFC3339))
		}
		at, run := h.nextTimer()
		if at == nil || at.After(until) || (!inclusive && at.Equal(until)) {
			return nil
		}
		if at.Before(h.Now) {
			at = &h.Now // a timer set in the past fires at once
		}
		if run == nil {
			if err := h.apply(*at, Due{}); err != nil {
				return err
			}
			continue
		}
		outcome := contract.OutcomeElapsed
		if run.WaitKind == contract.WaitEvent {
			outcome = contract.OutcomeTimeout
		}
		if err := h.apply(*at, Resume{RunID: run.ID, WaitSeq: run.WaitSeq, Outcome: outcome}); err != nil {
			return err
		}
	}
}

// nextTimer is the earliest timer: the contact's due time first, then the
// waits of runs by id; nil when none is set.
func (h *History) nextTimer() (*time.Time, *Run) {
	var at *time.Time
	var run *Run
	if d := h.St.Contact.NextDueAt; d != nil {
		at = d
	}
	ids := make([]string, 0, len(h.St.Runs))
	for id := range h.St.Runs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := h.St.Runs[id]
		if r.Status != contract.RunWaiting || r.WaitUntil == nil {
			continue
		}
		if at == nil || r.WaitUntil.Before(*at) {
			at, run = r.WaitUntil, r
		}
	}
	return at, run
}

func (h *History) apply(at time.Time, in Input) error {
	if at.Before(h.Now) {
		at = h.Now // inputs never go back in time
	}
	h.Now = at
	fx, err := Apply(h.St, h.Cat, in, at)
	if err != nil {
		return fmt.Errorf("contact %q at %s: %w", h.St.Contact.ID, at.UTC().Format(time.RFC3339), err)
	}
	h.store(fx)
	if h.Observe != nil {
		h.Observe(at, in, fx)
	}
	for _, s := range fx.RunsSignalled {
		if err := h.apply(at, Resume{RunID: s.RunID, WaitSeq: s.WaitSeq, Outcome: contract.OutcomeEvent, EventID: s.EventID}); err != nil {
			return err
		}
	}
	return nil
}

// store plays the store: the grants the state holds get the ids of their
// ledger entries.
func (h *History) store(fx *Effects) {
	var ids []int64
	for _, l := range fx.Ledger {
		h.ledgerIDs++
		if l.ExpiresAt != nil {
			ids = append(ids, h.ledgerIDs)
		}
	}
	for i := range h.St.ExpiringGrants {
		if g := &h.St.ExpiringGrants[i]; g.LedgerID == 0 && len(ids) > 0 {
			g.LedgerID, ids = ids[0], ids[1:]
		}
	}
}
