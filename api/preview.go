package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/leadflow/leadflow/flows"
	"github.com/leadflow/leadflow/preview"
	"github.com/leadflow/leadflow/strictjson"
)

// previewRequest is the wrapped form of a preview request; the bare form
// is the documents alone, with the window in query parameters.
type previewRequest struct {
	Documents json.RawMessage `json:"documents"`
	Since     string          `json:"since"`
	Sample    int             `json:"sample"`
	Contacts  []string        `json:"contacts"`
}

// Bounds of a preview request.
const (
	maxPreviewSample   = 1_000_000
	maxPreviewContacts = 10_000
)

// previewDefinitions replays the stored events of a window through draft
// documents (validated as a publish would) beside the published
// definitions, and answers what would have changed. Nothing is written and
// nothing is sent.
func (s *server) previewDefinitions(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "since", "sample", "contacts")
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req := previewRequest{Documents: body, Since: q.Get("since"), Sample: intParam(q, "sample", 0, 0, maxPreviewSample, &p)}
	if c := q.Get("contacts"); c != "" {
		req.Contacts = strings.Split(c, ",")
	}
	prefix := ""
	if wrapped(body) {
		if len(q) > 0 {
			p.add("", "give the window either in the body (since, sample, contacts) or in the query, not both")
		}
		req = previewRequest{}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			p.add("", "the request is {\"documents\": …, \"since\": \"90d\", \"sample\": N, \"contacts\": [ids]}: %v", err)
		}
		if req.Sample < 0 || req.Sample > maxPreviewSample {
			p.add("sample", "%d is not a whole number from 0 to %d", req.Sample, maxPreviewSample)
		}
		prefix = "documents"
	}
	if len(req.Contacts) > maxPreviewContacts {
		p.add("contacts", "%d contacts; preview at most %d by id (or use sample)", len(req.Contacts), maxPreviewContacts)
	}
	now := s.cfg.Now()
	since, err := preview.ParseSince(req.Since, now)
	if err != nil {
		p.add("since", "%v", err)
	}
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	docs := bytes.TrimSpace(req.Documents)
	if len(docs) == 0 || docs[0] == '[' && len(bytes.TrimSpace(docs[1:len(docs)-1])) == 0 {
		writeError(w, http.StatusUnprocessableEntity, "invalid definitions", detail{Path: prefix, Message: "no documents; send one document or an array of them"})
		return
	}
	known, err := s.publishedCatalog(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	drafts, errs := flows.DecodeAndValidate(requestFile, req.Documents, known)
	if len(errs) > 0 {
		details := flowDetails(errs)
		for i := range details {
			details[i].Path = joinPath(prefix, details[i].Path)
		}
		writeError(w, http.StatusUnprocessableEntity, "invalid definitions", details...)
		return
	}
	rep, err := preview.Run(r.Context(), s.cfg.Store, drafts, preview.Options{Since: since, Until: now, Sample: req.Sample, Contacts: req.Contacts})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// wrapped reports whether a preview body is the wrapped form: an object
// with a "documents" member (a definition document never has one).
func wrapped(body []byte) bool {
	n, err := strictjson.Parse(body, strictjson.Options{})
	return err == nil && n.Kind == strictjson.Object && n.Get("documents") != nil
}

// joinPath prefixes a detail path with where the documents are.
func joinPath(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case strings.HasPrefix(path, "["):
		return prefix + path
	}
	return prefix + "." + path
}
