package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leadflow/leadflow/store"
)

type scoreJSON struct {
	Score      float64 `json:"score"`
	Band       string  `json:"band"`
	Profile    float64 `json:"profile"`
	Engagement float64 `json:"engagement"`
}

type runJSON struct {
	ID          string     `json:"id"`
	FlowID      string     `json:"flow_id"`
	FlowVersion int        `json:"flow_version"`
	Status      string     `json:"status"`
	StepID      string     `json:"step_id"`
	WaitKind    string     `json:"wait_kind,omitempty"`
	WaitEvent   string     `json:"wait_event,omitempty"`
	WaitUntil   *time.Time `json:"wait_until"`
	StartedAt   time.Time  `json:"started_at"`
}

type contactResponse struct {
	ContactID          string               `json:"contact_id"`
	Email              string               `json:"email"`
	Fields             map[string]any       `json:"fields"`
	Tags               []string             `json:"tags"`
	AccountID          *string              `json:"account_id"`
	Stage              string               `json:"stage"`
	Disqualified       bool                 `json:"disqualified"`
	DisqualifiedReason string               `json:"disqualified_reason"`
	Scores             map[string]scoreJSON `json:"scores"`
	Segments           []string             `json:"segments"`
	FlowRuns           []runJSON            `json:"flow_runs"`
	CreatedAt          time.Time            `json:"created_at"`
	UpdatedAt          time.Time            `json:"updated_at"`
}

func contactJSON(v store.ContactView) contactResponse {
	c := v.Contact
	out := contactResponse{
		ContactID:          c.ID,
		Email:              c.Email,
		Fields:             c.Fields,
		Tags:               c.Tags,
		Stage:              c.Stage,
		Disqualified:       c.Disqualified,
		DisqualifiedReason: c.DisqualifiedReason,
		Scores:             map[string]scoreJSON{},
		Segments:           v.Segments,
		FlowRuns:           []runJSON{},
		CreatedAt:          c.CreatedAt,
		UpdatedAt:          c.UpdatedAt,
	}
	if out.Fields == nil {
		out.Fields = map[string]any{}
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if out.Segments == nil {
		out.Segments = []string{}
	}
	if c.AccountID != "" {
		acc := c.AccountID
		out.AccountID = &acc
	}
	for _, s := range v.Scores {
		out.Scores[s.Model] = scoreJSON{Score: s.Score, Band: s.Band, Profile: s.Profile, Engagement: s.Engagement}
	}
	for _, r := range v.Runs {
		out.FlowRuns = append(out.FlowRuns, runJSON{ID: r.ID, FlowID: r.FlowID, FlowVersion: r.FlowVersion, Status: string(r.Status),
			StepID: r.StepID, WaitKind: string(r.WaitKind), WaitEvent: r.WaitEvent, WaitUntil: r.WaitUntil, StartedAt: r.StartedAt})
	}
	return out
}

// query checks that r's query parameters are among allowed and given once.
func query(r *http.Request, p *problems, allowed ...string) url.Values {
	q := r.URL.Query()
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		switch {
		case !known:
			msg := "unknown query parameter"
			if len(allowed) == 0 {
				msg += "; this route takes none"
			} else if s := suggest(k, allowed); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; allowed: " + strings.Join(allowed, ", ")
			}
			p.add(k, "%s", msg)
		case len(q[k]) > 1:
			p.add(k, "is given %d times; give it once", len(q[k]))
		}
	}
	return q
}

// intParam reads an integer query parameter within [lo, hi].
func intParam(q url.Values, name string, def, lo, hi int, p *problems) int {
	s := q.Get(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		p.add(name, "%q is not a whole number from %d to %d", s, lo, hi)
		return def
	}
	return n
}

