package definitions_test

import (
	"os"
	"strings"
	"testing"

	"github.com/leadflow/leadflow/definitions"
	"github.com/leadflow/leadflow/flows"
)

// decodeAll decodes every embedded file, failing the test on any error.
func decodeAll(t *testing.T) (names []string, byFile map[string][]flows.Document, all []flows.Document) {
	t.Helper()
	files, err := definitions.Files()
	if err != nil {
		t.Fatal(err)
	}
	names = definitions.Names()
	if len(names) == 0 {
		t.Fatal("no definition files embedded")
	}
	byFile = make(map[string][]flows.Document)
	for _, name := range names {
		docs, errs := flows.Decode(name, files[name])
		for _, e := range errs {
			t.Errorf("decode: %v", e)
		}
		if len(docs) == 0 && len(errs) == 0 {
			t.Errorf("%s: no documents", name)
		}
		byFile[name] = docs
		all = append(all, docs...)
	}
	return names, byFile, all
}

func TestDefinitionsValid(t *testing.T) {
	names, byFile, all := decodeAll(t)
	if t.Failed() {
		t.FailNow()
	}
	catalog := flows.NewCatalog(all)
	for _, name := range names {
		for _, e := range flows.Validate(name, byFile[name], catalog) {
			t.Errorf("validate: %v", e)
		}
	}
}

// TestCheckFiles validates all files in one call, as `leadflow validate
// definitions/` does; it also reports an id defined in two files.
func TestCheckFiles(t *testing.T) {
	files, err := definitions.Files()
	if err != nil {
		t.Fatal(err)
	}
	var srcs []flows.Source
	for _, name := range definitions.Names() {
		srcs = append(srcs, flows.Source{File: name, Data: files[name]})
	}
	r := flows.CheckFiles(srcs, nil)
	for _, e := range r.Errors {
		t.Errorf("%v", e)
	}
	if r.Invalid != 0 || r.Valid != r.Read || r.Read == 0 {
		t.Errorf("read %d documents, %d valid, %d invalid", r.Read, r.Valid, r.Invalid)
	}
}

func TestREADMEListsEveryDocument(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	names, byFile, _ := decodeAll(t)
	for _, name := range names {
		for _, d := range byFile[name] {
			row := "| `" + d.ID() + "` | " + d.Kind() + " | " + name + " |"
			if !strings.Contains(string(readme), row) {
				t.Errorf("README.md has no row starting %q", row)
			}
		}
	}
}
