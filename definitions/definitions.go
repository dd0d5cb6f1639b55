// Package definitions holds leadflow's shipped playbooks: the flows,
// segments and score models drawn from the seed articles (the Encharge
// points table, SharpSpring profile/engagement scoring, negative scoring,
// the MQL threshold, dead-end disqualification, the "50 points = prospect"
// web model, a second product's score, NPS tagging and the morning hot
// list), as JSON documents in the flows language.
//
// The files are embedded in the binary; `leadflow dev` publishes them and
// `leadflow validate definitions/` checks them. README.md lists every
// document. This package only carries the files: decoding and validation
// live in package flows.
package definitions

import (
	"embed"
	"io/fs"
	"sort"
)

// FS holds every shipped definition file (*.json) at its root.
//
//go:embed *.json
var FS embed.FS

// Names returns the names of the embedded definition files, sorted.
func Names() []string {
	names, err := fs.Glob(FS, "*.json")
	if err != nil { // only for a malformed pattern
		panic(err)
	}
	sort.Strings(names)
	return names
}

// Files returns the content of every embedded definition file by file name.
// Iterate over Names() for a stable order.
func Files() (map[string][]byte, error) {
	files := make(map[string][]byte)
	for _, name := range Names() {
		data, err := FS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		files[name] = data
	}
	return files, nil
}
