package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/store"
)

// erasureResponse answers DELETE /v1/contacts/{contact_id}: what was
// erased (counts), or, for a contact erased before, status
// "already_erased" with the time of the erasure and zero counts.
type erasureResponse struct {
	ContactID string       `json:"contact_id"`
	Status    string       `json:"status"` // erased, already_erased
	ErasedAt  time.Time    `json:"erased_at"`
	Erased    store.Erased `json:"erased"`
}

// erasedReason is the reason an event naming an erased contact is refused.
const erasedReason = "names an erased contact; an erased contact is never recreated (its contact id and emails are refused for good)"

// deleteContact erases a contact (store.EraseContact): the person's data
// goes, an anonymous tombstone keeps the counts, the runs' workflows are
// cancelled through the outbox of the contact's partition, which is woken
// to dispatch them.
func (s *server) deleteContact(w http.ResponseWriter, r *http.Request) {
	var p problems
	query(r, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("contact_id")
	if msg := checkID(id); msg != "" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("contact id %s", msg), detail{Path: "contact_id", Message: msg})
		return
	}
	by := "admin key"
	if _, err := r.Cookie(sessionCookie); err == nil && r.Header.Get("Authorization") == "" {
		by = "admin console session"
	}
	res, err := s.cfg.Store.EraseContact(r.Context(), store.ErasureRequest{
		ContactID: id, By: by, At: s.cfg.Now(), RunWorkflowID: contract.RunWorkflowID,
	})
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("contact %q not found", id))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := erasureResponse{ContactID: id, Status: "erased", ErasedAt: res.ErasedAt, Erased: res.Erased}
	if res.AlreadyErased {
		out.Status = "already_erased"
	} else {
		s.log.Info().Str("erased_by", by).Int("runs_cancelled", res.Erased.RunsCancelled).
			Msg("contact erased") // never the contact id: the log would keep it
		if res.Erased.Runs > 0 && s.cfg.Waker != nil {
			// Not an event insert: the database does not wake the
			// partition by itself (InsertsNotify), so it is woken here.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
			s.cfg.Waker.Wake(ctx, []int{res.Partition})
			cancel()
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// gone answers 410 when the contact id of the path was erased (true: the
// answer is written). Reads of an unknown contact call it before their 404.
func (s *server) gone(w http.ResponseWriter, r *http.Request, id string) bool {
	at, erased, err := s.cfg.Store.ContactErasure(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return true
	}
	if !erased {
		return false
	}
	writeError(w, http.StatusGone, fmt.Sprintf("contact %q was erased on %s; nothing of it is kept", id, at.UTC().Format(time.RFC3339)))
	return true
}

// erasedRefusal is the answer to events naming erased contacts on the
// routes that refuse a request as a whole: 410, every such event named.
func (s *server) erasedRefusal(in incoming, e *store.ErasedContactError) error {
	details := make([]detail, 0, len(e.Indexes))
	for k, i := range e.Indexes {
		details = append(details, detail{Path: field(in.paths[i], e.Fields[k]), Message: erasedReason})
	}
	msg := "an event names an erased contact"
	if n := len(e.Indexes); n > 1 {
		msg = fmt.Sprintf("%d events name erased contacts", n)
	}
	return &requestError{status: http.StatusGone, msg: msg + "; nothing of this request was stored", details: details}
}

// logErased logs the events a route acknowledged but did not store
// because they name erased contacts (without their contact ids).
func (s *server) logErased(events []store.EventRow, res store.AppendResult, source string) {
	for i, o := range res.Outcomes {
		if o == store.EventErased {
			s.log.Warn().Str("event_id", events[i].ID).Str("type", events[i].Type).Str("source", source).
				Msg("event names an erased contact; not stored")
		}
	}
}
