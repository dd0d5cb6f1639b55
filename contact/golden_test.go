package contact_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/leadflow/leadflow/contact"
	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/definitions"
	"github.com/leadflow/leadflow/flows"
)

var update = flag.Bool("update", false, "rewrite the expected.json of the golden cases from what the core does")

// The golden cases: testdata/<case>/ holds definitions.json (documents the
// core is given, decoded with flows.Decode), script.json (the inputs with
// their times) and expected.json (what the contact holds at the end and
// everything that happened to it). The script runs against the core alone,
// in a small world that plays the parts of the store (ledger ids) and of
// Temporal (due timers, run timers, signals): before each step every timer
// due by the step's time fires, in time order (as the engine applies a
// contact's due changes before its events).
func TestGolden(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob("testdata/*/script.json")
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, script := range dirs {
		dir := filepath.Dir(script)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			c := loadCase(t, dir)
			got := c.run(t)
			path := filepath.Join(dir, "expected.json")
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "no expected.json: run go test ./contact/ -run TestGolden -update, then review it by hand")
			require.Equal(t, string(want), string(got), "the core's behaviour differs from %s (if the change is meant, rewrite it with -update and review the diff)", path)
		})
	}
}

// TestGoldenCoversEveryKind fails when a step type, trigger type, condition
// form, entry policy or wait kind of the language has no golden case. (A
// schedule flow with its digest steps is not a contact's: its case shows
// that no event of the contact starts it; the digest itself is tested with
// its workflow.)
func TestGoldenCoversEveryKind(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob("testdata/*/script.json")
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, script := range dirs {
		c := loadCase(t, filepath.Dir(script))
		c.run(t) // collects the run outcomes the world produced
		for _, d := range c.docs {
			switch {
			case d.Flow != nil:
				seen["trigger:"+d.Flow.Trigger.Type] = true
				seen["entry:"+d.Flow.Entry.Policy] = true
				for _, s := range d.Flow.Steps {
					seen["step:"+s.Type] = true
					conditionForms(s.If, seen)
					if s.Type == flows.StepWaitUntil && s.TimeOfDay != "" {
						seen["wait_until:time_of_day"] = true
					}
					if s.Type == flows.StepWaitUntil && s.Field != "" {
						seen["wait_until:field"] = true
					}
				}
			case d.Segment != nil:
				conditionForms(&d.Segment.Rule, seen)
			case d.ScoreModel != nil:
				for _, r := range d.ScoreModel.Profile {
					conditionForms(&r.When, seen)
				}
				for _, r := range d.ScoreModel.Engagement {
					seen["rule-on:"+r.On.Type] = true
				}
				for _, th := range d.ScoreModel.Thresholds {
					for _, a := range th.Actions {
						seen["step:"+a.Type] = true
					}
				}
			}
		}
		for _, o := range c.outcomes {
			seen["outcome:"+string(o)] = true
		}
	}
	var want []string
	for _, s := range flows.StepTypes() {
		want = append(want, "step:"+s)
	}
	for _, s := range flows.TriggerTypes() {
		want = append(want, "trigger:"+s)
	}
	for _, s := range flows.ConditionForms() {
		want = append(want, "condition:"+s)
	}
	want = append(want, "entry:"+flows.EntryOnce, "entry:"+flows.EntryEveryTime, "entry:"+flows.EntryOncePer,
		"wait_until:time_of_day", "wait_until:field",
		"outcome:"+string(contract.OutcomeElapsed), "outcome:"+string(contract.OutcomeTimeout), "outcome:"+string(contract.OutcomeEvent))
	var missing []string
	for _, w := range want {
		if !seen[w] {
			missing = append(missing, w)
		}
	}
	require.Empty(t, missing, "kinds with no golden case in contact/testdata")
}

