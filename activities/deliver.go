package activities

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/workflows"
)

// Deliver POSTs a delivery's JSON body with its Idempotency-Key. A 2xx
// answer records it delivered; anything else is an error Temporal retries,
// except a 4xx refusal (other than 408, 409, 425, 429), which is recorded as
// failed and not retried.
func (a *Activities) Deliver(ctx context.Context, in workflows.DeliveryInput) error {
	d, err := a.Store.LoadDelivery(ctx, in.DeliveryID)
	if err != nil {
		return err
	}
	if d.Status != "pending" {
		return nil
	}
	hc := a.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		_ = a.Store.RecordDeliveryAttempt(ctx, d.ID, "failed", 0, err.Error(), a.now())
		return temporal.NewNonRetryableApplicationError("bad delivery URL", workflows.ErrPermanentDelivery, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", d.IdemKey)
	req.Header.Set("User-Agent", "leadflow")
	resp, err := hc.Do(req)
	if err != nil {
		metrics.DeliveriesTotal.WithLabelValues("error").Inc()
		if rerr := a.Store.RecordDeliveryAttempt(ctx, d.ID, "pending", 0, err.Error(), a.now()); rerr != nil {
			return rerr
		}
		return fmt.Errorf("POST %s: %w", d.URL, err)
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		metrics.DeliveriesTotal.WithLabelValues("delivered").Inc()
		return a.Store.RecordDeliveryAttempt(ctx, d.ID, "delivered", code, "", a.now())
	case code >= 400 && code < 500 && code != 408 && code != 409 && code != 425 && code != 429:
		metrics.DeliveriesTotal.WithLabelValues("refused").Inc()
		msg := fmt.Sprintf("POST %s: %s: %s", d.URL, resp.Status, snippet)
		if err := a.Store.RecordDeliveryAttempt(ctx, d.ID, "failed", code, msg, a.now()); err != nil {
			return err
		}
		return temporal.NewNonRetryableApplicationError(msg, workflows.ErrPermanentDelivery, nil)
	default:
		metrics.DeliveriesTotal.WithLabelValues("retry").Inc()
		msg := fmt.Sprintf("POST %s: %s: %s", d.URL, resp.Status, snippet)
		if err := a.Store.RecordDeliveryAttempt(ctx, d.ID, "pending", code, msg, a.now()); err != nil {
			return err
		}
		return fmt.Errorf("%s", msg)
	}
}
