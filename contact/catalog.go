package contact

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/leadflow/leadflow/flows"
)

// Catalog is the set of definitions published at one moment, decoded, with
// the older flow versions that loaded runs are pinned to and what
// evaluation needs loaded with a contact (activity, capped grants). It is
// never changed once built, so one catalog serves many applications at once.
type Catalog struct {
	Flows    []*FlowVersion    // published (not paused) flows, by id
	Models   []*ModelVersion   // published score models, by id
	Segments []*SegmentVersion // published segments, by id
	Pure     *flows.Catalog
	// pinned: flow versions by id and version (the published ones and the
	// older ones runs are on).
	pinned map[FlowRef]*flows.Flow
	// ActivityNeeds: which past events evaluation needs, relative to the
	// time of evaluation: what each counts and the most it compares
	// against; ActivityWindow the longest window (0: any time).
	ActivityNeeds  []ActivityNeed
	ActivityWindow time.Duration
	// Caps are the capped rules and steps, CapWindow the longest cap period.
	Caps      []CapRef
	CapWindow time.Duration

	// marks: per model, the scores flows, rules and conditions compare it
	// with, besides its bands and thresholds: the decay of a score crossing
	// one of them is timed (flows.NextDecayCrossingAfter).
	marks map[string][]float64
	// dynamicProfile: models whose profile rules read events, segments or
	// scores, recomputed whenever the contact's state changes.
	dynamicProfile map[string]bool
	anyDynamic     bool
	// dateRules: engagement rules on a date field, by model.
	dateRules []ruleRef
}

// ruleRef names an engagement rule of a model.
type ruleRef struct {
	model *ModelVersion
	rule  *flows.EngagementRule
}

// FlowVersion is a flow at a published version.
type FlowVersion struct {
	Flow    *flows.Flow
	Version int
}

// ModelVersion is a score model at a published version.
type ModelVersion struct {
	Model   *flows.ScoreModel
	Version int
}

// SegmentVersion is a segment at a published version.
type SegmentVersion struct {
	Segment *flows.Segment
	Version int
}

// FlowRef names a flow at a version.
type FlowRef struct {
	ID      string
	Version int
}

// Published is a decoded document at its published version.
type Published struct {
	Doc     flows.Document
	Version int
}

// ActivityNeed is one kind of past event evaluation counts.
type ActivityNeed struct {
	Type string
	// Match tells whether an event of Type is counted (nil: every one).
	Match func(properties map[string]any) bool
	// Need: the most matching events dated up to the time of evaluation
	// that evaluation needs: the largest count compared against, plus one.
	Need int
	// Selective: Match may refuse many events.
	Selective bool
	// Within is the window the events are counted in (0: any time).
	Within time.Duration
}

// CapRef is a capped rule (Model, RuleID) or flow step (Model, FlowID,
// StepID).
type CapRef struct {
	Model, RuleID, FlowID, StepID string
}

// Key is the ref's CapKey.
func (r CapRef) Key() string { return CapKey(r.Model, r.RuleID, r.FlowID, r.StepID) }

// NewCatalog builds a catalog from the published documents (sorted by id
// within each kind).
func NewCatalog(published []Published) *Catalog {
	cat := &Catalog{
		Pure:   &flows.Catalog{Flows: map[string]*flows.Flow{}, Segments: map[string]*flows.Segment{}, Models: map[string]*flows.ScoreModel{}},
		pinned: map[FlowRef]*flows.Flow{},
	}
	for _, p := range published {
		d := p.Doc
		switch {
		case d.Flow != nil:
			cat.Flows = append(cat.Flows, &FlowVersion{Flow: d.Flow, Version: p.Version})
			cat.Pure.Flows[d.Flow.ID] = d.Flow
			cat.pinned[FlowRef{d.Flow.ID, p.Version}] = d.Flow
		case d.ScoreModel != nil:
			cat.Models = append(cat.Models, &ModelVersion{Model: d.ScoreModel, Version: p.Version})
			cat.Pure.Models[d.ScoreModel.ID] = d.ScoreModel
		case d.Segment != nil:
			cat.Segments = append(cat.Segments, &SegmentVersion{Segment: d.Segment, Version: p.Version})
			cat.Pure.Segments[d.Segment.ID] = d.Segment
		}
	}
	sort.SliceStable(cat.Flows, func(i, j int) bool { return cat.Flows[i].Flow.ID < cat.Flows[j].Flow.ID })
	sort.SliceStable(cat.Models, func(i, j int) bool { return cat.Models[i].Model.ID < cat.Models[j].Model.ID })
	sort.SliceStable(cat.Segments, func(i, j int) bool { return cat.Segments[i].Segment.ID < cat.Segments[j].Segment.ID })
	cat.computeActivityNeeds()
	cat.computeCapNeeds()
	cat.computeTimeNeeds()
	return cat
}

