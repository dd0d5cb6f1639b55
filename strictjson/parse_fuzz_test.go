package strictjson

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParse: Parse never panics, agrees with encoding/json on what is one
// well-formed JSON value (for valid UTF-8), and places every syntax error
// inside the text.
//
//	go test ./strictjson -run '^$' -fuzz FuzzParse -fuzztime 20s
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2.5e3, "x\u00e9", true, null]}`, `{"a": 1, "a": 2}`, `[1,]`, `{'a': 1}`,
		`{"a" 1}`, `{"a": 01}`, `// c`, "\"\\ud800\"", `[[[[`, `{"a": "x`, `12abc`, `{"a":1} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Parse(data, Options{MaxDepth: 5000})
		var se *SyntaxError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("Parse returned %T: %v", err, err)
		}
		if se != nil && (se.Offset < -1 || se.Offset > len(data) || se.Message == "") {
			t.Fatalf("syntax error out of the text: %+v (len %d)", se, len(data))
		}
		if !utf8.Valid(data) || se != nil && se.Message == "JSON nested deeper than 5000 levels; flatten the structure" {
			return
		}
		if want := json.Valid(data); want != (err == nil) {
			t.Fatalf("encoding/json says valid=%v, Parse: %v\n%q", want, err, data)
		}
		if n != nil {
			if _, err := json.Marshal(n.Value()); err != nil {
				t.Fatalf("the tree does not marshal: %v", err)
			}
		}
	})
}
