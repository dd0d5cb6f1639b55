package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadflow/leadflow/contact"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// catalogCache keeps the decoded catalog and pinned flow versions between
// transactions; a cheap stamp query tells when definitions changed.
type catalogCache struct {
	mu      sync.Mutex
	stamp   string
	current *contact.Catalog
	pinned  map[contact.FlowRef]*flows.Flow
}

// load returns the published catalog, decoded once per change of the
// definitions.
func (c *catalogCache) load(ctx context.Context, tx pgx.Tx) (*contact.Catalog, error) {
	stamp, err := store.DefinitionsStamp(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("error reading definitions stamp: %w", err)
	}
	c.mu.Lock()
	cur, curStamp := c.current, c.stamp
	c.mu.Unlock()
	if cur != nil && curStamp == stamp {
		return cur, nil
	}
	defs, err := store.PublishedDefinitions(ctx, tx)
	if err != nil {
		return nil, err
	}
	published := make([]contact.Published, 0, len(defs))
	for _, d := range defs {
		doc, err := decodeOne(d.ID, d.Body)
		if err != nil {
			return nil, err
		}
		published = append(published, contact.Published{Doc: doc, Version: d.Version})
	}
	cat := contact.NewCatalog(published)
	c.mu.Lock()
	c.current, c.stamp = cat, stamp
	c.mu.Unlock()
	return cat, nil
}

// withPinned returns cat with the flow versions the states' runs are on.
func (c *catalogCache) withPinned(ctx context.Context, tx pgx.Tx, cat *contact.Catalog, states ...*contact.State) (*contact.Catalog, error) {
	missing := cat.MissingFlows(states...)
	if len(missing) == 0 {
		return cat, nil
	}
	extra := make(map[contact.FlowRef]*flows.Flow, len(missing))
	for _, ref := range missing {
		f, err := c.flowAt(ctx, tx, ref)
		if err != nil {
			return nil, err
		}
		extra[ref] = f
	}
	return cat.WithFlows(extra), nil
}

// flowAt returns a flow at a given version (the version a run started on).
func (c *catalogCache) flowAt(ctx context.Context, tx pgx.Tx, ref contact.FlowRef) (*flows.Flow, error) {
	c.mu.Lock()
	f := c.pinned[ref]
	c.mu.Unlock()
	if f != nil {
		return f, nil
	}
	body, err := store.DefinitionVersionBody(ctx, tx, ref.ID, ref.Version)
	if err != nil {
		return nil, fmt.Errorf("error loading flow %s version %d: %w", ref.ID, ref.Version, err)
	}
	doc, err := decodeOne(ref.ID, body)
	if err != nil {
		return nil, err
	}
	if doc.Flow == nil {
		return nil, fmt.Errorf("definition %s version %d is not a flow", ref.ID, ref.Version)
	}
	c.mu.Lock()
	if c.pinned == nil {
		c.pinned = map[contact.FlowRef]*flows.Flow{}
	}
	c.pinned[ref] = doc.Flow
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

// stateQuery is what LoadStatesWith must load for evaluation at now under
// cat: the past events its conditions and frequency rules count (all of
// them back to any time when one counts without a window: the load is
// bounded by count, see store.ActivityQuery), the capped grants in the
// longest cap period and the unexpired grants of expire_after models.
func stateQuery(cat *contact.Catalog, now time.Time) store.StateQuery {
	q := store.StateQuery{
		Activity: store.ActivityQuery{Now: now},
		Caps:     store.CapQuery{Since: now.Add(-cat.CapWindow)},
	}
	if cat.ActivityWindow > 0 {
		q.Activity.Since = now.Add(-cat.ActivityWindow)
	}
	for _, n := range cat.ActivityNeeds {
		q.Activity.Matchers = append(q.Activity.Matchers, store.ActivityMatcher{Type: n.Type, Match: n.Match, Need: n.Need, Selective: n.Selective})
	}
	for _, r := range cat.Caps {
		q.Caps.Caps = append(q.Caps.Caps, store.CapRef{Model: r.Model, RuleID: r.RuleID, FlowID: r.FlowID, StepID: r.StepID})
	}
	for _, m := range cat.Models {
		if m.Model.Decay != nil && m.Model.Decay.ExpireAfter.Duration > 0 {
			q.ExpiringModels = append(q.ExpiringModels, m.Model.ID)
		}
	}
	return q
}
