package flows

import "time"

// Contact is the snapshot of one contact that evaluation sees. The engine
// loads it inside the transaction that changes the contact.
type Contact struct {
	ID           string
	Email        string
	AccountID    string
	Stage        string
	Disqualified bool
	// Fields are the contact's custom attributes (JSON values: string,
	// float64, bool, nil, []any, map[string]any). A field named "timezone"
	// holds an IANA zone name used by wait_until time_of_day.
	Fields map[string]any
	// Tags, sorted.
	Tags []string
	// Scores by model id.
	Scores map[string]float64
	// Segments the contact is a member of, sorted.
	Segments []string
	// Activity: the contact's recent events (at least those of the types and
	// windows that conditions in the catalog count), oldest first.
	Activity []Activity
}

// Activity is one past event of a contact, for counting conditions.
type Activity struct {
	Type       string
	At         time.Time
	Properties map[string]any
}

// Event is something that happened to a contact, as triggers see it.
// Events the engine derives carry their details as properties:
//
//	field_changed           {"field", "from", "to"}
//	tag_added, tag_removed  {"tag"}
//	segment_entered/exited  {"segment"}
//	score_threshold_crossed {"model", "score", "direction"}
//	page_visited            {"url", ...}
//	form_submitted          {"form", ...}
//	date_field              {"field"}
type Event struct {
	ID         string
	Type       string
	At         time.Time
	Properties map[string]any
}

// Catalog is the set of published definitions evaluation may refer to.
type Catalog struct {
	Flows    map[string]*Flow
	Segments map[string]*Segment
	Models   map[string]*ScoreModel
}
