package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/retention"
	"github.com/leadflow/leadflow/store"
)

// requestFile is the file name the documents of a request are decoded as.
const requestFile = "request"

// publishedCatalog decodes the definitions already in the database that new
// documents may refer to (published and paused ones). A stored body that no
// longer decodes is left out and logged.
func (s *server) publishedCatalog(ctx context.Context) (*flows.Catalog, error) {
	return engine.KnownCatalog(ctx, s.cfg.Store, func(id string, version int, errs flows.Errors) {
		s.log.Warn().Str("definition", id).Int("version", version).Str("errors", errs.Error()).
			Msg("a published definition no longer decodes; leaving it out of validation")
	})
}

func flowDetails(errs flows.Errors) []detail {
	out := make([]detail, 0, len(errs))
	for _, e := range errs {
		out = append(out, detail{Path: e.Path, Message: e.Message})
	}
	return out
}

type publishResponse struct {
	Published []store.PublishResult `json:"published"`
}

// postDefinitions validates documents (one or an array) against each other
// and the published definitions, and publishes them all or none.
func (s *server) postDefinitions(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	isArray := body[0] == '[' // readBody checked it is one JSON value
	if isArray && len(bytes.TrimSpace(body[1:len(body)-1])) == 0 {
		writeError(w, http.StatusUnprocessableEntity, "invalid definitions",
			detail{Message: "no documents; send one document or an array of them"})
		return
	}
	known, err := s.publishedCatalog(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Decode and validate in one pass (flows.Decode then flows.Validate,
	// with documents that failed to decode still known by id), so every
	// problem is reported at once.
	docs, errs := flows.DecodeAndValidate(requestFile, body, known)
	if len(errs) == 0 && len(docs) == 0 {
		errs = flows.Errors{{File: requestFile, Message: "no documents; send one document or an array of them"}}
	}
	if len(errs) > 0 {
		writeError(w, http.StatusUnprocessableEntity, "invalid definitions", flowDetails(errs)...)
		return
	}
	var short *retention.TooShortError
	if err := retention.Check(s.cfg.EventRetention, docs); errors.As(err, &short) {
		path := short.Need.Path
		if isArray {
			for i, d := range docs {
				if d.ID() == short.Need.Definition {
					path = index("", i) + "." + path
					break
				}
			}
		}
		writeError(w, http.StatusUnprocessableEntity, "invalid definitions", detail{Path: path, Message: short.Error()})
		return
	}
	results, err := engine.Publish(r.Context(), s.cfg.Store, docs)
	var kc *store.ErrKindChanged
	if errors.As(err, &kc) {
		path := "kind"
		if isArray {
			for i, d := range docs {
				if d.ID() == kc.ID {
					path = index("", i) + ".kind"
					break
				}
			}
		}
		writeError(w, http.StatusUnprocessableEntity, "invalid definitions", detail{Path: path, Message: kc.Error()})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	for _, res := range results {
		if res.Changed {
			status = http.StatusCreated
		}
	}
	s.wakeSchedules(r.Context(), results...)
	s.log.Info().Int("documents", len(results)).Bool("changed", status == http.StatusCreated).Msg("definitions published")
	writeJSON(w, status, publishResponse{Published: results})
}

func (s *server) listDefinitions(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "kind", "status")
	switch q.Get("kind") {
	case "", flows.KindFlow, flows.KindSegment, flows.KindScoreModel:
	default:
		p.add("kind", "%q is not a kind; use flow, segment or score_model", q.Get("kind"))
	}
	switch q.Get("status") {
	case "", "published", "paused", "archived":
	default:
		p.add("status", "%q is not a status; use published, paused or archived", q.Get("status"))
	}
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	defs, err := s.cfg.Store.Definitions(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]store.Definition, 0, len(defs))
	for _, d := range defs {
		if (q.Get("kind") == "" || d.Kind == q.Get("kind")) && (q.Get("status") == "" || d.Status == q.Get("status")) {
			out = append(out, d)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"definitions": out})
}

type definitionResponse struct {
	store.Definition
	Versions []store.DefinitionVersion `json:"versions"`
	// Reevaluation: the progress of re-evaluating existing contacts under
	// the newest version of a score model or segment that started one.
	Reevaluation *store.Reevaluation `json:"reevaluation,omitempty"`
}

func (s *server) getDefinition(w http.ResponseWriter, r *http.Request) {
	var p problems
	query(r, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	d, versions, err := s.cfg.Store.Definition(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("definition %q not found", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if versions == nil {
		versions = []store.DefinitionVersion{}
	}
	re, err := s.cfg.Store.LatestReevaluation(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, definitionResponse{Definition: d, Versions: versions, Reevaluation: re})
}

// setDefinitionStatus pauses a definition or resumes it (status published).
func (s *server) setDefinitionStatus(status string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var p problems
		query(r, &p)
		if err := p.err(); err != nil {
			s.fail(w, r, err)
			return
		}
		id := r.PathValue("id")
		d, err := s.cfg.Store.SetDefinitionStatus(r.Context(), id, status)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("definition %q not found", id))
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.wakeSchedules(r.Context(), store.PublishResult{ID: d.ID, Kind: d.Kind})
		s.log.Info().Str("definition", id).Str("status", status).Msg("definition status changed")
		writeJSON(w, http.StatusOK, d)
	}
}

// wakeSchedules wakes the partitions whose outbox holds the schedule syncs
// of these flows (queued by the store only for schedule flows), so that a
// flow's Temporal Schedule follows its publication or pause at once.
func (s *server) wakeSchedules(ctx context.Context, defs ...store.PublishResult) {
	if s.cfg.Waker == nil {
		return
	}
	var parts []int
	for _, d := range defs {
		if d.Kind == flows.KindFlow {
			parts = append(parts, store.SchedulePartition(d.ID))
		}
	}
	if len(parts) > 0 {
		s.cfg.Waker.Wake(ctx, parts)
	}
}
