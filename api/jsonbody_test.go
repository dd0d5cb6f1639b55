package api_test

// Request bodies go through the one strict JSON layer (strictjson) shared
// with the flow language: repeated keys are refused on every ingestion
// route with their paths, and malformed JSON is explained where it is.

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEdgeDuplicateKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, rt := range ingestRoutes() {
		good, err := json.Marshal(rt.build(rt.base()))
		require.NoError(t, err)
		// A repeated key at the top and one inside an ignored member.
		body := `{"dup": 1, "x": {"k": [{"y": 1, "y": 2}]}, "dup": 2, ` + string(good[1:])
		r := e.do("POST", rt.path, rt.key, body)
		require.Equal(t, 400, r.code, "%s: %s", rt.name, r.body)
		msg, details := r.errBody(t)
		require.Equal(t, []string{"x.k[0].y", "dup"}, detailPaths(details), rt.name)
		require.Equal(t, `duplicate field "y"; keep only one`, details[0]["message"], rt.name)
		require.Contains(t, msg, "and 1 more problem", rt.name)
	}
	// Inside the values the log stores, with the path of the event.
	r := e.do("POST", "/v1/events", ingestKey, `{"batch": [{"type": "a", "contact_id": "c"},
		{"type": "a", "contact_id": "c", "properties": {"plan": "pro", "plan": "free"}}]}`)
	require.Equal(t, 400, r.code, string(r.body))
	_, details := r.errBody(t)
	require.Equal(t, []string{"batch[1].properties.plan"}, detailPaths(details))
	require.Equal(t, 0, e.count(`SELECT count(*) FROM events`))
}

func TestMalformedJSONExplained(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for body, want := range map[string]string{
		"{\"type\": \"x\",\n \"contact_id\": 'c'}": `malformed JSON at line 2, column 16 (byte offset 29): strings need double quotes ("), not single quotes`,
		`{"type": "x", "contact_id": "c",}`:        `malformed JSON at line 1, column 33 (byte offset 32): trailing comma before '}'; remove it`,
		`{"type": "x" "contact_id": "c"}`:          `malformed JSON at line 1, column 14 (byte offset 13): expected ',' or '}' after the value of "type", found '"'; a comma may be missing`,
		`{type: "x"}`:                              `malformed JSON at line 1, column 2 (byte offset 1): field names need double quotes: write "name": value`,
		`{"type": "x", "contact_id": "c"} // note`: `malformed JSON at line 1, column 34 (byte offset 33): unexpected data after the JSON value; send one value (several go in an array)`,
		`{"type": "x", "properties": {"n": 1e}}`:   `malformed JSON at line 1, column 37 (byte offset 36): invalid number; an exponent needs digits`,
	} {
		r := e.do("POST", "/v1/events", ingestKey, body)
		require.Equal(t, 400, r.code, body)
		msg, details := r.errBody(t)
		require.Equal(t, want+"; nothing of this request was stored", msg, body)
		require.Len(t, details, 1)
	}
	// The definition routes read bodies the same way.
	r := e.do("POST", "/v1/validate", adminKey, `{"kind": flow}`)
	require.Equal(t, 400, r.code, string(r.body))
	msg, _ := r.errBody(t)
	require.True(t, strings.HasPrefix(msg, `malformed JSON at line 1, column 10 (byte offset 9): invalid value flow; put strings in double quotes ("flow")`), msg)
	require.Equal(t, 0, e.count(`SELECT count(*) FROM events`))
}
