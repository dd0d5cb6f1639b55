package insight

import (
	"sort"
	"time"

	"github.com/leadflow/leadflow/flows"
)

// Report is the conversion report of a score model over the contacts
// created in a window.
type Report struct {
	Model       string    `json:"model"`
	Since       time.Time `json:"since"`
	Until       time.Time `json:"until"`
	ScoreUsed   string    `json:"score_used"`
	Contacts    int       `json:"contacts"`
	Conversions int       `json:"conversions"`
	Rate        *float64  `json:"rate"`
	Interval    *Interval `json:"interval"`
	// AUC is how well the score ranks converters above the others
	// (Mann–Whitney; 0.5 random, 1 perfect); null without both classes.
	AUC *float64 `json:"auc"`
	// Median days to conversion of every converter (see Group).
	MedianDaysFromFirstTouch *float64            `json:"median_days_from_first_touch"`
	MedianDaysFromThreshold  map[string]*float64 `json:"median_days_from_threshold"`
	Thresholds               []string            `json:"thresholds"`
	Bands                    []Group             `json:"bands"`
	Deciles                  []Group             `json:"deciles"`
	Rules                    []RuleLift          `json:"rules"`
	Values                   *ValueSummary       `json:"values,omitempty"`
}

// Group is a band or a score decile: its contacts, conversions, the
// conversion rate with its Wilson 95% interval, and the median days to
// conversion of its converters from their first touch (creation) and from
// their first crossing of each threshold (converters that crossed it before
// converting).
type Group struct {
	Band                     string              `json:"band,omitempty"`
	Decile                   int                 `json:"decile,omitempty"`
	MinScore                 *float64            `json:"min_score"`
	MaxScore                 *float64            `json:"max_score"`
	Contacts                 int                 `json:"contacts"`
	Conversions              int                 `json:"conversions"`
	Rate                     *float64            `json:"rate"`
	Interval                 *Interval           `json:"interval"`
	MedianDaysFromFirstTouch *float64            `json:"median_days_from_first_touch"`
	MedianDaysFromThreshold  map[string]*float64 `json:"median_days_from_threshold"`
}

// RuleLift compares how often converters and the others triggered a rule
// (an engagement rule granted points, a profile rule held) before the
// cut-off; Lift is the ratio of the two shares, null when no non-converter
// triggered it.
type RuleLift struct {
	Rule                   string   `json:"rule"`
	Kind                   string   `json:"kind"`
	Points                 float64  `json:"points"`
	ConvertersTriggered    int      `json:"converters_triggered"`
	Converters             int      `json:"converters"`
	NonConvertersTriggered int      `json:"non_converters_triggered"`
	NonConverters          int      `json:"non_converters"`
	ConverterShare         *float64 `json:"converter_share"`
	NonConverterShare      *float64 `json:"non_converter_share"`
	Lift                   *float64 `json:"lift"`
}

// ValueSummary sums the values of the conversions that carry one.
type ValueSummary struct {
	Count int     `json:"count"`
	Total float64 `json:"total"`
}

// BuildReport computes the conversion report of model m over contacts.
// Contacts are grouped by the band of the score used (ScoreUsed) and into
// ten deciles of it: ranked by score, ties by contact id, cut into ten
// groups as equal as can be (decile 10 the highest scores).
func BuildReport(m *flows.ScoreModel, contacts []Contact, since, until time.Time) Report {
	r := Report{Model: m.ID, Since: since, Until: until, ScoreUsed: ScoreUsed, Contacts: len(contacts), Thresholds: []string{}}
	for _, th := range m.Thresholds {
		r.Thresholds = append(r.Thresholds, th.ID)
	}
	outs := make([]outcome, len(contacts))
	scores := make([]float64, len(contacts))
	conv := make([]bool, len(contacts))
	for i, c := range contacts {
		outs[i] = outcomeOf(m, c)
		scores[i], conv[i] = outs[i].score, outs[i].converted
		if c.Conversion != nil && c.Conversion.Value != nil {
			if r.Values == nil {
				r.Values = &ValueSummary{}
			}
			r.Values.Count++
			r.Values.Total = flows.RoundPoints(r.Values.Total + *c.Conversion.Value)
		}
	}
	all := summarize(m, outs)
	r.Conversions, r.Rate, r.Interval = all.Conversions, all.Rate, all.Interval
	r.MedianDaysFromFirstTouch, r.MedianDaysFromThreshold = all.MedianDaysFromFirstTouch, all.MedianDaysFromThreshold
	if auc, ok := AUC(scores, conv); ok {
		r.AUC = &auc
	}
	r.Bands = bandGroups(m, outs)
	r.Deciles = decileGroups(m, outs)
	r.Rules = ruleLifts(m, outs)
	return r
}

