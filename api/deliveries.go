package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/leadflow/leadflow/egress"
	"github.com/leadflow/leadflow/store"
)

// deliveryJSON is one delivery in GET /v1/deliveries. The URL is redacted
// (user info, token-like parameters, secret webhook paths), as is the
// last error.
type deliveryJSON struct {
	ID            int64      `json:"id"`
	Kind          string     `json:"kind"`
	CRMTaskID     *int64     `json:"crm_task_id"`
	URL           string     `json:"url"`
	WebhookID     string     `json:"webhook_id"`
	IdemKey       string     `json:"idempotency_key"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error"`
	ResponseCode  int        `json:"response_code"`
	ManualRetries int        `json:"manual_retries"`
	CreatedAt     time.Time  `json:"created_at"`
	LastAttemptAt *time.Time `json:"last_attempt_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
	FailedAt      *time.Time `json:"failed_at"`
}

func deliveryView(d store.Delivery) deliveryJSON {
	return deliveryJSON{ID: d.ID, Kind: d.Kind, CRMTaskID: d.CRMTaskID, URL: egress.Redact(d.URL),
		WebhookID: egress.MessageID(d.IdemKey), IdemKey: d.IdemKey, Status: d.Status, Attempts: d.Attempts,
		LastError: egress.Redact(d.LastError), ResponseCode: d.ResponseCode, ManualRetries: d.ManualRetries,
		CreatedAt: d.CreatedAt, LastAttemptAt: d.LastAttemptAt, DeliveredAt: d.DeliveredAt, FailedAt: d.FailedAt}
}

// getDeliveries lists deliveries newest first, optionally of one status,
// a page at a time (next_cursor goes in ?cursor= for the next page).
func (s *server) getDeliveries(w http.ResponseWriter, r *http.Request) {
	var p problems
	q := query(r, &p, "status", "limit", "cursor")
	dq := store.DeliveryQuery{Status: q.Get("status"), Limit: intParam(q, "limit", 50, 1, 1000, &p)}
	switch dq.Status {
	case "", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed, store.DeliveryCancelled:
	default:
		p.add("status", "%q is not a delivery status; use pending, delivered, failed or cancelled", dq.Status)
	}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n <= 0 {
			p.add("cursor", "%q is not a cursor; pass the next_cursor of the previous page", c)
		}
		dq.Before = n
	}
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.cfg.Store.ListDeliveries(r.Context(), dq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]deliveryJSON, 0, len(list))
	for _, d := range list {
		out = append(out, deliveryView(d))
	}
	var next *string
	if len(list) == dq.Limit {
		c := strconv.FormatInt(list[len(list)-1].ID, 10)
		next = &c
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out, "next_cursor": next})
}

// retryDelivery sends a failed delivery again: it goes back to pending and
// a new delivery workflow (with its own id) tries it with the full retry
// bound. 409 when the delivery is pending or delivered.
func (s *server) retryDelivery(w http.ResponseWriter, r *http.Request) {
	var p problems
	query(r, &p)
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		p.add("id", "%q is not a delivery id (a positive whole number, as listed by GET /v1/deliveries)", raw)
	}
	if err := p.err(); err != nil {
		s.fail(w, r, err)
		return
	}
	d, workflowID, partition, err := s.cfg.Store.RetryDelivery(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no delivery "+raw)
		return
	case errors.Is(err, store.ErrNotRetryable):
		writeError(w, http.StatusConflict, "delivery "+raw+" is "+d.Status+"; only a failed delivery can be retried")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	if s.cfg.Waker != nil {
		s.cfg.Waker.Wake(r.Context(), []int{partition})
	}
	s.log.Info().Int64("delivery_id", id).Str("workflow_id", workflowID).Msg("delivery retried by hand")
	writeJSON(w, http.StatusAccepted, map[string]any{"delivery": deliveryView(d), "workflow_id": workflowID})
}
