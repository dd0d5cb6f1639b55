package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"

	"github.com/leadflow/leadflow/strictjson"
)

// readRaw reads the body exactly as sent (signatures cover its bytes)
// within the size limit: 413 beyond it.
func (s *server) readRaw(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.cfg.MaxBodyBytes
	tooLarge := &requestError{status: http.StatusRequestEntityTooLarge,
		msg: fmt.Sprintf("request body is larger than %d bytes; send less per request", limit)}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge
	}
	if err != nil {
		return nil, &requestError{status: http.StatusBadRequest, msg: "error reading the request body: " + err.Error()}
	}
	return body, nil
}

// readBody reads the whole request body within the size limit and checks
// it is one well-formed JSON value (strictjson: valid UTF-8, nesting within
// strictjson.DefaultMaxDepth). Errors are *requestError: 413 beyond the
// limit, 400 for empty or malformed bodies (with line, column and offset).
// Repeated keys are left to the route: the definition routes report them
// with the other problems of the documents.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := s.readRaw(w, r)
	if err != nil {
		return nil, err
	}
	if _, err := parseJSON(body, 0); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(body), nil
}

// readIngest reads and parses the body of an ingestion route (see
// parseIngest).
func (s *server) readIngest(w http.ResponseWriter, r *http.Request) (*strictjson.Node, error) {
	body, err := s.readRaw(w, r)
	if err != nil {
		return nil, err
	}
	return parseIngest(body)
}

// parseIngest parses what an ingestion route stores from: one JSON value,
// valid UTF-8 (decoding would otherwise replace invalid bytes, so what is
// stored would not be what was sent), nesting within maxBodyDepth (ignored
// fields included) and no repeated key anywhere (which of two values
// counts is not for the edge to guess). Errors are 400 *requestError.
func parseIngest(body []byte) (*strictjson.Node, error) {
	n, err := parseJSON(body, maxBodyDepth)
	if err != nil {
		return nil, err
	}
	if dups := strictjson.Duplicates(n, ""); len(dups) > 0 {
		var p problems
		for _, d := range dups {
			p.add(d.Path, "%s", d.Message)
		}
		return nil, p.err()
	}
	return n, nil
}

// parseJSON parses a body with strictjson, nested at most maxDepth levels
// (0: strictjson's default); a syntax error is a 400 naming where it is.
func parseJSON(body []byte, maxDepth int) (*strictjson.Node, error) {
	n, err := strictjson.Parse(body, strictjson.Options{MaxDepth: maxDepth})
	var se *strictjson.SyntaxError
	switch {
	case err == nil:
		return n, nil
	case !errors.As(err, &se):
		return nil, err // not reached: Parse returns only syntax errors
	case se.Empty:
		return nil, &requestError{status: http.StatusBadRequest, msg: "the request body is empty; send a JSON value"}
	}
	where := fmt.Sprintf("line %d, column %d (byte offset %d)", se.Line, se.Column, se.Offset)
	return nil, &requestError{
		status:  http.StatusBadRequest,
		msg:     fmt.Sprintf("malformed JSON at %s: %s", where, se.Message),
		details: []detail{{Path: "", Message: fmt.Sprintf("%s at %s", se.Message, where)}},
	}
}

// problems collects the validation problems of a request.
type problems struct {
	list []detail
}

func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, detail{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) empty() bool { return len(p.list) == 0 }

func (p *problems) err() error {
	if p.empty() {
		return nil
	}
	list := p.list
	msg := summarize(list) // counts every problem, shown or not
	if len(list) > maxDetails {
		more := len(list) - maxDetails
		list = append(list[:maxDetails:maxDetails], detail{Message: fmt.Sprintf("%d more problems not shown", more)})
	}
	return &requestError{status: http.StatusBadRequest, msg: msg, details: list}
}

// field appends an object key to a JSON path, index an array index, in
// the style of every message ("batch[3].properties.plan").
var (
	field = strictjson.Field
	index = strictjson.Index
)

// suggest is the shared "did you mean" of the API and the language.
var suggest = strictjson.Suggest

func isNull(n *strictjson.Node) bool { return n == nil || n.Kind == strictjson.Null }

// object reads a JSON object's members by name. A value of another type is
// a problem at path.
func object(n *strictjson.Node, path string, p *problems) (map[string]*strictjson.Node, bool) {
	if n.Kind != strictjson.Object {
		p.add(path, "must be an object, not %s", n.Kind)
		return nil, false
	}
	return n.Fields(), true
}

// strict reports every member of m that is not in allowed as an unknown
// field, suggesting the closest allowed name.
func strict(m map[string]*strictjson.Node, allowed []string, path string, p *problems) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !slices.Contains(allowed, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.add(field(path, k), "%s", strictjson.UnknownField(k, allowed))
	}
}

// str reads an optional string member: absent or null gives ok false.
func str(m map[string]*strictjson.Node, key, path string, p *problems) (string, bool) {
	n := m[key]
	if isNull(n) {
		return "", false
	}
	if n.Kind != strictjson.String {
		p.add(field(path, key), "must be a string, not %s", n.Kind)
		return "", false
	}
	if msg := checkText(n.Text); msg != "" {
		p.add(field(path, key), "%s", msg)
		return "", false
	}
	return n.Text, true
}

// anyObject reads an optional object member with numbers kept exact.
func anyObject(m map[string]*strictjson.Node, key, path string, p *problems) (map[string]any, bool) {
	n := m[key]
	if isNull(n) {
		return nil, false
	}
	if n.Kind != strictjson.Object {
		p.add(field(path, key), "must be an object, not %s", n.Kind)
		return nil, false
	}
	out := n.Value().(map[string]any)
	before := len(p.list)
	checkObject(out, field(path, key), p)
	return out, len(p.list) == before
}

// strList reads an optional array of strings.
func strList(m map[string]*strictjson.Node, key, path string, p *problems) ([]string, bool) {
	n := m[key]
	if isNull(n) {
		return nil, false
	}
	if n.Kind != strictjson.Array {
		p.add(field(path, key), "must be an array of strings, not %s", n.Kind)
		return nil, false
	}
	out := make([]string, 0, len(n.Items))
	ok := true
	for i, it := range n.Items {
		if it.Kind != strictjson.String {
			p.add(index(field(path, key), i), "must be a string, not %s", it.Kind)
			ok = false
			continue
		}
		if msg := checkText(it.Text); msg != "" {
			p.add(index(field(path, key), i), "%s", msg)
			ok = false
			continue
		}
		out = append(out, it.Text)
	}
	return out, ok
}
