package contract

import "time"

// DefaultDeliveryRetryFor bounds a delivery's retries when
// DeliveryInput.RetryFor is not set: about the three days of the Standard
// Webhooks example schedule.
const DefaultDeliveryRetryFor = 72 * time.Hour

// DeliveryInput is the input of DeliveryWorkflow and the Deliver activity,
// and (DeliveryID only) the payload of a deliver outbox row.
type DeliveryInput struct {
	DeliveryID int64 `json:"delivery_id"`
	// RetryFor bounds the retries (0: DefaultDeliveryRetryFor); the
	// dispatcher sets it from the worker's configuration.
	RetryFor   time.Duration `json:"retry_for,omitempty"`
	Deployment string        `json:"deployment,omitempty"` // see Wait
}

// GiveUpInput is the input of the GiveUpDelivery activity.
type GiveUpInput struct {
	DeliveryID int64  `json:"delivery_id"`
	Reason     string `json:"reason"`
	Deployment string `json:"deployment,omitempty"` // see Wait
}
