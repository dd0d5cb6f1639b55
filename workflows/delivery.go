package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ErrPermanentDelivery is the error type of a delivery that failed for good
// (a refused address, a redirect, a 4xx other than 408, 409, 425 and 429):
// it is not retried.
const ErrPermanentDelivery = "PermanentDeliveryFailure"

// ActivityGiveUpDelivery records a delivery failed when its retries ran out.
const ActivityGiveUpDelivery = "GiveUpDelivery"

// DefaultDeliveryRetryFor bounds a delivery's retries when
// DeliveryInput.RetryFor is not set: about the three days of the Standard
// Webhooks example schedule.
const DefaultDeliveryRetryFor = 72 * time.Hour

// GiveUpInput is the input of the GiveUpDelivery activity.
type GiveUpInput struct {
	DeliveryID int64  `json:"delivery_id"`
	Reason     string `json:"reason"`
	// Deployment: see PartitionInput.
	Deployment string `json:"deployment,omitempty"`
}

// DeliveryWorkflow POSTs one CRM task or webhook body, retried with
// exponential backoff (up to ten minutes apart) until the receiver accepts
// it or RetryFor has passed since the first attempt; the delivery is then
// recorded failed with its last error. The Idempotency-Key and webhook-id
// headers let the receiver drop repeats.
func DeliveryWorkflow(ctx workflow.Context, in DeliveryInput) error {
	retryFor := in.RetryFor
	if retryFor <= 0 {
		retryFor = DefaultDeliveryRetryFor
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: retryFor,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Minute,
			NonRetryableErrorTypes: []string{ErrPermanentDelivery},
		},
	})
	err := workflow.ExecuteActivity(actx, ActivityDeliver, in).Get(actx, nil)
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if ForeignDeployment(err) {
		return err // another deployment's delivery: nothing to record here
	}
	if errors.As(err, &appErr) && appErr.Type() == ErrPermanentDelivery {
		// The failure is recorded on the delivery row; the workflow ends.
		workflow.GetLogger(ctx).Warn("delivery failed", "delivery_id", in.DeliveryID, "error", err.Error())
		return nil
	}
	// Retries ran out (or the bound passed mid-attempt): record it.
	gctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	reason := fmt.Sprintf("gave up after %s of retries", retryFor)
	if gerr := workflow.ExecuteActivity(gctx, ActivityGiveUpDelivery, GiveUpInput{DeliveryID: in.DeliveryID, Reason: reason, Deployment: in.Deployment}).Get(gctx, nil); gerr != nil {
		return gerr
	}
	workflow.GetLogger(ctx).Warn("delivery failed: retries ran out", "delivery_id", in.DeliveryID, "retry_for", retryFor.String())
	return nil
}
