package contact

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/leadflow/leadflow/flows"
)

// maxDerivedEvents bounds the chain of consequences of one change, so that
// two flows feeding each other cannot loop forever.
const maxDerivedEvents = 500

// Apply applies one input to a contact at now: st becomes the contact's
// state after it (Clone it first to keep the one before), and the effects
// it caused are returned, with the contact's next due time. The catalog
// must hold the flow versions the contact's runs are on
// (Catalog.MissingFlows). An error means the input cannot be applied to
// this state (a run on a flow version the catalog lacks, a step that does
// not exist); st may then be partly changed and must be dropped.
func Apply(st *State, cat *Catalog, in Input, now time.Time) (*Effects, error) {
	return ApplyAll(st, cat, []Input{in}, now)
}

// ApplyAll applies several inputs to a contact at now, one after the
// other exactly as Apply would, and works out the next due time once, at
// the end (it costs as much as the rest together): what a shell applying a
// batch of one contact's inputs at one time wants. The effects of all
// inputs come back together, in order. An error is an *InputError naming
// the input that failed.
func ApplyAll(st *State, cat *Catalog, inputs []Input, now time.Time) (*Effects, error) {
	fx := &Effects{}
	scheduled := st.Contact.NextDueAt
	var last *applier
	dueApplied := false
	for i, in := range inputs {
		a := newApplier(st, cat, now)
		a.fx, a.scheduled = fx, scheduled
		var err error
		switch in := in.(type) {
		case Event:
			err = a.applyEvent(in)
		case *Event:
			err = a.applyEvent(*in)
		case Due:
			a.due, dueApplied = true, true
			err = a.applyDue()
		case Resume:
			var applied bool
			applied, err = a.applyResume(in)
			if err == nil && !applied {
				continue // stale: nothing happens
			}
		default:
			err = fmt.Errorf("unknown input %T", in)
		}
		if err != nil {
			return nil, &InputError{Index: i, Input: in, Err: err}
		}
		last = a
	}
	if last != nil {
		last.due = dueApplied
		last.scheduleNextDue()
	}
	return fx, nil
}

// InputError is an input ApplyAll could not apply.
type InputError struct {
	Index int // in the inputs given
	Input Input
	Err   error
}

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// applier applies one input to one contact.
type applier struct {
	cat      *Catalog
	st       *State
	now      time.Time
	fx       *Effects
	resuming string // the run being resumed, whose next wait goes back to its workflow

	// The chain of consequences being applied: its root's id (an event of
	// the log, or what the core made up for due changes and resumed
	// runs), the tuple that identifies it in idempotency keys, and how many
	// events it has derived so far.
	root    string
	rootKey []string
	derived int

	// scheduled: the contact's due time when the application began; due:
	// the input is the contact's due changes.
	scheduled *time.Time
	due       bool

	queue        []queued
	processed    int
	profileDirty bool
	stateDirty   bool
	settledScore map[string]float64 // score per model at the last settle
	waitingNow   map[string]bool    // runs that started waiting while applying this change
}

func newApplier(st *State, cat *Catalog, now time.Time) *applier {
	a := &applier{cat: cat, st: st, now: now, fx: &Effects{}, settledScore: map[string]float64{}, waitingNow: map[string]bool{},
		scheduled: st.Contact.NextDueAt}
	for m, s := range st.Scores {
		a.settledScore[m] = s.Score
	}
	return a
}

func (a *applier) note(format string, args ...any) {
	a.fx.Notes = append(a.fx.Notes, fmt.Sprintf(format, args...))
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
	ev := flows.Event{ID: derivedID(a.root, a.derived, kind, details...), Type: typ, At: a.now, Properties: props}
	a.queue = append(a.queue, queued{n: a.derived, ev: ev})
	a.fx.Derived = append(a.fx.Derived, ev)
}

// chainKey is the idempotency key of an effect of the n-th event of the
// chain: kind, the given parts, the chain's root key and n.
func (a *applier) chainKey(kind string, n int, parts ...string) string {
	all := append(append(append([]string(nil), parts...), a.rootKey...), strconv.Itoa(n))
	return IdemKey(kind, all...)
}

