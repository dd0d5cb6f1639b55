package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/leadflow/leadflow/contract"
)

// DeliveryWorkflow POSTs one CRM task or webhook body, retried with
// exponential backoff (up to ten minutes apart) until the receiver accepts
// it or RetryFor has passed since the first attempt; the delivery is then
// recorded failed with its last error. The Idempotency-Key and webhook-id
// headers let the receiver drop repeats.
func DeliveryWorkflow(ctx workflow.Context, in contract.DeliveryInput) error {
	retryFor := in.RetryFor
	if retryFor <= 0 {
		retryFor = contract.DefaultDeliveryRetryFor
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: retryFor,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Minute,
			NonRetryableErrorTypes: []string{contract.ErrPermanentDelivery},
		},
	})
	err := workflow.ExecuteActivity(actx, contract.ActivityDeliver, in).Get(actx, nil)
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if ForeignDeployment(err) {
		return err // another deployment's delivery: nothing to record here
	}
	if errors.As(err, &appErr) && appErr.Type() == contract.ErrPermanentDelivery {
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
	if gerr := workflow.ExecuteActivity(gctx, contract.ActivityGiveUpDelivery, contract.GiveUpInput{DeliveryID: in.DeliveryID, Reason: reason, Deployment: in.Deployment}).Get(gctx, nil); gerr != nil {
		return gerr
	}
	workflow.GetLogger(ctx).Warn("delivery failed: retries ran out", "delivery_id", in.DeliveryID, "retry_for", retryFor.String())
	return nil
}
