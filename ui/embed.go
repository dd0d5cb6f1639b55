// Package ui holds the leadflow console: the web pages served at /ui/ by
// the API. The pages are built from the npm project in this folder
// (src/, package.json) into dist/, which is committed and embedded in the
// binary, so running and testing the Go code needs no Node.js.
// check-dist.sh rebuilds dist/ and fails when the committed copy is stale.
//
// This package only carries files; the API (package api) serves them with
// their security headers.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// DistFS returns the built console: index.html at its root.
func DistFS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded: it is always there
	}
	return sub
}
