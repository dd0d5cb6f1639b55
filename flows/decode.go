package flows

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/leadflow/leadflow/strictjson"
)

// Decode parses a file holding one JSON document or an array of them and
// decodes each by its "kind" (flow, segment or score_model) into the Go
// types, strictly: unknown fields, wrong types, missing required fields,
// duplicate keys and trailing data are errors, each with its JSON path
// (prefixed by "[i]" when the file holds an array), and all of a file's
// errors are reported, not only the first. Decode returns the documents that
// decoded without error, in file order; a document with an error is left
// out. It does not validate (see Validate and DecodeAndValidate).
func Decode(file string, data []byte) ([]Document, Errors) {
	var c collector
	docs, _ := decodeSource(&c, Source{File: file, Data: data}, 0)
	return docs, c.errors()
}

// Source is one named input file for CheckFiles.
type Source struct {
	File string
	Data []byte
}

// decoded is what decoding one source found besides its documents.
type decoded struct {
	count int // documents in the file (1 when it does not parse)
	// checks are the documents to validate, in file order: those that
	// decoded and, decoded leniently, those whose kind is known but that
	// have decode errors (see checked).
	checks []checked
	// lost are the ids of documents that could not be decoded at all (no
	// usable kind): references to them are not reported as dangling. The
	// kind is the suggested one, or "" for any.
	lost []lostDoc
}

// lostDoc is a document whose kind could not be read but whose id could.
type lostDoc struct{ kind, id string }

func decodeSource(c *collector, src Source, source int) ([]Document, decoded) {
	var out decoded
	fileRef := docRef{file: src.File, source: source, set: true}
	root, err := strictjson.Parse(src.Data, strictjson.Options{AllowBOM: true})
	if err != nil {
		c.add(fileRef, nil, nil, syntaxMessage(err))
		out.count = 1
		return nil, out
	}
	var docs []Document
	switch root.Kind {
	case strictjson.Object:
		out.count = 1
		if d, ok := decodeDocument(c, root, fileRef, &out); ok {
			docs = append(docs, d)
		}
	case strictjson.Array:
		if len(root.Items) == 0 {
			c.add(fileRef, nil, nil, `the file holds an empty array; put documents in it ([{"kind": "flow", ...}]) or delete the file`)
			out.count = 1
			return nil, out
		}
		out.count = len(root.Items)
		for i, n := range root.Items {
			ref := fileRef
			ref.index, ref.inArray = i, true
			if n.Kind != strictjson.Object {
				c.add(ref, nil, nil, fmt.Sprintf(`expected a document (an object with "kind"), got %s; put an object here or remove the item`, n.Kind))
				continue
			}
			if d, ok := decodeDocument(c, n, ref, &out); ok {
				docs = append(docs, d)
			}
		}
	default:
		c.add(fileRef, nil, nil, fmt.Sprintf(`expected a document (an object with "kind") or an array of documents, got %s`, root.Kind))
		out.count = 1
	}
	return docs, out
}

// syntaxMessage words a file's syntax error for its author.
func syntaxMessage(err error) string {
	var se *strictjson.SyntaxError
	switch {
	case !errors.As(err, &se):
		return err.Error() // not reached: Parse returns only syntax errors
	case se.Empty:
		return `the file is empty; write a JSON document ({"kind": ...}) or an array of them`
	case se.Trailing:
		return fmt.Sprintf("syntax error at %d:%d: unexpected data after the end of the JSON value; a file holds one document or one array of documents: wrap several in [ ... ] separated by commas", se.Line, se.Column)
	}
	return se.Error()
}

// suggest is the shared "did you mean" of the language and the API.
var suggest = strictjson.Suggest

const kindList = `"flow", "segment" or "score_model"`

var (
	flowType       = reflect.TypeFor[Flow]()
	segmentType    = reflect.TypeFor[Segment]()
	scoreModelType = reflect.TypeFor[ScoreModel]()
	durationType   = reflect.TypeFor[Duration]()
	entryType      = reflect.TypeFor[Entry]()
	stepType       = reflect.TypeFor[Step]()
	triggerType    = reflect.TypeFor[Trigger]()
)

func rootType(kind string) reflect.Type {
	switch kind {
	case KindFlow:
		return flowType
	case KindSegment:
		return segmentType
	case KindScoreModel:
		return scoreModelType
	}
	return nil
}

