package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/leadflow/leadflow/store"
)

// The quarantine: events whose application failed for a reason retrying
// cannot fix, set aside by the engine so that nothing else waits for them.
// They are listed, retried (after a fix) or discarded here.

type failedEventJSON struct {
	ID             string     `json:"id"`
	ContactID      string     `json:"contact_id"`
	Type           string     `json:"type"`
	Status         string     `json:"status"`
	Error          string     `json:"error"`
	Attempts       int        `json:"attempts"`
	FirstAttemptAt time.Time  `json:"first_attempt_at"`
	LastAttemptAt  time.Time  `json:"last_attempt_at"`
	RetriedAt      *time.Time `json:"retried_at,omitempty"`
	DiscardedAt    *time.Time `json:"discarded_at,omitempty"`
}

type failedEventsResponse struct {
	Events []failedEventJSON `json:"events"`
	// NextCursor fetches the next page (the cursor parameter); absent on
	// the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

func (s *server) getFailedEvents(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "status", "limit", "cursor")
	limit := intParam(q, "limit", 100, 1, 1000, &p)
	status := store.FailureFailed
	if q.Has("status") {
		switch v := q.Get("status"); v {
		case store.FailureFailed, store.FailureRetried, store.FailureDiscarded:
			status = v
		default:
			p.add("status", "%q is not a failure status; use failed, retried or discarded", v)
		}
	}
	var after int64
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 0 {
			p.add("cursor", "%q is not a cursor; pass the next_cursor of the previous page", c)
		}
		after = n
	}
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	rows, err := s.cfg.Store.FailedEvents(r.Context(), status, after, limit+1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := failedEventsResponse{Events: make([]failedEventJSON, 0, min(len(rows), limit))}
	for i, f := range rows {
		if i == limit {
			out.NextCursor = strconv.FormatInt(rows[i-1].Seq, 10)
			break
		}
		out.Events = append(out.Events, failedEventJSON{ID: f.ID, ContactID: f.ContactID, Type: f.Type, Status: f.Status,
			Error: f.Error, Attempts: f.Attempts, FirstAttemptAt: f.FirstAttemptAt, LastAttemptAt: f.LastAttemptAt,
			RetriedAt: f.RetriedAt, DiscardedAt: f.DiscardedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

// postEventRetry puts a quarantined event back in the log and wakes its
// partition to apply it again.
func (s *server) postEventRetry(w http.ResponseWriter, r *http.Request) {
	s.resolveFailedEvent(w, r, "retry", func(id string) (int, error) {
		return s.cfg.Store.RetryEvent(r.Context(), id, s.cfg.Now())
	}, http.StatusAccepted, "pending")
}

// postEventDiscard marks a quarantined event discarded: kept for audit,
// never applied.
func (s *server) postEventDiscard(w http.ResponseWriter, r *http.Request) {
	s.resolveFailedEvent(w, r, "discard", func(id string) (int, error) {
		return s.cfg.Store.DiscardEvent(r.Context(), id, s.cfg.Now())
	}, http.StatusOK, "discarded")
}

func (s *server) resolveFailedEvent(w http.ResponseWriter, r *http.Request, verb string, fn func(id string) (int, error), status int, state string) {
	var p problems
	query(r, &p)
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	partition, err := fn(id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("event %q not found", id))
		return
	case errors.Is(err, store.ErrNotQuarantined):
		writeError(w, http.StatusConflict, fmt.Sprintf("event %q is not quarantined (failed), so there is nothing to %s; see GET /v1/events/failed", id, verb))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	if verb == "retry" && s.cfg.Waker != nil {
		s.cfg.Waker.Wake(r.Context(), []int{partition})
	}
	s.log.Info().Str("event_id", id).Str("action", verb).Msg("quarantined event " + state)
	writeJSON(w, status, map[string]string{"event_id": id, "status": state})
}