// applyEvent applies one event from the log.
func (a *applier) applyEvent(ev Event) error {
	a.startChain(ev.ID, "event", ev.ID)
	ct := &a.st.Contact
	if ct.Fields == nil {
		ct.Fields = map[string]any{}
	}
	if !a.st.Exists {
		a.st.Exists = true
		ct.CreatedAt = a.now
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
		a.fx.AccountTraits = append(a.fx.AccountTraits, AccountTraits{AccountID: ct.AccountID, Traits: traits})
	}
	if flows.IsDerivedEventType(ev.Type) {
		// Events in the log come from clients; the core's own events are
		// never stored. A client row of a reserved type (accepted before
		// the API refused them) keeps its contact changes but must not pass
		// for the core's event: it starts, scores and wakes nothing.
		a.note("event %q from the log has the type %q reserved for the engine; applying its contact changes only", ev.ID, ev.Type)
		return a.drain()
	}
	props := ev.Properties
	if props == nil {
		props = map[string]any{}
	}
	a.st.Activity = append(a.st.Activity, flows.Activity{Type: ev.Type, At: ev.OccurredAt, Properties: props})
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
			a.note("too many derived events for one change (event %q); flows may be feeding each other in a loop; stopping the chain", ev.ID)
			a.queue = nil
			return nil
		}
		a.engagement(ev, q.n)
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
		c.Scores[m] = a.exactScore(s)
	}
	for seg := range a.st.Segments {
		c.Segments = append(c.Segments, seg)
	}
	sort.Strings(c.Segments)
	c.Activity = a.st.Activity
	return c
}

// exactScore is a score's exact value now: under half-life decay, its
// engagement decayed to now (what conditions, segments and templates
// read), whether or not the decay is materialized in the ledger yet.
func (a *applier) exactScore(s *Score) float64 {
	mv := a.cat.model(s.Model)
	if mv == nil || mv.Model.Decay == nil || mv.Model.Decay.HalfLife.Duration <= 0 || !s.EngagementAsOf.Before(a.now) {
		return s.Score
	}
	return flows.ScoreAt(mv.Model, s.Profile, s.Engagement, s.EngagementAsOf, a.now) // what reads show too
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
	a.profileDirty, a.stateDirty = true, true
	a.pushDerived(flows.TriggerTagRemoved, map[string]any{"tag": tag}, "tag-", tag)
}

// settle evaluates the consequences of the changes so far: profile scores,
// bands, thresholds and segment membership. What they cause is queued.
// Profile rules that read events, segments or scores are recomputed
// whenever the contact's state changed, until nothing changes more (three
// passes at most).
func (a *applier) settle(eventID string) error {
	for pass := 0; ; pass++ {
		all := a.profileDirty
		dynamic := a.cat.anyDynamic && (a.stateDirty || pass > 0)
		a.profileDirty = false
		if all || dynamic {
			a.rescoreProfile(eventID, !all)
		}
		scoresChanged := false
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
			scoresChanged = true
			a.settledScore[m.ID] = s.Score
			a.stateDirty = true
			if band, ok := flows.BandFor(m, s.Score); ok {
				s.Band, s.BandColor = band.Name, band.Color
			} else {
				s.Band, s.BandColor = "", ""
			}
			if err := a.thresholds(mv, old, s.Score, eventID); err != nil {
				return err
			}
			a.crossingEvents(m.ID, old, s.Score)
		}
		segmentsChanged := false
		if a.stateDirty {
			a.stateDirty = false
			segmentsChanged = a.evaluateSegments(eventID)
		}
		if pass >= 2 || !a.cat.anyDynamic || !(scoresChanged || segmentsChanged) {
			return nil
		}
	}
}

// crossingEvents raises score_threshold_crossed for every score a published
// flow or engagement rule listens to on this model that the change crossed.
func (a *applier) crossingEvents(model string, old, new float64) {
	var triggers []*flows.Trigger
	for _, fv := range a.cat.Flows {
		triggers = append(triggers, &fv.Flow.Trigger)
	}
	for _, mv := range a.cat.Models {
		for i := range mv.Model.Engagement {
			triggers = append(triggers, &mv.Model.Engagement[i].On)
		}
	}
	seen := map[float64]bool{}
	for _, t := range triggers {
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

// evaluateSegments recomputes membership of every published segment and
// reports whether any changed.
func (a *applier) evaluateSegments(eventID string) bool {
	changedAny := false
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
			a.fx.Segments = append(a.fx.Segments, SegmentChange{SegmentID: seg.ID, Entered: in, EventID: eventID, At: a.now})
			a.pushDerived(typ, map[string]any{"segment": seg.ID}, typ, seg.ID)
		}
		if !changed {
			return changedAny
		}
		changedAny = true
	}
	return changedAny
}
