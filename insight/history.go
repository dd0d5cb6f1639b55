package insight

import (
	"time"

	"github.com/leadflow/leadflow/flows"
)

// Contact is one contact's history in a score model.
type Contact struct {
	ID        string
	CreatedAt time.Time // the first touch
	Score     float64   // the score now
	// Conversion is the first conversion in the model; nil when none.
	Conversion *Conversion
	// Ledger is the contact's ledger rows of the model in id order.
	Ledger []LedgerEntry
}

// Conversion is when a contact converted and the score it had then.
type Conversion struct {
	EventID string // the event that converted
	At      time.Time
	Value   *float64
	Score   float64
	// LedgerThrough is the id of the last ledger row at conversion; nil
	// when the contact held no points yet.
	LedgerThrough *int64
}

// LedgerEntry is one row of the score ledger.
type LedgerEntry struct {
	ID      int64
	At      time.Time
	Points  float64
	Kind    string // profile, engagement, flow, decay, expiry, …
	RuleID  string
	EventID string
}

// ScoreUsed says which score the report and the suggestion rank contacts
// by.
const ScoreUsed = "the score at conversion for converters, the current score for the others"

// outcome is what the statistics need of one contact: whether it
// converted, the score used, and what its ledger says up to the cut-off
// (the conversion for converters, now for the others).
type outcome struct {
	id        string
	converted bool
	score     float64
	daysFirst float64              // converters: days from creation to conversion
	crossed   map[string]time.Time // threshold id → first time the running sum reached it
	daysCross map[string]float64   // converters: days from crossing to conversion
	hits      map[string]float64   // engagement rule → grants; profile rule → 1 when held
}

// outcomeOf replays c's ledger up to its cut-off: the ledger is append-only
// and every row has its time, so the score at T is the sum of the rows at
// or before T (here: up to LedgerThrough for converters).
func outcomeOf(m *flows.ScoreModel, c Contact) outcome {
	o := outcome{id: c.ID, converted: c.Conversion != nil, score: c.Score, crossed: map[string]time.Time{}, hits: map[string]float64{}}
	if o.converted {
		o.score = c.Conversion.Score
		o.daysFirst = days(c.Conversion.At.Sub(c.CreatedAt))
		o.daysCross = map[string]float64{}
	}
	profileHeld := map[string]float64{}
	sum := 0.0
	for _, l := range c.Ledger {
		if o.converted && (c.Conversion.LedgerThrough == nil || l.ID > *c.Conversion.LedgerThrough) {
			break
		}
		sum = flows.RoundPoints(sum + l.Points)
		for _, th := range m.Thresholds {
			if _, done := o.crossed[th.ID]; !done && sum >= th.Score {
				o.crossed[th.ID] = l.At
			}
		}
		if o.converted && c.Conversion.EventID != "" && l.EventID == c.Conversion.EventID {
			// The conversion's own points count in its score, but a
			// rule triggered by the conversion itself predicts nothing.
			continue
		}
		switch l.Kind {
		case "engagement":
			if l.Points > 0 {
				o.hits[l.RuleID]++
			}
		case "profile":
			profileHeld[l.RuleID] = flows.RoundPoints(profileHeld[l.RuleID] + l.Points)
		}
	}
	for id, held := range profileHeld {
		if held != 0 {
			o.hits[id] = 1
		}
	}
	if o.converted {
		for id, at := range o.crossed {
			o.daysCross[id] = days(c.Conversion.At.Sub(at))
		}
	}
	return o
}

func days(d time.Duration) float64 { return d.Hours() / 24 }

// rule is a rule of the model as the statistics see it.
type rule struct {
	id     string
	kind   string // profile or engagement
	points float64
}

func rulesOf(m *flows.ScoreModel) []rule {
	var out []rule
	for _, r := range m.Profile {
		out = append(out, rule{id: r.ID, kind: "profile", points: r.Points})
	}
	for _, r := range m.Engagement {
		out = append(out, rule{id: r.ID, kind: "engagement", points: r.Points})
	}
	return out
}