// decodeDocument decodes one document by its kind. It returns the document
// and true when it decoded without error. A document of a known kind with
// errors is still decoded, leniently (unknown fields dropped, values of the
// wrong type left zero), and added to out.checks with the paths of its
// errors, so that validation can report its other problems too.
func decodeDocument(c *collector, n *strictjson.Node, ref docRef, out *decoded) (Document, bool) {
	before := len(c.probs)
	kn := n.Get("kind")
	switch {
	case kn == nil:
		c.add(ref, nil, jpath{{name: "kind"}}, "is required; use "+kindList)
		out.lose(n, "")
		return Document{}, false
	case kn.Kind != strictjson.String:
		c.add(ref, nil, jpath{{name: "kind"}}, fmt.Sprintf("expected a string, got %s; use %s", kn.Kind, kindList))
		out.lose(n, "")
		return Document{}, false
	}
	kind := kn.Text
	rt := rootType(kind)
	if rt == nil {
		msg := fmt.Sprintf("unknown kind %q; use %s", kind, kindList)
		s := suggest(kind, []string{KindFlow, KindSegment, KindScoreModel})
		if s != "" {
			msg = fmt.Sprintf("unknown kind %q; did you mean %q? The kinds are %s", kind, s, kindList)
		}
		c.add(ref, nil, jpath{{name: "kind"}}, msg)
		out.lose(n, s)
		return Document{}, false
	}
	d := &decoder{c: c, ref: ref, root: rt}
	v := reflect.New(rt)
	d.decodeStruct(n, v.Elem(), nil, true)
	var doc Document
	switch kind {
	case KindFlow:
		doc.Flow = v.Interface().(*Flow)
	case KindSegment:
		doc.Segment = v.Interface().(*Segment)
	case KindScoreModel:
		doc.ScoreModel = v.Interface().(*ScoreModel)
	}
	doc.ref = ref
	normalize(&doc)
	ok := len(c.probs) == before
	chk := checked{Document: doc}
	if !ok {
		chk.derrs = append(d.errs, d.covers...)
		if chk.derrs == nil {
			chk.derrs = []jpath{nil} // not reachable: every error has a path
		}
	}
	out.checks = append(out.checks, chk)
	if !ok {
		return Document{}, false
	}
	return doc, true
}

// lose records the id of a document whose kind could not be read.
func (out *decoded) lose(n *strictjson.Node, kind string) {
	if idn := n.Get("id"); idn != nil && idn.Kind == strictjson.String && idn.Text != "" {
		out.lost = append(out.lost, lostDoc{kind: kind, id: idn.Text})
	}
}

// normalize fills defaults in place: a score_threshold_crossed trigger
// without direction gets "up".
func normalize(d *Document) {
	if d.Flow != nil {
		defaultTrigger(&d.Flow.Trigger)
	}
	if d.ScoreModel != nil {
		for i := range d.ScoreModel.Engagement {
			defaultTrigger(&d.ScoreModel.Engagement[i].On)
		}
	}
}

func defaultTrigger(t *Trigger) {
	if t.Type == TriggerScoreThresholdCrossed && t.Direction == "" {
		t.Direction = "up"
	}
}

// decoder walks a parsed tree against a Go type. On an error it goes on:
// the value at the error's path is left as it is (zero), the rest decoded.
type decoder struct {
	c    *collector
	ref  docRef
	root reflect.Type
	// errs are the paths of the errors reported; covers are further paths
	// whose values the errors put in doubt (the field a misspelt name
	// probably meant). Validation leaves out problems there.
	errs   []jpath
	covers []jpath
}

func (d *decoder) errf(p jpath, format string, args ...any) {
	d.errs = append(d.errs, p)
	d.c.add(d.ref, d.root, p, fmt.Sprintf(format, args...))
}

func (d *decoder) mismatch(p jpath, want string, n *strictjson.Node, hint string) {
	msg := fmt.Sprintf("expected %s, got %s", want, n.Kind)
	if n.Kind == strictjson.String && len(n.Text) <= 40 {
		msg = fmt.Sprintf("expected %s, got a string (%q)", want, n.Text)
	}
	if hint != "" {
		msg += "; " + hint
	}
	d.errf(p, "%s", msg)
}

