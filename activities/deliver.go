package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/leadflow/leadflow/contract"
	"github.com/leadflow/leadflow/egress"
	"github.com/leadflow/leadflow/metrics"
	"github.com/leadflow/leadflow/store"
)

// DeliveryOptions configure deliveries (CRM tasks and webhook steps).
type DeliveryOptions struct {
	// Signer signs every delivery per Standard Webhooks
	// (LEADFLOW_WEBHOOK_SECRET). Without a secret, deliveries carry
	// webhook-id and webhook-timestamp but no signature.
	Signer egress.Signer
	// RetryFor bounds the retries of one delivery (LEADFLOW_DELIVERY_RETRY_FOR;
	// default contract.DefaultDeliveryRetryFor). It is handed to each
	// delivery workflow when the outbox starts it.
	RetryFor time.Duration
}

// publicOnly is the client used when Activities.HTTP is nil: the fence
// with an empty allow-list (public addresses only).
var publicOnly = egress.NewClient(egress.Policy{}, 15*time.Second)

// Deliver POSTs a delivery's JSON body, signed, with its Idempotency-Key
// and extra headers, through the egress fence. A 2xx answer records it
// delivered. A refused address, a redirect (not followed) or a 4xx refusal
// (other than 408, 409, 425, 429) records it failed and is not retried;
// anything else is an error Temporal retries until the workflow's bound.
// URLs are redacted in every error recorded or returned.
func (a *Activities) Deliver(ctx context.Context, in contract.DeliveryInput) error {
	if err := a.checkDeployment(contract.ActivityDeliver, in.Deployment); err != nil {
		return err
	}
	d, err := a.Store.LoadDelivery(ctx, in.DeliveryID)
	if err != nil {
		return err
	}
	if d.Status != store.DeliveryPending {
		return nil
	}
	hc := a.HTTP
	if hc == nil {
		hc = publicOnly
	}
	shown := egress.Redact(d.URL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return a.deliveryFailed(ctx, d, 0, fmt.Sprintf("POST %s: not a valid URL: %s", shown, egress.Redact(err.Error())))
	}
	req.Header.Set("User-Agent", "leadflow") // a step's headers may replace it
	for name, value := range d.Headers {
		req.Header.Set(name, value)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", d.IdemKey)
	a.Deliveries.Signer.Sign(req.Header, egress.MessageID(d.IdemKey), a.now(), d.Body)
	resp, err := hc.Do(req)
	if err != nil {
		if r := egress.Refused(err); r != nil {
			metrics.DeliveriesTotal.WithLabelValues("refused").Inc()
			return a.deliveryFailed(ctx, d, 0, fmt.Sprintf("POST %s: %s", shown, egress.Redact(r.Error())))
		}
		metrics.DeliveriesTotal.WithLabelValues("error").Inc()
		msg := fmt.Sprintf("POST %s: %s", shown, egress.Redact(transportError(err)))
		if rerr := a.Store.RecordDeliveryAttempt(ctx, d.ID, store.DeliveryPending, 0, msg, a.now()); rerr != nil {
			return rerr
		}
		return errors.New(msg)
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		metrics.DeliveriesTotal.WithLabelValues("delivered").Inc()
		return a.Store.RecordDeliveryAttempt(ctx, d.ID, store.DeliveryDelivered, code, "", a.now())
	case code >= 300 && code < 400:
		metrics.DeliveriesTotal.WithLabelValues("refused").Inc()
		to := resp.Header.Get("Location")
		return a.deliveryFailed(ctx, d, code, fmt.Sprintf("POST %s: %s: redirect to %q not followed (deliveries never follow redirects; set the URL to where the receiver is)",
			shown, resp.Status, egress.Redact(to)))
	case code >= 400 && code < 500 && code != 408 && code != 409 && code != 425 && code != 429:
		metrics.DeliveriesTotal.WithLabelValues("refused").Inc()
		return a.deliveryFailed(ctx, d, code, fmt.Sprintf("POST %s: %s: %s", shown, resp.Status, egress.Redact(string(snippet))))
	default:
		metrics.DeliveriesTotal.WithLabelValues("retry").Inc()
		msg := fmt.Sprintf("POST %s: %s: %s", shown, resp.Status, egress.Redact(string(snippet)))
		if err := a.Store.RecordDeliveryAttempt(ctx, d.ID, store.DeliveryPending, code, msg, a.now()); err != nil {
			return err
		}
		return errors.New(msg)
	}
}

// deliveryFailed records a delivery failed for good and returns the
// non-retryable error that ends its workflow.
func (a *Activities) deliveryFailed(ctx context.Context, d store.Delivery, code int, msg string) error {
	if err := a.Store.RecordDeliveryAttempt(ctx, d.ID, store.DeliveryFailed, code, msg, a.now()); err != nil {
		return err
	}
	a.Log.Warn().Int64("delivery_id", d.ID).Str("kind", d.Kind).Str("error", msg).Msg("delivery failed")
	return temporal.NewNonRetryableApplicationError(msg, contract.ErrPermanentDelivery, nil)
}

// transportError is err's text without the *url.Error wrapper, whose text
// repeats the method and the (unredacted) URL.
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return err.Error()
}

// GiveUpDelivery marks a delivery whose retries ran out as failed, keeping
// its last error.
func (a *Activities) GiveUpDelivery(ctx context.Context, in contract.GiveUpInput) error {
	if err := a.checkDeployment(contract.ActivityGiveUpDelivery, in.Deployment); err != nil {
		return err
	}
	changed, err := a.Store.GiveUpDelivery(ctx, in.DeliveryID, egress.Redact(in.Reason), a.now())
	if err != nil {
		return err
	}
	if changed {
		metrics.DeliveriesTotal.WithLabelValues("gave_up").Inc()
		a.Log.Warn().Int64("delivery_id", in.DeliveryID).Str("reason", egress.Redact(in.Reason)).Msg("delivery failed: retries ran out")
	}
	return nil
}
