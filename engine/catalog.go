package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// Catalog is the set of definitions published at one moment, decoded.
type Catalog struct {
	stamp    string
	Flows    []*FlowVersion  // published (not paused) flows, by id
	Models   []*ModelVersion // published score models, by id
	Segments []*SegmentVersion
	Pure     *flows.Catalog
	// Activity: which past events evaluation needs (events conditions and
	// frequency rules), relative to the time of evaluation: what each counts
	// and the most it compares against (see store.ActivityQuery).
	ActivityMatchers []store.ActivityMatcher
	ActivityWindow   time.Duration
	// Caps are the capped rules and steps, CapWindow the longest cap period.
	Caps      []store.CapRef
	CapWindow time.Duration
}

// capQuery is what LoadStates must load for caps evaluated at now.
func (cat *Catalog) capQuery(now time.Time) store.CapQuery {
	return store.CapQuery{Caps: cat.Caps, Since: now.Add(-cat.CapWindow)}
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

// catalogCache keeps the decoded catalog and pinned flow versions between
// transactions; a cheap stamp query tells when definitions changed.
type catalogCache struct {
	mu      sync.Mutex
	current *Catalog
	pinned  map[string]*flows.Flow // id@version
}

func (c *catalogCache) load(ctx context.Context, tx pgx.Tx) (*Catalog, error) {
	stamp, err := store.DefinitionsStamp(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("error reading definitions stamp: %w", err)
	}
	c.mu.Lock()
	cur := c.current
	c.mu.Unlock()
	if cur != nil && cur.stamp == stamp {
		return cur, nil
	}
	rows, err := tx.Query(ctx, `SELECT d.id, d.kind, d.status, d.current_version, v.body FROM definitions d
		JOIN definition_versions v ON v.id = d.id AND v.version = d.current_version
		WHERE d.status = 'published' ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("error loading definitions: %w", err)
	}
	defer rows.Close()
	cat := &Catalog{stamp: stamp, Pure: &flows.Catalog{
		Flows: map[string]*flows.Flow{}, Segments: map[string]*flows.Segment{}, Models: map[string]*flows.ScoreModel{},
	}}
	for rows.Next() {
		var id, kind, status string
		var version int
		var body []byte
		if err := rows.Scan(&id, &kind, &status, &version, &body); err != nil {
			return nil, err
		}
		doc, err := decodeOne(id, body)
		if err != nil {
			return nil, err
		}
		switch {
		case doc.Flow != nil:
			cat.Flows = append(cat.Flows, &FlowVersion{Flow: doc.Flow, Version: version})
			cat.Pure.Flows[id] = doc.Flow
		case doc.ScoreModel != nil:
			cat.Models = append(cat.Models, &ModelVersion{Model: doc.ScoreModel, Version: version})
			cat.Pure.Models[id] = doc.ScoreModel
		case doc.Segment != nil:
			cat.Segments = append(cat.Segments, &SegmentVersion{Segment: doc.Segment, Version: version})
			cat.Pure.Segments[id] = doc.Segment
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	cat.computeActivityNeeds()
	cat.computeCapNeeds()
	c.mu.Lock()
	c.current = cat
	c.mu.Unlock()
	return cat, nil
}

// flowAt returns a flow at a given version (the version a run started on).
func (c *catalogCache) flowAt(ctx context.Context, tx pgx.Tx, id string, version int) (*flows.Flow, error) {
	key := fmt.Sprintf("%s@%d", id, version)
	c.mu.Lock()
	f := c.pinned[key]
	c.mu.Unlock()
	if f != nil {
		return f, nil
	}
	body, err := store.DefinitionVersionBody(ctx, tx, id, version)
	if err != nil {
		return nil, fmt.Errorf("error loading flow %s version %d: %w", id, version, err)
	}
	doc, err := decodeOne(id, body)
	if err != nil {
		return nil, err
	}
	if doc.Flow == nil {
		return nil, fmt.Errorf("definition %s version %d is not a flow", id, version)
	}
	c.mu.Lock()
	if c.pinned == nil {
		c.pinned = map[string]*flows.Flow{}
	}
	c.pinned[key] = doc.Flow
	c.mu.Unlock()
	return doc.Flow, nil
}

func decodeOne(id string, body []byte) (flows.Document, error) {
	docs, errs := flows.Decode(id, body)
	if len(errs) > 0 {
		return flows.Document{}, fmt.Errorf("stored definition %s does not decode: %w", id, errs)
	}
	if len(docs) != 1 {
		return flows.Document{}, fmt.Errorf("stored definition %s holds %d documents", id, len(docs))
	}
	return docs[0], nil
}

// activityQuery is what LoadStates must load for evaluation at now.
func (cat *Catalog) activityQuery(now time.Time) store.ActivityQuery {
	return store.ActivityQuery{Since: now.Add(-cat.ActivityWindow), Now: now, Matchers: cat.ActivityMatchers}
}

// computeActivityNeeds works out which past events evaluation needs: one
// matcher per distinct events condition (type and filters) and frequency
// rule (trigger), needing as many matching events as the largest count it
// is compared with, plus one — a count compared with n depends only on
// min(count, n+1). So what one event costs to apply stays bounded however
// many events the contact has.
func (cat *Catalog) computeActivityNeeds() {
	type need struct {
		m     store.ActivityMatcher
		order int
	}
	needs := map[string]*need{} // by what the matcher counts
	add := func(key string, m store.ActivityMatcher) {
		if n := needs[key]; n != nil {
			n.m.Need = max(n.m.Need, m.Need)
			return
		}
		needs[key] = &need{m: m, order: len(needs)}
	}
	var window time.Duration
	widen := func(d time.Duration) {
		if d > window {
			window = d
		}
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
			m := store.ActivityMatcher{Type: e.Type, Need: e.Count + 1}
			key := "events\x00" + e.Type
			if len(e.Filters) > 0 {
				filters := e.Filters
				m.Match = func(p map[string]any) bool { return flows.MatchFilters(filters, p) }
				m.Selective = true
				key += "\x00" + canonicalJSON(filters)
			}
			add(key, m)
			widen(e.Within.Duration)
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
			add("frequency\x00"+canonicalJSON(on), store.ActivityMatcher{
				Type: typ, Need: r.Frequency.Count + 1,
				Match:     func(p map[string]any) bool { return flows.MatchTrigger(on, flows.Event{Type: typ, Properties: p}) },
				Selective: len(on.Filters) > 0 || on.URL != "" || on.Form != "" || on.Tag != "" || on.Field != "" || on.Segment != "",
			})
			w := r.Frequency.Within.Duration
			if w == 0 {
				w = 365 * 24 * time.Hour
			}
			widen(w)
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
		cat.ActivityMatchers = append(cat.ActivityMatchers, n.m)
	}
	cat.ActivityWindow = window
}

// canonicalJSON is a stable text of v, to tell equal matchers apart.
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
	add := func(ref store.CapRef, c *flows.Cap) {
		cat.Caps = append(cat.Caps, ref)
		if c.Period.Duration > cat.CapWindow {
			cat.CapWindow = c.Period.Duration
		}
	}
	for _, m := range cat.Models {
		for _, r := range m.Model.Engagement {
			if r.Cap != nil {
				add(store.CapRef{Model: m.Model.ID, RuleID: r.ID}, r.Cap)
			}
		}
	}
	// Refs come from the current versions: a run still on an older version
	// whose step was capped only there sees its cap usage from this
	// transaction alone.
	for _, f := range cat.Flows {
		for _, s := range f.Flow.Steps {
			if s.Type == flows.StepLeadScore && s.Cap != nil {
				add(store.CapRef{Model: s.Model, FlowID: f.Flow.ID, StepID: s.ID}, s.Cap)
			}
		}
	}
	sort.Slice(cat.Caps, func(i, j int) bool { return cat.Caps[i].Key() < cat.Caps[j].Key() })
}
