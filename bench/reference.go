package bench

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/leadflow/leadflow/definitions"
	"github.com/leadflow/leadflow/flows"
)

// The reference replays the events sent to each contact, one contact at a
// time and in the order they were sent, and computes the outcome the
// shipped definitions must produce for everything that does not depend on
// the clock:
//
//   - the scores of the models without decay or caps (main,
//     web-engagement): profile rules (flows.ProfileScore), engagement rules
//     (flows.MatchTrigger, flows.FrequencyReached) and lead_score steps;
//   - their thresholds (flows.CrossThreshold, with re-arm): crossings, the
//     CRM tasks and tags they give, and the score_threshold_crossed events
//     flows listen to;
//   - the flows that run to completion at once (careers-page-negative,
//     dead-end-roles, nps, mql-rearm-untag): tags, disqualification, stage,
//     their CRM tasks, entry policies;
//   - the run of dead-end-no-opens each new contact enters: waiting for its
//     60-day timer, or completed once an email_opened arrived.
//
// It is an independent, straightforward interpreter of those definitions
// over the flows package's pure functions, not the engine: no database, no
// batching, no partitions. What depends on time — the half-life decay of
// sharpspring and product-b, the caps of their rules and of the
// product-b-docs step, wait_until 09:00 of hot-list-morning, segments with
// time windows — is left to the invariant checks (ledger sums equal scores
// for every model; every event applied once; no duplicate CRM task).
//
// Flows are classified at start: a shipped flow the reference neither models
// nor can prove harmless to the checked outputs fails the bench with a
// message to extend the reference, so that a change to the definitions
// cannot make the check silently wrong.
type Reference struct {
	cat       *flows.Catalog
	models    []*flows.ScoreModel // checked models, by id
	flows     []*flows.Flow       // modeled flows, by id
	waitFlow  *flows.Flow         // dead-end-no-opens
	checkTags map[string]bool
	contacts  map[string]*refContact
	now       time.Time
}

// Checked models and flows.
const (
	ModelMain = "main"
	ModelWeb  = "web-engagement"
	// WaitFlowID is the flow every new contact enters, holding a 60-day wait.
	WaitFlowID = "dead-end-no-opens"
)

// modeledFlows run to completion at once; the reference executes them.
var modeledFlows = []string{"careers-page-negative", "dead-end-roles", "mql-rearm-untag", "nps"}

// harmlessFlows do not change what the reference checks (their effects:
// webhooks, CRM tasks of their own flow id, the product-b score, a date
// trigger the bench never sets, a schedule no event starts).
var harmlessFlows = []string{"hot-lead-webhook", "hot-list-morning", "morning-hot-list", "product-b-docs", "trial-ending"}

type refContact struct {
	id           string
	exists       bool
	email        string
	fields       map[string]any
	tags         map[string]bool
	stage        string
	disqualified bool
	scores       map[string]float64 // model -> score
	profile      map[string]float64 // model -> profile points
	settled      map[string]float64
	armed        map[string]bool // model/threshold -> armed
	crossings    map[string]int
	thTasks      map[string][]int // model/threshold -> crossings that created a task
	flowTasks    map[string]int   // flow -> CRM tasks
	entries      map[string]int
	waitRun      string // "", "waiting", "completed"
	waitEvent    string
	activity     []flows.Event // raw events, oldest first
	profileDirty bool
	queue        []flows.Event
	events       int
}

