package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
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
// it is one well-formed JSON value. Errors are *requestError: 413 beyond the
// limit, 400 for empty or malformed bodies (with line, column and offset).
func (s *server) readBody(w http.ResponseWriter, r *http.Request) (json.RawMessage, error) {
	body, err := s.readRaw(w, r)
	if err != nil {
		return nil, err
	}
	if err := checkJSON(body); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(body), nil
}

// readIngest reads the body of an ingestion route: readBody, plus valid
// UTF-8 (JSON decoding would silently replace invalid bytes, so what is
// stored would not be what was sent) and nesting within maxBodyDepth.
func (s *server) readIngest(w http.ResponseWriter, r *http.Request) (json.RawMessage, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if err := checkIngestBody(body); err != nil {
		return nil, err
	}
	return body, nil
}

// checkIngestBody checks what readIngest checks past readBody: valid UTF-8
// and nesting within maxBodyDepth.
func checkIngestBody(body []byte) error {
	if !utf8.Valid(body) {
		off := 0
		for off < len(body) {
			r, size := utf8.DecodeRune(body[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return malformed(body, off, "invalid UTF-8")
	}
	return checkDepth(body)
}

// checkJSON reports a body that is not exactly one JSON value.
func checkJSON(body []byte) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &requestError{status: http.StatusBadRequest, msg: "the request body is empty; send a JSON value"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	err := dec.Decode(&raw)
	if err == nil {
		// Anything but white space after the value is an error.
		off := dec.InputOffset()
		if rest := bytes.TrimLeft(body[off:], " \t\r\n"); len(rest) > 0 {
			return malformed(body, len(body)-len(rest), "unexpected data after the JSON value")
		}
		return nil
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return malformed(body, int(se.Offset), se.Error())
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return malformed(body, len(body), "unexpected end of JSON input")
	}
	return malformed(body, 0, err.Error())
}

// malformed builds the 400 for a syntax error at a byte offset.
func malformed(body []byte, offset int, msg string) *requestError {
	if offset > len(body) {
		offset = len(body)
	}
	if offset < 0 {
		offset = 0
	}
	line := 1 + bytes.Count(body[:offset], []byte{'\n'})
	col := offset - bytes.LastIndexByte(body[:offset], '\n')
	where := fmt.Sprintf("line %d, column %d (byte offset %d)", line, col, offset)
	return &requestError{
		status:  http.StatusBadRequest,
		msg:     fmt.Sprintf("malformed JSON at %s: %s", where, msg),
		details: []detail{{Path: "", Message: fmt.Sprintf("%s at %s", msg, where)}},
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

// field appends an object key to a JSON path.
func field(path, key string) string {
	if !plainKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// index appends an array index to a JSON path.
func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func plainKey(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// kind names the JSON type of a raw value.
func kind(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func isNull(raw json.RawMessage) bool { return kind(raw) == "null" }

// object splits a JSON object into its members. A value of another type is
// a problem at path.
func object(raw json.RawMessage, path string, p *problems) (map[string]json.RawMessage, bool) {
	if k := kind(raw); k != "an object" {
		p.add(path, "must be an object, not %s", k)
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		p.add(path, "invalid object: %v", err)
		return nil, false
	}
	return m, true
}

// strict reports every member of m that is not in allowed as an unknown
// field, suggesting the closest allowed name.
func strict(m map[string]json.RawMessage, allowed []string, path string, p *problems) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		known := false
		for _, a := range allowed {
			if k == a {
				known = true
				break
			}
		}
		if known {
			continue
		}
		msg := "unknown field"
		if s := suggest(k, allowed); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else {
			msg += "; allowed fields: " + strings.Join(allowed, ", ")
		}
		p.add(field(path, k), "%s", msg)
	}
}

// str reads an optional string member: absent or null gives ok false.
func str(m map[string]json.RawMessage, key, path string, p *problems) (string, bool) {
	raw, present := m[key]
	if !present || isNull(raw) {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.add(field(path, key), "must be a string, not %s", kind(raw))
		return "", false
	}
	if msg := checkText(s); msg != "" {
		p.add(field(path, key), "%s", msg)
		return "", false
	}
	return s, true
}

// anyObject reads an optional object member with numbers kept exact.
func anyObject(m map[string]json.RawMessage, key, path string, p *problems) (map[string]any, bool) {
	raw, present := m[key]
	if !present || isNull(raw) {
		return nil, false
	}
	if k := kind(raw); k != "an object" {
		p.add(field(path, key), "must be an object, not %s", k)
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		p.add(field(path, key), "invalid object: %v", err)
		return nil, false
	}
	before := len(p.list)
	checkObject(out, field(path, key), p)
	return out, len(p.list) == before
}

// strList reads an optional array of strings.
func strList(m map[string]json.RawMessage, key, path string, p *problems) ([]string, bool) {
	raw, present := m[key]
	if !present || isNull(raw) {
		return nil, false
	}
	if k := kind(raw); k != "an array" {
		p.add(field(path, key), "must be an array of strings, not %s", k)
		return nil, false
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		p.add(field(path, key), "invalid array: %v", err)
		return nil, false
	}
	out := make([]string, 0, len(items))
	ok := true
	for i, it := range items {
		var s string
		if err := json.Unmarshal(it, &s); err != nil {
			p.add(index(field(path, key), i), "must be a string, not %s", kind(it))
			ok = false
			continue
		}
		if msg := checkText(s); msg != "" {
			p.add(index(field(path, key), i), "%s", msg)
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

// suggest returns the candidate closest to s when it is close enough.
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), c)
		if d < bestD && d*2 < len([]rune(c)) {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
