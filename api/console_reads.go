package api

// Routes added for the console: the hot list's cursor and band colours, a
// contact's timeline, per-step run counts of a flow, validation of a draft
// without publishing it, and the JSON Schema of definition files.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"regexp"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/store"
)

// bandJSON is one band of a score model as the console draws it.
type bandJSON struct {
	Name  string  `json:"name"`
	Min   float64 `json:"min"`
	Color string  `json:"color"`
}

var cursorScore = regexp.MustCompile(`^-?[0-9]{1,12}(\.[0-9]{1,2})?$`)

func encodeLeadsCursor(c store.LeadsCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeLeadsCursor(s string) (store.LeadsCursor, error) {
	var c store.LeadsCursor
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(raw, &c) != nil || !cursorScore.MatchString(c.Score) || c.ContactID == "" || c.At < 0 {
		return c, fmt.Errorf("is not a cursor of this list; pass next_cursor of the previous page as it is")
	}
	if _, ok := new(big.Float).SetString(c.Score); !ok {
		return c, fmt.Errorf("is not a cursor of this list; pass next_cursor of the previous page as it is")
	}
	return c, nil
}

// maxTimeline bounds each list of GET /v1/contacts/{id}/timeline.
const maxTimeline = 500

func (s *server) getContactTimeline(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "limit")
	limit := intParam(q, "limit", 100, 1, maxTimeline, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	id, ok := s.existingContact(w, r)
	if !ok {
		return
	}
	t, err := s.cfg.Store.ContactTimeline(r.Context(), id, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ContactID string `json:"contact_id"`
		store.ContactTimeline
	}{id, t})
}

type stepStatsJSON struct {
	StepID    string `json:"step_id"`
	Running   int64  `json:"running"`
	Waiting   int64  `json:"waiting"`
	Completed int64  `json:"completed"`
	Exited    int64  `json:"exited"`
	Failed    int64  `json:"failed"`
	Cancelled int64  `json:"cancelled"` // their contact was erased
}

type definitionStatsResponse struct {
	ID    string          `json:"id"`
	Steps []stepStatsJSON `json:"steps"`
	Total stepStatsJSON   `json:"total"`
}

// getDefinitionStats counts a flow's runs per step: running and waiting at
// the step they are on, completed, exited, failed and cancelled (their
// contact was erased) at the step they ended on.
func (s *server) getDefinitionStats(w http.ResponseWriter, r *http.Request) {
	var p problems
	query(r, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	d, _, err := s.cfg.Store.Definition(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("definition %q not found", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Kind != flows.KindFlow {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("definition %q is a %s; only flows have runs", id, d.Kind))
		return
	}
	counts, err := s.cfg.Store.DefinitionStats(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := definitionStatsResponse{ID: id, Steps: []stepStatsJSON{}}
	index := map[string]int{}
	for _, c := range counts {
		i, ok := index[c.StepID]
		if !ok {
			i = len(out.Steps)
			index[c.StepID] = i
			out.Steps = append(out.Steps, stepStatsJSON{StepID: c.StepID})
		}
		for _, st := range []*stepStatsJSON{&out.Steps[i], &out.Total} {
			switch c.Status {
			case "running":
				st.Running += c.Runs
			case "waiting":
				st.Waiting += c.Runs
			case "completed":
				st.Completed += c.Runs
			case "exited":
				st.Exited += c.Runs
			case "failed":
				st.Failed += c.Runs
			case "cancelled":
				st.Cancelled += c.Runs
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type validateResponse struct {
	Valid   bool     `json:"valid"`
	Errors  []detail `json:"errors"`
	Summary string   `json:"summary,omitempty"`
}

// postValidate validates documents exactly as POST /v1/definitions does
// (against each other and the published definitions) and publishes
// nothing: 200 with valid and the errors, each at its JSON path.
func (s *server) postValidate(w http.ResponseWriter, r *http.Request) {
	var p problems
	query(r, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	known, err := s.publishedCatalog(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	docs, errs := flows.DecodeAndValidate(requestFile, body, known)
	if len(errs) == 0 && len(docs) == 0 {
		errs = flows.Errors{{File: requestFile, Message: "no documents; send one document or an array of them"}}
	}
	out := validateResponse{Valid: len(errs) == 0, Errors: flowDetails(errs)}
	if !out.Valid {
		out.Summary = summarize(out.Errors)
	}
	writeJSON(w, http.StatusOK, out)
}

// getSchema serves the JSON Schema of definition files (the editor's
// completion).
func (s *server) getSchema(w http.ResponseWriter, r *http.Request) {
	b, err := flows.JSONSchema()
	if err != nil {
		s.fail(w, r, fmt.Errorf("error generating the JSON Schema: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