// Marks returns the extra scores the decay of model's score is timed to
// cross (besides its bands and thresholds), sorted.
func (cat *Catalog) Marks(model string) []float64 { return cat.marks[model] }

// computeTimeNeeds works out the marks decay must be timed to cross, the
// profile rules that read more than attributes and the engagement rules on
// date fields.
func (cat *Catalog) computeTimeNeeds() {
	cat.marks = map[string][]float64{}
	cat.dynamicProfile = map[string]bool{}
	seen := map[string]map[float64]bool{}
	mark := func(model string, x float64) {
		if seen[model] == nil {
			seen[model] = map[float64]bool{}
		}
		if !seen[model][x] {
			seen[model][x] = true
			cat.marks[model] = append(cat.marks[model], x)
		}
	}
	var walk func(c *flows.Condition, dynamic *bool)
	walk = func(c *flows.Condition, dynamic *bool) {
		if c == nil {
			return
		}
		for i := range c.All {
			walk(&c.All[i], dynamic)
		}
		for i := range c.Any {
			walk(&c.Any[i], dynamic)
		}
		walk(c.Not, dynamic)
		if sc := c.Score; sc != nil {
			// Totals have 2 decimals: "gte v" and "lt v" change where the
			// total reaches v, "gt v" and "lte v" where it reaches v+0.01,
			// "eq" and "neq" at both.
			switch sc.Op {
			case flows.OpGte, flows.OpLt:
				mark(sc.Model, sc.Value)
			case flows.OpGt, flows.OpLte:
				mark(sc.Model, flows.RoundPoints(sc.Value+0.01))
			default:
				mark(sc.Model, sc.Value)
				mark(sc.Model, flows.RoundPoints(sc.Value+0.01))
			}
		}
		if dynamic != nil && (c.Events != nil || c.Segment != "" || c.Score != nil || c.Band != nil) {
			*dynamic = true
		}
	}
	trigger := func(t *flows.Trigger) {
		if t.Type == flows.TriggerScoreThresholdCrossed && t.Score != nil {
			mark(t.Model, *t.Score)
		}
	}
	for _, sv := range cat.Segments {
		walk(&sv.Segment.Rule, nil)
	}
	for _, fv := range cat.Flows {
		trigger(&fv.Flow.Trigger)
		for i := range fv.Flow.Steps {
			walk(fv.Flow.Steps[i].If, nil)
		}
	}
	for _, mv := range cat.Models {
		dynamic := false
		for i := range mv.Model.Profile {
			walk(&mv.Model.Profile[i].When, &dynamic)
		}
		cat.dynamicProfile[mv.Model.ID] = dynamic
		cat.anyDynamic = cat.anyDynamic || dynamic
		for i := range mv.Model.Engagement {
			r := &mv.Model.Engagement[i]
			trigger(&r.On)
			if r.On.Type == flows.TriggerDateField {
				cat.dateRules = append(cat.dateRules, ruleRef{model: mv, rule: r})
			}
		}
	}
	for m := range cat.marks {
		sort.Float64s(cat.marks[m])
	}
}

// FlowAt returns a flow at a version, or nil when the catalog does not
// hold it.
func (cat *Catalog) FlowAt(id string, version int) *flows.Flow {
	return cat.pinned[FlowRef{id, version}]
}

// MissingFlows lists the flow versions runs of the states are on that the
// catalog does not hold: the shell loads them and calls WithFlows before
// applying.
func (cat *Catalog) MissingFlows(states ...*State) []FlowRef {
	seen := map[FlowRef]bool{}
	var out []FlowRef
	for _, st := range states {
		for _, id := range sortedKeys(st.Runs) {
			r := st.Runs[id]
			ref := FlowRef{r.FlowID, r.FlowVersion}
			if cat.pinned[ref] == nil && !seen[ref] {
				seen[ref] = true
				out = append(out, ref)
			}
		}
	}
	return out
}

// WithFlows returns a catalog that also holds the given flow versions
// (cat itself is not changed).
func (cat *Catalog) WithFlows(extra map[FlowRef]*flows.Flow) *Catalog {
	if len(extra) == 0 {
		return cat
	}
	c := *cat
	c.pinned = make(map[FlowRef]*flows.Flow, len(cat.pinned)+len(extra))
	for k, v := range cat.pinned {
		c.pinned[k] = v
	}
	for k, v := range extra {
		c.pinned[k] = v
	}
	return &c
}

func (cat *Catalog) model(id string) *ModelVersion {
	for _, m := range cat.Models {
		if m.Model.ID == id {
			return m
		}
	}
	return nil
}

