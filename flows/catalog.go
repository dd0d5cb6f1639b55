package flows

// Kind returns the document's kind: "flow", "segment", "score_model", or ""
// when none of its parts is set.
func (d Document) Kind() string {
	switch {
	case d.Flow != nil:
		return KindFlow
	case d.Segment != nil:
		return KindSegment
	case d.ScoreModel != nil:
		return KindScoreModel
	}
	return ""
}

// ID returns the document's id.
func (d Document) ID() string {
	switch {
	case d.Flow != nil:
		return d.Flow.ID
	case d.Segment != nil:
		return d.Segment.ID
	case d.ScoreModel != nil:
		return d.ScoreModel.ID
	}
	return ""
}

// Name returns the document's human-readable name.
func (d Document) Name() string {
	switch {
	case d.Flow != nil:
		return d.Flow.Name
	case d.Segment != nil:
		return d.Segment.Name
	case d.ScoreModel != nil:
		return d.ScoreModel.Name
	}
	return ""
}

// NewCatalog returns a catalog holding docs (a later document replaces an
// earlier one of the same kind and id).
func NewCatalog(docs []Document) *Catalog {
	c := &Catalog{
		Flows:    map[string]*Flow{},
		Segments: map[string]*Segment{},
		Models:   map[string]*ScoreModel{},
	}
	c.Add(docs...)
	return c
}

// Add puts documents into the catalog, replacing any of the same kind and
// id.
func (c *Catalog) Add(docs ...Document) {
	for _, d := range docs {
		switch {
		case d.Flow != nil:
			if c.Flows == nil {
				c.Flows = map[string]*Flow{}
			}
			c.Flows[d.Flow.ID] = d.Flow
		case d.Segment != nil:
			if c.Segments == nil {
				c.Segments = map[string]*Segment{}
			}
			c.Segments[d.Segment.ID] = d.Segment
		case d.ScoreModel != nil:
			if c.Models == nil {
				c.Models = map[string]*ScoreModel{}
			}
			c.Models[d.ScoreModel.ID] = d.ScoreModel
		}
	}
}

// Model returns the score model with the id, or nil; c may be nil.
func (c *Catalog) Model(id string) *ScoreModel {
	if c == nil {
		return nil
	}
	return c.Models[id]
}

// Segment returns the segment with the id, or nil; c may be nil.
func (c *Catalog) Segment(id string) *Segment {
	if c == nil {
		return nil
	}
	return c.Segments[id]
}