// NewReference builds a reference over the shipped definitions plus extra
// documents (the bench's probe flow).
func NewReference(extra ...flows.Document) (*Reference, error) {
	docs, err := shippedDocuments()
	if err != nil {
		return nil, err
	}
	docs = append(docs, extra...)
	r := &Reference{cat: flows.NewCatalog(docs), contacts: map[string]*refContact{}, checkTags: map[string]bool{"disqualified": true}, now: time.Now()}
	for _, id := range []string{ModelMain, ModelWeb} {
		m := r.cat.Models[id]
		if m == nil {
			return nil, fmt.Errorf("bench reference: the shipped definitions have no score model %q", id)
		}
		if m.Decay != nil {
			return nil, fmt.Errorf("bench reference: score model %q has decay; the reference checks it exactly and cannot (update bench/reference.go)", id)
		}
		for _, rule := range m.Engagement {
			if rule.Cap != nil {
				return nil, fmt.Errorf("bench reference: engagement rule %s of %q has a cap, not modeled (update bench/reference.go)", rule.ID, id)
			}
			if rule.Frequency != nil && rule.Frequency.Within.Duration != 0 && rule.Frequency.Within.Duration < 24*time.Hour {
				return nil, fmt.Errorf("bench reference: frequency window of rule %s of %q is shorter than a day, not modeled", rule.ID, id)
			}
		}
		for _, th := range m.Thresholds {
			for _, s := range th.Actions {
				if err := r.noteStep(&s); err != nil {
					return nil, fmt.Errorf("bench reference: threshold %s of %q: %w", th.ID, id, err)
				}
			}
		}
		r.models = append(r.models, m)
	}
	ids := make([]string, 0, len(r.cat.Flows))
	for id := range r.cat.Flows {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		f := r.cat.Flows[id]
		switch {
		case id == ProbeFlowID:
			// The fault run's probe: its own event and tag, checked apart.
		case slices.Contains(modeledFlows, id):
			if f.HasDurableSteps() {
				return nil, fmt.Errorf("bench reference: flow %s now has a wait; update bench/reference.go", id)
			}
			for i := range f.Steps {
				if err := r.noteStep(&f.Steps[i]); err != nil {
					return nil, fmt.Errorf("bench reference: flow %s: %w", id, err)
				}
			}
			r.flows = append(r.flows, f)
		case id == WaitFlowID:
			if f.Trigger.Type != flows.TriggerEvent || f.Trigger.Event != "contact_created" || f.Steps[0].Type != flows.StepWaitForEvent || f.Entry.Policy != flows.EntryOnce {
				return nil, fmt.Errorf("bench reference: flow %s changed shape; update bench/reference.go", id)
			}
			r.waitFlow = f
		case slices.Contains(harmlessFlows, id):
			if err := r.checkHarmless(f); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("bench reference: flow %s is not modeled; add it to bench/reference.go (modeled or harmless)", id)
		}
	}
	if r.waitFlow == nil {
		return nil, fmt.Errorf("bench reference: the shipped definitions have no flow %q", WaitFlowID)
	}
	return r, nil
}

func shippedDocuments() ([]flows.Document, error) {
	var docs []flows.Document
	for _, name := range definitions.Names() {
		data, err := definitions.FS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		d, errs := flows.Decode(name, data)
		if len(errs) > 0 {
			return nil, errs
		}
		docs = append(docs, d...)
	}
	return docs, nil
}

// noteStep records the tags a modeled step touches and refuses steps the
// reference does not interpret.
func (r *Reference) noteStep(s *flows.Step) error {
	switch s.Type {
	case flows.StepAddTag, flows.StepRemoveTag:
		r.checkTags[s.Tag] = true
	case flows.StepLeadScore:
		if s.Cap != nil && (s.Model == ModelMain || s.Model == ModelWeb) {
			return fmt.Errorf("step %s: capped lead_score on %s is not modeled", s.ID, s.Model)
		}
	case flows.StepUpdateField:
		return fmt.Errorf("step %s: update_field is not modeled", s.ID)
	case flows.StepDisqualify, flows.StepSetStage, flows.StepCreateCRMTask, flows.StepWebhook, flows.StepCondition, flows.StepExit,
		flows.StepWait, flows.StepWaitUntil, flows.StepWaitForEvent:
	default:
		return fmt.Errorf("step %s: type %s is not modeled", s.ID, s.Type)
	}
	return nil
}

