package flows

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode, Validate and Canonical: none
// may panic, and a document that validates must survive its canonical form
// unchanged (decode → canonical → decode → canonical is stable).
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
		docs, _ := Decode("fuzz.json", data)
		errs := Validate("fuzz.json", docs, nil)
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
