package flows

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Documents with decode errors are validated too (decoded leniently), but
// never returned: callers get only documents that decoded cleanly, and any
// error means nothing is publishable.
func TestDecodeErrorsDoNotHideValidation(t *testing.T) {
	t.Parallel()
	data := []byte(`[
		{"kind": "segment", "id": "ok", "name": "OK", "rule": {"tag": "x"}},
		{"kind": "flow", "id": "f", "name": "F", "colour": "red", "trigger": {"type": "segment_entered", "segment": "ok"},
		 "entry": "once", "steps": [{"id": "a", "type": "add_tag", "tag": "t", "next": "nowhere"}]}]`)

	docs, derrs := Decode("t.json", data)
	require.Equal(t, `t.json: [1].colour: unknown field "colour"; remove it (fields allowed here: kind, id, name, description, trigger, entry, steps)`, derrs.Error())
	require.Len(t, docs, 1)
	require.Equal(t, "ok", docs[0].ID())

	docs, errs := DecodeAndValidate("t.json", data, nil)
	require.Equal(t, `t.json: [1].steps[0].next: unknown step "nowhere"; use the id of a step in this flow or "end"`+"\n"+
		`t.json: [1].colour: unknown field "colour"; remove it (fields allowed here: kind, id, name, description, trigger, entry, steps)`, errs.Error())
	require.Len(t, docs, 1, "the broken flow is not returned")
	require.Equal(t, "ok", docs[0].ID())

	r := CheckFiles([]Source{{File: "t.json", Data: data}}, nil)
	require.Equal(t, 2, r.Read)
	require.Equal(t, 1, r.Invalid)
	require.Equal(t, 1, r.Valid)
	require.Len(t, r.Docs, 1)
}

// Problems that only follow from a decode error are left out; references
// to documents that failed to decode resolve.
func TestDecodeErrorConsequencesLeftOut(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ src, want string }{
		"wrong type, not also required": {
			`{"kind": "flow", "id": "f", "name": "F", "trigger": {"type": "email_opened"}, "entry": "once",
			  "steps": [{"id": "w", "type": "wait", "duration": 5}]}`,
			`t.json: steps[0].duration: expected a duration string, got a number; write it like "60d" (s, m, h, d or w)`,
		},
		"misspelt field, not also missing": {
			`{"kind": "flow", "id": "f", "name": "F", "trigger": {"type": "email_opened"}, "entry": "once",
			  "steps": [{"id": "t", "type": "add_tag", "tagg": "x"}]}`,
			`t.json: steps[0].tagg: unknown field "tagg"; did you mean "tag"?`,
		},
		"step id unknown, references not dangling": {
			`{"kind": "flow", "id": "f", "name": "F", "trigger": {"type": "email_opened"}, "entry": "once",
			  "steps": [{"id": "a", "type": "add_tag", "tag": "x", "next": "c"}, {"id": "b", "type": "exit"}, {"id": ["c"], "type": "exit"}]}`,
			`t.json: steps[2].id: expected a string, got an array; give a single string`,
		},
		"step type unknown, no loop through it": {
			`{"kind": "flow", "id": "f", "name": "F", "trigger": {"type": "email_opened"}, "entry": "once",
			  "steps": [{"id": "a", "type": "add_tag", "tag": "x"}, {"id": "b", "type": 1, "duration": "1d", "next": "a"}]}`,
			`t.json: steps[1].type: expected a string, got a number; put the value in double quotes`,
		},
		"broken segment still known": {
			`[{"kind": "segment", "id": "s", "name": "S", "rule": {"tag": ["x"]}},
			  {"kind": "flow", "id": "f", "name": "F", "trigger": {"type": "segment_exited", "segment": "s"}, "entry": "once", "steps": [{"id": "a", "type": "exit"}]}]`,
			`t.json: [0].rule.tag: expected a string, got an array; give a single string`,
		},
	} {
		_, errs := DecodeAndValidate("t.json", []byte(tc.src), nil)
		require.Equal(t, tc.want, errs.Error(), name)
	}
}