// checkHarmless makes sure an unmodeled flow cannot change a checked output.
func (r *Reference) checkHarmless(f *flows.Flow) error {
	for _, s := range f.Steps {
		bad := false
		switch s.Type {
		case flows.StepLeadScore:
			bad = s.Model == ModelMain || s.Model == ModelWeb
		case flows.StepAddTag, flows.StepRemoveTag:
			bad = r.checkTags[s.Tag]
		case flows.StepDisqualify, flows.StepSetStage, flows.StepUpdateField:
			bad = true
		}
		if bad {
			return fmt.Errorf("bench reference: flow %s step %s changes what the bench checks; model it in bench/reference.go", f.ID, s.ID)
		}
	}
	return nil
}

func (r *Reference) contact(id string) *refContact {
	c := r.contacts[id]
	if c == nil {
		c = &refContact{id: id, fields: map[string]any{}, tags: map[string]bool{}, scores: map[string]float64{},
			profile: map[string]float64{}, settled: map[string]float64{}, armed: map[string]bool{}, crossings: map[string]int{},
			thTasks: map[string][]int{}, flowTasks: map[string]int{}, entries: map[string]int{}}
		r.contacts[id] = c
	}
	return c
}

// Apply replays one event sent to its contact. Events of one contact must
// be applied in the order they were sent (acknowledged).
func (r *Reference) Apply(ev Event) {
	c := r.contact(ev.ContactID)
	c.events++
	if !c.exists {
		c.exists = true
		c.profileDirty = true
		c.push(flows.Event{ID: ev.ID + "/created", Type: "contact_created", Properties: map[string]any{}})
	}
	props := ev.Properties
	if props == nil {
		props = map[string]any{}
	}
	if ev.IsIdentify() {
		if ev.Email != "" && ev.Email != c.email {
			old := c.email
			c.email = ev.Email
			c.fieldChanged(ev.ID, "email", old, ev.Email)
		}
		keys := make([]string, 0, len(ev.Traits))
		for k := range ev.Traits {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := ev.Traits[k]
			cur, had := c.fields[k]
			if had && reflect.DeepEqual(cur, v) {
				continue
			}
			c.fields[k] = v
			c.fieldChanged(ev.ID, k, cur, v)
		}
	}
	raw := flows.Event{ID: ev.ID, Type: ev.Type, At: r.now, Properties: props}
	c.activity = append(c.activity, raw)
	c.push(raw)
	r.drain(c)
}

func (c *refContact) push(e flows.Event) { c.queue = append(c.queue, e) }

func (c *refContact) fieldChanged(eventID, field string, from, to any) {
	c.profileDirty = true
	c.push(flows.Event{ID: eventID + "/field/" + field, Type: flows.TriggerFieldChanged,
		Properties: map[string]any{"field": field, "from": from, "to": to}})
}

func (r *Reference) drain(c *refContact) {
	r.settle(c)
	for len(c.queue) > 0 {
		e := c.queue[0]
		c.queue = c.queue[1:]
		r.engagement(c, e)
		r.triggerFlows(c, e)
		if c.waitRun == "waiting" && e.Type == c.waitEvent {
			c.waitRun = "completed"
		}
		r.settle(c)
	}
}

func (r *Reference) snapshot(c *refContact) *flows.Contact {
	ct := &flows.Contact{ID: c.id, Email: c.email, Stage: c.stage, Disqualified: c.disqualified, Fields: c.fields, Scores: map[string]float64{}}
	for t := range c.tags {
		ct.Tags = append(ct.Tags, t)
	}
	sort.Strings(ct.Tags)
	for m, s := range c.scores {
		ct.Scores[m] = s
	}
	for _, a := range c.activity {
		ct.Activity = append(ct.Activity, flows.Activity{Type: a.Type, At: a.At, Properties: a.Properties})
	}
	return ct
}

