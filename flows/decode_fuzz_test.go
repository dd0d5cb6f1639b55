package flows

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode, Validate, DecodeAndValidate
// and Canonical: none may panic; DecodeAndValidate (which also validates the
// documents with decode errors, decoded leniently) reports every decode
// error, returns only documents that decoded, and nothing without errors
// that Decode then Validate would reject; and a document that validates must
// survive its canonical form unchanged (decode → canonical → decode →
// canonical is stable).
func FuzzDecode(f *testing.F) {
	inputs, _ := filepath.Glob(filepath.Join("testdata", "*", "*", "input.json"))
	for _, p := range inputs {
		data, err := os.ReadFile(p)
		if err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`[{"kind":"flow"},{"kind":"segment","rule":{"any":[{"not":{}}]}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, derrs := Decode("fuzz.json", data)
		errs := Validate("fuzz.json", docs, nil)
		all, aerrs := DecodeAndValidate("fuzz.json", data, nil)
		if len(all) != len(docs) {
			t.Fatalf("DecodeAndValidate returned %d documents, Decode %d", len(all), len(docs))
		}
		reported := map[Error]bool{}
		for _, e := range aerrs {
			reported[e] = true
		}
		for _, e := range derrs {
			if !reported[e] {
				t.Fatalf("decode error missing from DecodeAndValidate: %s\n%s", e, aerrs)
			}
		}
		if len(aerrs) == 0 && (len(derrs) > 0 || len(errs) > 0) {
			t.Fatalf("DecodeAndValidate found no error; Decode and Validate found:\n%s\n%s", derrs, errs)
		}
		for _, d := range docs {
			c, err := Canonical(d)
			if err != nil {
				continue
			}
			_ = Hash(d)
			if len(errs) > 0 {
				continue
			}
			back, derrs := Decode("canonical.json", c)
			if len(derrs) > 0 || len(back) != 1 {
				t.Fatalf("canonical form does not decode: %v\n%s", derrs, c)
			}
			c2, err := Canonical(back[0])
			if err != nil || string(c2) != string(c) {
				t.Fatalf("canonical form not stable:\n%s\n%s", c, c2)
			}
		}
	})
}
