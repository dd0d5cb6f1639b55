package flows

import (
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/leadflow/leadflow/strictjson"
)

// Error is one problem found in a definition file: the file, the JSON path
// inside it ("steps[2].on_timeout", "[1].trigger.type" when the file holds an
// array of documents; empty for problems of the whole file) and a message
// that says what is wrong and how to fix it.
type Error struct {
	File    string
	Path    string
	Message string
}

// String formats the error as "file: path: message", leaving out the parts
// that are empty.
func (e Error) String() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Error implements the error interface; it is the same as String.
func (e Error) Error() string { return e.String() }

// Errors is a list of problems, in a deterministic order: by file, then by
// document, then by position in the document.
type Errors []Error

// Error joins the errors, one a line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns es as an error, or nil when es is empty (a nil Errors stored in
// an error interface would not compare equal to nil).
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Sort orders the errors by file name, keeping the order of errors within a
// file (stable).
func (es Errors) Sort() {
	sort.SliceStable(es, func(i, j int) bool { return es[i].File < es[j].File })
}

// seg is one step of a JSON path: a field name, or an array index when
// name is empty.
type seg struct {
	name string
	idx  int
}

// jpath is a JSON path inside one document.
type jpath []seg

// f returns p extended by the field name.
func (p jpath) f(name string) jpath {
	q := make(jpath, len(p), len(p)+1)
	copy(q, p)
	return append(q, seg{name: name})
}

// i returns p extended by an array index.
func (p jpath) i(idx int) jpath {
	q := make(jpath, len(p), len(p)+1)
	copy(q, p)
	return append(q, seg{idx: idx})
}

// hasPrefix reports whether q is p or a path above it (p is inside q).
func (p jpath) hasPrefix(q jpath) bool {
	if len(q) > len(p) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// String renders the path in the style of every message
// ("steps[2].on_timeout"; see strictjson.Field).
func (p jpath) String() string {
	out := ""
	for _, s := range p {
		if s.name == "" {
			out = strictjson.Index(out, s.idx)
		} else {
			out = strictjson.Field(out, s.name)
		}
	}
	return out
}

// parsePath parses the paths validator namespaces produce
// ("steps[2].if.all[0].field").
func parsePath(s string) jpath {
	var p jpath
	for s != "" {
		switch {
		case s[0] == '.':
			s = s[1:]
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return append(p, seg{name: s})
			}
			n, err := strconv.Atoi(s[1:end])
			if err != nil {
				p = append(p, seg{name: s[1:end]})
			} else {
				p = append(p, seg{idx: n})
			}
			s = s[end+1:]
		default:
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			p = append(p, seg{name: s[:end]})
			s = s[end:]
		}
	}
	return p
}

// docRef says where a document came from: its file, its position in the
// list of sources and in the file, and whether the file held an array (then
// paths start with "[index]").
type docRef struct {
	set     bool // false for documents built in Go
	file    string
	source  int
	index   int
	inArray bool
}

func (r docRef) prefix() jpath {
	if r.inArray {
		return jpath{{idx: r.index}}
	}
	return nil
}

// problem is an error before it is rendered: it keeps what sorting needs.
type problem struct {
	doc  docRef
	root reflect.Type // the document's Go type, for ordering paths; may be nil
	path jpath        // inside the document
	msg  string
	seq  int
}

// collector gathers problems in discovery order.
type collector struct {
	probs []problem
}

func (c *collector) add(doc docRef, root reflect.Type, path jpath, msg string) {
	c.probs = append(c.probs, problem{doc: doc, root: root, path: path, msg: msg, seq: len(c.probs)})
}

// errors sorts the problems (file name, source, document, path position in
// the document's type, discovery) and renders them, dropping exact
// duplicates.
func (c *collector) errors() Errors {
	type keyed struct {
		p    problem
		rank []int
	}
	ks := make([]keyed, len(c.probs))
	for i, p := range c.probs {
		ks[i] = keyed{p: p, rank: pathRank(p.root, p.path)}
	}
	sort.SliceStable(ks, func(i, j int) bool {
		a, b := ks[i].p, ks[j].p
		if a.doc.file != b.doc.file {
			return a.doc.file < b.doc.file
		}
		if a.doc.source != b.doc.source {
			return a.doc.source < b.doc.source
		}
		if a.doc.index != b.doc.index {
			return a.doc.index < b.doc.index
		}
		if c := compareRank(ks[i].rank, ks[j].rank); c != 0 {
			return c < 0
		}
		return a.seq < b.seq
	})
	var out Errors
	seen := map[Error]bool{}
	for _, k := range ks {
		full := append(k.p.doc.prefix(), k.p.path...)
		e := Error{File: k.p.doc.file, Path: full.String(), Message: k.p.msg}
		if seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	return out
}

// pathRank turns a path into a sortable key: array indices as they are,
// field names as their declaration position in the Go type (unknown names
// after the known ones).
func pathRank(t reflect.Type, p jpath) []int {
	r := make([]int, 0, len(p))
	for _, s := range p {
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if s.name == "" {
			r = append(r, s.idx)
			if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				t = t.Elem()
			} else {
				t = nil
			}
			continue
		}
		if t == nil || t.Kind() != reflect.Struct {
			r = append(r, 1<<20)
			t = nil
			continue
		}
		fi, ok := jsonFieldIndex(t, s.name)
		if !ok {
			r = append(r, 1<<20)
			t = nil
			continue
		}
		r = append(r, fi)
		t = t.Field(fi).Type
	}
	return r
}

func compareRank(a, b []int) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

// jsonFieldIndex finds the struct field with the given JSON name.
func jsonFieldIndex(t reflect.Type, name string) (int, bool) {
	for i := 0; i < t.NumField(); i++ {
		if n, _, ok := jsonName(t.Field(i)); ok && n == name {
			return i, true
		}
	}
	return 0, false
}

// jsonName returns a field's JSON name and whether the tag makes it
// optional (omitempty or omitzero); ok is false for fields JSON ignores.
func jsonName(f reflect.StructField) (name string, optional bool, ok bool) {
	if !f.IsExported() {
		return "", false, false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false, false
	}
	parts := strings.Split(tag, ",")
	name = parts[0]
	if name == "" {
		name = f.Name
	}
	for _, o := range parts[1:] {
		if o == "omitempty" || o == "omitzero" {
			optional = true
		}
	}
	return name, optional, true
}
