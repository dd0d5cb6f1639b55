package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ErrPermanentDelivery is the error type of a delivery the receiver refused
// for good (a 4xx other than 408, 409, 425 and 429): it is not retried.
const ErrPermanentDelivery = "PermanentDeliveryFailure"

// DeliveryWorkflow POSTs one CRM task or webhook body, retried with
// exponential backoff (up to ten minutes apart) until the receiver accepts
// it. The Idempotency-Key header lets the receiver drop repeats.
func DeliveryWorkflow(ctx workflow.Context, in DeliveryInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Minute,
			NonRetryableErrorTypes: []string{ErrPermanentDelivery},
		},
	})
	err := workflow.ExecuteActivity(ctx, ActivityDeliver, in).Get(ctx, nil)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrPermanentDelivery {
		// The refusal is recorded on the delivery row; the workflow ends.
		workflow.GetLogger(ctx).Warn("delivery refused", "delivery_id", in.DeliveryID, "error", err.Error())
		return nil
	}
	return err
}
