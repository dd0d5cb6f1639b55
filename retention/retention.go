// Package retention decides how long raw events must be kept: the horizon
// an operator configures (LEADFLOW_EVENT_RETENTION) against the windows the
// published definitions read back in the event log. Applied events older
// than the horizon are deleted in the background (store.SweepEvents);
// scores never change by it, because the ledger keeps every point's
// explanation and the engine re-reads past events only through the windows
// checked here.
//
// This package is pure: no I/O, no clock (it reads store types, not the
// database).
package retention

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// EnvVar is the environment variable that sets the horizon.
const EnvVar = "LEADFLOW_EVENT_RETENTION"

// ParseHorizon reads a horizon: "" or "none" keeps events for ever (0);
// otherwise a duration of the flow language ("400d", "8w", "720h"),
// greater than zero.
func ParseHorizon(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "none") {
		return 0, nil
	}
	d, err := flows.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%w (or \"none\" to keep events for ever)", err)
	}
	if d.Duration <= 0 {
		return 0, fmt.Errorf("%q must be greater than zero (or \"none\" to keep events for ever)", s)
	}
	return d.Duration, nil
}

// Need is one place of a definition that reads past events: how far back
// (Window), or all of them (AllHistory).
type Need struct {
	Definition string // the definition's id
	Kind       string // flow, segment or score_model
	Path       string // where in the document, e.g. "steps[1].if.events.within"
	Window     time.Duration
	AllHistory bool
}

func (n Need) String() string {
	if n.AllHistory {
		return fmt.Sprintf("%s %q reads events of any age at %s (no \"within\": any time)", n.Kind, n.Definition, n.Path)
	}
	return fmt.Sprintf("%s %q reads events %s back at %s", n.Kind, n.Definition, flows.Duration{Duration: n.Window}, n.Path)
}

// Needs lists where a definition reads past events: events conditions
// (segments' rules, condition steps, profile rules) and frequency rules of
// score models. Event types the engine raises itself are never in the log
// and need nothing.
func Needs(doc flows.Document) []Need {
	var out []Need
	kind, id := doc.Kind(), doc.ID()
	var walk func(c *flows.Condition, path string)
	walk = func(c *flows.Condition, path string) {
		if c == nil {
			return
		}
		for i := range c.All {
			walk(&c.All[i], path+".all["+strconv.Itoa(i)+"]")
		}
		for i := range c.Any {
			walk(&c.Any[i], path+".any["+strconv.Itoa(i)+"]")
		}
		walk(c.Not, path+".not")
		if e := c.Events; e != nil && !flows.IsDerivedEventType(e.Type) {
			out = append(out, Need{Definition: id, Kind: kind, Path: path + ".events.within", Window: e.Within.Duration,
				AllHistory: e.Within.Duration <= 0})
		}
	}
	switch {
	case doc.Segment != nil:
		walk(&doc.Segment.Rule, "rule")
	case doc.Flow != nil:
		for i := range doc.Flow.Steps {
			walk(doc.Flow.Steps[i].If, "steps["+strconv.Itoa(i)+"].if")
		}
	case doc.ScoreModel != nil:
		m := doc.ScoreModel
		for i := range m.Profile {
			walk(&m.Profile[i].When, "profile["+strconv.Itoa(i)+"].when")
		}
		for i := range m.Engagement {
			r := &m.Engagement[i]
			if r.Frequency == nil || flows.IsDerivedEventType(r.On.Type) {
				continue
			}
			out = append(out, Need{Definition: id, Kind: kind, Path: "engagement[" + strconv.Itoa(i) + "].frequency.within",
				Window: r.Frequency.Within.Duration, AllHistory: r.Frequency.Within.Duration <= 0})
		}
	}
	return out
}

// TooShortError says that a horizon would delete events a definition reads.
type TooShortError struct {
	Horizon time.Duration
	Need    Need
}

func (e *TooShortError) Error() string {
	h := flows.Duration{Duration: e.Horizon}
	if e.Need.AllHistory {
		return fmt.Sprintf("event retention %s is refused: %s, so it needs every event kept; give it a \"within\" no longer than %s, or unset %s",
			h, e.Need, h, EnvVar)
	}
	return fmt.Sprintf("event retention %s is refused: %s, longer than the horizon; set %s to at least %s, or shorten that window",
		h, e.Need, EnvVar, flows.Duration{Duration: e.Need.Window})
}

// Check returns a *TooShortError for the first need of docs (in their
// order) that a horizon would cut: a window longer than the horizon, or
// one reading all history. A zero horizon (keep for ever) passes.
func Check(horizon time.Duration, docs []flows.Document) error {
	if horizon <= 0 {
		return nil
	}
	for _, d := range docs {
		for _, n := range Needs(d) {
			if n.AllHistory || n.Window > horizon {
				return &TooShortError{Horizon: horizon, Need: n}
			}
		}
	}
	return nil
}

// CheckDefinitions decodes the current versions of stored definitions
// that are not archived and checks them against the horizon (Check). A
// body that no longer decodes is skipped: the engine cannot use it either.
func CheckDefinitions(horizon time.Duration, defs []store.Definition) error {
	if horizon <= 0 {
		return nil
	}
	var docs []flows.Document
	for _, d := range defs {
		if d.Status == "archived" {
			continue
		}
		decoded, errs := flows.Decode(d.ID, d.Body)
		if len(errs) > 0 {
			continue
		}
		docs = append(docs, decoded...)
	}
	return Check(horizon, docs)
}
