package engine

import (
	"context"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
)

// maxDerivedEvents bounds the chain of consequences of one change, so that
// two flows feeding each other cannot loop forever.
const maxDerivedEvents = 500

// applier applies changes to one contact inside a transaction.
type applier struct {
	e        *Engine
	ctx      context.Context
	tx       pgx.Tx
	cat      *Catalog
	ch       *store.Changes
	st       *store.ContactState
	now      time.Time
	resuming string // the run being resumed, whose next wait goes back to its workflow

	// The chain of consequences being applied: its root's id (an event of
	// the log, or what the engine made up for due changes and resumed
	// runs), the tuple that identifies it in idempotency keys, and how many
	// events it has derived so far.
	root    string
	rootKey []string
	derived int

	queue        []queued
	processed    int
	profileDirty bool
	stateDirty   bool
	settledScore map[string]float64 // score per model at the last settle
	waitingNow   map[string]bool    // runs that started waiting while applying this change
}

func (e *Engine) newApplier(ctx context.Context, tx pgx.Tx, cat *Catalog, ch *store.Changes, st *store.ContactState, now time.Time) *applier {
	a := &applier{e: e, ctx: ctx, tx: tx, cat: cat, ch: ch, st: st, now: now, settledScore: map[string]float64{}, waitingNow: map[string]bool{}}
	for m, s := range st.Scores {
		a.settledScore[m] = s.Score
	}
	return a
}

// queued is an event waiting in the chain, with its position: 0 for the
// root event of the log, n for the n-th event the chain derived.
type queued struct {
	ev flows.Event
	n  int
}

// startChain sets the root of the chain the applier is about to apply.
func (a *applier) startChain(root string, key ...string) {
	a.root, a.rootKey, a.derived = root, key, 0
}

// pushDerived queues an event the chain derives, with an id distinct from
// every other event of the chain and unambiguous (derivedID).
func (a *applier) pushDerived(typ string, props map[string]any, kind string, details ...string) {
	a.derived++
	a.queue = append(a.queue, queued{n: a.derived,
		ev: flows.Event{ID: derivedID(a.root, a.derived, kind, details...), Type: typ, At: a.now, Properties: props}})
}

// chainKey is the idempotency key of an effect of the n-th event of the
// chain: kind, the given parts, the chain's root key and n.
func (a *applier) chainKey(kind string, n int, parts ...string) string {
	all := append(append(append([]string(nil), parts...), a.rootKey...), strconv.Itoa(n))
	return IdemKey(kind, all...)
}

// applyEvent applies one event from the log.
func (a *applier) applyEvent(ev store.EventRow) error {
	a.startChain(ev.ID, "event", ev.ID)
	ct := &a.st.Contact
	if !a.st.Exists {
		a.st.Exists = true
		ct.CreatedAt = a.now
		a.ch.TouchContact(a.st)
		a.stateDirty, a.profileDirty = true, true
		a.pushDerived(flows.EventContactCreated, map[string]any{}, "created")
	}
	if ev.Email != nil && *ev.Email != "" && *ev.Email != ct.Email {
		a.setField("email", *ev.Email)
	}
	if ev.AccountID != nil && *ev.AccountID != ct.AccountID {
		a.setField("account_id", *ev.AccountID)
	}
	for _, k := range sortedKeys(ev.Traits) {
		if k == "email" {
			if s, ok := ev.Traits[k].(string); ok && s != ct.Email {
				a.setField("email", s)
			}
			continue
		}
		a.setField(k, ev.Traits[k])
	}
	for _, tag := range ev.Tags {
		a.addTag(tag)
	}
	if rm, ok := ev.Properties["remove_tags"].([]any); ok && ev.Type == "identify" {
		for _, t := range rm {
			if s, ok := t.(string); ok {
				a.removeTag(s)
			}
		}
	}
	if traits, ok := ev.Properties["account_traits"].(map[string]any); ok && ev.Type == "group" && ct.AccountID != "" {
		if a.ch.AccountTraits == nil {
			a.ch.AccountTraits = map[string]map[string]any{}
		}
		merged := a.ch.AccountTraits[ct.AccountID]
		if merged == nil {
			merged = map[string]any{}
			a.ch.AccountTraits[ct.AccountID] = merged
		}
		for k, v := range traits {
			merged[k] = v
		}
	}
	if flows.IsDerivedEventType(ev.Type) {
		// Events in the log come from clients; the engine's own events are
		// never stored. A client row of a reserved type (accepted before
		// the API refused them) keeps its contact changes but must not pass
		// for the engine's event: it starts, scores and wakes nothing.
		a.e.Log.Warn().Str("contact_id", ct.ID).Str("event_id", ev.ID).Str("type", ev.Type).
			Msg("event from the log has a type reserved for the engine; applying its contact changes only")
		return a.drain()
	}
	props := ev.Properties
	if props == nil {
		props = map[string]any{}
	}
	a.st.Activity = append(a.st.Activity, store.ActivityRow{Type: ev.Type, At: ev.OccurredAt, Properties: props})
	a.stateDirty = true
	a.queue = append(a.queue, queued{ev: flows.Event{ID: ev.ID, Type: ev.Type, At: ev.OccurredAt, Properties: props}})
	return a.drain()
}

