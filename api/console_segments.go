package api

// Console routes for segments (members now, entered and exited today, and
// per day) and accounts (by their rolled-up score).

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

type segmentSummaryJSON struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Status       string `json:"status"`
	Members      int64  `json:"members"`
	EnteredToday int64  `json:"entered_today"`
	ExitedToday  int64  `json:"exited_today"`
}

// startOfDay is midnight UTC of t's day.
func startOfDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (s *server) getSegments(w http.ResponseWriter, r *http.Request) {
	var p problems
	query(r, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	defs, err := s.cfg.Store.Definitions(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var ids []string
	byID := map[string]store.Definition{}
	for _, d := range defs {
		if d.Kind == flows.KindSegment {
			ids = append(ids, d.ID)
			byID[d.ID] = d
		}
	}
	counts, err := s.cfg.Store.SegmentCounts(r.Context(), ids, startOfDay(s.cfg.Now()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]segmentSummaryJSON, 0, len(counts))
	for _, c := range counts {
		d := byID[c.SegmentID]
		out = append(out, segmentSummaryJSON{ID: c.SegmentID, Name: bodyName(d), Status: d.Status, Members: c.Members,
			EnteredToday: c.EnteredSince, ExitedToday: c.ExitedSince})
	}
	writeJSON(w, http.StatusOK, map[string]any{"segments": out})
}

// bodyName reads the name of a definition's body.
func bodyName(d store.Definition) string {
	docs, errs := flows.Decode(d.ID, d.Body)
	if len(errs) > 0 || len(docs) != 1 || docs[0].Segment == nil {
		return d.ID
	}
	return docs[0].Segment.Name
}

type segmentDayJSON struct {
	Day     string `json:"day"` // YYYY-MM-DD, UTC
	Entered int64  `json:"entered"`
	Exited  int64  `json:"exited"`
	Members int64  `json:"members"` // at the end of the day (now, for today)
}

// getSegmentHistory answers a segment's members at the end of each of the
// last days (UTC), with the entries and exits of each day: worked back
// from the members now and the segment's history.
func (s *server) getSegmentHistory(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "days")
	days := intParam(q, "days", 30, 1, 366, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	d, _, err := s.cfg.Store.Definition(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.Kind != flows.KindSegment) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("segment %q not found", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	today := startOfDay(s.cfg.Now())
	from := today.AddDate(0, 0, -(days - 1))
	counts, err := s.cfg.Store.SegmentCounts(r.Context(), []string{id}, today)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	changes, err := s.cfg.Store.SegmentDays(r.Context(), id, from)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	byDay := map[string]store.SegmentDay{}
	for _, c := range changes {
		byDay[c.Day.UTC().Format(time.DateOnly)] = c
	}
	out := make([]segmentDayJSON, days)
	members := counts[0].Members
	for i := days - 1; i >= 0; i-- {
		day := from.AddDate(0, 0, i).Format(time.DateOnly)
		c := byDay[day]
		out[i] = segmentDayJSON{Day: day, Entered: c.Entered, Exited: c.Exited, Members: members}
		members -= c.Entered - c.Exited // the members at the end of the day before
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "name": bodyName(d), "members": counts[0].Members, "days": out})
}

type accountSummaryJSON struct {
	AccountID string  `json:"account_id"`
	Name      string  `json:"name"`
	Contacts  int64   `json:"contacts"`
	Score     float64 `json:"score"`
	Band      string  `json:"band"`
	Color     string  `json:"color"`
}

// getAccounts lists accounts by their score in a model that rolls up to
// accounts: the sum of the scores of their contacts that are not
// disqualified, at the request's time, in the model's bands.
func (s *server) getAccounts(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "model", "limit")
	model := "main"
	if q.Has("model") {
		model = q.Get("model")
		if model == "" {
			p.add("model", "must not be empty; leave it out for the model \"main\"")
		}
	}
	limit := intParam(q, "limit", 50, 1, 1000, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	models, err := s.scoreModels(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if sm := models[model]; sm == nil || sm.AccountRollup != "sum" {
		why := fmt.Sprintf("score model %q is not published", model)
		if sm != nil {
			why = fmt.Sprintf("score model %q does not roll up to accounts (it has no \"account_rollup\": \"sum\")", model)
		}
		if ids := models.rollup(); len(ids) > 0 {
			p.add("model", "%s; the models that do are %s", why, strings.Join(ids, ", "))
		} else {
			p.add("model", "%s; no published model rolls up to accounts: add \"account_rollup\": \"sum\" to one", why)
		}
		s.fail(w, r, p.err())
		return
	}
	list, err := s.cfg.Store.AccountsByScore(r.Context(), model, limit, models.clock(s.cfg.Now()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]accountSummaryJSON, 0, len(list))
	for _, a := range list {
		band, color := models.band(model, a.Score, "")
		out = append(out, accountSummaryJSON{AccountID: a.ID, Name: a.Name, Contacts: a.Contacts, Score: a.Score, Band: band, Color: color})
	}
	writeJSON(w, http.StatusOK, map[string]any{"model": model, "bands": models.bands(model), "accounts": out})
}
