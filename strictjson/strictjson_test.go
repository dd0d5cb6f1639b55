package strictjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every syntax problem has its own words and the line:column a reader
// should look at.
func TestParseSyntaxErrors(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		"\xff":               "syntax error at 1:1: invalid UTF-8 (byte 0xFF); save the text as UTF-8",
		"{\"a\": \"é\xc3\"}": "syntax error at 1:9: invalid UTF-8 (byte 0xC3); save the text as UTF-8",
		`{"kind": flow}`:     `syntax error at 1:10: invalid value flow; put strings in double quotes ("flow"); the only bare words are true, false and null`,
		"{\n  // a flow\n  \"kind\": \"flow\"\n}":               `syntax error at 2:3: comments are not allowed in JSON; remove them (use a "description" field for notes)`,
		"{\"kind\": \"flow\", \"id\": \"f\"\n \"name\": \"F\"}": `syntax error at 2:2: expected ',' or '}' after the value of "id", found '"'; a comma may be missing`,
		`[1 2]`:            `syntax error at 1:4: expected ',' or ']' after an array item, found '2'; a comma may be missing`,
		`{'kind': 'flow'}`: `syntax error at 1:2: field names need double quotes ("), not single quotes`,
		`{"kind": 'flow'}`: `syntax error at 1:10: strings need double quotes ("), not single quotes`,
		"{\"kind\": \"flow\",\n  \"id\": \"f\",\n}": `syntax error at 3:1: trailing comma before '}'; remove it`,
		`[1,]`:                                `syntax error at 1:4: trailing comma before ']'; remove it`,
		"{\"kind\": \"flow\", \"steps\": [\n": `syntax error at 2:1: unexpected end of JSON input where a value was expected; a closing '}', ']' or '"' may be missing`,
		`{"type": "x", "contact_id": "c"`:     `syntax error at 1:32: unexpected end of JSON input inside an object; a closing '}', ']' or '"' may be missing`,
		`{"a": "x`:                            `syntax error at 1:9: unexpected end of JSON input inside a string; a closing '"' may be missing`,
		`{"a": 01}`:                           "syntax error at 1:7: numbers must not have leading zeros",
		`{"a": -}`:                            "syntax error at 1:7: invalid number; a '-' must be followed by digits",
		`{"a": 1.}`:                           "syntax error at 1:9: invalid number; a '.' must be followed by digits",
		`{"a": 1e}`:                           "syntax error at 1:9: invalid number; an exponent needs digits",
		`{"a": "x\q"}`:                        `syntax error at 1:10: invalid escape \q in a string; valid escapes are \" \\ \/ \b \f \n \r \t \uXXXX`,
		`{"a": "\u12"}`:                       `syntax error at 1:10: invalid \u escape; write four hex digits (\u00e9)`,
		"{\"a\": \"x\ny\"}":                   `syntax error at 1:9: line break inside a string; close the string with '"' or write \n`,
		"[\"\x01\"]":                          `syntax error at 1:3: control character inside a string; escape it (\t, \n or \u00XX)`,
		`{"a" 1}`:                             `syntax error at 1:6: expected ':' after field name "a", found '1'`,
		`{a: 1}`:                              `syntax error at 1:2: field names need double quotes: write "name": value`,
		`{"a": truex}`:                        `syntax error at 1:7: invalid value truex; put strings in double quotes ("truex"); the only bare words are true, false and null`,
		`{"a": 12abc}`:                        `syntax error at 1:7: invalid value 12abc; put strings in double quotes ("12abc")`,
		`{"a": }`:                             `syntax error at 1:7: unexpected '}' where a value was expected; give the value of "a"`,
		`{"a": 1]`:                            `syntax error at 1:8: expected ',' or '}' after the value of "a", found ']'`,
		`[1, }`:                               `syntax error at 1:5: unexpected '}' where a value was expected; close the array with ']'`,
		`{,}`:                                 `syntax error at 1:2: unexpected ',' where a field name was expected; remove it`,
		`{"a": NaN}`:                          `syntax error at 1:7: invalid value NaN; put strings in double quotes ("NaN"); the only bare words are true, false and null`,
		`{"a":1} {"b":2}`:                     `syntax error at 1:9: unexpected data after the JSON value; send one value (several go in an array)`,
		"\uFEFF{}":                            `syntax error at 1:1: unexpected character '\ufeff' where a value was expected`,
	} {
		_, err := Parse([]byte(src), Options{})
		var se *SyntaxError
		require.True(t, errors.As(err, &se), "%q: %v", src, err)
		require.Equal(t, want, se.Error(), src)
	}
}

func TestParseEmptyAndTrailing(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(" \n\t"), Options{})
	var se *SyntaxError
	require.True(t, errors.As(err, &se))
	require.True(t, se.Empty)
	require.Equal(t, -1, se.Offset)

	_, err = Parse([]byte(`{"a":1}`+"\n"+`{"b":2}`), Options{})
	require.True(t, errors.As(err, &se))
	require.True(t, se.Trailing)
	require.Equal(t, 2, se.Line)
	require.Equal(t, 1, se.Column)

	// A byte order mark is tolerated where asked for.
	n, err := Parse([]byte("\uFEFF {\"a\": 1}"), Options{AllowBOM: true})
	require.NoError(t, err)
	require.Equal(t, "1", n.Get("a").Text)
}

