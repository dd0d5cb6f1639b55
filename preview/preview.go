package preview

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadflow/leadflow/contact"
	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// Options of a preview.
type Options struct {
	// Since starts the window; Until ends it (now).
	Since, Until time.Time
	// Sample replays that many contacts (a deterministic sample) when
	// positive; Contacts replays only these.
	Sample   int
	Contacts []string
	// Progress, when set, is told how many contacts are done, of how many.
	Progress func(done, total int)
}

// maxExamples bounds the band changes a report lists.
const maxExamples = 20

// Run previews drafts (validated documents) over the stored history.
func Run(ctx context.Context, s *store.Store, drafts []flows.Document, opt Options) (*Report, error) {
	start := time.Now()
	if len(drafts) == 0 {
		return nil, fmt.Errorf("no draft documents to preview")
	}
	if !opt.Since.Before(opt.Until) {
		return nil, fmt.Errorf("the window is empty: since %s is not before %s", opt.Since.Format(time.RFC3339), opt.Until.Format(time.RFC3339))
	}
	published, err := loadPublished(ctx, s)
	if err != nil {
		return nil, err
	}
	p := newPreviewer(published, drafts, opt)
	q := store.HistoryQuery{Since: opt.Since, Sample: opt.Sample, Contacts: opt.Contacts}
	total, events, err := s.CountHistories(ctx, q)
	if err != nil {
		return nil, err
	}
	p.report.Contacts, p.report.Events, p.report.Sampled = total, events, opt.Sample > 0 || len(opt.Contacts) > 0
	done := 0
	err = s.Histories(ctx, q, func(id string, evs []store.HistoryEvent) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := p.replay(id, evs); err != nil {
			return err
		}
		done++
		if opt.Progress != nil {
			opt.Progress(done, total)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.finish()
	p.report.Seconds = math.Round(time.Since(start).Seconds()*1000) / 1000
	return &p.report, nil
}

// loadPublished reads the published definitions with their versions.
func loadPublished(ctx context.Context, s *store.Store) ([]contact.Published, error) {
	var defs []store.PublishedDefinition
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		defs, err = store.PublishedDefinitions(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]contact.Published, 0, len(defs))
	for _, d := range defs {
		docs, errs := flows.Decode(d.ID, d.Body)
		if len(errs) > 0 || len(docs) != 1 {
			return nil, fmt.Errorf("stored definition %s version %d does not decode: %v", d.ID, d.Version, errs)
		}
		out = append(out, contact.Published{Doc: docs[0], Version: d.Version})
	}
	return out, nil
}

// side is one catalog's replay and what it counted.
type side struct {
	cat    *contact.Catalog
	tasks  TaskFigures
	models map[string]*ModelFigures
	flows  map[string]*FlowFigures
	segs   map[string]*SegmentFigures
	rules  map[string]map[string]*RulePoints // model -> rule
	scores map[string]map[string]float64     // model -> contact -> final score
	bands  map[string]map[string]string      // model -> contact -> final band
}

type previewer struct {
	opt       Options
	report    Report
	published *side
	draft     *side
	versions  map[string]int // published versions of the drafts' ids
	drafts    []flows.Document
}

func newPreviewer(published []contact.Published, drafts []flows.Document, opt Options) *previewer {
	p := &previewer{opt: opt, versions: map[string]int{}, drafts: drafts}
	p.report.Since, p.report.Until = opt.Since.UTC(), opt.Until.UTC()
	byID := map[string]int{}
	for i, d := range published {
		byID[d.Doc.ID()] = i
		p.versions[d.Doc.ID()] = d.Version
	}
	withDrafts := append([]contact.Published(nil), published...)
	for _, d := range drafts {
		if i, ok := byID[d.ID()]; ok {
			withDrafts[i] = contact.Published{Doc: d, Version: published[i].Version + 1}
			continue
		}
		withDrafts = append(withDrafts, contact.Published{Doc: d, Version: 1})
	}
	p.published = p.newSide(contact.NewCatalog(published))
	p.draft = p.newSide(contact.NewCatalog(withDrafts))
	return p
}

func (p *previewer) newSide(cat *contact.Catalog) *side {
	sd := &side{cat: cat, tasks: TaskFigures{PerDay: map[string]int{}}, models: map[string]*ModelFigures{}, flows: map[string]*FlowFigures{},
		segs: map[string]*SegmentFigures{}, rules: map[string]map[string]*RulePoints{}, scores: map[string]map[string]float64{},
		bands: map[string]map[string]string{}}
	for _, d := range p.drafts {
		switch {
		case d.ScoreModel != nil:
			sd.models[d.ID()] = &ModelFigures{Bands: map[string]int{}, Thresholds: map[string]ThresholdFigures{},
				Tasks: TaskFigures{PerDay: map[string]int{}}, TopRules: []RulePoints{}}
			sd.rules[d.ID()] = map[string]*RulePoints{}
			sd.scores[d.ID()] = map[string]float64{}
			sd.bands[d.ID()] = map[string]string{}
		case d.Flow != nil:
			sd.flows[d.ID()] = &FlowFigures{EntriesPerDay: map[string]int{}, Tasks: TaskFigures{PerDay: map[string]int{}}}
		case d.Segment != nil:
			sd.segs[d.ID()] = &SegmentFigures{}
		}
	}
	return sd
}

// replay runs one contact's history through both catalogs.
func (p *previewer) replay(id string, evs []store.HistoryEvent) error {
	for _, sd := range []*side{p.published, p.draft} {
		if err := p.replayOn(sd, id, evs); err != nil {
			return err
		}
	}
	return nil
}

func (p *previewer) replayOn(sd *side, id string, evs []store.HistoryEvent) error {
	h := contact.NewHistory(sd.cat, id)
	crossings := map[contact.ThresholdRef]int{}
	h.Observe = func(at time.Time, _ contact.Input, fx *contact.Effects) {
		if at.Before(p.opt.Since) || at.After(p.opt.Until) {
			for ref, th := range h.St.Thresholds {
				crossings[ref] = th.Crossings
			}
			return
		}
		p.count(sd, h.St, at, fx, crossings)
	}
	for _, e := range evs {
		ev := contact.Event{ID: e.ID, Type: e.Type, OccurredAt: e.OccurredAt, Properties: e.Properties,
			Email: e.Email, AccountID: e.AccountID, Traits: e.Traits, Tags: e.Tags}
		if err := h.Event(e.AppliedAt, ev); err != nil {
			return err
		}
	}
	if err := h.Advance(p.opt.Until, true); err != nil {
		return err
	}
	for model := range sd.models {
		sc := h.St.Scores[model]
		if sc == nil {
			continue
		}
		sd.scores[model][id] = sc.Score
		sd.bands[model][id] = sc.Band
	}
	for seg, f := range sd.segs {
		if _, in := h.St.Segments[seg]; in {
			f.Members++
		}
	}
	return nil
}

// count adds what one application in the window did.
func (p *previewer) count(sd *side, st *contact.State, at time.Time, fx *contact.Effects, crossings map[contact.ThresholdRef]int) {
	day := at.UTC().Format(time.DateOnly)
	for ref, th := range st.Thresholds {
		n := th.Crossings - crossings[ref]
		crossings[ref] = th.Crossings
		f := sd.models[ref.Model]
		if n <= 0 || f == nil {
			continue
		}
		tf := f.Thresholds[ref.ThresholdID]
		if tf.PerDay == nil {
			tf.PerDay = map[string]int{}
		}
		tf.Crossings += n
		tf.PerDay[day] += n
		f.Thresholds[ref.ThresholdID] = tf
	}
	for _, t := range fx.Tasks {
		sd.tasks.Total++
		sd.tasks.PerDay[day]++
		if f := sd.models[t.Model]; t.ThresholdID != "" && f != nil {
			f.Tasks.Total++
			f.Tasks.PerDay[day]++
		}
		if f := sd.flows[t.FlowID]; t.FlowID != "" && f != nil {
			f.Tasks.Total++
			f.Tasks.PerDay[day]++
		}
	}
	for _, l := range fx.Ledger {
		rules := sd.rules[l.Model]
		if rules == nil || l.RuleID == "" || (l.Kind != "engagement" && l.Kind != "profile") {
			continue
		}
		r := rules[l.RuleID]
		if r == nil {
			r = &RulePoints{Rule: l.RuleID, Kind: l.Kind}
			rules[l.RuleID] = r
		}
		r.Points = flows.RoundPoints(r.Points + l.Points)
		if l.Points > 0 || l.Kind == "engagement" {
			r.Hits++
		}
	}
	for _, rs := range fx.RunsStarted {
		flowID := ""
		if r := st.Runs[rs.RunID]; r != nil {
			flowID = r.FlowID
		}
		for _, r := range fx.RunsFinished {
			if r.ID == rs.RunID {
				flowID = r.FlowID
			}
		}
		if f := sd.flows[flowID]; f != nil {
			f.Entries++
			f.EntriesPerDay[day]++
		}
	}
	for _, r := range fx.RunsFinished {
		f := sd.flows[r.FlowID]
		if f == nil {
			continue
		}
		switch r.Status {
		case contract.RunCompleted:
			f.Completed++
		case contract.RunExited:
			f.Exited++
		}
	}
	for _, c := range fx.Segments {
		f := sd.segs[c.SegmentID]
		if f == nil {
			continue
		}
		if c.Entered {
			f.Entered++
		} else {
			f.Exited++
		}
	}
}

// finish turns the counts into the report.
func (p *previewer) finish() {
	p.report.Tasks = Compared[TaskFigures]{Published: p.published.tasks, Draft: p.draft.tasks}
	for _, d := range p.drafts {
		id := d.ID()
		switch {
		case d.ScoreModel != nil:
			mr := ModelReport{ID: id, PublishedVersion: p.versions[id]}
			for _, sd := range []*side{p.published, p.draft} {
				f := sd.models[id]
				sum := 0.0
				for cid, sc := range sd.scores[id] {
					sum += sc
					f.Bands[sd.bands[id][cid]]++
				}
				f.Contacts = len(sd.scores[id])
				if f.Contacts > 0 {
					f.Mean = flows.RoundPoints(sum / float64(f.Contacts))
				}
				for _, r := range sd.rules[id] {
					f.TopRules = append(f.TopRules, *r)
				}
				sort.Slice(f.TopRules, func(i, j int) bool {
					a, b := f.TopRules[i], f.TopRules[j]
					if math.Abs(a.Points) != math.Abs(b.Points) {
						return math.Abs(a.Points) > math.Abs(b.Points)
					}
					return a.Rule < b.Rule
				})
				if len(f.TopRules) > 10 {
					f.TopRules = f.TopRules[:10]
				}
			}
			mr.Figures = Compared[ModelFigures]{Published: *p.published.models[id], Draft: *p.draft.models[id]}
			mr.Histogram = histogram(p.published.scores[id], p.draft.scores[id])
			mr.BandChanges = bandChanges(p.published, p.draft, id)
			p.report.Models = append(p.report.Models, mr)
		case d.Flow != nil:
			p.report.Flows = append(p.report.Flows, FlowReport{ID: id, PublishedVersion: p.versions[id],
				Figures: Compared[FlowFigures]{Published: *p.published.flows[id], Draft: *p.draft.flows[id]}})
		case d.Segment != nil:
			p.report.Segments = append(p.report.Segments, SegmentReport{ID: id, PublishedVersion: p.versions[id],
				Figures: Compared[SegmentFigures]{Published: *p.published.segs[id], Draft: *p.draft.segs[id]}})
		}
	}
	if p.report.Models == nil {
		p.report.Models = []ModelReport{}
	}
	if p.report.Flows == nil {
		p.report.Flows = []FlowReport{}
	}
	if p.report.Segments == nil {
		p.report.Segments = []SegmentReport{}
	}
}

// histogram puts both sides' scores on ten equal buckets over their common
// range (one bucket when every score is the same).
func histogram(pub, draft map[string]float64) []Bucket {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, m := range []map[string]float64{pub, draft} {
		for _, s := range m {
			lo, hi = math.Min(lo, s), math.Max(hi, s)
		}
	}
	if math.IsInf(lo, 1) {
		return []Bucket{}
	}
	n := 10
	if hi == lo {
		n = 1
	}
	width := (hi - lo) / float64(n)
	out := make([]Bucket, n)
	for i := range out {
		out[i].From = flows.RoundPoints(lo + float64(i)*width)
		out[i].To = flows.RoundPoints(lo + float64(i+1)*width)
	}
	if n == 1 {
		out[0].To = hi
	}
	at := func(s float64) int {
		if n == 1 {
			return 0
		}
		return min(int((s-lo)/width), n-1)
	}
	for _, s := range pub {
		out[at(s)].Published++
	}
	for _, s := range draft {
		out[at(s)].Draft++
	}
	return out
}

// bandChanges lists the contacts whose band differs between the sides.
func bandChanges(pub, draft *side, model string) BandChanges {
	out := BandChanges{ByChange: map[string]int{}, Examples: []BandChange{}}
	ids := map[string]bool{}
	for id := range pub.scores[model] {
		ids[id] = true
	}
	for id := range draft.scores[model] {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		from, to := pub.bands[model][id], draft.bands[model][id]
		if from == to {
			continue
		}
		out.Contacts++
		out.ByChange[from+" → "+to]++
		if len(out.Examples) < maxExamples {
			out.Examples = append(out.Examples, BandChange{ContactID: id, From: from, To: to,
				PublishedScore: pub.scores[model][id], DraftScore: draft.scores[model][id]})
		}
	}
	return out
}