func conditionForms(c *flows.Condition, seen map[string]bool) {
	if c == nil {
		return
	}
	mark := func(on bool, form string) {
		if on {
			seen["condition:"+form] = true
		}
	}
	mark(len(c.All) > 0, "all")
	mark(len(c.Any) > 0, "any")
	mark(c.Not != nil, "not")
	mark(c.Field != "", "field")
	mark(c.Tag != "", "tag")
	mark(c.Segment != "", "segment")
	mark(c.Score != nil, "score")
	mark(c.Band != nil, "band")
	mark(c.Events != nil, "events")
	for i := range c.All {
		conditionForms(&c.All[i], seen)
	}
	for i := range c.Any {
		conditionForms(&c.Any[i], seen)
	}
	conditionForms(c.Not, seen)
}

// script is a case's script.json.
type script struct {
	// Contact is the contact's id (default "ada").
	Contact string `json:"contact"`
	// Shipped names files of definitions/ the core is given too ("*": all).
	Shipped []string `json:"shipped"`
	// Versions: published versions of documents (default 1).
	Versions map[string]int `json:"versions"`
	Steps    []step         `json:"steps"`
}

// step is one input, at At: an event, the contact's due changes, a run
// resumed by hand, or (Until alone) just letting time pass.
type step struct {
	At     time.Time  `json:"at"`
	Until  *time.Time `json:"until"`
	Event  *event     `json:"event"`
	Due    bool       `json:"due"`
	Resume *resume    `json:"resume"`
}

type event struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	OccurredAt *time.Time     `json:"occurred_at"`
	Properties map[string]any `json:"properties"`
	Email      *string        `json:"email"`
	AccountID  *string        `json:"account_id"`
	Traits     map[string]any `json:"traits"`
	Tags       []string       `json:"tags"`
}

type resume struct {
	Run     string           `json:"run"`
	WaitSeq int              `json:"wait_seq"`
	Outcome contract.Outcome `json:"outcome"`
	EventID string           `json:"event_id"`
}

type goldenCase struct {
	dir      string
	docs     []flows.Document
	script   script
	outcomes []contract.Outcome
}

func loadCase(t *testing.T, dir string) *goldenCase {
	t.Helper()
	c := &goldenCase{dir: dir}
	raw, err := os.ReadFile(filepath.Join(dir, "script.json"))
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&c.script), "%s/script.json", dir)
	if data, err := os.ReadFile(filepath.Join(dir, "definitions.json")); err == nil {
		docs, errs := flows.Decode(filepath.Join(dir, "definitions.json"), data)
		require.Empty(t, errs)
		c.docs = append(c.docs, docs...)
	} else {
		require.NotEmpty(t, c.script.Shipped, "%s has neither definitions.json nor shipped definitions", dir)
	}
	names := c.script.Shipped
	if slices.Equal(names, []string{"*"}) {
		names = definitions.Names()
	}
	for _, name := range names {
		data, err := definitions.FS.ReadFile(name)
		require.NoError(t, err)
		docs, errs := flows.Decode(name, data)
		require.Empty(t, errs)
		c.docs = append(c.docs, docs...)
	}
	require.Empty(t, flows.Validate(dir, c.docs, nil), "the case's definitions must be valid: the core is given only published ones")
	for _, s := range c.script.Steps {
		if s.Resume != nil {
			c.outcomes = append(c.outcomes, s.Resume.Outcome)
		}
	}
	// Outcomes the world produces are collected as it runs (run).
	return c
}

// world plays the store and Temporal around the core.
type world struct {
	t      *testing.T
	cat    *contact.Catalog
	st     *contact.State
	now    time.Time
	c      *goldenCase
	ledger []ledgerOut
	out    expected
}