// settle recomputes profile points and runs thresholds on score changes.
func (r *Reference) settle(c *refContact) {
	if c.profileDirty {
		c.profileDirty = false
		snap := r.snapshot(c)
		for _, m := range r.models {
			p, _ := flows.ProfileScore(m, snap, r.now, r.cat)
			if d := flows.RoundPoints(p - c.profile[m.ID]); d != 0 {
				c.profile[m.ID] = p
				c.scores[m.ID] = flows.RoundPoints(c.scores[m.ID] + d)
			}
		}
	}
	for _, m := range r.models {
		old, now := c.settled[m.ID], c.scores[m.ID]
		if old == now {
			continue
		}
		c.settled[m.ID] = now
		for i := range m.Thresholds {
			th := &m.Thresholds[i]
			key := m.ID + "/" + th.ID
			armed, ok := c.armed[key]
			if !ok {
				armed = true
			}
			fire, next := flows.CrossThreshold(th, flows.ThresholdState{Armed: armed}, old, now)
			c.armed[key] = next.Armed
			if !fire {
				continue
			}
			c.crossings[key]++
			if c.disqualified {
				continue
			}
			for j := range th.Actions {
				s := &th.Actions[j]
				if s.Type == flows.StepCreateCRMTask {
					c.thTasks[key] = append(c.thTasks[key], c.crossings[key])
					continue
				}
				r.action(c, s)
			}
		}
		// score_threshold_crossed for every mark a flow listens to.
		seen := map[float64]bool{}
		for _, id := range sortedFlowIDs(r.cat) {
			t := r.cat.Flows[id].Trigger
			if t.Type != flows.TriggerScoreThresholdCrossed || t.Model != m.ID || t.Score == nil || seen[*t.Score] {
				continue
			}
			s := *t.Score
			seen[s] = true
			dir := ""
			switch {
			case old < s && now >= s:
				dir = "up"
			case old >= s && now < s:
				dir = "down"
			default:
				continue
			}
			c.push(flows.Event{Type: flows.TriggerScoreThresholdCrossed, Properties: map[string]any{"model": m.ID, "score": s, "direction": dir}})
		}
	}
}