// computeActivityNeeds works out which past events evaluation needs: one
// need per distinct events condition (type and filters) and frequency
// rule (trigger), needing as many matching events as the largest count it
// is compared with, plus one — a count compared with n depends only on
// min(count, n+1). So what one event costs to apply stays bounded however
// many events the contact has.
func (cat *Catalog) computeActivityNeeds() {
	type need struct {
		m     ActivityNeed
		order int
	}
	needs := map[string]*need{} // by what the need counts
	add := func(key string, m ActivityNeed) {
		if n := needs[key]; n != nil {
			n.m.Need = max(n.m.Need, m.Need)
			if n.m.Within != 0 && (m.Within == 0 || m.Within > n.m.Within) {
				n.m.Within = m.Within
			}
			return
		}
		needs[key] = &need{m: m, order: len(needs)}
	}
	var walk func(c *flows.Condition)
	walk = func(c *flows.Condition) {
		if c == nil {
			return
		}
		for i := range c.All {
			walk(&c.All[i])
		}
		for i := range c.Any {
			walk(&c.Any[i])
		}
		walk(c.Not)
		if e := c.Events; e != nil {
			m := ActivityNeed{Type: e.Type, Need: e.Count + 1, Within: e.Within.Duration}
			key := "events\x00" + e.Type
			if len(e.Filters) > 0 {
				filters := e.Filters
				m.Match = func(p map[string]any) bool { return flows.MatchFilters(filters, p) }
				m.Selective = true
				key += "\x00" + canonicalJSON(filters)
			}
			add(key, m)
		}
	}
	for _, s := range cat.Segments {
		walk(&s.Segment.Rule)
	}
	for _, f := range cat.Flows {
		for i := range f.Flow.Steps {
			walk(f.Flow.Steps[i].If)
		}
	}
	for _, m := range cat.Models {
		for i := range m.Model.Profile {
			walk(&m.Model.Profile[i].When)
		}
		for i := range m.Model.Engagement {
			r := &m.Model.Engagement[i]
			if r.Frequency == nil {
				continue
			}
			typ, on := eventTypeOf(&r.On), &r.On
			add("frequency\x00"+canonicalJSON(on), ActivityNeed{
				Type: typ, Need: r.Frequency.Count + 1, Within: r.Frequency.Within.Duration,
				Match:     func(p map[string]any) bool { return flows.MatchTrigger(on, flows.Event{Type: typ, Properties: p}) },
				Selective: len(on.Filters) > 0 || on.URL != "" || on.Form != "" || on.Tag != "" || on.Field != "" || on.Segment != "",
			})
		}
	}
	list := make([]*need, 0, len(needs))
	for _, n := range needs {
		if flows.IsDerivedEventType(n.m.Type) {
			continue // never in the log: only a client could have written one
		}
		list = append(list, n)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].order < list[j].order })
	for _, n := range list {
		cat.ActivityNeeds = append(cat.ActivityNeeds, n.m)
	}
	cat.ActivityWindow = 0
	for i, n := range cat.ActivityNeeds {
		if n.Within == 0 {
			cat.ActivityWindow = 0
			break
		}
		if i == 0 || n.Within > cat.ActivityWindow {
			cat.ActivityWindow = n.Within
		}
	}
}

// canonicalJSON is a stable text of v, to tell equal needs apart.
func canonicalJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// eventTypeOf is the event type a trigger listens to.
func eventTypeOf(t *flows.Trigger) string {
	if t.Type == flows.TriggerEvent {
		return t.Event
	}
	return t.Type
}

func (cat *Catalog) computeCapNeeds() {
	add := func(ref CapRef, c *flows.Cap) {
		cat.Caps = append(cat.Caps, ref)
		if c.Period.Duration > cat.CapWindow {
			cat.CapWindow = c.Period.Duration
		}
	}
	for _, m := range cat.Models {
		for _, r := range m.Model.Engagement {
			if r.Cap != nil {
				add(CapRef{Model: m.Model.ID, RuleID: r.ID}, r.Cap)
			}
		}
	}
	// Refs come from the current versions: a run still on an older version
	// whose step was capped only there sees its cap usage from the grants
	// of this application alone.
	for _, f := range cat.Flows {
		for _, s := range f.Flow.Steps {
			if s.Type == flows.StepLeadScore && s.Cap != nil {
				add(CapRef{Model: s.Model, FlowID: f.Flow.ID, StepID: s.ID}, s.Cap)
			}
		}
	}
	sort.Slice(cat.Caps, func(i, j int) bool { return cat.Caps[i].Key() < cat.Caps[j].Key() })
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
