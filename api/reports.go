package api

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/insight"
	"github.com/leadflow/leadflow/store"
)

// defaultReportWindow is the window of the conversion report and the
// suggestions when since is not given.
const defaultReportWindow = 180 * 24 * time.Hour

// getConversionReport answers GET /v1/reports/conversion?model=&since=:
// the conversion report of a score model over the contacts created within
// since (default 180d); CSV with Accept: text/csv.
func (s *server) getConversionReport(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "model", "since")
	modelID := q.Get("model")
	if modelID == "" {
		p.add("model", `is required: the id of a score model, e.g. model=main`)
	}
	window := reportWindow(q.Get("since"), &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	m, contacts, since, until, ok := s.conversionHistory(w, r, modelID, window)
	if !ok {
		return
	}
	rep := insight.BuildReport(m, contacts, since, until)
	if wantsCSV(r) {
		var buf bytes.Buffer
		if err := insight.WriteCSV(&buf, rep); err != nil {
			s.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="conversion-%s.csv"`, m.ID))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(buf.Bytes())
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// getModelSuggestions answers GET /v1/models/{id}/suggestions?since=:
// suggested points for the model's rules, or 422 with too few conversions.
func (s *server) getModelSuggestions(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "since")
	window := reportWindow(q.Get("since"), &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	m, contacts, since, until, ok := s.conversionHistory(w, r, r.PathValue("id"), window)
	if !ok {
		return
	}
	sug, err := insight.Suggest(m, contacts, since, until)
	var few *insight.ErrTooFewConversions
	if errors.As(err, &few) {
		writeError(w, http.StatusUnprocessableEntity, few.Error())
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sug)
}

// reportWindow parses since: a duration ("180d", "12w"), default 180 days.
func reportWindow(v string, p *problems) time.Duration {
	if v == "" {
		return defaultReportWindow
	}
	d, err := flows.ParseDuration(v)
	if err != nil || d.Duration <= 0 {
		p.add("since", `%q is not a window: give a positive duration such as "180d" or "12w"`, v)
		return 0
	}
	return d.Duration
}

// conversionHistory loads the current version of score model id and the
// history of the contacts created within window; it answers 404/422 itself
// when the model is unknown or not a score model.
func (s *server) conversionHistory(w http.ResponseWriter, r *http.Request, id string, window time.Duration) (*flows.ScoreModel, []insight.Contact, time.Time, time.Time, bool) {
	until := s.cfg.Now().UTC()
	since := until.Add(-window)
	d, _, err := s.cfg.Store.Definition(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("score model %q not found", id))
		return nil, nil, since, until, false
	}
	if err != nil {
		s.fail(w, r, err)
		return nil, nil, since, until, false
	}
	if d.Kind != flows.KindScoreModel {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("%q is a %s, not a score model", id, d.Kind))
		return nil, nil, since, until, false
	}
	docs, errs := flows.Decode(id+".json", d.Body)
	if len(errs) > 0 || len(docs) != 1 || docs[0].ScoreModel == nil {
		s.fail(w, r, fmt.Errorf("error decoding score model %q version %d: %v", id, d.CurrentVersion, errs))
		return nil, nil, since, until, false
	}
	hist, err := s.cfg.Store.ConversionHistories(r.Context(), id, since, until)
	if err != nil {
		s.fail(w, r, err)
		return nil, nil, since, until, false
	}
	contacts := make([]insight.Contact, len(hist))
	for i, h := range hist {
		c := insight.Contact{ID: h.ContactID, CreatedAt: h.CreatedAt, Score: h.Score, Ledger: make([]insight.LedgerEntry, len(h.Ledger))}
		for j, l := range h.Ledger {
			c.Ledger[j] = insight.LedgerEntry{ID: l.ID, At: l.At, Points: l.Points, Kind: l.Kind, RuleID: l.RuleID, EventID: l.EventID}
		}
		if cv := h.Conversion; cv != nil {
			c.Conversion = &insight.Conversion{EventID: cv.EventID, At: cv.At, Value: cv.Value, Score: cv.Score, LedgerThrough: cv.LedgerThrough}
		}
		contacts[i] = c
	}
	return docs[0].ScoreModel, contacts, since, until, true
}
