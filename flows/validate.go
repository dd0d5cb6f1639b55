package flows

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
)

// Validate checks documents: the struct rules (go-playground/validator
// tags) and the semantic rules of the language — the fields each step and
// trigger type takes, step references, unreachable steps, loops without a
// wait, condition forms, durations, caps, bands, thresholds, decay, and
// references to segments and score models, which must be among docs or in
// known (known may be nil). It reports all problems at once. Documents that
// came from Decode carry their file and position; file names the others
// (whose paths get an "[i]" prefix when docs holds several).
func Validate(file string, docs []Document, known *Catalog) Errors {
	var c collector
	docs = withRefs(file, docs)
	checks := make([]checked, len(docs))
	for i, d := range docs {
		checks[i] = checked{Document: d}
	}
	validateDocs(&c, checks, known, nil)
	return c.errors()
}

// DecodeAndValidate decodes a file and validates its documents (Decode then
// Validate). It returns the documents that decoded — valid or not — and all
// errors; the documents are usable only when there is no error.
//
// Unlike Decode then Validate, it reports all of a file's problems at once:
// documents with decode errors are validated too, decoded leniently, leaving
// out what is a mere consequence of a decode error (see CheckFiles). They are
// never among the documents returned.
func DecodeAndValidate(file string, data []byte, known *Catalog) ([]Document, Errors) {
	r := CheckFiles([]Source{{File: file, Data: data}}, known)
	return r.Docs, r.Errors
}

// Report is the outcome of CheckFiles.
type Report struct {
	// Docs are the documents that decoded, valid or not, in source order.
	Docs []Document
	// Errors are all problems, sorted.
	Errors Errors
	// Read counts documents (a file that does not parse counts as one);
	// Valid and Invalid split them by whether they have an error.
	Read, Valid, Invalid int
}

// CheckFiles decodes several files and validates all their documents
// together, so references across files resolve and duplicate ids across
// files are found. References may also resolve in known (may be nil).
//
// All problems are reported at once: a document with decode errors (unknown
// fields, wrong types, missing fields...) is decoded leniently (unknown
// fields dropped, wrong values left zero) and validated with the others,
// leaving out the problems that are consequences of a decode error: those
// at or inside the path of a decode error, those that depend on a value that
// did not decode (an entry, a step type, the routing of steps, a step id
// others may refer to), and references to documents that failed to decode.
// Only the documents that decoded without error are in Report.Docs.
func CheckFiles(srcs []Source, known *Catalog) Report {
	var c collector
	var r Report
	var checks []checked
	var lost []lostDoc
	for i, src := range srcs {
		docs, dec := decodeSource(&c, src, i)
		r.Docs = append(r.Docs, docs...)
		r.Read += dec.count
		checks = append(checks, dec.checks...)
		lost = append(lost, dec.lost...)
	}
	validateDocs(&c, checks, known, lost)
	bad := map[docKey]bool{}
	for _, p := range c.probs {
		bad[docKey{p.doc.source, p.doc.index}] = true
	}
	r.Invalid = len(bad)
	r.Valid = r.Read - r.Invalid
	r.Errors = c.errors()
	return r
}

// docKey identifies a document among the sources: (source, index).
type docKey struct{ source, index int }

// withRefs gives documents built in Go a position for error paths.
func withRefs(file string, docs []Document) []Document {
	out := make([]Document, len(docs))
	for i, d := range docs {
		if !d.ref.set {
			d.ref = docRef{set: true, file: file, index: i, inArray: len(docs) > 1}
		}
		out[i] = d
	}
	return out
}

var (
	idPattern        = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	timeOfDayPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	structValidator  = newStructValidator()
)

func newStructValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, ok := jsonName(f)
		if !ok {
			return "-"
		}
		return name
	})
	validID := func(fl validator.FieldLevel) bool { return idPattern.MatchString(fl.Field().String()) }
	if err := v.RegisterValidation("docid", validID); err != nil {
		panic(err)
	}
	if err := v.RegisterValidation("stepid", validID); err != nil {
		panic(err)
	}
	return v
}

// checked is a document to validate with the paths of its decode errors:
// none when it decoded cleanly; otherwise it was decoded leniently and the
// problems those errors explain are left out.
type checked struct {
	Document
	derrs []jpath
}

// validation holds the state of one Validate call.
type validation struct {
	c      *collector
	known  *Catalog
	segs   map[string]*Segment    // from docs, first of each id
	models map[string]*ScoreModel // from docs, first of each id
	// Documents with decode errors, first of each id: references to them
	// resolve. A broken model's bands are used only when they decoded.
	brokenSegs   map[string]*Segment
	brokenModels map[string]*ScoreModel
	// unsure[kind] holds the ids of documents of the kind that could not be
	// decoded but whose id is known ("" for documents of unknown kind:
	// any kind); unsureAll[kind] is set when a document of the kind lost its
	// id: a reference to an unknown id may mean it.
	unsure    map[string]map[string]bool
	unsureAll map[string]bool
	// current document
	ref   docRef
	root  reflect.Type
	derrs []jpath // paths of its decode errors
}

func (v *validation) errf(p jpath, format string, args ...any) {
	v.errDeps(p, nil, format, args...)
}

// errDeps reports a problem at p unless it is a consequence of a decode
// error of the document: one at or above p, or at, above or inside one of
// deps (the other fields the problem depends on).
func (v *validation) errDeps(p jpath, deps []jpath, format string, args ...any) {
	if v.covered(p) {
		return
	}
	for _, d := range deps {
		if v.touched(d) {
			return
		}
	}
	v.c.add(v.ref, v.root, p, fmt.Sprintf(format, args...))
}