func (s *server) getContact(w http.ResponseWriter, r *http.Request) {
	var p problems
	query(r, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("contact_id")
	v, err := s.cfg.Store.ContactView(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("contact %q not found", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, contactJSON(v))
}

type ledgerJSON struct {
	ID           int64      `json:"id"`
	Model        string     `json:"model"`
	Points       float64    `json:"points"`
	Kind         string     `json:"kind"`
	Reason       string     `json:"reason"`
	RuleID       string     `json:"rule_id"`
	ModelVersion int        `json:"model_version"`
	FlowID       string     `json:"flow_id"`
	FlowVersion  int        `json:"flow_version"`
	StepID       string     `json:"step_id"`
	RunID        string     `json:"run_id"`
	EventID      string     `json:"event_id"`
	At           time.Time  `json:"at"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	Expired      bool       `json:"expired"`
}

type scoreHistoryResponse struct {
	ContactID string             `json:"contact_id"`
	Entries   []ledgerJSON       `json:"entries"`
	Totals    map[string]float64 `json:"totals"`
}

func (s *server) getScoreHistory(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "model")
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	id, ok := s.existingContact(w, r)
	if !ok {
		return
	}
	entries, totals, err := s.cfg.Store.ScoreHistory(r.Context(), id, q.Get("model"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := scoreHistoryResponse{ContactID: id, Entries: make([]ledgerJSON, 0, len(entries)), Totals: totals}
	for _, e := range entries {
		out.Entries = append(out.Entries, ledgerJSON{ID: e.ID, Model: e.Model, Points: e.Points, Kind: e.Kind, Reason: e.Reason,
			RuleID: e.RuleID, ModelVersion: e.ModelVersion, FlowID: e.FlowID, FlowVersion: e.FlowVersion, StepID: e.StepID,
			RunID: e.RunID, EventID: e.EventID, At: e.At, ExpiresAt: e.ExpiresAt, Expired: e.Expired})
	}
	writeJSON(w, http.StatusOK, out)
}

type leadJSON struct {
	ContactID      string     `json:"contact_id"`
	Email          string     `json:"email"`
	Score          float64    `json:"score"`
	Band           string     `json:"band"`
	BandColor      string     `json:"band_color"`
	Stage          string     `json:"stage"`
	Owner          string     `json:"owner"`
	Disqualified   bool       `json:"disqualified"`
	ScoreUpdatedAt time.Time  `json:"score_updated_at"`
	LastActivity   *time.Time `json:"last_activity"`
}

type leadsResponse struct {
	Model      string     `json:"model"`
	Bands      []bandJSON `json:"bands"`
	Leads      []leadJSON `json:"leads"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

func (s *server) getLeads(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "model", "band", "segment", "owner", "stage", "q", "disqualified", "cursor", "limit")
	lq := store.LeadsPageQuery{Model: "main", Band: q.Get("band"), Segment: q.Get("segment"), Owner: q.Get("owner"),
		Stage: q.Get("stage"), Search: strings.TrimSpace(q.Get("q"))}
	if q.Has("model") {
		lq.Model = q.Get("model")
		if lq.Model == "" {
			p.add("model", "must not be empty; leave it out for the model \"main\"")
		}
	}
	if q.Has("disqualified") {
		b, err := strconv.ParseBool(q.Get("disqualified"))
		if err != nil {
			p.add("disqualified", "%q is not true or false", q.Get("disqualified"))
		} else {
			lq.Disqualified = &b
		}
	}
	if c := q.Get("cursor"); c != "" {
		after, err := decodeLeadsCursor(c)
		if err != nil {
			p.add("cursor", "%s", err.Error())
		} else {
			lq.After = &after
		}
	}
	lq.Limit = intParam(q, "limit", 50, 1, 1000, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	if wantsCSV(r) {
		s.exportLeadsCSV(w, r, lq, q.Has("limit"))
		return
	}
	leads, err := s.cfg.Store.LeadsPage(r.Context(), lq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	bands, err := s.modelBands(r.Context(), lq.Model)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	colors := map[string]string{}
	for _, b := range bands {
		colors[b.Name] = b.Color
	}
	out := leadsResponse{Model: lq.Model, Bands: bands, Leads: make([]leadJSON, 0, len(leads))}
	for _, l := range leads {
		out.Leads = append(out.Leads, leadJSON{ContactID: l.ContactID, Email: l.Email, Score: l.Score, Band: l.Band,
			BandColor: colors[l.Band], Stage: l.Stage, Owner: l.Owner, Disqualified: l.Disqualified,
			ScoreUpdatedAt: l.UpdatedAt, LastActivity: l.LastActivity})
	}
	if len(leads) == lq.Limit {
		last := leads[len(leads)-1]
		out.NextCursor = encodeLeadsCursor(store.LeadsCursor{Score: last.ScoreText, ContactID: last.ContactID})
	}
	writeJSON(w, http.StatusOK, out)
}

type taskJSON struct {
	ID             int64      `json:"id"`
	ContactID      string     `json:"contact_id"`
	Title          string     `json:"title"`
	Description    string     `json:"description"`
	Assignee       string     `json:"assignee"`
	DueAt          *time.Time `json:"due_at"`
	Reason         string     `json:"reason"`
	Model          string     `json:"model"`
	ThresholdID    string     `json:"threshold_id"`
	Crossing       int        `json:"crossing"`
	FlowID         string     `json:"flow_id"`
	FlowVersion    int        `json:"flow_version"`
	StepID         string     `json:"step_id"`
	RunID          string     `json:"run_id"`
	EventID        string     `json:"event_id"`
	IdemKey        string     `json:"idem_key"`
	DeliveryStatus string     `json:"delivery_status"`
	CreatedAt      time.Time  `json:"created_at"`
}

func (s *server) getTasks(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "contact_id", "assignee", "status", "limit")
	tq := store.TasksQuery{ContactID: q.Get("contact_id"), Assignee: q.Get("assignee"), Status: q.Get("status"),
		Limit: intParam(q, "limit", 50, 1, 1000, &p)}
	switch tq.Status {
	case "", "none", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed:
	default:
		p.add("status", "%q is not a delivery status; use none, pending, delivered or failed", tq.Status)
	}
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	tasks, err := s.cfg.Store.Tasks(r.Context(), tq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]taskJSON, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, taskJSON{ID: t.ID, ContactID: t.ContactID, Title: t.Title, Description: t.Description,
			Assignee: t.Assignee, DueAt: t.DueAt, Reason: t.Reason, Model: t.Model, ThresholdID: t.ThresholdID,
			Crossing: t.Crossing, FlowID: t.FlowID, FlowVersion: t.FlowVersion, StepID: t.StepID, RunID: t.RunID,
			EventID: t.EventID, IdemKey: t.IdemKey, DeliveryStatus: t.DeliveryStatus, CreatedAt: t.CreatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"tasks": out})
}

type accountContactJSON struct {
	ContactID    string             `json:"contact_id"`
	Email        string             `json:"email"`
	Stage        string             `json:"stage"`
	Disqualified bool               `json:"disqualified"`
	Scores       map[string]float64 `json:"scores"`
}

type accountResponse struct {
	AccountID     string               `json:"account_id"`
	Name          string               `json:"name"`
	Fields        map[string]any       `json:"fields"`
	Scores        map[string]float64   `json:"scores"`
	Contacts      []accountContactJSON `json:"contacts"`
	ContactsTotal int                  `json:"contacts_total"`
	CreatedAt     time.Time            `json:"created_at"`
	UpdatedAt     time.Time            `json:"updated_at"`
}

// maxAccountContacts bounds the contacts listed by GET /v1/accounts/{id};
// the account's scores always sum over all of them.
const maxAccountContacts = 1000

func (s *server) getAccount(w http.ResponseWriter, r *http.Request) {
	var p problems
	query(r, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("account_id")
	v, err := s.cfg.Store.AccountView(r.Context(), id, maxAccountContacts)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("account %q not found", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := accountResponse{AccountID: v.Account.ID, Name: v.Account.Name, Fields: v.Account.Fields, Scores: v.Scores,
		Contacts: make([]accountContactJSON, 0, len(v.Contacts)), ContactsTotal: v.ContactsTotal,
		CreatedAt: v.Account.CreatedAt, UpdatedAt: v.Account.UpdatedAt}
	for _, c := range v.Contacts {
		sc := c.Scores
		if sc == nil {
			sc = map[string]float64{}
		}
		out.Contacts = append(out.Contacts, accountContactJSON{ContactID: c.ContactID, Email: c.Email, Stage: c.Stage,
			Disqualified: c.Disqualified, Scores: sc})
	}
	writeJSON(w, http.StatusOK, out)
}

// existingContact reads the {contact_id} of the path and answers 404 when
// no such contact exists (false: the answer is written).
func (s *server) existingContact(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("contact_id")
	ok, err := s.cfg.Store.ContactExists(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return "", false
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("contact %q not found", id))
		return "", false
	}
	return id, true
}