// decode stores n into v (settable), reporting problems at p.
func (d *decoder) decode(n *strictjson.Node, v reflect.Value, p jpath) {
	t := v.Type()
	switch t {
	case durationType:
		if n.Kind != strictjson.String {
			d.mismatch(p, `a duration string`, n, `write it like "60d" (s, m, h, d or w)`)
			return
		}
		dur, err := ParseDuration(n.Text)
		if err != nil {
			d.errf(p, "%s", err.Error())
			return
		}
		v.Set(reflect.ValueOf(dur))
		return
	case entryType:
		d.decodeEntry(n, v, p)
		return
	}
	switch t.Kind() {
	case reflect.Interface:
		val, ok := d.toAny(n, p)
		if ok && val != nil {
			v.Set(reflect.ValueOf(val))
		}
	case reflect.Pointer:
		if n.Kind == strictjson.Null {
			return
		}
		nv := reflect.New(t.Elem())
		d.decode(n, nv.Elem(), p)
		v.Set(nv)
	case reflect.Slice:
		if n.Kind == strictjson.Null {
			return
		}
		if n.Kind != strictjson.Array {
			d.mismatch(p, "an array", n, "wrap the value in [ ]")
			return
		}
		s := reflect.MakeSlice(t, len(n.Items), len(n.Items))
		for i, e := range n.Items {
			d.decode(e, s.Index(i), p.i(i))
		}
		v.Set(s)
	case reflect.Struct:
		d.decodeStruct(n, v, p, false)
	case reflect.Map:
		if n.Kind == strictjson.Null {
			return
		}
		if n.Kind != strictjson.Object {
			d.mismatch(p, "an object", n, `write it as {"name": "value", ...}`)
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Members))
		for _, mem := range n.Members {
			if d.repeated(mem, p) {
				continue
			}
			e := reflect.New(t.Elem()).Elem()
			d.decode(mem.Value, e, p.f(mem.Name))
			m.SetMapIndex(reflect.ValueOf(mem.Name).Convert(t.Key()), e)
		}
		v.Set(m)
	case reflect.String:
		if n.Kind != strictjson.String {
			hint := "put the value in double quotes"
			if n.Kind == strictjson.Null {
				hint = "give a string or remove the field"
			} else if n.Kind == strictjson.Array || n.Kind == strictjson.Object {
				hint = "give a single string"
			}
			d.mismatch(p, "a string", n, hint)
			return
		}
		v.SetString(n.Text)
	case reflect.Float64:
		if n.Kind != strictjson.Number {
			d.mismatch(p, "a number", n, numberHint(n))
			return
		}
		f, ok := d.float(n, p)
		if ok {
			v.SetFloat(f)
		}
	case reflect.Int:
		if n.Kind != strictjson.Number {
			d.mismatch(p, "a whole number", n, numberHint(n))
			return
		}
		f, ok := d.float(n, p)
		if !ok {
			return
		}
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			d.errf(p, "expected a whole number, got %s; remove the fraction", n.Text)
			return
		}
		v.SetInt(int64(f))
	case reflect.Bool:
		if n.Kind != strictjson.Bool {
			d.mismatch(p, "true or false", n, "write true or false without quotes")
			return
		}
		v.SetBool(n.Bool)
	default:
		d.errf(p, "cannot decode into %s", t) // not reachable with the package's types
	}
}

func numberHint(n *strictjson.Node) string {
	if n.Kind == strictjson.String {
		if _, err := strconv.ParseFloat(strings.TrimSpace(n.Text), 64); err == nil {
			return "write the number without quotes"
		}
	}
	return "write a number such as 10 or -2.5"
}

func (d *decoder) float(n *strictjson.Node, p jpath) (float64, bool) {
	f, err := strconv.ParseFloat(n.Text, 64)
	if err != nil || math.IsInf(f, 0) {
		d.errf(p, "number %s is out of range; use a smaller number", n.Text)
		return 0, false
	}
	return f, true
}

// toAny converts a subtree into a Go JSON value (string, float64, bool,
// nil, []any, map[string]any).
func (d *decoder) toAny(n *strictjson.Node, p jpath) (any, bool) {
	switch n.Kind {
	case strictjson.Null:
		return nil, true
	case strictjson.Bool:
		return n.Bool, true
	case strictjson.String:
		return n.Text, true
	case strictjson.Number:
		return d.float(n, p)
	case strictjson.Array:
		out := make([]any, len(n.Items))
		ok := true
		for i, e := range n.Items {
			var eok bool
			out[i], eok = d.toAny(e, p.i(i))
			ok = ok && eok
		}
		return out, ok
	}
	out := make(map[string]any, len(n.Members))
	ok := true
	for _, m := range n.Members {
		if d.repeated(m, p) {
			ok = false
			continue
		}
		var eok bool
		out[m.Name], eok = d.toAny(m.Value, p.f(m.Name))
		ok = ok && eok
	}
	return out, ok
}

// repeated reports m when an earlier member of its object (at p) has the
// same name: the first one is decoded, the others refused.
func (d *decoder) repeated(m strictjson.Member, p jpath) bool {
	if m.Repeat {
		d.errf(p.f(m.Name), "%s", strictjson.DuplicateField(m.Name))
	}
	return m.Repeat
}