func sortedFlowIDs(cat *flows.Catalog) []string {
	ids := make([]string, 0, len(cat.Flows))
	for id := range cat.Flows {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (r *Reference) model(id string) *flows.ScoreModel {
	for _, m := range r.models {
		if m.ID == id {
			return m
		}
	}
	return nil
}

func (r *Reference) engagement(c *refContact, e flows.Event) {
	for _, m := range r.models {
		for i := range m.Engagement {
			rule := &m.Engagement[i]
			if !flows.MatchTrigger(&rule.On, e) {
				continue
			}
			if rule.Frequency != nil {
				var times []time.Time
				for _, a := range c.activity {
					if flows.MatchTrigger(&rule.On, a) {
						times = append(times, a.At)
					}
				}
				if !flows.FrequencyReached(rule.Frequency, times, r.now) {
					continue
				}
			}
			c.scores[m.ID] = flows.RoundPoints(c.scores[m.ID] + rule.Points)
		}
	}
}

func (r *Reference) triggerFlows(c *refContact, e flows.Event) {
	for _, f := range r.flows {
		if flows.MatchTrigger(&f.Trigger, e) && r.enter(c, f) {
			r.execute(c, f)
		}
	}
	if f := r.waitFlow; flows.MatchTrigger(&f.Trigger, e) && r.enter(c, f) {
		c.waitRun, c.waitEvent = "waiting", f.Steps[0].Event
	}
}

// enter applies the entry policy; the bench runs for minutes, so once_per
// periods of a day or more never elapse.
func (r *Reference) enter(c *refContact, f *flows.Flow) bool {
	if c.disqualified {
		return false
	}
	if c.entries[f.ID] > 0 && f.Entry.Policy != flows.EntryEveryTime {
		return false
	}
	c.entries[f.ID]++
	return true
}

// execute runs an immediate flow's steps.
func (r *Reference) execute(c *refContact, f *flows.Flow) {
	step := f.Steps[0].ID
	for n := 0; step != flows.EndStep && n < 1000; n++ {
		i := f.StepIndex(step)
		if i < 0 {
			return
		}
		s := &f.Steps[i]
		next := f.NextOf(i)
		switch {
		case s.Type == flows.StepCondition:
			if flows.EvalCondition(s.If, r.snapshot(c), r.now, r.cat) {
				next = s.Then
			} else {
				next = s.Else
			}
		case s.Type == flows.StepExit:
			return
		default:
			if s.Type == flows.StepCreateCRMTask {
				c.flowTasks[f.ID]++
			} else {
				r.action(c, s)
			}
			r.settle(c)
		}
		step = next
	}
}

// action applies an action step (not create_crm_task, counted by callers).
func (r *Reference) action(c *refContact, s *flows.Step) {
	switch s.Type {
	case flows.StepLeadScore:
		m := r.model(s.Model)
		if m == nil {
			return // an unchecked model
		}
		points := 0.0
		if s.Points != nil {
			points = *s.Points
		}
		d := flows.ScoreChange(s.Op, points, c.scores[m.ID])
		c.scores[m.ID] = flows.RoundPoints(c.scores[m.ID] + d)
	case flows.StepAddTag:
		c.tags[s.Tag] = true
	case flows.StepRemoveTag:
		delete(c.tags, s.Tag)
	case flows.StepDisqualify:
		if !c.disqualified {
			c.disqualified = true
			c.profileDirty = true
			c.push(flows.Event{Type: flows.TriggerFieldChanged, Properties: map[string]any{"field": "disqualified", "from": false, "to": true}})
		}
		c.tags["disqualified"] = true
	case flows.StepSetStage:
		if c.stage != s.Stage {
			old := c.stage
			c.stage = s.Stage
			c.fieldChanged("", "stage", old, s.Stage)
		}
	}
}

// Expected is the outcome the reference computed for one contact.
type Expected struct {
	ContactID    string
	Events       int
	Scores       map[string]float64 // main, web-engagement
	Disqualified bool
	Stage        string
	Tags         []string         // among the checked tags, sorted
	Crossings    map[string]int   // model/threshold
	ThTasks      map[string][]int // model/threshold -> crossings with a task
	FlowTasks    map[string]int   // modeled flow -> tasks
	WaitRun      string           // waiting or completed
}

// CheckedTags are the tags the reference follows.
func (r *Reference) CheckedTags() []string {
	out := make([]string, 0, len(r.checkTags))
	for t := range r.checkTags {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// ModeledFlowIDs are the flows whose CRM tasks the reference counts.
func (r *Reference) ModeledFlowIDs() []string {
	out := make([]string, 0, len(r.flows))
	for _, f := range r.flows {
		out = append(out, f.ID)
	}
	return out
}

// Thresholds are the model/threshold keys the reference follows.
func (r *Reference) Thresholds() []string {
	var out []string
	for _, m := range r.models {
		for _, th := range m.Thresholds {
			out = append(out, m.ID+"/"+th.ID)
		}
	}
	return out
}

// Expected returns the outcome of every contact that received events, by id.
func (r *Reference) Expected() map[string]*Expected {
	out := make(map[string]*Expected, len(r.contacts))
	for id, c := range r.contacts {
		e := &Expected{ContactID: id, Events: c.events, Scores: map[string]float64{}, Disqualified: c.disqualified, Stage: c.stage,
			Crossings: map[string]int{}, ThTasks: map[string][]int{}, FlowTasks: map[string]int{}, WaitRun: c.waitRun}
		for _, m := range r.models {
			e.Scores[m.ID] = c.scores[m.ID]
		}
		for t := range c.tags {
			if r.checkTags[t] {
				e.Tags = append(e.Tags, t)
			}
		}
		sort.Strings(e.Tags)
		for k, v := range c.crossings {
			e.Crossings[k] = v
		}
		for k, v := range c.thTasks {
			e.ThTasks[k] = append([]int(nil), v...)
		}
		for k, v := range c.flowTasks {
			e.FlowTasks[k] = v
		}
		out[id] = e
	}
	return out
}