// summarize fills a group's counts, rate, interval and medians.
func summarize(m *flows.ScoreModel, outs []outcome) Group {
	g := Group{Contacts: len(outs), MedianDaysFromThreshold: map[string]*float64{}}
	var first []float64
	cross := map[string][]float64{}
	for _, o := range outs {
		if !o.converted {
			continue
		}
		g.Conversions++
		first = append(first, o.daysFirst)
		for id, d := range o.daysCross {
			cross[id] = append(cross[id], d)
		}
	}
	if ci, ok := Wilson(g.Conversions, g.Contacts); ok {
		rate := float64(g.Conversions) / float64(g.Contacts)
		g.Rate, g.Interval = &rate, &ci
	}
	g.MedianDaysFromFirstTouch = median(first)
	for _, th := range m.Thresholds {
		g.MedianDaysFromThreshold[th.ID] = median(cross[th.ID])
	}
	return g
}

func bandGroups(m *flows.ScoreModel, outs []outcome) []Group {
	byBand := map[string][]outcome{}
	for _, o := range outs {
		b, _ := flows.BandFor(m, o.score)
		byBand[b.Name] = append(byBand[b.Name], o)
	}
	out := []Group{}
	if below := byBand[""]; len(below) > 0 {
		g := summarize(m, below)
		g.Band = "(below every band)"
		out = append(out, g)
	}
	for _, b := range m.Bands {
		g := summarize(m, byBand[b.Name])
		g.Band = b.Name
		lo := b.Min
		g.MinScore = &lo
		out = append(out, g)
	}
	return out
}

func decileGroups(m *flows.ScoreModel, outs []outcome) []Group {
	ranked := append([]outcome(nil), outs...)
	sort.SliceStable(ranked, func(i, j int) bool {
		if ranked[i].score != ranked[j].score {
			return ranked[i].score < ranked[j].score
		}
		return ranked[i].id < ranked[j].id
	})
	out := []Group{}
	n := len(ranked)
	for d := 0; d < 10 && n > 0; d++ {
		part := ranked[d*n/10 : (d+1)*n/10]
		if len(part) == 0 {
			continue
		}
		g := summarize(m, part)
		g.Decile = d + 1
		lo, hi := part[0].score, part[len(part)-1].score
		g.MinScore, g.MaxScore = &lo, &hi
		out = append(out, g)
	}
	return out
}

func ruleLifts(m *flows.ScoreModel, outs []outcome) []RuleLift {
	out := []RuleLift{}
	for _, ru := range rulesOf(m) {
		l := RuleLift{Rule: ru.id, Kind: ru.kind, Points: ru.points}
		for _, o := range outs {
			hit := o.hits[ru.id] > 0
			if o.converted {
				l.Converters++
				if hit {
					l.ConvertersTriggered++
				}
			} else {
				l.NonConverters++
				if hit {
					l.NonConvertersTriggered++
				}
			}
		}
		l.ConverterShare = share(l.ConvertersTriggered, l.Converters)
		l.NonConverterShare = share(l.NonConvertersTriggered, l.NonConverters)
		if l.ConverterShare != nil && l.NonConverterShare != nil && *l.NonConverterShare > 0 {
			lift := *l.ConverterShare / *l.NonConverterShare
			l.Lift = &lift
		}
		out = append(out, l)
	}
	return out
}

func share(k, n int) *float64 {
	if n == 0 {
		return nil
	}
	s := float64(k) / float64(n)
	return &s
}
