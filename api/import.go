package api

// POST /v1/contacts/import: contacts in bulk, as CSV (a header line, then
// one contact per record) or NDJSON (one JSON object per line). Every row
// becomes one identify event, exactly what POST /v1/contacts appends, so
// imported contacts are scored and enter flows as if created one by one.
// The event id is derived from the row's content (import:<sha256>): sending
// the same rows again appends nothing (duplicates), which makes an
// interrupted import safe to run again. Rows that fail the checks every
// ingestion route applies are rejected one by one, with their line and the
// reason; the good rows of the request are imported.

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
	"github.com/leadflow/leadflow/strictjson"
)

// importRejection is one row refused by an import, by its line in the file.
type importRejection struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// importResponse answers POST /v1/contacts/import.
type importResponse struct {
	Rows       int               `json:"rows"`
	Accepted   int               `json:"accepted"`
	Duplicates int               `json:"duplicates"`
	Rejected   []importRejection `json:"rejected"`
}

// importMapping says what a column (CSV) or key (NDJSON) becomes.
type importMapping struct {
	// target of a column: "email", "contact_id", "account_id", "tags",
	// "-" (ignored) or "fields.<name>" (a field).
	target map[string]string
	// numbers lists the columns read as numbers (CSV only: NDJSON keeps
	// the JSON types).
	numbers map[string]bool
	// booleans lists the columns read as true/false (CSV only).
	booleans map[string]bool
}

// defaultTarget maps the usual column names.
func defaultTarget(col string) string {
	switch strings.ToLower(strings.TrimSpace(col)) {
	case "email", "e-mail", "email_address":
		return "email"
	case "id", "contact_id", "contact":
		return "contact_id"
	case "account", "account_id":
		return "account_id"
	case "tags", "tag":
		return "tags"
	}
	return "fields." + strings.TrimSpace(col)
}

func (m importMapping) targetOf(col string) string {
	if t, ok := m.target[col]; ok {
		return t
	}
	return defaultTarget(col)
}

// parseImportMapping reads the map and types query parameters:
// map=col=field,col2=email,col3=- and types=col=number,col2=boolean.
func parseImportMapping(mapParam, typesParam string, p *problems) importMapping {
	m := importMapping{target: map[string]string{}, numbers: map[string]bool{}, booleans: map[string]bool{}}
	for _, pair := range splitList(mapParam) {
		col, to, ok := strings.Cut(pair, "=")
		col, to = strings.TrimSpace(col), strings.TrimSpace(to)
		if !ok || col == "" || to == "" {
			p.add("map", "%q is not column=target (target: email, contact_id, account_id, tags, - to skip, or a field name)", pair)
			continue
		}
		switch to {
		case "email", "contact_id", "account_id", "tags", "-":
			m.target[col] = to
		default:
			name := strings.TrimPrefix(to, "fields.")
			if msg := checkKey(name); msg != "" {
				p.add("map", "field %q: %s", name, msg)
				continue
			}
			m.target[col] = "fields." + name
		}
	}
	for _, pair := range splitList(typesParam) {
		col, typ, ok := strings.Cut(pair, "=")
		col, typ = strings.TrimSpace(col), strings.TrimSpace(typ)
		switch {
		case !ok || col == "":
			p.add("types", "%q is not column=type (number, boolean or string)", pair)
		case typ == "number":
			m.numbers[col] = true
		case typ == "boolean", typ == "bool":
			m.booleans[col] = true
		case typ == "string":
		default:
			p.add("types", "%q: type %q is not number, boolean or string", pair, typ)
		}
	}
	return m
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if strings.TrimSpace(x) != "" {
			out = append(out, x)
		}
	}
	return out
}