// covered reports whether a decode error of the current document is at p
// or above it (p is inside a value that did not decode).
func (v *validation) covered(p jpath) bool {
	for _, d := range v.derrs {
		if p.hasPrefix(d) {
			return true
		}
	}
	return false
}

// touched reports whether a decode error of the current document is at,
// above or inside p.
func (v *validation) touched(p jpath) bool {
	for _, d := range v.derrs {
		if p.hasPrefix(d) || d.hasPrefix(p) {
			return true
		}
	}
	return false
}

// touchedIn reports whether a decode error of a document is at, above or
// inside p.
func touchedIn(derrs []jpath, p jpath) bool {
	for _, d := range derrs {
		if p.hasPrefix(d) || d.hasPrefix(p) {
			return true
		}
	}
	return false
}

func validateDocs(c *collector, docs []checked, known *Catalog, lost []lostDoc) {
	v := &validation{c: c, known: known, segs: map[string]*Segment{}, models: map[string]*ScoreModel{},
		brokenSegs: map[string]*Segment{}, brokenModels: map[string]*ScoreModel{},
		unsure: map[string]map[string]bool{}, unsureAll: map[string]bool{}}
	markUnsure := func(kind, id string) {
		if v.unsure[kind] == nil {
			v.unsure[kind] = map[string]bool{}
		}
		v.unsure[kind][id] = true
	}
	for _, l := range lost {
		markUnsure(l.kind, l.id)
	}
	firsts := map[string]map[string]docRef{}
	for _, d := range docs {
		kind, id := d.Kind(), d.ID()
		if kind == "" {
			continue
		}
		if d.derrs != nil {
			if touchedIn(d.derrs, jpath{{name: "id"}}) {
				v.unsureAll[kind] = true
				continue
			}
			markUnsure(kind, id)
			switch kind {
			case KindSegment:
				if _, ok := v.brokenSegs[id]; !ok {
					v.brokenSegs[id] = d.Segment
				}
			case KindScoreModel:
				if _, ok := v.brokenModels[id]; !ok {
					m := d.ScoreModel
					if touchedIn(d.derrs, jpath{{name: "bands"}}) {
						m = nil // known to exist, its bands unknown
					}
					v.brokenModels[id] = m
				}
			}
		}
		if firsts[kind] == nil {
			firsts[kind] = map[string]docRef{}
		}
		if _, dup := firsts[kind][id]; !dup {
			firsts[kind][id] = d.ref
		}
		if d.derrs != nil {
			continue
		}
		switch kind {
		case KindSegment:
			if _, dup := v.segs[id]; !dup {
				v.segs[id] = d.Segment
			}
		case KindScoreModel:
			if _, dup := v.models[id]; !dup {
				v.models[id] = d.ScoreModel
			}
		}
	}
	dupSeen := map[string]map[string]bool{}
	for _, d := range docs {
		kind, id := d.Kind(), d.ID()
		v.ref = d.ref
		v.root = rootType(kind)
		v.derrs = d.derrs
		if kind == "" {
			v.errf(nil, "empty document; set one of Flow, Segment or ScoreModel")
			continue
		}
		if dupSeen[kind] == nil {
			dupSeen[kind] = map[string]bool{}
		}
		if dupSeen[kind][id] && id != "" {
			first := firsts[kind][id]
			where := first.file
			if pre := first.prefix().String(); pre != "" {
				where += " " + pre
			}
			v.errf(jpath{{name: "id"}}, "duplicate %s id %q (also in %s); give each %s a unique id", kindNoun(kind), id, where, kindNoun(kind))
		}
		dupSeen[kind][id] = true
		v.structRules(d.Document)
		switch kind {
		case KindFlow:
			v.flow(d.Flow)
		case KindSegment:
			v.segment(d.Segment)
		case KindScoreModel:
			v.scoreModel(d.ScoreModel)
		}
	}
}

func kindNoun(kind string) string {
	if kind == KindScoreModel {
		return "score model"
	}
	return kind
}

// ---- struct rules (validator tags) ----

func (v *validation) structRules(d Document) {
	var target any
	switch {
	case d.Flow != nil:
		target = d.Flow
	case d.Segment != nil:
		target = d.Segment
	default:
		target = d.ScoreModel
	}
	err := structValidator.Struct(target)
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		if err != nil {
			v.errf(nil, "%s", err.Error())
		}
		return
	}
	for _, fe := range ves {
		ns := fe.Namespace()
		if i := strings.IndexByte(ns, '.'); i >= 0 {
			ns = ns[i+1:]
		} else {
			ns = ""
		}
		p := parsePath(ns)
		parent := typeAt(v.root, p[:max(len(p)-1, 0)])
		if parent == entryType {
			ep := p[:len(p)-1]
			v.errDeps(ep, []jpath{ep}, "is required; %s", entryHelp)
			continue
		}
		v.errf(p, "%s", v.translate(fe, parent))
	}
}