func (d *decoder) decodeEntry(n *strictjson.Node, v reflect.Value, p jpath) {
	switch n.Kind {
	case strictjson.String:
		switch n.Text {
		case EntryOnce, EntryEveryTime:
			v.Set(reflect.ValueOf(Entry{Policy: n.Text}))
		case EntryOncePer:
			d.errf(p, `"once_per" needs a period: write {"once_per": "30d"}`)
		default:
			msg := fmt.Sprintf("unknown entry %q; %s", n.Text, entryHelp)
			if s := suggest(n.Text, []string{EntryOnce, EntryEveryTime}); s != "" {
				msg = fmt.Sprintf("unknown entry %q; did you mean %q? (%s)", n.Text, s, entryHelp)
			}
			d.errf(p, "%s", msg)
		}
	case strictjson.Object:
		var e Entry
		seen := false
		for _, m := range n.Members {
			if d.repeated(m, p) {
				continue
			}
			if m.Name != EntryOncePer {
				msg := fmt.Sprintf(`unknown field %q; the entry object takes only "once_per" (e.g. {"once_per": "30d"})`, m.Name)
				d.errf(p.f(m.Name), "%s", msg)
				continue
			}
			seen = true
			e.Policy = EntryOncePer
			d.decode(m.Value, reflect.ValueOf(&e.Period).Elem(), p.f(m.Name))
		}
		if !seen {
			d.errf(p.f(EntryOncePer), `is required; write {"once_per": "30d"}`)
			return
		}
		v.Set(reflect.ValueOf(e))
	default:
		d.mismatch(p, `"once", "every_time" or {"once_per": "30d"}`, n, "")
	}
}

func (d *decoder) decodeStruct(n *strictjson.Node, v reflect.Value, p jpath, isRoot bool) {
	t := v.Type()
	if n.Kind != strictjson.Object {
		hint := "write an object { ... }"
		if n.Kind == strictjson.Null {
			hint = "give an object or remove the field"
		}
		d.mismatch(p, "an object", n, hint)
		return
	}
	seen := map[string]bool{}
	for _, m := range n.Members {
		fp := p.f(m.Name)
		if d.repeated(m, p) {
			continue
		}
		seen[m.Name] = true
		if isRoot && m.Name == "$schema" {
			if m.Value.Kind != strictjson.String {
				d.mismatch(fp, "a string", m.Value, "give the URL or path of the JSON Schema, or remove the field")
			}
			continue
		}
		fi, ok := jsonFieldIndex(t, m.Name)
		if !ok {
			d.unknownField(t, n, fp, m.Name)
			continue
		}
		d.decode(m.Value, v.Field(fi), fp)
	}
	for i := 0; i < t.NumField(); i++ {
		name, optional, ok := jsonName(t.Field(i))
		if !ok || optional || seen[name] {
			continue
		}
		d.errf(p.f(name), "%s", requiredMessage(t, name, t.Field(i).Type))
	}
}

// unknownField reports a field the type does not have, suggesting the
// closest allowed name or listing the allowed ones (for steps and triggers,
// those of the given type).
func (d *decoder) unknownField(t reflect.Type, n *strictjson.Node, p jpath, key string) {
	allowed := fieldNames(t)
	what := "here"
	if tn := n.Get("type"); tn != nil && tn.Kind == strictjson.String {
		switch t {
		case stepType:
			if spec, ok := stepSpecs[tn.Text]; ok {
				allowed = append([]string{"id", "type"}, spec.fieldNames()...)
				what = "on " + article(tn.Text) + " " + tn.Text + " step"
			}
		case triggerType:
			if spec, ok := triggerSpecs[tn.Text]; ok {
				allowed = append([]string{"type"}, spec.fieldNames()...)
				what = "on " + article(tn.Text) + " " + tn.Text + " trigger"
			}
		}
	}
	if s := suggest(key, fieldNames(t)); s != "" {
		d.errf(p, "unknown field %q; did you mean %q?", key, s)
		if n.Get(s) == nil {
			// The value was probably meant for s: what validation would
			// say about s missing is a consequence of this error.
			d.covers = append(d.covers, p[:len(p)-1].f(s))
		}
		return
	}
	d.errf(p, "unknown field %q; remove it (fields allowed %s: %s)", key, what, strings.Join(allowed, ", "))
}

// fieldNames lists a struct type's JSON field names in declaration order.
func fieldNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if name, _, ok := jsonName(t.Field(i)); ok {
			out = append(out, name)
		}
	}
	return out
}