// splitTags splits a tags cell on ; or |.
func splitTags(s string) []string {
	var out []string
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '|' }) {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// importRow is one row read from the body, before the checks.
type importRow struct {
	line   int
	values map[string]any // column → string (CSV) or decoded JSON (NDJSON)
	err    string         // a row that could not be read at all
}

// rowEvent turns one row into an identify event, or says why it cannot.
func rowEvent(row importRow, m importMapping, admin bool) (store.EventRow, string) {
	var p problems
	e := store.EventRow{Type: "identify"}
	fields := map[string]any{}
	cols := make([]string, 0, len(row.values))
	for c := range row.values {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	var email string
	hasEmail := false
	for _, col := range cols {
		v := row.values[col]
		target := m.targetOf(col)
		if target == "-" {
			continue
		}
		if s, ok := v.(string); ok && strings.TrimSpace(s) == "" && target != "" {
			continue // an empty cell sets nothing
		}
		if v == nil {
			continue
		}
		switch target {
		case "email":
			s, ok := v.(string)
			if !ok {
				p.add(col, "must be a string (the email)")
				continue
			}
			email = strings.TrimSpace(s)
			if msg := checkEmail(email); msg != "" {
				p.add(col, "%s", msg)
				continue
			}
			hasEmail = true
			e.Email = &email
		case "contact_id":
			s, ok := v.(string)
			if !ok {
				p.add(col, "must be a string (the contact id)")
				continue
			}
			if msg := checkID(s); msg != "" {
				p.add(col, "%s", msg)
			}
			e.ContactID = s
		case "account_id":
			s, ok := v.(string)
			if !ok {
				p.add(col, "must be a string (the account id)")
				continue
			}
			if msg := checkID(s); msg != "" {
				p.add(col, "%s", msg)
			}
			e.AccountID = &s
		case "tags":
			switch x := v.(type) {
			case string:
				e.Tags = splitTags(x)
			case []any:
				for _, t := range x {
					s, ok := t.(string)
					if !ok {
						p.add(col, "must hold strings only")
						break
					}
					e.Tags = append(e.Tags, s)
				}
			default:
				p.add(col, "must be a list of tags (a string separated by ; or |, or an array)")
			}
			checkTags(e.Tags, col, &p)
		default:
			name := strings.TrimPrefix(target, "fields.")
			if name == "fields" {
				if obj, ok := v.(map[string]any); ok && m.target[col] == "" {
					for k, x := range obj {
						fields[k] = x
					}
					continue
				}
			}
			if s, ok := v.(string); ok {
				switch {
				case m.numbers[col]:
					lit := strings.TrimSpace(s)
					if _, err := strconv.ParseFloat(lit, 64); err != nil || !json.Valid([]byte(lit)) {
						p.add(col, "%q is not a number", clip(s))
						continue
					}
					v = json.Number(lit)
				case m.booleans[col]:
					b, err := strconv.ParseBool(strings.TrimSpace(s))
					if err != nil {
						p.add(col, "%q is not true or false", clip(s))
						continue
					}
					v = b
				}
			}
			fields[name] = v
		}
	}
	if e.ContactID == "" {
		switch {
		case hasEmail:
			e.ContactID = contactFromEmail(email, "email", &p)
		case p.empty():
			p.add("", "has no contact id and no email: one of the columns id, contact_id or email (or one mapped to them with --map) must be set")
		}
	}
	if len(fields) > 0 {
		e.Traits = fields
	}
	if p.empty() {
		checkEvent(e, "", admin, &p)
	}
	if !p.empty() {
		var parts []string
		for _, d := range p.list {
			if d.Path != "" {
				parts = append(parts, d.Path+": "+d.Message)
			} else {
				parts = append(parts, d.Message)
			}
		}
		return e, strings.Join(parts, "; ")
	}
	e.ID = importEventID(e)
	return e, ""
}

// importEventID derives the event id from what the row sets, so that the
// same row imported again is a duplicate and a changed row a new event.
func importEventID(e store.EventRow) string {
	h := sha256.New()
	content, _ := json.Marshal(struct {
		C string         `json:"c"`
		E *string        `json:"e"`
		A *string        `json:"a"`
		T []string       `json:"t"`
		F map[string]any `json:"f"`
	}{e.ContactID, e.Email, e.AccountID, e.Tags, e.Traits})
	h.Write(content)
	return "import:" + hex.EncodeToString(h.Sum(nil))
}

// readCSVRows reads a CSV body: a header, then records. firstLine is the
// line of the file the first record after the header starts on.
func readCSVRows(body []byte, firstLine int, p *problems) []importRow {
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		p.add("", "the CSV has no header line: %v", err)
		return nil
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF")
	}
	seen := map[string]bool{}
	for _, h := range header {
		if strings.TrimSpace(h) == "" {
			p.add("", "the CSV header has an empty column name")
		}
		if seen[h] {
			p.add("", "the CSV header names column %q twice", h)
		}
		seen[h] = true
	}
	if !p.empty() {
		return nil
	}
	headerLines, _ := r.FieldPos(0)
	var rows []importRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var line int
		var pe *csv.ParseError
		if err == nil {
			line, _ = r.FieldPos(0)
		} else if errors.As(err, &pe) {
			line = pe.StartLine
		}
		line = firstLine + line - headerLines - 1
		if err != nil {
			rows = append(rows, importRow{line: line, err: "not valid CSV: " + csvReason(err)})
			if pe == nil {
				break // not a parse error: the body cannot be read further
			}
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			rows = append(rows, importRow{line: line, err: fmt.Sprintf("has %d columns; the header has %d", len(rec), len(header))})
			continue
		}
		vals := make(map[string]any, len(rec))
		for i, v := range rec {
			vals[header[i]] = v
		}
		rows = append(rows, importRow{line: line, values: vals})
	}
	return rows
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// readNDJSONRows reads one JSON object per line; firstLine is the line of
// the file the body's first line is.
func readNDJSONRows(body []byte, firstLine int) []importRow {
	var rows []importRow
	for i, raw := range bytes.Split(body, []byte("\n")) {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		line := firstLine + i
		n, err := parseIngest(raw)
		if err != nil {
			rows = append(rows, importRow{line: line, err: err.Error()})
			continue
		}
		if n.Kind != strictjson.Object {
			rows = append(rows, importRow{line: line, err: "not a JSON object"})
			continue
		}
		rows = append(rows, importRow{line: line, values: n.Value().(map[string]any)})
	}
	return rows
}

// postContactsImport imports contacts from a CSV or NDJSON body.
func (s *server) postContactsImport(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "map", "types", "line")
	m := parseImportMapping(q.Get("map"), q.Get("types"), &p)
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	ndjson := false
	switch ct {
	case "text/csv", "application/csv", "":
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
		ndjson = true
	default:
		p.add("Content-Type", "%q is not text/csv or application/x-ndjson", ct)
	}
	first := intParam(q, "line", 0, 1, 1<<30, &p)
	if err := p.err(); err != nil {
		s.failIngest(w, r, metrics.SourceContacts, err)
		return
	}
	body, err := s.readRaw(w, r)
	if err != nil {
		s.failIngest(w, r, metrics.SourceContacts, err)
		return
	}
	var rows []importRow
	if ndjson {
		if first == 0 {
			first = 1
		}
		rows = readNDJSONRows(body, first)
	} else {
		if first == 0 {
			first = 2
		}
		rows = readCSVRows(body, first, &p)
	}
	if len(rows) > MaxBatch {
		p.add("", "holds %d rows; send at most %d per request", len(rows), MaxBatch)
	}
	if err := p.err(); err != nil {
		s.failIngest(w, r, metrics.SourceContacts, err)
		return
	}
	admin := isAdmin(r)
	now := s.cfg.Now()
	out := importResponse{Rows: len(rows), Rejected: []importRejection{}}
	var events []store.EventRow
	var lines []int
	for _, row := range rows {
		if row.err != "" {
			out.Rejected = append(out.Rejected, importRejection{Line: row.line, Reason: row.err})
			continue
		}
		e, reason := rowEvent(row, m, admin)
		if reason != "" {
			out.Rejected = append(out.Rejected, importRejection{Line: row.line, Reason: reason})
			continue
		}
		e.OccurredAt = now
		events = append(events, e)
		lines = append(lines, row.line)
	}
	if len(events) > 0 {
		res, err := s.cfg.Store.AppendEvents(r.Context(), events, store.ConflictSkip)
		if err != nil {
			s.fail(w, r, fmt.Errorf("error importing %d contacts: %w", len(events), err))
			return
		}
		metrics.EventsAccepted.WithLabelValues(metrics.SourceContacts).Add(float64(res.Inserted))
		s.wake(r.Context(), res.Partitions)
		out.Accepted, out.Duplicates = res.Inserted, res.Duplicates+res.Conflicts
		for i, o := range res.Outcomes {
			if o == store.EventErased {
				out.Rejected = append(out.Rejected, importRejection{Line: lines[i], Reason: erasedReason})
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}