// typeAt returns the Go type at a path inside root (nil when unknown).
func typeAt(root reflect.Type, p jpath) reflect.Type {
	t := root
	for _, s := range p {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t == nil {
			return nil
		}
		if s.name == "" {
			if t.Kind() != reflect.Slice {
				return nil
			}
			t = t.Elem()
			continue
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		fi, ok := jsonFieldIndex(t, s.name)
		if !ok {
			return nil
		}
		t = t.Field(fi).Type
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func (v *validation) translate(fe validator.FieldError, parent reflect.Type) string {
	field := fe.Field()
	pname := ""
	if parent != nil {
		pname = parent.Name()
	}
	switch fe.Tag() {
	case "required":
		if fe.Kind() == reflect.Slice {
			return "must not be empty; " + emptyListHint(pname, field)
		}
		h := requiredHints[pname+"."+field]
		if h == "" {
			h = "give a value"
		}
		return "must not be empty; " + h
	case "min":
		if fe.Kind() == reflect.Slice {
			return "must not be empty; " + emptyListHint(pname, field)
		}
		return fmt.Sprintf("must be at least %s", fe.Param())
	case "max":
		if fe.Kind() == reflect.String {
			return fmt.Sprintf("is too long (%d characters); shorten it to at most %s", len([]rune(fe.Value().(string))), fe.Param())
		}
		return fmt.Sprintf("must be at most %s", fe.Param())
	case "gte":
		switch pname + "." + field {
		case "Frequency.count":
			return fmt.Sprintf(`must be at least 2, got %v: the rule pays on the count-th matching event (e.g. "count": 3); to pay on every event, leave out "frequency"`, fe.Value())
		case "EventsCondition.count":
			return fmt.Sprintf(`must not be negative, got %v; count 0 with op "eq" means "none in the window"`, fe.Value())
		}
		return fmt.Sprintf("must be at least %s, got %v", fe.Param(), fe.Value())
	case "eq":
		return fmt.Sprintf("must be %q", fe.Param())
	case "oneof":
		opts := strings.Fields(fe.Param())
		got := fmt.Sprint(fe.Value())
		noun := oneofNoun(pname, field)
		msg := fmt.Sprintf("unknown %s %q; use one of %s", noun, got, strings.Join(opts, ", "))
		if s := suggest(got, opts); s != "" {
			msg = fmt.Sprintf("unknown %s %q; did you mean %q? (one of %s)", noun, got, s, strings.Join(opts, ", "))
		}
		return msg
	case "docid", "stepid":
		got := fmt.Sprint(fe.Value())
		msg := fmt.Sprintf("%q is not a valid id; use 1 to 64 lowercase letters, digits, '-' or '_', starting with a letter", got)
		if s := slug(got); s != "" && s != got {
			msg += fmt.Sprintf(" (e.g. %q)", s)
		}
		return msg
	}
	return fmt.Sprintf("fails the %q rule", fe.Tag())
}

func emptyListHint(parent, field string) string {
	switch parent + "." + field {
	case "Flow.steps":
		return `a flow needs at least one step, e.g. [{"id": "tag", "type": "add_tag", "tag": "lead"}]`
	case "Threshold.actions":
		return `list at least one action step, e.g. [{"id": "tag", "type": "add_tag", "tag": "hot"}]`
	case "BandCondition.in":
		return `list at least one band name, e.g. ["hot"]`
	}
	return "add at least one item"
}

func oneofNoun(parent, field string) string {
	switch parent + "." + field {
	case "Step.type":
		return "step type"
	case "Trigger.type":
		return "trigger type"
	case "Step.op":
		return "score operation"
	case "Trigger.direction":
		return "direction"
	case "ScoreModel.account_rollup":
		return "account rollup"
	}
	if field == "op" {
		return "operator"
	}
	return field
}

// slug turns a name into a valid id ("Welcome Series" → "welcome-series").
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	out := strings.TrimLeft(b.String(), "0123456789_-")
	if len(out) > 64 {
		out = strings.TrimRight(out[:64], "-_")
	}
	if !idPattern.MatchString(out) {
		return ""
	}
	return out
}

// ---- references ----

// unsureRef reports whether a reference to a document of the kind with
// the id that is not found may be meant for a document that failed to
// decode: then it is not reported.
func (v *validation) unsureRef(kind, id string) bool {
	return v.unsureAll[kind] || v.unsure[kind][id] || v.unsure[""][id]
}

// segmentByID returns the segment with the id: from the documents, from
// known, or (decoded leniently) from the documents with decode errors.
func (v *validation) segmentByID(id string) *Segment {
	if s, ok := v.segs[id]; ok {
		return s
	}
	if s := v.known.Segment(id); s != nil {
		return s
	}
	return v.brokenSegs[id]
}

func (v *validation) modelByID(id string) *ScoreModel {
	if m, ok := v.models[id]; ok {
		return m
	}
	return v.known.Model(id)
}

func (v *validation) segmentIDs() []string {
	set := map[string]bool{}
	for id := range v.segs {
		set[id] = true
	}
	for id := range v.unsure[KindSegment] {
		set[id] = true
	}
	if v.known != nil {
		for id := range v.known.Segments {
			set[id] = true
		}
	}
	return sortedKeys(set)
}

func (v *validation) modelIDs() []string {
	set := map[string]bool{}
	for id := range v.models {
		set[id] = true
	}
	for id := range v.unsure[KindScoreModel] {
		set[id] = true
	}
	if v.known != nil {
		for id := range v.known.Models {
			set[id] = true
		}
	}
	return sortedKeys(set)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func unknownRef(noun, id string, ids []string, define string) string {
	msg := fmt.Sprintf("unknown %s %q", noun, id)
	if s := suggest(id, ids); s != "" {
		return msg + fmt.Sprintf("; did you mean %q?", s)
	}
	if len(ids) == 0 {
		return msg + "; " + define
	}
	if len(ids) > 10 {
		ids = append(ids[:10:10], "…")
	}
	return msg + fmt.Sprintf("; use one of %s, or %s", strings.Join(ids, ", "), define)
}

// refSegment checks that a segment exists; it returns it (nil when missing
// or known only as broken).
func (v *validation) refSegment(id string, p jpath) *Segment {
	if id == "" {
		return nil
	}
	if s := v.segmentByID(id); s != nil {
		return s
	}
	if !v.unsureRef(KindSegment, id) {
		v.errf(p, "%s", unknownRef("segment", id, v.segmentIDs(), `define a segment with this id ({"kind": "segment", "id": "`+id+`", ...})`))
	}
	return nil
}

// refModel checks that a score model exists; it returns it (nil when
// missing, or broken with bands that did not decode).
func (v *validation) refModel(id string, p jpath) *ScoreModel {
	if id == "" {
		return nil
	}
	if m := v.modelByID(id); m != nil {
		return m
	}
	if m, ok := v.brokenModels[id]; ok {
		return m
	}
	if !v.unsureRef(KindScoreModel, id) {
		v.errf(p, "%s", unknownRef("score model", id, v.modelIDs(), `define a score model with this id ({"kind": "score_model", "id": "`+id+`", ...})`))
	}
	return nil
}

// ---- presence of fields by JSON name ----

// present reports whether the field with the JSON name is set in the
// struct (non-zero; slices need an item).
func present(sv reflect.Value, name string) bool {
	fi, ok := jsonFieldIndex(sv.Type(), name)
	if !ok {
		return false
	}
	f := sv.Field(fi)
	switch f.Kind() {
	case reflect.Slice:
		return f.Len() > 0
	case reflect.Interface, reflect.Pointer:
		return !f.IsNil()
	}
	return !f.IsZero()
}

// checkFields reports fields set that the type does not take and required
// fields that are missing. what is e.g. "an add_tag step"; skip names
// fields left to the caller.
func (v *validation) checkFields(sv reflect.Value, p jpath, spec typeSpec, what string, skip ...string) {
	t := sv.Type()
	for i := 0; i < t.NumField(); i++ {
		name, _, ok := jsonName(t.Field(i))
		if !ok || name == "id" || name == "type" || slices.Contains(skip, name) {
			continue
		}
		if present(sv, name) && !spec.has(name) {
			takes := "nothing else"
			if names := spec.fieldNames(); len(names) > 0 {
				takes = strings.Join(names, ", ")
			}
			v.errf(p.f(name), "not allowed on %s; remove it (%s takes %s)", what, what, takes)
		}
	}
	for _, f := range spec.fields {
		if !f.required || slices.Contains(skip, f.name) || present(sv, f.name) {
			continue
		}
		msg := "is required on " + what
		if fi, ok := jsonFieldIndex(t, f.name); ok && t.Field(fi).Type == durationType {
			msg = "is required on " + what + " and must be greater than 0"
		}
		if h := requiredFieldHints[f.name]; h != "" {
			msg += "; " + h
		}
		v.errf(p.f(f.name), "%s", msg)
	}
}

// ---- triggers and filters ----

func (v *validation) trigger(t *Trigger, p jpath, modelID string) {
	spec, ok := triggerSpecs[t.Type]
	if !ok {
		return // the type itself is reported by the struct rules
	}
	what := article(t.Type) + " " + t.Type + " trigger"
	v.checkFields(reflect.ValueOf(t).Elem(), p, spec, what)
	switch t.Type {
	case TriggerSegmentEntered, TriggerSegmentExited:
		v.refSegment(t.Segment, p.f("segment"))
	case TriggerSchedule:
		v.scheduleTrigger(t, p, modelID)
	case TriggerScoreThresholdCrossed:
		if t.Score != nil {
			v.scoreMark(*t.Score, p.f("score"))
		}
		if modelID != "" && t.Model == modelID {
			v.errf(p.f("model"), "a rule of model %q cannot be triggered by its own thresholds (it would feed back into itself); use a threshold action or another model", modelID)
		} else {
			v.refModel(t.Model, p.f("model"))
		}
	}
	v.filters(t.Filters, p.f("filters"))
}

func (v *validation) filters(fs []Filter, p jpath) {
	for i := range fs {
		v.opValue(fs[i].Op, fs[i].Value, p.i(i))
	}
}

// opValue checks that value fits op (for filters and field conditions).
func (v *validation) opValue(op string, value any, p jpath) {
	vp := p.f("value")
	// A value that did not decode (in part) is left out of the checks.
	if v.touched(vp) {
		return
	}
	switch op {
	case OpExists:
		if value != nil {
			v.errf(vp, `"exists" takes no value; remove "value"`)
		}
	case OpIn, OpNotIn:
		arr, ok := value.([]any)
		switch {
		case !ok:
			v.errf(vp, `%q needs an array value, e.g. "value": ["a", "b"]`, op)
		case len(arr) == 0:
			v.errf(vp, `is empty; list at least one value for %q`, op)
		}
	case OpGt, OpGte, OpLt, OpLte:
		switch x := value.(type) {
		case float64:
		case string:
			if _, ok := parseTimeValue(x); !ok {
				v.errf(vp, `%q compares numbers or dates; %q is neither: give a number or an RFC 3339 date such as "2024-01-31" or "2024-01-31T09:00:00Z"`, op, x)
			}
		default:
			v.errf(vp, `%q needs a number or an RFC 3339 date string (e.g. 50 or "2024-01-31")`, op)
		}
	case OpEq, OpNeq:
		if value == nil {
			v.errf(vp, `%q needs a value; give "value" (to test that a property is missing use "exists" inside "not")`, op)
		}
	case OpContains:
		switch value.(type) {
		case string, float64, bool:
		default:
			v.errf(vp, `"contains" needs a string, number or boolean value (a substring, or an element of an array)`)
		}
	case OpStartsWith, OpEndsWith:
		if _, ok := value.(string); !ok {
			v.errf(vp, `%q needs a string value`, op)
		}
	}
}

// ---- flows ----

func (v *validation) flow(f *Flow) {
	v.trigger(&f.Trigger, jpath{{name: "trigger"}}, "")
	v.entry(f.Entry, jpath{{name: "entry"}})
	sp := jpath{{name: "steps"}}
	for i := range f.Steps {
		v.step(&f.Steps[i], sp.i(i), false)
	}
	v.scheduleFlow(f)
	v.graph(f, sp)
}

func (v *validation) entry(e Entry, p jpath) {
	if e.Policy == EntryOncePer && e.Period.Duration <= 0 {
		v.errf(p.f(EntryOncePer), `must be greater than 0, e.g. {"once_per": "30d"}`)
	}
	if e.Policy != EntryOncePer && e.Period.Duration != 0 {
		v.errf(p, `a period goes only with once_per; use {"once_per": "%s"} or drop the period`, e.Period)
	}
}

func (v *validation) step(s *Step, p jpath, inActions bool) {
	spec, ok := stepSpecs[s.Type]
	if !ok {
		return
	}
	what := article(s.Type) + " " + s.Type + " step"
	var skip []string
	if inActions {
		if !slices.Contains(actionStepTypes, s.Type) {
			v.errf(p.f("type"), "%s cannot be a threshold action; use one of %s", what, strings.Join(actionStepTypes, ", "))
			return
		}
		skip = append(skip, "next")
		if s.Next != "" {
			v.errf(p.f("next"), `not allowed in threshold actions (they run in order); remove it`)
		}
	}
	sv := reflect.ValueOf(s).Elem()
	v.checkFields(sv, p, spec, what, skip...)
	if s.ID == EndStep {
		v.errf(p.f("id"), `"end" is reserved for ending the run; choose another id`)
	}
	switch s.Type {
	case StepLeadScore:
		v.refModel(s.Model, p.f("model"))
		if s.Points != nil {
			if s.Op == ScoreSet {
				v.scoreMark(*s.Points, p.f("points"))
			} else {
				v.rulePoints(*s.Points, p.f("points"))
			}
		}
		if s.Points != nil && *s.Points < 0 && (s.Op == ScoreAdd || s.Op == ScoreSubtract) {
			v.errf(p.f("points"), `must not be negative with op %q; use op "%s" with %v points instead`, s.Op, map[string]string{ScoreAdd: ScoreSubtract, ScoreSubtract: ScoreAdd}[s.Op], -*s.Points)
		}
		if s.Cap != nil {
			if s.Op != ScoreAdd && s.Op != "" {
				v.errf(p.f("cap"), `a cap limits points given, so it goes only with op "add"; remove it`)
			}
			v.cap(s.Cap, p.f("cap"))
		}
	case StepCreateCRMTask:
		v.positive(s.DueIn, p.f("due_in"), `e.g. "due_in": "2d"`)
	case StepWebhook:
		v.webhook(s, p)
	case StepDigest:
		v.digest(s, p)
	case StepCondition:
		if s.If != nil {
			v.condition(s.If, p.f("if"), condCtx{})
		}
	case StepWait:
		v.positive(s.Duration, p.f("duration"), `e.g. "duration": "3d"`)
	case StepWaitUntil:
		hasField, hasTime := s.Field != "", s.TimeOfDay != ""
		switch {
		case hasField && hasTime:
			v.errf(p.f("time_of_day"), `a wait_until step takes either "field" or "time_of_day", not both; remove one`)
		case !hasField && !hasTime:
			v.errDeps(p, []jpath{p.f("field"), p.f("time_of_day")}, `a wait_until step needs "field" (a contact date field, e.g. "trial_ends_at") or "time_of_day" (e.g. "09:00")`)
		}
		if hasTime && !timeOfDayPattern.MatchString(s.TimeOfDay) {
			v.errf(p.f("time_of_day"), `%q is not a time of day; write HH:MM in 24-hour form, e.g. "09:00" or "17:30"`, s.TimeOfDay)
		}
		if s.Offset.Duration != 0 && !hasField {
			v.errDeps(p.f("offset"), []jpath{p.f("field")}, `"offset" goes only with "field"; remove it`)
		}
	case StepWaitForEvent:
		v.positive(s.Timeout, p.f("timeout"), `e.g. "timeout": "7d"`)
		v.filters(s.Filters, p.f("filters"))
	}
}

// positive reports a negative duration (zero means absent and is reported
// by the required-field rules where it matters).
func (v *validation) positive(d Duration, p jpath, example string) {
	if d.Duration < 0 {
		v.errf(p, "must be greater than 0; %s", example)
	}
}

func (v *validation) cap(c *Cap, p jpath) {
	if c.Points <= 0 {
		v.errf(p.f("points"), `must be greater than 0 (the most points per period), e.g. "cap": {"points": 20, "period": "1d"}`)
	} else {
		v.capPoints(c.Points, p.f("points"))
	}
	if c.Period.Duration <= 0 {
		v.errf(p.f("period"), `must be greater than 0, e.g. "cap": {"points": 20, "period": "1d"}`)
	}
}

// routingFields lists the fields that say where a step goes, by step type.
func routingFields(stepType string) []string {
	switch stepType {
	case StepCondition:
		return []string{"then", "else"}
	case StepWaitForEvent:
		return []string{"on_event", "on_timeout"}
	case StepExit:
		return nil
	}
	return []string{"next"}
}

// graph checks step ids and references, reachability and loops. In a flow
// with decode errors, a step whose id did not decode may be the one an
// unknown reference means, and a step whose type or routing did not decode
// may go anywhere: the checks such steps make uncertain are left out.
func (v *validation) graph(f *Flow, sp jpath) {
	idUnsure, anyIDUnsure := make([]bool, len(f.Steps)), false
	routeUnsure := make([]bool, len(f.Steps))
	for i := range f.Steps {
		p := sp.i(i)
		idUnsure[i] = v.covered(p.f("id"))
		anyIDUnsure = anyIDUnsure || idUnsure[i]
		routeUnsure[i] = v.covered(p.f("type"))
		for _, name := range routingFields(f.Steps[i].Type) {
			routeUnsure[i] = routeUnsure[i] || v.covered(p.f(name))
		}
	}
	index := map[string]int{}
	for i, s := range f.Steps {
		if s.ID == "" {
			continue
		}
		if j, dup := index[s.ID]; dup {
			v.errf(sp.i(i).f("id"), "duplicate step id %q (also steps[%d]); give each step a unique id", s.ID, j)
			continue
		}
		index[s.ID] = i
	}
	refs := func(i int) []struct{ field, target string } {
		s := &f.Steps[i]
		return []struct{ field, target string }{
			{"next", s.Next}, {"then", s.Then}, {"else", s.Else}, {"on_event", s.OnEvent}, {"on_timeout", s.OnTimeout},
		}
	}
	for i := range f.Steps {
		for _, r := range refs(i) {
			if r.target == "" || r.target == EndStep {
				continue
			}
			if _, ok := index[r.target]; !ok {
				if !anyIDUnsure {
					v.errf(sp.i(i).f(r.field), "unknown step %q; use the id of a step in this flow or \"end\"", r.target)
				}
			} else if r.target == f.Steps[i].ID {
				v.errf(sp.i(i).f(r.field), "step %q refers to itself; point to another step or \"end\" (to repeat, go through a wait step)", r.target)
			}
		}
	}
	edges := make([][]int, len(f.Steps))
	for i := range f.Steps {
		if routeUnsure[i] {
			continue // where it goes is unknown: it closes no loop
		}
		for _, id := range f.successors(i) {
			if j, ok := index[id]; ok && j != i {
				edges[i] = append(edges[i], j)
			}
		}
	}
	if len(f.Steps) == 0 {
		return
	}
	// reachability from the first step
	reached := make([]bool, len(f.Steps))
	queue := []int{0}
	reached[0] = true
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, j := range edges[i] {
			if !reached[j] {
				reached[j] = true
				queue = append(queue, j)
			}
		}
	}
	// A reached step that may go anywhere, or a step that may be the target
	// of an unknown reference, may reach any step.
	unsure := anyIDUnsure
	for i, ok := range reached {
		unsure = unsure || ok && routeUnsure[i]
	}
	for i, ok := range reached {
		if !ok && !unsure && f.Steps[i].ID != "" && index[f.Steps[i].ID] == i {
			v.errf(sp.i(i), "step %q is never reached; refer to it from another step (next, then, else, on_event, on_timeout) or remove it", f.Steps[i].ID)
		}
	}
	// loops without a wait: cycles among the non-wait steps
	for _, cyc := range cyclesWithout(edges, func(i int) bool { return f.Steps[i].IsWait() }) {
		names := make([]string, 0, len(cyc)+1)
		for _, i := range cyc {
			names = append(names, f.Steps[i].ID)
		}
		names = append(names, f.Steps[cyc[0]].ID)
		v.errf(sp.i(cyc[0]), "loop without a wait (%s); add a wait, wait_until or wait_for_event step to the loop, or let it end", strings.Join(names, " → "))
	}
}

// successors lists the step ids (or "end") step i can go to.
func (f *Flow) successors(i int) []string {
	s := &f.Steps[i]
	switch s.Type {
	case StepCondition:
		return []string{s.Then, s.Else}
	case StepWaitForEvent:
		return []string{s.OnEvent, s.OnTimeout}
	case StepExit:
		return nil
	}
	return []string{f.NextOf(i)}
}

// cyclesWithout finds, for each strongly connected component of the graph
// restricted to nodes where skip is false that holds a cycle, one cycle
// starting at its lowest node. Deterministic: nodes are visited in order.
func cyclesWithout(edges [][]int, skip func(int) bool) [][]int {
	n := len(edges)
	index := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	var comps [][]int
	next := 0
	var strong func(u int)
	strong = func(u int) {
		index[u], low[u] = next, next
		next++
		stack = append(stack, u)
		on[u] = true
		for _, w := range edges[u] {
			if skip(w) {
				continue
			}
			if index[w] < 0 {
				strong(w)
				low[u] = min(low[u], low[w])
			} else if on[w] {
				low[u] = min(low[u], index[w])
			}
		}
		if low[u] == index[u] {
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				comp = append(comp, w)
				if w == u {
					break
				}
			}
			if len(comp) > 1 {
				sort.Ints(comp)
				comps = append(comps, comp)
			}
		}
	}
	for u := 0; u < n; u++ {
		if index[u] < 0 && !skip(u) {
			strong(u)
		}
	}
	sort.Slice(comps, func(a, b int) bool { return comps[a][0] < comps[b][0] })
	var out [][]int
	for _, comp := range comps {
		in := map[int]bool{}
		for _, u := range comp {
			in[u] = true
		}
		// walk from the lowest node, always to the lowest unvisited member,
		// until returning to a visited one; then cut the path to the cycle.
		start := comp[0]
		pos := map[int]int{start: 0}
		path := []int{start}
		u := start
		for {
			nextU := -1
			for _, w := range edges[u] {
				if in[w] {
					if _, seen := pos[w]; seen {
						nextU = w
						break
					}
				}
			}
			if nextU >= 0 {
				path = path[pos[nextU]:]
				break
			}
			best := -1
			for _, w := range edges[u] {
				if in[w] && (best < 0 || w < best) {
					best = w
				}
			}
			if best < 0 {
				break // cannot happen inside a component
			}
			pos[best] = len(path)
			path = append(path, best)
			u = best
		}
		out = append(out, path)
	}
	return out
}

// ---- conditions ----

// condCtx says where a condition is: the model whose profile rules hold it
// (its own score and bands are off limits) and the segment whose rule it is.
type condCtx struct {
	model   string
	segment string
}

var conditionForms = []string{"all", "any", "not", "field", "tag", "segment", "score", "band", "events"}

func (v *validation) condition(c *Condition, p jpath, ctx condCtx) {
	cv := reflect.ValueOf(c).Elem()
	var set []string
	for _, form := range conditionForms {
		fi, _ := jsonFieldIndex(cv.Type(), form)
		f := cv.Field(fi)
		if (f.Kind() == reflect.Slice || f.Kind() == reflect.Pointer) && !f.IsNil() || f.Kind() == reflect.String && f.String() != "" {
			set = append(set, form)
		}
	}
	switch {
	case len(set) == 0:
		deps := make([]jpath, len(conditionForms))
		for i, form := range conditionForms {
			deps[i] = p.f(form)
		}
		v.errDeps(p, deps, "empty condition; set exactly one of %s", strings.Join(conditionForms, ", "))
	case len(set) > 1:
		v.errf(p, "sets both %q and %q; a condition has exactly one form: combine them with {\"all\": [...]} or {\"any\": [...]}", set[0], set[1])
	}
	if c.Field == "" {
		fp := []jpath{p.f("field")}
		if c.Op != "" {
			v.errDeps(p.f("op"), fp, `"op" goes with "field"; add "field" or remove "op"`)
		}
		if c.Value != nil {
			v.errDeps(p.f("value"), fp, `"value" goes with "field"; add "field" or remove "value"`)
		}
	}
	if c.All != nil {
		if len(c.All) == 0 {
			v.errf(p.f("all"), "is empty; put at least one condition in it or remove it")
		}
		for i := range c.All {
			v.condition(&c.All[i], p.f("all").i(i), ctx)
		}
	}
	if c.Any != nil {
		if len(c.Any) == 0 {
			v.errf(p.f("any"), "is empty; put at least one condition in it or remove it")
		}
		for i := range c.Any {
			v.condition(&c.Any[i], p.f("any").i(i), ctx)
		}
	}
	if c.Not != nil {
		v.condition(c.Not, p.f("not"), ctx)
	}
	if c.Field != "" {
		if c.Op == "" {
			v.errf(p.f("op"), `is required with "field"; use one of eq, neq, in, not_in, gt, gte, lt, lte, contains, starts_with, ends_with, exists`)
		} else {
			v.opValue(c.Op, c.Value, p)
		}
	}
	if c.Segment != "" {
		if c.Segment == ctx.segment {
			v.errf(p.f("segment"), "segment %q cannot refer to itself; use the conditions of its rule directly", c.Segment)
		} else {
			v.refSegment(c.Segment, p.f("segment"))
		}
	}
	if c.Score != nil {
		v.scoreMark(c.Score.Value, p.f("score").f("value"))
		if c.Score.Model != "" && c.Score.Model == ctx.model {
			v.errf(p.f("score").f("model"), "a profile rule of model %q cannot depend on its own score; use another model or the contact's fields", ctx.model)
		} else {
			v.refModel(c.Score.Model, p.f("score").f("model"))
		}
	}
	if c.Band != nil {
		bp := p.f("band")
		if c.Band.Model != "" && c.Band.Model == ctx.model {
			v.errf(bp.f("model"), "a profile rule of model %q cannot depend on its own bands; use another model or the contact's fields", ctx.model)
		} else if m := v.refModel(c.Band.Model, bp.f("model")); m != nil {
			names := make([]string, len(m.Bands))
			for i, b := range m.Bands {
				names[i] = b.Name
			}
			for i, name := range c.Band.In {
				if slices.Contains(names, name) {
					continue
				}
				if len(names) == 0 {
					v.errf(bp.f("in").i(i), "score model %q has no bands; define bands in it or use a score condition", m.ID)
					continue
				}
				msg := fmt.Sprintf("score model %q has no band %q; use one of %s", m.ID, name, strings.Join(names, ", "))
				if s := suggest(name, names); s != "" {
					msg = fmt.Sprintf("score model %q has no band %q; did you mean %q?", m.ID, name, s)
				}
				v.errf(bp.f("in").i(i), "%s", msg)
			}
		}
	}
	if c.Events != nil {
		ep := p.f("events")
		if c.Events.Within.Duration <= 0 {
			v.errf(ep.f("within"), `must be greater than 0 (the trailing window), e.g. "within": "60d"`)
		}
		v.filters(c.Events.Filters, ep.f("filters"))
	}
}

// parseTimeValue parses an RFC 3339 date-time or date (YYYY-MM-DD, UTC).
func parseTimeValue(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// ---- segments ----

func (v *validation) segment(s *Segment) {
	v.condition(&s.Rule, jpath{{name: "rule"}}, condCtx{segment: s.ID})
	if cyc := v.segmentCycle(s.ID); len(cyc) > 0 {
		v.errf(jpath{{name: "rule"}}, "segment rules refer to each other in a loop (%s); break the loop", strings.Join(cyc, " → "))
	}
}

// segmentCycle returns a loop of segment references through id (longer
// than one segment: self references are reported apart), or nil.
func (v *validation) segmentCycle(id string) []string {
	var path []string
	onPath := map[string]bool{}
	done := map[string]bool{}
	var walk func(cur string) []string
	walk = func(cur string) []string {
		s := v.segmentByID(cur)
		if s == nil {
			return nil
		}
		path = append(path, cur)
		onPath[cur] = true
		for _, ref := range segmentRefs(&s.Rule) {
			if ref == cur {
				continue
			}
			if ref == id && len(path) > 0 {
				return append(slices.Clone(path), id)
			}
			if onPath[ref] || done[ref] {
				continue
			}
			if cyc := walk(ref); cyc != nil {
				return cyc
			}
		}
		path = path[:len(path)-1]
		onPath[cur] = false
		done[cur] = true
		return nil
	}
	return walk(id)
}

// segmentRefs lists the segments a condition refers to, in order.
func segmentRefs(c *Condition) []string {
	var out []string
	var walk func(c *Condition)
	walk = func(c *Condition) {
		if c.Segment != "" {
			out = append(out, c.Segment)
		}
		for i := range c.All {
			walk(&c.All[i])
		}
		for i := range c.Any {
			walk(&c.Any[i])
		}
		if c.Not != nil {
			walk(c.Not)
		}
	}
	walk(c)
	return out
}

// ---- score models ----

func (v *validation) scoreModel(m *ScoreModel) {
	bp := jpath{{name: "bands"}}
	names := map[string]int{}
	for i, b := range m.Bands {
		v.scoreMark(b.Min, bp.i(i).f("min"))
		if i > 0 && b.Min <= m.Bands[i-1].Min {
			v.errDeps(bp.i(i).f("min"), []jpath{bp.i(i - 1).f("min")}, "bands must be in strictly ascending order of min: %s is not above %s (bands[%d]); reorder the bands or fix the min", fmtNum(b.Min), fmtNum(m.Bands[i-1].Min), i-1)
		}
		if b.Name == "" {
			continue
		}
		if j, dup := names[b.Name]; dup {
			v.errf(bp.i(i).f("name"), "duplicate band name %q (also bands[%d]); give each band a unique name", b.Name, j)
			continue
		}
		names[b.Name] = i
	}
	ruleIDs := map[string]string{}
	ruleID := func(id string, p jpath) {
		if id == "" {
			return
		}
		if where, dup := ruleIDs[id]; dup {
			v.errf(p, "duplicate rule id %q (also %s); give each rule of the model a unique id", id, where)
			return
		}
		ruleIDs[id] = p[:len(p)-1].String()
	}
	pp := jpath{{name: "profile"}}
	for i := range m.Profile {
		r := &m.Profile[i]
		ruleID(r.ID, pp.i(i).f("id"))
		v.rulePoints(r.Points, pp.i(i).f("points"))
		v.condition(&r.When, pp.i(i).f("when"), condCtx{model: m.ID})
	}
	ep := jpath{{name: "engagement"}}
	for i := range m.Engagement {
		r := &m.Engagement[i]
		rp := ep.i(i)
		ruleID(r.ID, rp.f("id"))
		v.rulePoints(r.Points, rp.f("points"))
		v.trigger(&r.On, rp.f("on"), m.ID)
		if r.Cap != nil {
			v.cap(r.Cap, rp.f("cap"))
		}
		if r.Frequency != nil && r.Frequency.Within.Duration < 0 {
			v.errf(rp.f("frequency").f("within"), `must not be negative; give the window, e.g. "within": "7d" (or leave it out for any time)`)
		}
	}
	if c := m.Conversion; c != nil {
		cp := jpath{{name: "conversion"}}
		switch {
		case (c.Event == "") == (c.Stage == ""):
			v.errf(cp, `set either "event" (e.g. "deal_won") or "stage" (e.g. "customer"): what converts a contact`)
		case IsDerivedEventType(c.Event):
			v.errf(cp.f("event"), "%q is an event only leadflow raises; name the event your app sends when a deal is won, e.g. \"deal_won\", or use \"stage\"", c.Event)
		case c.Stage != "" && c.ValueProperty != "":
			v.errf(cp.f("value_property"), `only an event conversion carries a value; remove it, or convert on an "event"`)
		}
	}
	if d := m.Decay; d != nil {
		dp := jpath{{name: "decay"}}
		hl, ex := d.HalfLife.Duration, d.ExpireAfter.Duration
		switch {
		case hl != 0 && ex != 0:
			v.errf(dp, `set either "half_life" or "expire_after", not both`)
		case hl == 0 && ex == 0:
			v.errDeps(dp, []jpath{dp.f("half_life"), dp.f("expire_after")}, `set one of "half_life" (e.g. "30d": points halve every 30 days) or "expire_after" (e.g. "90d": points vanish after 90 days)`)
		}
		if hl < 0 {
			v.errf(dp.f("half_life"), `must be greater than 0, e.g. "half_life": "30d"`)
		}
		if ex < 0 {
			v.errf(dp.f("expire_after"), `must be greater than 0, e.g. "expire_after": "90d"`)
		}
	}
	tp := jpath{{name: "thresholds"}}
	thIDs := map[string]int{}
	for i := range m.Thresholds {
		th := &m.Thresholds[i]
		p := tp.i(i)
		if th.ID != "" {
			if j, dup := thIDs[th.ID]; dup {
				v.errf(p.f("id"), "duplicate threshold id %q (also thresholds[%d]); give each threshold a unique id", th.ID, j)
			} else {
				thIDs[th.ID] = i
			}
		}
		v.scoreMark(th.Score, p.f("score"))
		if th.RearmBelow != nil {
			v.scoreMark(*th.RearmBelow, p.f("rearm_below"))
		}
		if th.RearmBelow != nil && *th.RearmBelow >= th.Score {
			v.errDeps(p.f("rearm_below"), []jpath{p.f("score")}, "must be below the threshold's score (%s); the threshold re-arms once the score falls below this mark, e.g. \"rearm_below\": %s", fmtNum(th.Score), fmtNum(th.Score-10))
		}
		ap := p.f("actions")
		actIDs := map[string]int{}
		for k := range th.Actions {
			a := &th.Actions[k]
			if a.ID != "" {
				if j, dup := actIDs[a.ID]; dup {
					v.errf(ap.i(k).f("id"), "duplicate action id %q (also actions[%d]); give each action a unique id", a.ID, j)
				} else {
					actIDs[a.ID] = k
				}
			}
			v.step(a, ap.i(k), true)
		}
	}
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
