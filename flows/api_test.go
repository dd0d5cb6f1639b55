package flows

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorFormatting(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a.json: steps[2].on_timeout: bad", Error{File: "a.json", Path: "steps[2].on_timeout", Message: "bad"}.String())
	require.Equal(t, "a.json: bad", Error{File: "a.json", Message: "bad"}.Error())
	require.Equal(t, "id: bad", Error{Path: "id", Message: "bad"}.String())
	es := Errors{{File: "b.json", Message: "2"}, {File: "a.json", Message: "1"}, {File: "b.json", Message: "3"}}
	es.Sort()
	require.Equal(t, "a.json: 1\nb.json: 2\nb.json: 3", es.Error())
	require.NoError(t, Errors(nil).Err())
	var target Errors
	require.True(t, errors.As(es.Err(), &target))

	require.Equal(t, `steps[2].if.all[0]["odd key"]`, jpath{{name: "steps"}, {idx: 2}, {name: "if"}, {name: "all"}, {idx: 0}, {name: "odd key"}}.String())
	require.Equal(t, "[1].trigger", jpath{{idx: 1}, {name: "trigger"}}.String())
	require.Equal(t, jpath{{name: "steps"}, {idx: 10}, {name: "id"}}, parsePath("steps[10].id"))
}

func TestDecodeDetails(t *testing.T) {
	t.Parallel()
	// BOM, escapes, $schema ignored, direction defaulted.
	docs, errs := Decode("t.json", []byte("\uFEFF"+`{"$schema": "s.json", "kind": "flow", "id": "f", "name": "Caf\u00e9 \ud83d\ude00 \"q\"",
		"trigger": {"type": "score_threshold_crossed", "model": "m", "score": 5}, "entry": "once",
		"steps": [{"id": "a", "type": "update_field", "field": "x", "value": {"n": 1.5, "l": [true, null, "s"]}}]}`))
	require.Empty(t, errs)
	require.Len(t, docs, 1)
	f := docs[0].Flow
	require.Equal(t, "Café 😀 \"q\"", f.Name)
	require.Equal(t, "up", f.Trigger.Direction)
	require.Equal(t, map[string]any{"n": 1.5, "l": []any{true, nil, "s"}}, f.Steps[0].Value)
	require.Equal(t, KindFlow, docs[0].Kind())
	require.Equal(t, "f", docs[0].ID())
	require.Equal(t, f.Name, docs[0].Name())

	// Columns count characters; a lone surrogate becomes U+FFFD.
	_, errs = Decode("t.json", []byte("{\"kind\": \"é\" \"x\"}"))
	require.Equal(t, `t.json: syntax error at 1:14: expected ',' or '}' after the value of "kind", found '"'; a comma may be missing`, errs.Error())
	docs, errs = Decode("t.json", []byte(`{"kind": "segment", "id": "s", "name": "\ud800x", "rule": {"tag": "t"}}`))
	require.Empty(t, errs)
	require.Equal(t, "\uFFFDx", docs[0].Segment.Name)

	for src, want := range map[string]string{
		"\xff":                 "t.json: syntax error at 1:1: invalid UTF-8 (byte 0xFF); save the text as UTF-8",
		`{"a": 01}`:            "t.json: syntax error at 1:7: numbers must not have leading zeros",
		`{"a": 1.}`:            "t.json: syntax error at 1:9: invalid number; a '.' must be followed by digits",
		`{"a": "x\q"}`:         `t.json: syntax error at 1:10: invalid escape \q in a string; valid escapes are \" \\ \/ \b \f \n \r \t \uXXXX`,
		"{\"a\": \"x\ny\"}":    `t.json: syntax error at 1:9: line break inside a string; close the string with '"' or write \n`,
		`[1,]`:                 "t.json: syntax error at 1:4: trailing comma before ']'; remove it",
		`{"a" 1}`:              `t.json: syntax error at 1:6: expected ':' after field name "a", found '1'`,
		`{a: 1}`:               `t.json: syntax error at 1:2: field names need double quotes: write "name": value`,
		`{"a": truex}`:         `t.json: syntax error at 1:7: invalid value truex; put strings in double quotes ("truex"); the only bare words are true, false and null`,
		`{"a": 12abc}`:         `t.json: syntax error at 1:7: invalid value 12abc; put strings in double quotes ("12abc")`,
		`{"a": "\u12"}`:        `t.json: syntax error at 1:10: invalid \u escape; write four hex digits (\u00e9)`,
		`[[[[[[[[[[[[[[[[[[[[`: "t.json: syntax error at 1:21: unexpected end of JSON input where a value was expected; a closing '}', ']' or '\"' may be missing",
	} {
		_, errs := Decode("t.json", []byte(src))
		require.Equal(t, want, errs.Error(), src)
	}
}

