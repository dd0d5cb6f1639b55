package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/leadflow/leadflow/flows"
)

const validateUsage = `Usage:
  leadflow validate PATH...

Checks flow, segment and score_model definition files. Each PATH is a JSON
file or a folder, walked recursively for *.json files (files named
*.schema.json and hidden folders are skipped). All documents of all files
are validated together, so references across files resolve.

Prints each problem as "file: path: message", then a summary line
"N documents read, V valid, I invalid".

Exit status: 0 when everything is valid, 1 when a document is invalid,
2 for a usage error (no path, a path that does not exist, no JSON file).
`

// runValidate implements "leadflow validate PATH...".
func runValidate(args []string, stdout, stderr io.Writer) int {
	var paths []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-h" || a == "--help" || a == "-help":
			fmt.Fprint(stdout, validateUsage)
			return 0
		case a == "--":
			paths = append(paths, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			fmt.Fprintf(stderr, "leadflow validate: unknown flag %s\n\n%s", a, validateUsage)
			return 2
		default:
			paths = append(paths, a)
		}
	}
	if len(paths) == 0 {
		fmt.Fprintf(stderr, "leadflow validate: no path given; name definition files or folders\n\n%s", validateUsage)
		return 2
	}
	files, err := definitionFiles(paths)
	if err != nil {
		fmt.Fprintf(stderr, "leadflow validate: %v\n", err)
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "leadflow validate: no .json files found in %s\n", strings.Join(paths, ", "))
		return 2
	}
	var srcs []flows.Source
	var readErrs flows.Errors
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			readErrs = append(readErrs, flows.Error{File: f, Message: fmt.Sprintf("cannot read the file: %v", unwrapPath(err))})
			continue
		}
		srcs = append(srcs, flows.Source{File: f, Data: data})
	}
	r := flows.CheckFiles(srcs, nil)
	errs := append(readErrs, r.Errors...)
	errs.Sort()
	for _, e := range errs {
		fmt.Fprintln(stdout, e.String())
	}
	read, invalid := r.Read+len(readErrs), r.Invalid+len(readErrs)
	fmt.Fprintf(stdout, "%d %s read, %d valid, %d invalid\n", read, plural(read, "document", "documents"), read-invalid, invalid)
	if invalid > 0 {
		return 1
	}
	return 0
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// unwrapPath drops the path from an *fs.PathError (the file name is printed
// already).
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// definitionFiles expands the paths: files as given, folders walked for
// *.json (not *.schema.json, not inside hidden folders), in lexical order,
// each file once.
func definitionFiles(paths []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", root, unwrapPath(err))
		}
		if !info.IsDir() {
			add(root)
			continue
		}
		var found []string
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				if p != root && strings.HasPrefix(name, ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, ".schema.json") {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		for _, f := range found {
			add(f)
		}
	}
	return out, nil
}
