package api

// GET /v1/contacts (a page of contacts, with filters) and the CSV export of
// it and of GET /v1/leads: with Accept: text/csv the routes stream every
// row their filters select, a page of exportPage rows at a time read with
// the same keyset query the JSON pages use, flushed as it is written.

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/leadflow/leadflow/store"
)

// exportPage is how many rows a CSV export reads per query.
const exportPage = 1000

// wantsCSV reports a request that accepts text/csv (and prefers it: an
// Accept naming text/csv at all is taken as asking for CSV).
func wantsCSV(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "text/csv" {
			continue
		}
		if q, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				continue
			}
		}
		return true
	}
	return false
}

// csvStream writes CSV rows to a response, flushing after each page.
type csvStream struct {
	w   http.ResponseWriter
	csv *csv.Writer
}

func newCSVStream(w http.ResponseWriter, filename string, header []string) *csvStream {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	s := &csvStream{w: w, csv: csv.NewWriter(w)}
	s.write(header)
	return s
}

// write writes one record; a cell a spreadsheet would run as a formula
// (starting with = + - @) is not altered: exports are data, not sheets.
func (s *csvStream) write(rec []string) { _ = s.csv.Write(rec) }

func (s *csvStream) flush() error {
	s.csv.Flush()
	if err := s.csv.Error(); err != nil {
		return err
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// abortStream ends a response whose rows have begun: the status is sent
// already, so the connection is cut and the client sees a truncated body
// instead of a complete-looking file.
func (s *server) abortStream(r *http.Request, what string, err error) {
	s.log.Error().Err(err).Str("path", r.URL.Path).Msg("error streaming " + what + "; response cut short")
	panic(http.ErrAbortHandler)
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func csvFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// exportLeadsCSV streams the hot list selected by lq, from its cursor on;
// with limited, at most lq.Limit rows. Every page reads the scores at
// lq.Now, so the file is one list at one time.
func (s *server) exportLeadsCSV(w http.ResponseWriter, r *http.Request, lq store.LeadsPageQuery, limited bool, models scoreModels) {
	total := -1
	if limited {
		total = lq.Limit
	}
	out := newCSVStream(w, "leads.csv", []string{"contact_id", "email", "score", "band", "band_color", "stage", "owner", "disqualified",
		"account_id", "score_updated_at", "last_activity"})
	for total != 0 {
		lq.Limit = exportPage
		if total > 0 && total < exportPage {
			lq.Limit = total
		}
		leads, err := s.cfg.Store.LeadsPage(r.Context(), lq)
		if err != nil {
			s.abortStream(r, "leads", err)
		}
		for _, l := range leads {
			t := l.UpdatedAt
			band, color := models.band(lq.Model, l.Score, l.Band)
			out.write([]string{l.ContactID, l.Email, csvFloat(l.Score), band, color, l.Stage, l.Owner,
				strconv.FormatBool(l.Disqualified), l.AccountID, csvTime(&t), csvTime(l.LastActivity)})
		}
		if err := out.flush(); err != nil {
			s.abortStream(r, "leads", err)
		}
		if total > 0 {
			total -= len(leads)
		}
		if len(leads) < lq.Limit {
			return
		}
		after := leadsCursorAfter(leads[len(leads)-1], lq.Now)
		lq.After = &after
	}
}

type contactListJSON struct {
	ContactID          string         `json:"contact_id"`
	Email              string         `json:"email"`
	AccountID          *string        `json:"account_id"`
	Stage              string         `json:"stage"`
	Disqualified       bool           `json:"disqualified"`
	DisqualifiedReason string         `json:"disqualified_reason"`
	Tags               []string       `json:"tags"`
	Fields             map[string]any `json:"fields"`
	Score              *float64       `json:"score"` // in the model "main", at the request's time
	Band               string         `json:"band"`
	BandColor          string         `json:"band_color"`
	CreatedAt          time.Time      `json:"created_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
}

type contactsResponse struct {
	Contacts   []contactListJSON `json:"contacts"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// getContacts lists contacts in id order: a page as JSON, or every one
// its filters select as CSV.
func (s *server) getContacts(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "stage", "account_id", "tag", "segment", "q", "disqualified", "cursor", "limit")
	cq := store.ContactsPageQuery{Stage: q.Get("stage"), AccountID: q.Get("account_id"), Tag: q.Get("tag"),
		Segment: q.Get("segment"), Search: strings.TrimSpace(q.Get("q"))}
	if q.Has("disqualified") {
		b, err := strconv.ParseBool(q.Get("disqualified"))
		if err != nil {
			p.add("disqualified", "%q is not true or false", q.Get("disqualified"))
		} else {
			cq.Disqualified = &b
		}
	}
	if c := q.Get("cursor"); c != "" {
		id, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(id) == 0 {
			p.add("cursor", "is not a cursor of this list; pass next_cursor from the previous page")
		} else {
			cq.After = string(id)
		}
	}
	cq.Limit = intParam(q, "limit", 50, 1, 1000, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	models, err := s.scoreModels(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cq.Now, cq.HalfLife = s.cfg.Now(), models.halfLife(contactsModel)
	if wantsCSV(r) {
		s.exportContactsCSV(w, r, cq, q.Has("limit"), models)
		return
	}
	rows, err := s.cfg.Store.ContactsPage(r.Context(), cq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := contactsResponse{Contacts: make([]contactListJSON, 0, len(rows))}
	for _, c := range rows {
		out.Contacts = append(out.Contacts, contactListItem(c, models))
	}
	if len(rows) == cq.Limit {
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(rows[len(rows)-1].ID))
	}
	writeJSON(w, http.StatusOK, out)
}

// contactsModel is the score model GET /v1/contacts shows.
const contactsModel = "main"

func contactListItem(c store.ContactListRow, models scoreModels) contactListJSON {
	out := contactListJSON{ContactID: c.ID, Email: c.Email, Stage: c.Stage, Disqualified: c.Disqualified,
		DisqualifiedReason: c.DisqualifiedReason, Tags: c.Tags, Fields: c.Fields, Score: c.Score,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if c.Score != nil {
		out.Band, out.BandColor = models.band(contactsModel, *c.Score, c.Band)
	}
	if c.AccountID != "" {
		acc := c.AccountID
		out.AccountID = &acc
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if out.Fields == nil {
		out.Fields = map[string]any{}
	}
	return out
}

// exportContactsCSV streams the contacts cq selects: tags joined with ;,
// fields as one JSON object column.
func (s *server) exportContactsCSV(w http.ResponseWriter, r *http.Request, cq store.ContactsPageQuery, limited bool, models scoreModels) {
	total := -1
	if limited {
		total = cq.Limit
	}
	out := newCSVStream(w, "contacts.csv", []string{"contact_id", "email", "account_id", "stage", "disqualified",
		"tags", "score", "band", "band_color", "fields", "created_at", "updated_at"})
	for total != 0 {
		cq.Limit = exportPage
		if total > 0 && total < exportPage {
			cq.Limit = total
		}
		rows, err := s.cfg.Store.ContactsPage(r.Context(), cq)
		if err != nil {
			s.abortStream(r, "contacts", err)
		}
		for _, c := range rows {
			fields := []byte("{}")
			if len(c.Fields) > 0 {
				fields, _ = json.Marshal(c.Fields)
			}
			item := contactListItem(c, models)
			score := ""
			if c.Score != nil {
				score = csvFloat(*c.Score)
			}
			created, updated := c.CreatedAt, c.UpdatedAt
			out.write([]string{c.ID, c.Email, c.AccountID, c.Stage, strconv.FormatBool(c.Disqualified),
				strings.Join(c.Tags, ";"), score, item.Band, item.BandColor, string(fields), csvTime(&created), csvTime(&updated)})
		}
		if err := out.flush(); err != nil {
			s.abortStream(r, "contacts", err)
		}
		if total > 0 {
			total -= len(rows)
		}
		if len(rows) < cq.Limit {
			return
		}
		cq.After = rows[len(rows)-1].ID
	}
}