func TestDecodeKeepsGoodDocuments(t *testing.T) {
	t.Parallel()
	docs, errs := Decode("t.json", []byte(`[
		{"kind": "segment", "id": "a", "name": "A", "rule": {"tag": "x"}},
		{"kind": "segment", "id": "b", "name": "B", "rule": {"tag": 5}},
		{"kind": "segment", "id": "c", "name": "C", "rule": {"tag": "z"}}]`))
	require.Equal(t, `t.json: [1].rule.tag: expected a string, got a number; put the value in double quotes`, errs.Error())
	require.Len(t, docs, 2)
	require.Equal(t, "a", docs[0].ID())
	require.Equal(t, "c", docs[1].ID())
	// Validation keeps each document's position in the file.
	docs[1].Segment.Rule = Condition{}
	require.Equal(t, `t.json: [2].rule: empty condition; set exactly one of all, any, not, field, tag, segment, score, band, events`,
		Validate("ignored.json", docs, nil).Error())
}

func TestValidateHandBuiltAndKnown(t *testing.T) {
	t.Parallel()
	flow := &Flow{Kind: KindFlow, ID: "f", Name: "F", Trigger: Trigger{Type: TriggerSegmentEntered, Segment: "hot"},
		Entry: Entry{Policy: EntryOnce},
		Steps: []Step{{ID: "a", Type: StepLeadScore, Model: "main", Op: ScoreAdd, Points: new(float64)}}}
	errs := Validate("mem", []Document{{Flow: flow}}, nil)
	require.Equal(t, "mem: trigger.segment: unknown segment \"hot\"; define a segment with this id ({\"kind\": \"segment\", \"id\": \"hot\", ...})\n"+
		"mem: steps[0].model: unknown score model \"main\"; define a score model with this id ({\"kind\": \"score_model\", \"id\": \"main\", ...})", errs.Error())

	known := NewCatalog([]Document{
		{Segment: &Segment{Kind: KindSegment, ID: "hot", Name: "Hot", Rule: Condition{Tag: "hot"}}},
		{ScoreModel: &ScoreModel{Kind: KindScoreModel, ID: "main", Name: "Main"}},
	})
	require.Empty(t, Validate("mem", []Document{{Flow: flow}}, known))

	// Several hand-built documents get "[i]" prefixes.
	errs = Validate("mem", []Document{{Flow: flow}, {Segment: &Segment{Kind: KindSegment, ID: "s", Name: "S"}}}, known)
	require.Equal(t, "mem: [1].rule: empty condition; set exactly one of all, any, not, field, tag, segment, score, band, events", errs.Error())

	// A zero entry built in Go.
	bad := *flow
	bad.Entry = Entry{}
	errs = Validate("mem", []Document{{Flow: &bad}}, known)
	require.Equal(t, `mem: entry: is required; use "once", "every_time" or {"once_per": "30d"}`, errs.Error())

	errs = Validate("mem", []Document{{}}, nil)
	require.Equal(t, "mem: empty document; set one of Flow, Segment or ScoreModel", errs.Error())
}

func TestCheckFiles(t *testing.T) {
	t.Parallel()
	r := CheckFiles([]Source{
		{File: "b.json", Data: []byte(`{"kind": "flow", "id": "f", "name": "F", "trigger": {"type": "segment_entered", "segment": "hot"}, "entry": "once",
			"steps": [{"id": "a", "type": "lead_score", "model": "main", "op": "add", "points": 1}, {"id": "c", "type": "condition", "if": {"band": {"model": "main", "in": ["hot"]}}, "then": "end", "else": "end"}]}`)},
		// The segment and the model are broken, but their ids are known:
		// the flow's references to them are not reported again.
		{File: "a.json", Data: []byte(`[{"kind": "segment", "id": "hot", "name": "Hot", "rule": {"tagz": "x"}},
			{"kind": "score_model", "id": "main", "name": "Main", "bands": "none"}]`)},
		{File: "c.json", Data: []byte(`{`)},
		{File: "d.json", Data: []byte(`{"kind": "segment", "id": "ok", "name": "OK", "rule": {"tag": "x"}}`)},
	}, nil)
	require.Equal(t, "a.json: [0].rule.tagz: unknown field \"tagz\"; did you mean \"tag\"?\n"+
		"a.json: [1].bands: expected an array, got a string (\"none\"); wrap the value in [ ]\n"+
		"c.json: syntax error at 1:2: unexpected end of JSON input inside an object; a closing '}', ']' or '\"' may be missing", r.Errors.Error())
	require.Equal(t, 5, r.Read)
	require.Equal(t, 3, r.Invalid)
	require.Equal(t, 2, r.Valid)
	require.Len(t, r.Docs, 2)

	docs, errs := DecodeAndValidate("x.json", []byte(`{"kind": "segment", "id": "s", "name": "S", "rule": {"segment": "t"}}`),
		NewCatalog([]Document{{Segment: &Segment{ID: "t"}}}))
	require.Empty(t, errs)
	require.Len(t, docs, 1)
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	c := &Catalog{}
	require.Nil(t, c.Model("m"))
	c.Add(Document{ScoreModel: &ScoreModel{ID: "m", Name: "1"}}, Document{ScoreModel: &ScoreModel{ID: "m", Name: "2"}},
		Document{Flow: &Flow{ID: "f"}}, Document{Segment: &Segment{ID: "s"}})
	require.Equal(t, "2", c.Model("m").Name)
	require.NotNil(t, c.Segment("s"))
	require.NotNil(t, c.Flows["f"])
	var nilCat *Catalog
	require.Nil(t, nilCat.Model("m"))
	require.Nil(t, nilCat.Segment("s"))
}
