package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/leadflow/leadflow/engine"
	"github.com/leadflow/leadflow/store"
)

// mergeRequest names the contact merged into the one in the path (from),
// or the one the path's contact is merged into (into).
type mergeRequest struct {
	From string `json:"from"`
	Into string `json:"into"`
}

// mergeContacts merges two contacts by hand (duplicates): POST
// /v1/contacts/{contact_id}/merge with {"from": id} merges id into the
// path's contact, which survives; with {"into": id} the path's contact is
// merged into id. Both histories are replayed through the core, so the
// survivor's score and its explanation hold both. Merging again answers
// the same survivor with "merged": false.
func (s *server) mergeContacts(w http.ResponseWriter, r *http.Request) {
	var p problems
	query(r, &p)
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var req mergeRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		p.add("", `the body is {"from": "<id merged into this contact>"} or {"into": "<id this contact is merged into>"}: %v`, err)
	}
	id := r.PathValue("contact_id")
	from, into := req.From, id
	switch {
	case req.From != "" && req.Into != "":
		p.add("into", "give from or into, not both")
	case req.Into != "":
		from, into = id, req.Into
	case req.From == "" && p.empty():
		p.add("from", `is required: the id of the duplicate to merge into %q (or "into": the id to merge %q into)`, id, id)
	}
	for _, c := range []struct{ path, id string }{{"from", req.From}, {"into", req.Into}, {"contact_id", id}} {
		if c.id == "" {
			continue
		}
		if msg := checkID(c.id); msg != "" {
			p.add(c.path, "%s", msg)
		}
	}
	if p.empty() && from == into {
		p.add("from", "%q is the contact itself", from)
	}
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	for _, c := range []string{from, into} {
		ok, err := s.cfg.Store.ContactExists(r.Context(), c)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		merged, err := s.cfg.Store.MergedInto(r.Context(), c)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !ok && merged == "" {
			writeError(w, http.StatusNotFound, fmt.Sprintf("contact %q not found", c))
			return
		}
	}
	res, err := s.engine.Merge(r.Context(), from, into, store.MergeManual, s.cfg.Now())
	if errors.Is(err, engine.ErrMergeSelf) {
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// contactNotFound answers a read of a contact that does not exist: 410
// when it was erased, a permanent redirect to the contact it was merged
// into, else 404.
func (s *server) contactNotFound(w http.ResponseWriter, r *http.Request, id string) {
	if s.gone(w, r, id) {
		return
	}
	into, err := s.cfg.Store.MergedInto(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if into == "" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("contact %q not found", id))
		return
	}
	loc := strings.Replace(r.URL.EscapedPath(), "/"+url.PathEscape(id), "/"+url.PathEscape(into), 1)
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	writeJSON(w, http.StatusPermanentRedirect, map[string]string{
		"error": fmt.Sprintf("contact %q was merged into %q", id, into), "merged_into": into})
}