// The tree keeps member order, exact number literals and repeated names
// (marked), and converts to Go values with exact numbers.
func TestParseTree(t *testing.T) {
	t.Parallel()
	n, err := Parse([]byte(`{"z": [1.50, -2e3, 123456789012345678901234567890, true, null, "é\ud83d\ude00\ud800"], "a": {}, "z": false, "e": []}`), Options{})
	require.NoError(t, err)
	require.Equal(t, Object, n.Kind)
	require.Equal(t, []string{"z", "a", "z", "e"}, []string{n.Members[0].Name, n.Members[1].Name, n.Members[2].Name, n.Members[3].Name})
	require.Equal(t, []bool{false, false, true, false}, []bool{n.Members[0].Repeat, n.Members[1].Repeat, n.Members[2].Repeat, n.Members[3].Repeat})
	items := n.Get("z").Items
	require.Equal(t, "1.50", items[0].Text)
	require.Equal(t, "-2e3", items[1].Text)
	require.Equal(t, "123456789012345678901234567890", items[2].Text, "huge numbers are kept as written")
	require.Equal(t, "é😀\uFFFD", items[5].Text, "a lone surrogate becomes U+FFFD")
	require.Equal(t, map[string]any{
		"z": []any{json.Number("1.50"), json.Number("-2e3"), json.Number("123456789012345678901234567890"), true, nil, "é😀\uFFFD"},
		"a": map[string]any{}, "e": []any{},
	}, n.Value())
	require.Equal(t, "an array", n.Get("e").Kind.String())
	require.NotNil(t, n.Get("e").Items, "an empty array is not null")
	require.Len(t, n.Fields(), 3)
}

// Every duplicate key is reported with its path, nested ones included.
func TestDuplicates(t *testing.T) {
	t.Parallel()
	n, err := Parse([]byte(`{"name": "S", "rule": {"tag": "a", "tag": "b"}, "list": [{"x": 1, "x": 1}], "name": "T", "odd key": {"k": 1, "k": 2}}`), Options{})
	require.NoError(t, err)
	require.Equal(t, []Problem{
		{Path: "rule.tag", Message: `duplicate field "tag"; keep only one`},
		{Path: "list[0].x", Message: `duplicate field "x"; keep only one`},
		{Path: "name", Message: `duplicate field "name"; keep only one`},
		{Path: `["odd key"].k`, Message: `duplicate field "k"; keep only one`},
	}, Duplicates(n, ""))
	require.Empty(t, Duplicates(&Node{Kind: Null}, ""))
}

// Nesting beyond the limit is refused where it goes too deep.
func TestParseDepth(t *testing.T) {
	t.Parallel()
	ok := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	_, err := Parse([]byte(ok), Options{MaxDepth: 40})
	require.NoError(t, err)
	deep := strings.Repeat(`{"a":`, 41) + "1" + strings.Repeat("}", 41)
	_, err = Parse([]byte(deep), Options{MaxDepth: 40})
	require.EqualError(t, err, "syntax error at 1:201: JSON nested deeper than 40 levels; flatten the structure")
	_, err = Parse([]byte(strings.Repeat("[", 100000)), Options{})
	require.EqualError(t, err, "syntax error at 1:501: JSON nested deeper than 500 levels; flatten the structure")
	_, err = Parse([]byte(strings.Repeat("[", 100000)), Options{MaxDepth: 1 << 30})
	require.EqualError(t, err, "syntax error at 1:5001: JSON nested deeper than 5000 levels; flatten the structure")
}

func TestPaths(t *testing.T) {
	t.Parallel()
	p := Field(Index(Field("", "steps"), 2), "on_timeout")
	require.Equal(t, "steps[2].on_timeout", p)
	require.Equal(t, `properties["utm source"]`, Field("properties", "utm source"))
	require.Equal(t, `[""]`, Field("", ""))
	require.Equal(t, "[0].$schema", Field(Index("", 0), "$schema"))
}

// A wrong type deep in a document is found by walking the tree with the
// paths callers report.
func TestWrongTypeAtNestedPath(t *testing.T) {
	t.Parallel()
	n, err := Parse([]byte(`{"steps": [{"type": "wait"}, {"type": 5}]}`), Options{})
	require.NoError(t, err)
	var got []Problem
	for i, s := range n.Get("steps").Items {
		if tn := s.Get("type"); tn.Kind != String {
			got = append(got, Problem{Path: Field(Index("steps", i), "type"), Message: "expected a string, got " + tn.Kind.String()})
		}
	}
	require.Equal(t, []Problem{{Path: "steps[1].type", Message: "expected a string, got a number"}}, got)
}

func TestUnknownFieldSuggests(t *testing.T) {
	t.Parallel()
	allowed := []string{"id", "type", "contact_id", "email", "properties", "timestamp"}
	for name, want := range map[string]string{
		"typ":       `unknown field "typ"; did you mean "type"?`,
		"Type":      `unknown field "Type"; did you mean "type"?`,
		"contactid": `unknown field "contactid"; did you mean "contact_id"?`,
		"timestmap": `unknown field "timestmap"; did you mean "timestamp"?`,
		"xy":        `unknown field "xy"; remove it (allowed fields: id, type, contact_id, email, properties, timestamp)`,
		"colour":    `unknown field "colour"; remove it (allowed fields: id, type, contact_id, email, properties, timestamp)`,
	} {
		require.Equal(t, want, UnknownField(name, allowed), name)
	}
	require.Equal(t, "", Suggest(strings.Repeat("a", 100), allowed))
}
