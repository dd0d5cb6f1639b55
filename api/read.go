package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// scoreJSON is a contact's score in one model as it stands at the
// request's time, with its band and the band's colour.
type scoreJSON struct {
	Score      float64 `json:"score"`
	Band       string  `json:"band"`
	Color      string  `json:"color"`
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

// conversionJSON is a contact's first conversion in a model: the score and
// band it had then; its ledger then is the model's rows with id <=
// ledger_through (GET /v1/contacts/{id}/score-history).
type conversionJSON struct {
	Model         string    `json:"model"`
	EventID       string    `json:"event_id"`
	EventType     string    `json:"event_type"`
	Value         *float64  `json:"value"`
	OccurredAt    time.Time `json:"occurred_at"`
	At            time.Time `json:"at"`
	Score         float64   `json:"score"`
	Band          string    `json:"band"`
	LedgerThrough *int64    `json:"ledger_through"`
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
	// Conversions are the first conversion per score model (migration 012).
	Conversions []conversionJSON `json:"conversions"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
}

func contactJSON(v store.ContactView, models scoreModels) contactResponse {
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
		Conversions:        []conversionJSON{},
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
		band, color := models.band(s.Model, s.Score, s.Band)
		out.Scores[s.Model] = scoreJSON{Score: s.Score, Band: band, Color: color, Profile: s.Profile, Engagement: s.Engagement}
	}
	for _, cv := range v.Conversions {
		out.Conversions = append(out.Conversions, conversionJSON{Model: cv.Model, EventID: cv.EventID, EventType: cv.EventType, Value: cv.Value,
			OccurredAt: cv.OccurredAt, At: cv.At, Score: cv.Score, Band: cv.Band, LedgerThrough: cv.LedgerThrough})
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
	v, models, err := s.contactView(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.contactNotFound(w, r, id)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, contactJSON(v, models))
}

// contactView loads a contact with its scores at the request's time and
// the published score models that place them in bands.
func (s *server) contactView(ctx context.Context, id string) (store.ContactView, scoreModels, error) {
	models, err := s.scoreModels(ctx)
	if err != nil {
		return store.ContactView{}, nil, err
	}
	v, err := s.cfg.Store.ContactView(ctx, id, models.clock(s.cfg.Now()))
	return v, models, err
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
	// Pending marks the half-life decay since the score was last
	// materialised, not yet in the ledger (id 0, at the request's time):
	// the ledger plus it sums to the score shown.
	Pending bool `json:"pending,omitempty"`
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
	id := r.PathValue("contact_id")
	v, models, err := s.contactView(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.contactNotFound(w, r, id)
		return
	}
	if err != nil {
		s.fail(w, r, err)
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
	// The decay since the engine last materialised each score: one more
	// line, so that the explanation sums to the score shown.
	for _, sc := range v.Scores {
		if m := q.Get("model"); m != "" && m != sc.Model {
			continue
		}
		pending := flows.RoundPoints(sc.Score - sc.StoredScore)
		if pending == 0 {
			continue
		}
		out.Entries = append(out.Entries, ledgerJSON{Model: sc.Model, Points: pending, Kind: "decay", Pending: true,
			Reason: fmt.Sprintf("half-life decay (%s) since %s, not yet recorded", models.halfLife(sc.Model),
				sc.EngagementAsOf.UTC().Format(time.RFC3339)),
			At: v.ReadAt})
		out.Totals[sc.Model] = flows.RoundPoints(out.Totals[sc.Model] + pending)
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
	q := query(r, &p, "model", "band", "min_score", "segment", "owner", "stage", "q", "disqualified", "cursor", "limit")
	lq := store.LeadsPageQuery{Model: "main", Segment: q.Get("segment"), Owner: q.Get("owner"),
		Stage: q.Get("stage"), Search: strings.TrimSpace(q.Get("q")), Now: s.cfg.Now()}
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
	if q.Has("min_score") {
		f, err := strconv.ParseFloat(q.Get("min_score"), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > flows.MaxScore {
			p.add("min_score", "%q is not a number from %d to %d", q.Get("min_score"), -int64(flows.MaxScore), int64(flows.MaxScore))
		} else {
			lq.MinScore = &f
		}
	}
	if c := q.Get("cursor"); c != "" {
		after, err := decodeLeadsCursor(c)
		if err != nil {
			p.add("cursor", "%s", err.Error())
		} else {
			lq.After = &after
			if after.At != 0 { // later pages read the scores when the first did
				lq.Now = time.UnixMicro(after.At).UTC()
			}
		}
	}
	lq.Limit = intParam(q, "limit", 50, 1, 1000, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	models, err := s.scoreModels(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	lq.HalfLife = models.halfLife(lq.Model)
	if band := q.Get("band"); band != "" {
		min, below := models.bandFilter(lq.Model, band, &p)
		if err := p.err(); err != nil {
			s.fail(w, r, err)
			return
		}
		if lq.MinScore == nil || *lq.MinScore < min {
			lq.MinScore = &min
		}
		lq.BelowScore = below
	}
	if wantsCSV(r) {
		s.exportLeadsCSV(w, r, lq, q.Has("limit"), models)
		return
	}
	leads, err := s.cfg.Store.LeadsPage(r.Context(), lq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := leadsResponse{Model: lq.Model, Bands: models.bands(lq.Model), Leads: make([]leadJSON, 0, len(leads))}
	for _, l := range leads {
		band, color := models.band(lq.Model, l.Score, l.Band)
		out.Leads = append(out.Leads, leadJSON{ContactID: l.ContactID, Email: l.Email, Score: l.Score, Band: band,
			BandColor: color, Stage: l.Stage, Owner: l.Owner, Disqualified: l.Disqualified,
			ScoreUpdatedAt: l.UpdatedAt, LastActivity: l.LastActivity})
	}
	if len(leads) == lq.Limit {
		out.NextCursor = encodeLeadsCursor(leadsCursorAfter(leads[len(leads)-1], lq.Now))
	}
	writeJSON(w, http.StatusOK, out)
}

// leadsCursorAfter is the cursor of the page after the lead l, with the
// time the scores were read at.
func leadsCursorAfter(l store.LeadRow, now time.Time) store.LeadsCursor {
	return store.LeadsCursor{Score: l.ScoreText, ContactID: l.ContactID, At: now.UnixMicro()}
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
	case "", "none", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryCancelled:
	default:
		p.add("status", "%q is not a delivery status; use none, pending, delivered, failed or cancelled", tq.Status)
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
	ContactID    string                 `json:"contact_id"`
	Email        string                 `json:"email"`
	Stage        string                 `json:"stage"`
	Disqualified bool                   `json:"disqualified"`
	Scores       map[string]bandedScore `json:"scores"`
}

type accountResponse struct {
	AccountID     string                 `json:"account_id"`
	Name          string                 `json:"name"`
	Fields        map[string]any         `json:"fields"`
	Scores        map[string]bandedScore `json:"scores"`
	Contacts      []accountContactJSON   `json:"contacts"`
	ContactsTotal int                    `json:"contacts_total"`
	CreatedAt     time.Time              `json:"created_at"`
	UpdatedAt     time.Time              `json:"updated_at"`
}

// maxAccountContacts bounds the contacts listed by GET /v1/accounts/{id};
// the account's scores always sum over all of them.
const maxAccountContacts = 1000

// getAccount answers an account with its score in each model that rolls
// up to accounts ("account_rollup": "sum"): the sum of the scores of its
// contacts that are not disqualified, at the request's time, in the
// model's bands. Its contacts show their scores in every model.
func (s *server) getAccount(w http.ResponseWriter, r *http.Request) {
	var p problems
	query(r, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("account_id")
	models, err := s.scoreModels(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.cfg.Store.AccountView(r.Context(), id, maxAccountContacts, models.clock(s.cfg.Now()), models.rollup())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("account %q not found", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := accountResponse{AccountID: v.Account.ID, Name: v.Account.Name, Fields: v.Account.Fields, Scores: map[string]bandedScore{},
		Contacts: make([]accountContactJSON, 0, len(v.Contacts)), ContactsTotal: v.ContactsTotal,
		CreatedAt: v.Account.CreatedAt, UpdatedAt: v.Account.UpdatedAt}
	for m, score := range v.Scores {
		out.Scores[m] = models.banded(m, score)
	}
	for _, c := range v.Contacts {
		sc := map[string]bandedScore{}
		for m, score := range c.Scores {
			sc[m] = models.banded(m, score)
		}
		out.Contacts = append(out.Contacts, accountContactJSON{ContactID: c.ContactID, Email: c.Email, Stage: c.Stage,
			Disqualified: c.Disqualified, Scores: sc})
	}
	writeJSON(w, http.StatusOK, out)
}

// existingContact reads the {contact_id} of the path and answers 404 when
// no such contact exists, 410 when it was erased (false: the answer is
// written).
func (s *server) existingContact(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("contact_id")
	ok, err := s.cfg.Store.ContactExists(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return "", false
	}
	if !ok {
		s.contactNotFound(w, r, id)
		return "", false
	}
	return id, true
}