// drain processes queued events and their consequences in order.
func (a *applier) drain() error {
	if err := a.settle(""); err != nil {
		return err
	}
	for len(a.queue) > 0 {
		q := a.queue[0]
		ev := q.ev
		a.queue = a.queue[1:]
		a.processed++
		if a.processed > maxDerivedEvents {
			a.e.Log.Error().Str("contact_id", a.st.Contact.ID).Str("event_id", ev.ID).
				Msg("too many derived events for one change; flows may be feeding each other in a loop; stopping the chain")
			a.queue = nil
			return nil
		}
		if err := a.engagement(ev, q.n); err != nil {
			return err
		}
		if err := a.triggerFlows(ev); err != nil {
			return err
		}
		if err := a.wakeRuns(ev); err != nil {
			return err
		}
		if err := a.settle(ev.ID); err != nil {
			return err
		}
		a.conversion(ev, q.n)
	}
	return nil
}

// snapshot is the contact as evaluation sees it now.
func (a *applier) snapshot() *flows.Contact {
	ct := a.st.Contact
	c := &flows.Contact{
		ID: ct.ID, Email: ct.Email, AccountID: ct.AccountID, Stage: ct.Stage, Disqualified: ct.Disqualified,
		Fields: ct.Fields, Tags: ct.Tags, Scores: map[string]float64{},
	}
	for m, s := range a.st.Scores {
		c.Scores[m] = s.Score
	}
	for seg := range a.st.Segments {
		c.Segments = append(c.Segments, seg)
	}
	sort.Strings(c.Segments)
	c.Activity = a.st.Activity
	return c
}

// setField changes a field (or a built-in: email, account_id, stage) and
// raises field_changed when the value differs.
func (a *applier) setField(field string, value any) {
	ct := &a.st.Contact
	var old any
	switch field {
	case "email":
		old = ct.Email
		s, _ := value.(string)
		if s == ct.Email {
			return
		}
		ct.Email = s
	case "account_id":
		old = ct.AccountID
		s, _ := value.(string)
		if s == ct.AccountID {
			return
		}
		ct.AccountID = s
	case "stage":
		old = ct.Stage
		s, _ := value.(string)
		if s == ct.Stage {
			return
		}
		ct.Stage = s
	default:
		cur, had := ct.Fields[field]
		if value == nil {
			if !had {
				return
			}
			delete(ct.Fields, field)
		} else {
			if had && reflect.DeepEqual(cur, value) {
				return
			}
			ct.Fields[field] = value
		}
		old = cur
	}
	a.ch.TouchContact(a.st)
	a.profileDirty, a.stateDirty = true, true
	a.pushDerived(flows.TriggerFieldChanged, map[string]any{"field": field, "from": old, "to": value}, "field", field)
}

