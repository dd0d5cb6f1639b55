package insight

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/leadflow/leadflow/flows"
)

// The fewest converters and non-converters a suggestion needs.
const (
	MinConverters    = 30
	MinNonConverters = 30
)

// HeldOutPercent of the contacts (by a hash of their id) are kept out of
// the fit to compare the suggestion with the current model.
const HeldOutPercent = 30

// dropZ is the |Wald z| below which a rule is not told apart from no
// effect at 95%: a candidate to drop.
const dropZ = 1.96

// ErrTooFewConversions is returned when the window holds too few
// converters or non-converters to fit anything.
type ErrTooFewConversions struct {
	Converters, NonConverters int
}

func (e *ErrTooFewConversions) Error() string {
	return fmt.Sprintf("too few conversions to suggest points: %d converters and %d non-converters in the window; at least %d converters and %d non-converters are needed (widen the window with since, or wait for more conversions)",
		e.Converters, e.NonConverters, MinConverters, MinNonConverters)
}

// Suggestion is suggested points for a model's rules, from a logistic
// regression of conversion on the rules' hits.
type Suggestion struct {
	Model         string    `json:"model"`
	Since         time.Time `json:"since"`
	Until         time.Time `json:"until"`
	Method        string    `json:"method"`
	ScoreUsed     string    `json:"score_used"`
	Contacts      int       `json:"contacts"`
	Converters    int       `json:"converters"`
	NonConverters int       `json:"non_converters"`
	Training      int       `json:"training"`
	HeldOut       int       `json:"held_out"`
	// Scale is points per unit of log-odds: the suggested totals over the
	// training contacts spread as far as the current rules' totals.
	Scale          float64         `json:"scale"`
	Rules          []SuggestedRule `json:"rules"`
	DropCandidates []string        `json:"drop_candidates"`
	HeldOutAUC     HeldOutAUC      `json:"held_out_auc"`
	// Draft is the model with the suggested points (drop candidates at 0),
	// a complete score_model document.
	Draft json.RawMessage `json:"draft"`
}

// SuggestedRule is one rule's current and suggested points and the
// evidence for them.
type SuggestedRule struct {
	Rule            string  `json:"rule"`
	Kind            string  `json:"kind"`
	Feature         string  `json:"feature"`
	CurrentPoints   float64 `json:"current_points"`
	SuggestedPoints float64 `json:"suggested_points"`
	// Weight is the fitted change in log-odds of converting per hit (or for
	// holding a profile rule); Z its Wald statistic.
	Weight     float64 `json:"weight"`
	Z          float64 `json:"z"`
	Predictive bool    `json:"predictive"`
}

// HeldOutAUC compares the suggested points and the current model on the
// held-out contacts; nil when the held-out part lacks either class.
type HeldOutAUC struct {
	Suggested *float64 `json:"suggested"`
	Current   *float64 `json:"current"`
}

// heldOut says whether a contact is in the held-out part: a hash of its
// id, so the split is the same on every call.
func heldOut(id string) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return h.Sum32()%100 < HeldOutPercent
}

// Suggest fits conversion on the hits of m's rules (engagement rules:
// grants up to the cut-off; profile rules: held or not) over contacts,
// and returns suggested points on the model's own scale.
func Suggest(m *flows.ScoreModel, contacts []Contact, since, until time.Time) (Suggestion, error) {
	rules := rulesOf(m)
	s := Suggestion{Model: m.ID, Since: since, Until: until, ScoreUsed: ScoreUsed, Contacts: len(contacts),
		Method: fmt.Sprintf("L2-regularised logistic regression (standard normal prior on standardised weights, L-BFGS) of conversion on rule hits; %d%% of contacts held out by a hash of their id; a rule is predictive when |z| ≥ %.2f", HeldOutPercent, dropZ),
		Rules:  []SuggestedRule{}, DropCandidates: []string{}}
	var trainX, testX [][]float64
	var trainY, testY []bool
	var testCurrent []float64
	for _, c := range contacts {
		o := outcomeOf(m, c)
		if o.converted {
			s.Converters++
		} else {
			s.NonConverters++
		}
		row := make([]float64, len(rules))
		for j, r := range rules {
			row[j] = o.hits[r.id]
		}
		if heldOut(c.ID) {
			testX, testY, testCurrent = append(testX, row), append(testY, o.converted), append(testCurrent, o.score)
		} else {
			trainX, trainY = append(trainX, row), append(trainY, o.converted)
		}
	}
	if s.Converters < MinConverters || s.NonConverters < MinNonConverters {
		return s, &ErrTooFewConversions{Converters: s.Converters, NonConverters: s.NonConverters}
	}
	s.Training, s.HeldOut = len(trainX), len(testX)
	fit, err := FitLogistic(trainX, trainY)
	if err != nil {
		return s, fmt.Errorf("suggesting points for model %q: %w", m.ID, err)
	}
	// Scale log-odds to points so that the suggested totals over the
	// training contacts spread as far as the current points' totals.
	current := make([]float64, len(rules))
	for j, r := range rules {
		current[j] = r.points
	}
	s.Scale = 1
	if sr, cr := spread(trainX, fit.Weights), spread(trainX, current); sr > 0 && cr > 0 {
		s.Scale = cr / sr
	}
	points := make([]float64, len(rules))
	for j, r := range rules {
		sr := SuggestedRule{Rule: r.id, Kind: r.kind, Feature: featureOf(r), CurrentPoints: r.points,
			Weight: fit.Weights[j], Z: fit.Z[j], Predictive: math.Abs(fit.Z[j]) >= dropZ}
		if sr.Predictive {
			sr.SuggestedPoints = math.Max(-flows.MaxRulePoints, math.Min(flows.MaxRulePoints, math.Round(s.Scale*fit.Weights[j])))
		} else {
			s.DropCandidates = append(s.DropCandidates, r.id)
		}
		points[j] = sr.SuggestedPoints
		s.Rules = append(s.Rules, sr)
	}
	suggested := make([]float64, len(testX))
	for i, row := range testX {
		suggested[i] = dot(points, row)
	}
	if auc, ok := AUC(suggested, testY); ok {
		s.HeldOutAUC.Suggested = &auc
	}
	if auc, ok := AUC(testCurrent, testY); ok {
		s.HeldOutAUC.Current = &auc
	}
	draft, err := draftModel(m, points)
	if err != nil {
		return s, fmt.Errorf("suggesting points for model %q: %w", m.ID, err)
	}
	s.Draft = draft
	return s, nil
}

func featureOf(r rule) string {
	if r.kind == "profile" {
		return "1 when the profile rule holds at the cut-off, else 0"
	}
	return "grants of the rule in the ledger up to the cut-off"
}

// spread is max − min of the totals Σ w·x over the rows.
func spread(x [][]float64, w []float64) float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, row := range x {
		t := dot(w, row)
		lo, hi = math.Min(lo, t), math.Max(hi, t)
	}
	return hi - lo
}

// draftModel is m with its rules' points replaced, in rulesOf order, as a
// canonical score_model document.
func draftModel(m *flows.ScoreModel, points []float64) (json.RawMessage, error) {
	var d flows.ScoreModel
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	j := 0
	for i := range d.Profile {
		d.Profile[i].Points = points[j]
		j++
	}
	for i := range d.Engagement {
		d.Engagement[i].Points = points[j]
		j++
	}
	return flows.Canonical(flows.Document{ScoreModel: &d})
}