type ledgerOut struct {
	ID        int64      `json:"id"`
	At        time.Time  `json:"at"`
	Model     string     `json:"model"`
	Points    float64    `json:"points"`
	Kind      string     `json:"kind"`
	Rule      string     `json:"rule,omitempty"`
	Flow      string     `json:"flow,omitempty"`
	Step      string     `json:"step,omitempty"`
	Run       string     `json:"run,omitempty"`
	Event     string     `json:"event,omitempty"`
	Reason    string     `json:"reason"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Expired   bool       `json:"expired,omitempty"`
}

type expected struct {
	Contact        contactOut           `json:"contact"`
	Scores         map[string]scoreOut  `json:"scores"`
	Thresholds     []thresholdOut       `json:"thresholds,omitempty"`
	Segments       map[string]time.Time `json:"segments,omitempty"`
	Entries        map[string]entryOut  `json:"entries,omitempty"`
	Runs           []runOut             `json:"runs,omitempty"`
	FinishedRuns   []runOut             `json:"finished_runs,omitempty"`
	Ledger         []ledgerOut          `json:"ledger"`
	Tasks          []taskOut            `json:"tasks,omitempty"`
	Webhooks       []webhookOut         `json:"webhooks,omitempty"`
	SegmentChanges []segmentOut         `json:"segment_changes,omitempty"`
	AccountTraits  []accountOut         `json:"account_traits,omitempty"`
	Conversions    []conversionOut      `json:"conversions,omitempty"`
	Timeline       []string             `json:"timeline"`
}

type conversionOut struct {
	At           time.Time `json:"at"`
	Model        string    `json:"model"`
	Event        string    `json:"event"`
	EventType    string    `json:"event_type"`
	Value        *float64  `json:"value,omitempty"`
	Score        float64   `json:"score"`
	Band         string    `json:"band,omitempty"`
	LedgerBefore int       `json:"ledger_entries_before"`
}

type accountOut struct {
	Account string         `json:"account"`
	Traits  map[string]any `json:"traits"`
}

type contactOut struct {
	ID                 string         `json:"id"`
	Email              string         `json:"email,omitempty"`
	AccountID          string         `json:"account_id,omitempty"`
	Stage              string         `json:"stage,omitempty"`
	Disqualified       bool           `json:"disqualified,omitempty"`
	DisqualifiedReason string         `json:"disqualified_reason,omitempty"`
	Fields             map[string]any `json:"fields,omitempty"`
	Tags               []string       `json:"tags,omitempty"`
	CreatedAt          time.Time      `json:"created_at"`
	NextDueAt          *time.Time     `json:"next_due_at"`
}

type scoreOut struct {
	Score          float64            `json:"score"`
	Profile        float64            `json:"profile"`
	Engagement     float64            `json:"engagement"`
	EngagementAsOf time.Time          `json:"engagement_as_of"`
	Band           string             `json:"band,omitempty"`
	BandColor      string             `json:"band_color,omitempty"`
	ProfileRules   map[string]float64 `json:"profile_rules,omitempty"`
}

type runOut struct {
	ID             string             `json:"id"`
	Flow           string             `json:"flow"`
	Version        int                `json:"version"`
	Status         contract.RunStatus `json:"status"`
	Step           string             `json:"step"`
	WaitSeq        int                `json:"wait_seq,omitempty"`
	SignalledSeq   int                `json:"signalled_seq,omitempty"`
	WaitKind       contract.WaitKind  `json:"wait_kind,omitempty"`
	WaitEvent      string             `json:"wait_event,omitempty"`
	WaitUntil      *time.Time         `json:"wait_until,omitempty"`
	TriggerEventID string             `json:"trigger_event"`
	StepsExecuted  int                `json:"steps_executed"`
	StartedAt      time.Time          `json:"started_at"`
	FinishedAt     *time.Time         `json:"finished_at,omitempty"`
}

func toRunOut(r contact.Run) runOut {
	return runOut{ID: r.ID, Flow: r.FlowID, Version: r.FlowVersion, Status: r.Status, Step: r.StepID, WaitSeq: r.WaitSeq,
		SignalledSeq: r.SignalledSeq, WaitKind: r.WaitKind, WaitEvent: r.WaitEvent, WaitUntil: r.WaitUntil,
		TriggerEventID: r.TriggerEventID, StepsExecuted: r.StepsExecuted, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
}

type thresholdOut struct {
	Model     string `json:"model"`
	Threshold string `json:"threshold"`
	Armed     bool   `json:"armed"`
	Crossings int    `json:"crossings"`
}

type entryOut struct {
	Entries       int       `json:"entries"`
	LastEnteredAt time.Time `json:"last_entered_at"`
}

type taskOut struct {
	At          time.Time  `json:"at"`
	Title       string     `json:"title"`
	Description string     `json:"description,omitempty"`
	Assignee    string     `json:"assignee,omitempty"`
	DueAt       *time.Time `json:"due_at,omitempty"`
	Reason      string     `json:"reason"`
	Model       string     `json:"model,omitempty"`
	Threshold   string     `json:"threshold,omitempty"`
	Crossing    int        `json:"crossing,omitempty"`
	Flow        string     `json:"flow,omitempty"`
	Step        string     `json:"step"`
	Run         string     `json:"run,omitempty"`
}

type webhookOut struct {
	At      time.Time         `json:"at"`
	URL     string            `json:"url"`
	Body    json.RawMessage   `json:"body"`
	Headers map[string]string `json:"headers,omitempty"`
}

type segmentOut struct {
	At      time.Time `json:"at"`
	Segment string    `json:"segment"`
	Change  string    `json:"change"`
}

func (c *goldenCase) run(t *testing.T) []byte {
	t.Helper()
	var published []contact.Published
	for _, d := range c.docs {
		v := c.script.Versions[d.ID()]
		if v == 0 {
			v = 1
		}
		published = append(published, contact.Published{Doc: d, Version: v})
	}
	id := c.script.Contact
	if id == "" {
		id = "ada"
	}
	w := &world{t: t, cat: contact.NewCatalog(published), st: contact.NewState(id), c: c}
	for _, s := range c.script.Steps {
		switch {
		case s.Until != nil:
			w.advance(*s.Until)
		case s.Event != nil:
			w.advance(s.At)
			ev := contact.Event{ID: s.Event.ID, Type: s.Event.Type, OccurredAt: s.At, Properties: s.Event.Properties,
				Email: s.Event.Email, AccountID: s.Event.AccountID, Traits: s.Event.Traits, Tags: s.Event.Tags}
			if s.Event.OccurredAt != nil {
				ev.OccurredAt = *s.Event.OccurredAt
			}
			w.apply(s.At, ev, fmt.Sprintf("event %s (%s)", ev.ID, ev.Type))
		case s.Due:
			w.advance(s.At)
			w.apply(s.At, contact.Due{}, "due (by hand)")
		case s.Resume != nil:
			w.advance(s.At)
			seq := s.Resume.WaitSeq
			if r := w.st.Runs[s.Resume.Run]; seq == 0 && r != nil {
				seq = r.WaitSeq
			}
			w.apply(s.At, contact.Resume{RunID: s.Resume.Run, WaitSeq: seq, Outcome: s.Resume.Outcome, EventID: s.Resume.EventID},
				fmt.Sprintf("resume %s (%s, by hand)", s.Resume.Run, s.Resume.Outcome))
		default:
			t.Fatalf("%s: a step needs until, event, due or resume", c.dir)
		}
	}
	return w.result()
}

// advance fires, in time order, every timer due by until: the contact's
// due time and its runs' waits.
func (w *world) advance(until time.Time) {
	for i := 0; ; i++ {
		require.Less(w.t, i, 100_000, "timers keep firing: a loop?")
		at, what := w.nextTimer()
		if what == "" || at.After(until) {
			return
		}
		if what == "due" {
			w.apply(at, contact.Due{}, "due")
			continue
		}
		r := w.st.Runs[what]
		outcome := contract.OutcomeElapsed
		if r.WaitKind == contract.WaitEvent {
			outcome = contract.OutcomeTimeout
		}
		w.c.outcomes = append(w.c.outcomes, outcome)
		w.apply(at, contact.Resume{RunID: r.ID, WaitSeq: r.WaitSeq, Outcome: outcome}, fmt.Sprintf("run %s timer (%s)", r.ID, outcome))
	}
}

// nextTimer is the earliest timer: the contact's due time first, then runs
// by id.
func (w *world) nextTimer() (time.Time, string) {
	var at time.Time
	what := ""
	if d := w.st.Contact.NextDueAt; d != nil {
		at, what = *d, "due"
	}
	for _, id := range sortedKeys(w.st.Runs) {
		r := w.st.Runs[id]
		if r.Status != contract.RunWaiting || r.WaitUntil == nil {
			continue
		}
		if what == "" || r.WaitUntil.Before(at) {
			at, what = *r.WaitUntil, id
		}
	}
	return at, what
}

func (w *world) apply(at time.Time, in contact.Input, label string) {
	w.t.Helper()
	require.False(w.t, at.Before(w.now), "%s: time goes back at %s (%s)", w.c.dir, at, label)
	w.now = at
	fx, err := contact.Apply(w.st, w.cat, in, at)
	require.NoError(w.t, err, label)
	w.record(at, label, fx)
	// A signalled run's workflow resumes it at once.
	for _, s := range fx.RunsSignalled {
		w.c.outcomes = append(w.c.outcomes, contract.OutcomeEvent)
		w.apply(at, contact.Resume{RunID: s.RunID, WaitSeq: s.WaitSeq, Outcome: contract.OutcomeEvent, EventID: s.EventID},
			fmt.Sprintf("run %s signalled by %s", s.RunID, s.EventID))
	}
}

// record keeps what an application did, playing the store: ledger entries
// get ids, and the grants the state holds get theirs.
func (w *world) record(at time.Time, label string, fx *contact.Effects) {
	var newIDs []int64
	for _, l := range fx.Ledger {
		id := int64(len(w.ledger) + 1)
		w.ledger = append(w.ledger, ledgerOut{ID: id, At: l.At, Model: l.Model, Points: l.Points, Kind: l.Kind, Rule: l.RuleID,
			Flow: l.FlowID, Step: l.StepID, Run: l.RunID, Event: l.EventID, Reason: l.Reason, ExpiresAt: l.ExpiresAt})
		if l.ExpiresAt != nil {
			newIDs = append(newIDs, id)
		}
	}
	for i := range w.st.ExpiringGrants {
		if g := &w.st.ExpiringGrants[i]; g.LedgerID == 0 {
			require.NotEmpty(w.t, newIDs, "a grant in the state with no ledger entry")
			g.LedgerID, newIDs = newIDs[0], newIDs[1:]
		}
	}
	require.Empty(w.t, newIDs, "ledger entries with an expiry the state does not hold")
	for _, id := range fx.Expired {
		w.ledger[id-1].Expired = true
	}
	for _, tk := range fx.Tasks {
		w.out.Tasks = append(w.out.Tasks, taskOut{At: tk.CreatedAt, Title: tk.Title, Description: tk.Description, Assignee: tk.Assignee,
			DueAt: tk.DueAt, Reason: tk.Reason, Model: tk.Model, Threshold: tk.ThresholdID, Crossing: tk.Crossing,
			Flow: tk.FlowID, Step: tk.StepID, Run: tk.RunID})
	}
	for _, wh := range fx.Webhooks {
		w.out.Webhooks = append(w.out.Webhooks, webhookOut{At: wh.CreatedAt, URL: wh.URL, Body: wh.Body, Headers: wh.Headers})
	}
	for _, s := range fx.Segments {
		change := "exited"
		if s.Entered {
			change = "entered"
		}
		w.out.SegmentChanges = append(w.out.SegmentChanges, segmentOut{At: s.At, Segment: s.SegmentID, Change: change})
	}
	for _, r := range fx.RunsFinished {
		w.out.FinishedRuns = append(w.out.FinishedRuns, toRunOut(r))
	}
	for _, c := range fx.Conversions {
		// ledger_entries_before counts the whole ledger so far, as the
		// store's position does.
		w.out.Conversions = append(w.out.Conversions, conversionOut{At: c.At, Model: c.Model, Event: c.EventID, EventType: c.EventType,
			Value: c.Value, Score: c.Score, Band: c.Band, LedgerBefore: len(w.ledger) - len(fx.Ledger) + c.LedgerBefore})
	}
	for _, a := range fx.AccountTraits {
		w.out.AccountTraits = append(w.out.AccountTraits, accountOut{Account: a.AccountID, Traits: a.Traits})
	}
	// The timeline: one line per input applied, with the scores and bands
	// after it, the events it derived and the contact's next due time.
	line := at.UTC().Format(time.RFC3339) + " " + label + ":"
	for _, m := range sortedKeys(w.st.Scores) {
		sc := w.st.Scores[m]
		line += fmt.Sprintf(" %s=%g", m, sc.Score)
		if sc.Band != "" {
			line += " (" + sc.Band + ", " + sc.BandColor + ")"
		}
	}
	var derived []string
	for _, d := range fx.Derived {
		derived = append(derived, describe(d))
	}
	if len(derived) > 0 {
		line += "; derived " + strings.Join(derived, ", ")
	}
	if fx.NextDue != nil {
		line += "; next due " + fx.NextDue.UTC().Format(time.RFC3339)
	}
	w.out.Timeline = append(w.out.Timeline, line)
}

// describe is a derived event in a few words.
func describe(e flows.Event) string {
	var parts []string
	for _, k := range sortedKeys(e.Properties) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, e.Properties[k]))
	}
	return strings.TrimSpace(e.Type + " " + strings.Join(parts, " "))
}

func (w *world) result() []byte {
	st := w.st
	ct := st.Contact
	w.out.Contact = contactOut{ID: ct.ID, Email: ct.Email, AccountID: ct.AccountID, Stage: ct.Stage, Disqualified: ct.Disqualified,
		DisqualifiedReason: ct.DisqualifiedReason, Fields: ct.Fields, Tags: ct.Tags, CreatedAt: ct.CreatedAt, NextDueAt: ct.NextDueAt}
	if len(w.out.Contact.Fields) == 0 {
		w.out.Contact.Fields = nil
	}
	w.out.Scores = map[string]scoreOut{}
	for m, s := range st.Scores {
		w.out.Scores[m] = scoreOut{Score: s.Score, Profile: s.Profile, Engagement: s.Engagement, EngagementAsOf: s.EngagementAsOf,
			Band: s.Band, BandColor: s.BandColor, ProfileRules: s.ProfileRules}
	}
	for ref, th := range st.Thresholds {
		w.out.Thresholds = append(w.out.Thresholds, thresholdOut{Model: ref.Model, Threshold: ref.ThresholdID, Armed: th.Armed, Crossings: th.Crossings})
	}
	sort.Slice(w.out.Thresholds, func(i, j int) bool {
		a, b := w.out.Thresholds[i], w.out.Thresholds[j]
		return a.Model < b.Model || a.Model == b.Model && a.Threshold < b.Threshold
	})
	if len(st.Segments) > 0 {
		w.out.Segments = st.Segments
	}
	if len(st.Entries) > 0 {
		w.out.Entries = map[string]entryOut{}
		for f, e := range st.Entries {
			w.out.Entries[f] = entryOut{Entries: e.Entries, LastEnteredAt: e.LastEnteredAt}
		}
	}
	for _, id := range sortedKeys(st.Runs) {
		w.out.Runs = append(w.out.Runs, toRunOut(*st.Runs[id]))
	}
	w.out.Ledger = w.ledger
	if w.out.Ledger == nil {
		w.out.Ledger = []ledgerOut{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	require.NoError(w.t, enc.Encode(w.out))
	return b.Bytes()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