func (a *applier) addTag(tag string) {
	ct := &a.st.Contact
	if tag == "" || slices.Contains(ct.Tags, tag) {
		return
	}
	ct.Tags = append(slices.Clone(ct.Tags), tag)
	sort.Strings(ct.Tags)
	a.ch.TouchContact(a.st)
	a.profileDirty, a.stateDirty = true, true
	a.pushDerived(flows.TriggerTagAdded, map[string]any{"tag": tag}, "tag+", tag)
}

func (a *applier) removeTag(tag string) {
	ct := &a.st.Contact
	i := slices.Index(ct.Tags, tag)
	if i < 0 {
		return
	}
	ct.Tags = slices.Delete(slices.Clone(ct.Tags), i, i+1)
	a.ch.TouchContact(a.st)
	a.profileDirty, a.stateDirty = true, true
	a.pushDerived(flows.TriggerTagRemoved, map[string]any{"tag": tag}, "tag-", tag)
}

// settle evaluates the consequences of the changes so far: profile scores,
// bands, thresholds and segment membership. What they cause is queued.
func (a *applier) settle(eventID string) error {
	if a.profileDirty {
		a.profileDirty = false
		if err := a.rescoreProfile(eventID); err != nil {
			return err
		}
	}
	for _, mv := range a.cat.Models {
		m := mv.Model
		s := a.st.Scores[m.ID]
		if s == nil {
			continue
		}
		old, had := a.settledScore[m.ID]
		if had && old == s.Score {
			continue
		}
		a.settledScore[m.ID] = s.Score
		a.stateDirty = true
		if band, ok := flows.BandFor(m, s.Score); ok {
			s.Band = band.Name
		} else {
			s.Band = ""
		}
		a.ch.TouchScore(a.st, m.ID)
		if err := a.thresholds(mv, old, s.Score, eventID); err != nil {
			return err
		}
		a.crossingEvents(m.ID, old, s.Score)
	}
	if a.stateDirty {
		a.stateDirty = false
		a.evaluateSegments(eventID)
	}
	return nil
}

// crossingEvents raises score_threshold_crossed for every score a published
// flow listens to on this model that the change crossed.
func (a *applier) crossingEvents(model string, old, new float64) {
	seen := map[float64]bool{}
	for _, fv := range a.cat.Flows {
		t := fv.Flow.Trigger
		if t.Type != flows.TriggerScoreThresholdCrossed || t.Model != model || t.Score == nil || seen[*t.Score] {
			continue
		}
		s := *t.Score
		seen[s] = true
		dir := ""
		switch {
		case old < s && new >= s:
			dir = "up"
		case old >= s && new < s:
			dir = "down"
		default:
			continue
		}
		a.pushDerived(flows.TriggerScoreThresholdCrossed, map[string]any{"model": model, "score": s, "direction": dir},
			"cross", model, strconv.FormatFloat(s, 'g', -1, 64), dir)
	}
}

// evaluateSegments recomputes membership of every published segment.
func (a *applier) evaluateSegments(eventID string) {
	for pass := 0; pass < 3; pass++ {
		changed := false
		snap := a.snapshot()
		for _, sv := range a.cat.Segments {
			seg := sv.Segment
			in := flows.EvalCondition(&seg.Rule, snap, a.now, a.cat.Pure)
			_, was := a.st.Segments[seg.ID]
			if in == was {
				continue
			}
			changed = true
			typ := flows.TriggerSegmentExited
			if in {
				a.st.Segments[seg.ID] = a.now
				typ = flows.TriggerSegmentEntered
			} else {
				delete(a.st.Segments, seg.ID)
			}
			a.ch.Segments = append(a.ch.Segments, store.SegmentChange{ContactID: a.st.Contact.ID, SegmentID: seg.ID, Entered: in, EventID: eventID, At: a.now})
			a.pushDerived(typ, map[string]any{"segment": seg.ID}, typ, seg.ID)
		}
		if !changed {
			return
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// metricsStep counts an executed flow step.
func metricsStep(typ string) { metrics.FlowStepsExecuted.WithLabelValues(typ).Inc() }