// requiredHints give, per "Type.field", how to fill a missing field.
var requiredHints = map[string]string{
	"Flow.id":                `give the flow an id such as "welcome-series" (lowercase letters, digits, '-' and '_')`,
	"Segment.id":             `give the segment an id such as "hot-leads" (lowercase letters, digits, '-' and '_')`,
	"ScoreModel.id":          `give the score model an id such as "main" (lowercase letters, digits, '-' and '_')`,
	"Flow.name":              `give the flow a human-readable name`,
	"Segment.name":           `give the segment a human-readable name`,
	"ScoreModel.name":        `give the score model a human-readable name`,
	"Flow.trigger":           `say what starts the flow, e.g. "trigger": {"type": "event", "event": "signed_up"}`,
	"Flow.entry":             `use "once", "every_time" or {"once_per": "30d"}`,
	"Flow.steps":             `list the steps, e.g. "steps": [{"id": "tag", "type": "add_tag", "tag": "lead"}]`,
	"Segment.rule":           `give the membership condition, e.g. "rule": {"tag": "customer"}`,
	"Trigger.type":           `use one of ` + strings.Join(triggerTypes, ", "),
	"Step.id":                `give the step an id such as "wait-3d" (lowercase letters, digits, '-' and '_'), unique in the flow`,
	"Step.type":              `use one of ` + strings.Join(stepTypes, ", "),
	"Filter.property":        `name the event property to compare, e.g. "property": "utm.source"`,
	"Filter.op":              `use one of eq, neq, in, not_in, gt, gte, lt, lte, contains, starts_with, ends_with, exists`,
	"Cap.points":             `give the most points per period, e.g. "cap": {"points": 20, "period": "1d"}`,
	"Cap.period":             `give the period, e.g. "cap": {"points": 20, "period": "1d"}`,
	"ScoreCondition.model":   `name the score model, e.g. "score": {"model": "main", "op": "gte", "value": 50}`,
	"ScoreCondition.op":      `use one of eq, neq, gt, gte, lt, lte`,
	"ScoreCondition.value":   `give the number to compare with, e.g. "value": 50`,
	"BandCondition.model":    `name the score model, e.g. "band": {"model": "main", "in": ["hot"]}`,
	"BandCondition.in":       `list the band names, e.g. "in": ["hot"]`,
	"EventsCondition.type":   `name the event type to count, e.g. "type": "email_opened"`,
	"EventsCondition.within": `give the window, e.g. "within": "60d"`,
	"EventsCondition.op":     `use one of eq, neq, gt, gte, lt, lte`,
	"EventsCondition.count":  `give the count to compare with, e.g. "count": 0`,
	"Band.name":              `give the band a name, e.g. "hot"`,
	"Band.min":               `give the lowest score of the band, e.g. "min": 50`,
	"Band.color":             `give the band a colour, e.g. "color": "#e53935" or "red"`,
	"ProfileRule.id":         `give the rule an id, unique in the model`,
	"ProfileRule.when":       `give the condition, e.g. "when": {"field": "job_title", "op": "contains", "value": "Director"}`,
	"ProfileRule.points":     `give the points, e.g. "points": 10 (negative numbers subtract)`,
	"EngagementRule.id":      `give the rule an id, unique in the model`,
	"EngagementRule.on":      `give the event that scores, e.g. "on": {"type": "email_clicked"}`,
	"EngagementRule.points":  `give the points, e.g. "points": 5 (negative numbers subtract)`,
	"Frequency.count":        `give the number of events, e.g. "frequency": {"count": 3, "within": "7d"}`,
	"Threshold.id":           `give the threshold an id, unique in the model`,
	"Threshold.score":        `give the score that fires it, e.g. "score": 50`,
	"Threshold.actions":      `list the action steps to run, e.g. "actions": [{"id": "task", "type": "create_crm_task", "title": "Call {{email}}"}]`,
}

func requiredMessage(t reflect.Type, name string, ft reflect.Type) string {
	if h := requiredHints[t.Name()+"."+name]; h != "" {
		return "is required; " + h
	}
	example := "..."
	switch {
	case ft == durationType:
		example = `"30d"`
	case ft.Kind() == reflect.String:
		example = `"..."`
	case ft.Kind() == reflect.Float64 || ft.Kind() == reflect.Int:
		example = "0"
	case ft.Kind() == reflect.Slice:
		example = "[...]"
	case ft.Kind() == reflect.Struct || ft.Kind() == reflect.Pointer:
		example = "{...}"
	}
	return fmt.Sprintf("is required; add \"%s\": %s", name, example)
}

// article returns "an" before words that start with a vowel, else "a".
func article(w string) string {
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an"
	}
	return "a"
}
