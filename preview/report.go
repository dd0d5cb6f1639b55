package preview

import "time"

// Report is what a preview found, per draft document, for the published
// definitions ("published") and with the drafts ("draft") over the same
// events.
type Report struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Contacts and Events replayed: the whole history of every contact with
	// events applied in the window (or of the sample of them).
	Contacts int   `json:"contacts"`
	Events   int64 `json:"events"`
	Sampled  bool  `json:"sampled"`
	// Tasks: every CRM task the window would have created.
	Tasks    Compared[TaskFigures] `json:"tasks"`
	Models   []ModelReport         `json:"models"`
	Flows    []FlowReport          `json:"flows"`
	Segments []SegmentReport       `json:"segments"`
	// Seconds the preview took.
	Seconds float64 `json:"seconds"`
}

// Compared holds one figure for the published definitions and with the
// drafts.
type Compared[T any] struct {
	Published T `json:"published"`
	Draft     T `json:"draft"`
}

// TaskFigures counts CRM tasks created in the window.
type TaskFigures struct {
	Total  int            `json:"total"`
	PerDay map[string]int `json:"per_day"`
}

// ModelReport compares a score model's figures.
type ModelReport struct {
	ID string `json:"id"`
	// PublishedVersion is the version the draft would replace (0: the
	// model is new).
	PublishedVersion int                    `json:"published_version"`
	Figures          Compared[ModelFigures] `json:"figures"`
	// Histogram: contacts per score range at the end of the window, on
	// buckets shared by both sides.
	Histogram   []Bucket    `json:"histogram"`
	BandChanges BandChanges `json:"band_changes"`
}

// ModelFigures are one side's figures of a model at the end of the window.
type ModelFigures struct {
	Contacts int     `json:"contacts"` // contacts holding a score in the model
	Mean     float64 `json:"mean"`
	// Bands: contacts per band ("" for below every band).
	Bands map[string]int `json:"bands"`
	// Thresholds: crossings (each fires the threshold's actions once) in
	// the window.
	Thresholds map[string]ThresholdFigures `json:"thresholds"`
	// Tasks: CRM tasks the model's thresholds created in the window.
	Tasks TaskFigures `json:"tasks"`
	// TopRules: the rules that gave the most points in the window.
	TopRules []RulePoints `json:"top_rules"`
}

// ThresholdFigures counts a threshold's crossings in the window.
type ThresholdFigures struct {
	Crossings int            `json:"crossings"`
	PerDay    map[string]int `json:"per_day"`
}

// RulePoints is what one rule gave in the window.
type RulePoints struct {
	Rule   string  `json:"rule"`
	Kind   string  `json:"kind"` // engagement or profile
	Points float64 `json:"points"`
	Hits   int     `json:"hits"`
}

// Bucket is a score range [From, To) with the contacts in it on each side.
type Bucket struct {
	From      float64 `json:"from"`
	To        float64 `json:"to"`
	Published int     `json:"published"`
	Draft     int     `json:"draft"`
}

// BandChanges are the contacts whose band at the end of the window differs.
type BandChanges struct {
	Contacts int `json:"contacts"`
	// ByChange counts them per "from → to" ("" is no band).
	ByChange map[string]int `json:"by_change"`
	Examples []BandChange   `json:"examples"`
}

// BandChange is one contact whose band would change.
type BandChange struct {
	ContactID      string  `json:"contact_id"`
	From           string  `json:"from"`
	To             string  `json:"to"`
	PublishedScore float64 `json:"published_score"`
	DraftScore     float64 `json:"draft_score"`
}

// FlowReport compares a flow's figures.
type FlowReport struct {
	ID               string                `json:"id"`
	PublishedVersion int                   `json:"published_version"`
	Figures          Compared[FlowFigures] `json:"figures"`
}

// FlowFigures count a flow's runs in the window.
type FlowFigures struct {
	Entries       int            `json:"entries"`
	EntriesPerDay map[string]int `json:"entries_per_day"`
	Completed     int            `json:"completed"`
	Exited        int            `json:"exited"`
	Tasks         TaskFigures    `json:"tasks"`
}

// SegmentReport compares a segment's figures.
type SegmentReport struct {
	ID               string                   `json:"id"`
	PublishedVersion int                      `json:"published_version"`
	Figures          Compared[SegmentFigures] `json:"figures"`
}

// SegmentFigures count a segment's members and changes.
type SegmentFigures struct {
	Members int `json:"members"` // at the end of the window
	Entered int `json:"entered"` // in the window
	Exited  int `json:"exited"`
}
